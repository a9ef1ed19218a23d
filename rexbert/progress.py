"""What a person sees while a stage runs: a tqdm bar on a terminal, otherwise one log line every
few seconds.

A bar redraws itself with carriage returns, which is right on a terminal and wrong everywhere
else: a log file, a Slurm output file or a CI log would fill with kilobytes of half-lines. So
every stage reports progress through `Progress`, which picks by where stderr goes:

    with Progress(total=len(files), desc="token shards", unit="file") as bar:
        for path in files:
            ...
            bar.update(1, detail=path.name)

    for item in Progress.wrap(items, desc="mining spans", unit="shard"):
        ...

On a terminal it is a tqdm bar. Elsewhere it logs (logger `rexbert.progress`, INFO) a line when
it starts, at most one every `every_s` seconds while it runs (`desc: 12/40 file (30%), 3.1 file/s,
ETA 9s`), and one when it ends (`desc: 40/40 file in 13s`). `enabled=False` shows nothing.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

log = logging.getLogger("rexbert.progress")

EVERY_S = 10.0  # seconds between progress lines when stderr is not a terminal
ENV_EVERY_S = "REXBERT_PROGRESS_EVERY_S"  # overrides EVERY_S (e.g. 60 for long cluster jobs)
T = TypeVar("T")


def is_terminal() -> bool:
    """Whether stderr (where progress goes) is a terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def line_interval() -> float:
    """Seconds between progress lines: $REXBERT_PROGRESS_EVERY_S, else EVERY_S."""
    try:
        value = float(os.environ.get(ENV_EVERY_S, EVERY_S))
    except ValueError:
        return EVERY_S
    return value if value > 0 else EVERY_S


def format_duration(seconds: float) -> str:
    """`1h 05m`, `12m 30s`, `45s`."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """Progress of one piece of work: a bar on a terminal, lines elsewhere (module docstring)."""

    def __init__(self, total: int | None = None, desc: str = "", unit: str = "it", enabled: bool = True,
                 every_s: float | None = None, initial: int = 0, terminal: bool | None = None,
                 leave: bool = True, rate: bool = True) -> None:
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled
        self.rate = rate  # False: no speed or ETA (units of very different sizes, e.g. stages)
        self.n = initial
        self.every_s = line_interval() if every_s is None else every_s
        self.detail = ""
        self.started = self.last_line = time.perf_counter()
        self._initial = initial
        self._closed = False
        self.bar = None
        if enabled and (is_terminal() if terminal is None else terminal):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True, leave=leave,
                            **({} if rate else {"bar_format": "{l_bar}{bar}| {n_fmt}/{total_fmt} {unit} {postfix}"}))
        elif enabled:
            log.info("%s: started%s", desc, f" ({total:,} {unit})" if total is not None else "")

    @classmethod
    def wrap(cls, items: Iterable[T], total: int | None = None, **kwargs: Any) -> Iterator[T]:
        """Iterate over `items`, one update per item (total: len(items) when it has one)."""
        if total is None and hasattr(items, "__len__"):
            total = len(items)  # type: ignore[arg-type]
        with cls(total=total, **kwargs) as progress:
            for item in items:
                yield item
                progress.update()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind, error, trace) -> None:
        self.close(failed=kind is not None)

    def update(self, n: int = 1, detail: str | None = None, **postfix: Any) -> None:
        """`n` more units done; `detail` (e.g. the file at hand) and `postfix` values are shown."""
        self.n += n
        if detail is not None:
            self.detail = detail
        if not self.enabled:
            return
        if self.bar is not None:
            if detail is not None or postfix:
                self.bar.set_postfix_str(", ".join([*([self.detail] if self.detail else []),
                                                    *(f"{k}={v}" for k, v in postfix.items())]), refresh=False)
            self.bar.update(n)
            return
        now = time.perf_counter()
        if now - self.last_line >= self.every_s:
            self.last_line = now
            log.info("%s", self.line(postfix))

    def line(self, postfix: dict[str, Any] | None = None) -> str:
        """`desc: 12/40 file (30%), 3.1 file/s, ETA 9s[, detail, k=v]`."""
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = (self.n - self._initial) / elapsed
        done = f"{self.n:,}/{self.total:,} {self.unit}" if self.total else f"{self.n:,} {self.unit}"
        parts = [done + (f" ({100 * self.n // max(self.total, 1)}%)" if self.total else "")]
        parts += [f"{rate:,.1f} {self.unit}/s"] if self.rate else []
        if self.rate and self.total and rate > 0:
            parts.append(f"ETA {format_duration((self.total - self.n) / rate)}")
        parts += [self.detail] if self.detail else []
        parts += [f"{k}={v}" for k, v in (postfix or {}).items()]
        return f"{self.desc}: " + ", ".join(parts)

    def close(self, failed: bool = False) -> None:
        """End the bar, or log the closing line (`… in 13s`, or `… stopped` on failure)."""
        if self._closed:
            return
        self._closed = True
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            took = format_duration(time.perf_counter() - self.started)
            done = f"{self.n:,}/{self.total:,}" if self.total else f"{self.n:,}"
            log.info("%s: %s %s %s %s", self.desc, done, self.unit, "stopped after" if failed else "in", took)


def quiet_library_bars() -> None:
    """Without a terminal, turn off the bars that transformers and huggingface_hub draw while
    loading (a carriage-return bar per model load); on a terminal they stay."""
    if is_terminal():
        return
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as hf_logging

    disable_progress_bars()
    hf_logging.disable_progress_bar()
