"""Run a list of stages in order, each at most once, with markers that make reruns cheap and safe.

A stage is finished when `OUT/stages/<name>.json` exists; the marker is written atomically after
the stage returns, so a run killed mid-stage reruns that stage (and each stage itself resumes:
curation skips finished shards, pretraining resumes from its last checkpoint, evaluation skips
finished units). A stage that stops early — preempted by a signal, or waiting for cluster jobs —
raises `StageStopped` and gets no marker.

Each marker records the fingerprint of the configuration the stage depends on (and of the stages
before it). A rerun with a changed configuration is refused before anything runs, naming what
differs and the first stage it affects: rerun from there with `--from STAGE`, or use a new
`--out`. `--from STAGE` removes that stage's and every later stage's markers and outputs — only
ever files rexbert wrote (rexbert.outputs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rexbert import outputs
from rexbert.config.flags import changed_values
from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json, read_json

log = logging.getLogger(__name__)


class StageStopped(Exception):
    """A stage stopped before its end and must be run again (same command) to finish.

    `exit_code` is what the command exits with: 143 after SIGTERM, 130 after SIGINT, 0 when
    cluster jobs were queued and the rerun simply continues.
    """

    def __init__(self, message: str, exit_code: int = 0) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Stage:
    """One step of the run: a name for `--from`, a title for progress, its work, and what it
    depends on (configuration values, by name) and writes (removed by `--from`)."""

    name: str
    title: str
    run: Callable[[], None]
    depends: dict[str, object] = field(default_factory=dict)
    outputs: tuple[Path, ...] = ()


def marker_path(out: Path, name: str) -> Path:
    """Where the completion marker of stage `name` lives."""
    return out / "stages" / f"{name}.json"


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fingerprints(stages: Sequence[Stage]) -> dict[str, str]:
    """Each stage's fingerprint: its own dependencies and the fingerprints of the stages before."""
    prints, chain = {}, ""
    for stage in stages:
        chain = _digest([chain, stage.depends])
        prints[stage.name] = chain
    return prints


def stage_timings(out: Path) -> dict[str, float]:
    """Seconds spent in each finished stage, from the markers (in stage order)."""
    folder = out / "stages"
    if not folder.is_dir():
        return {}
    markers = sorted((read_json(p) for p in folder.glob("*.json")), key=lambda m: m.get("index", 0))
    return {m["stage"]: float(m["seconds"]) for m in markers}


def _changes(old: dict, new: dict) -> list[str]:
    return [f"{key}: {json.dumps(a, default=str)} → {json.dumps(b, default=str)}"
            for key, a, b in changed_values(old, new)]


def check_unchanged(out: Path, stages: Sequence[Stage], start_from: str | None) -> None:
    """Refuse to mix configurations: every finished stage kept must match its fingerprint."""
    prints = fingerprints(stages)
    names = [s.name for s in stages]
    if start_from is not None and start_from not in names:
        raise UserError(f"--from {start_from}: no such stage; stages are {', '.join(names)}")
    first = names.index(start_from) if start_from else len(names)
    for stage in stages[:first]:
        marker = marker_path(out, stage.name)
        if not marker.is_file():
            continue
        saved = read_json(marker)
        if saved.get("fingerprint") == prints[stage.name]:
            continue
        diff = _changes(saved.get("depends", {}), json.loads(json.dumps(stage.depends, default=str)))
        what = "; ".join(diff[:3]) + (f" (+{len(diff) - 3} more)" if len(diff) > 3 else "") \
            if diff else "an earlier stage's settings"
        raise UserError(f"{out}: was run with a different config ({what}), which changes stage "
                        f"'{stage.name}' onwards; rerun with --from {stage.name} to redo those stages, "
                        "or use a new --out")


def _start_over(out: Path, stages: Sequence[Stage]) -> None:
    for stage in stages:  # check everything first: refuse before deleting anything
        for path in stage.outputs:
            outputs.check_removable(path, flag="--from")
    for stage in stages:
        marker_path(out, stage.name).unlink(missing_ok=True)
        for path in stage.outputs:
            outputs.remove(path, flag="--from")


def run_stages(out: Path, stages: Sequence[Stage], start_from: str | None = None,
               echo: Callable[[str], None] = print) -> dict[str, float]:
    """Run every unfinished stage in order; returns the seconds each stage took (this run or
    before). Raises `StageStopped` when a stage stopped early (its marker is not written)."""
    names = [s.name for s in stages]
    check_unchanged(out, stages, start_from)
    if start_from is not None:
        _start_over(out, stages[names.index(start_from):])
    prints = fingerprints(stages)
    for index, stage in enumerate(stages, start=1):
        marker = marker_path(out, stage.name)
        prefix = f"[{index}/{len(stages)}] {stage.title}"
        if marker.is_file():
            echo(f"{prefix}: already done ({read_json(marker)['seconds']:.0f} s), skipped")
            continue
        echo(f"{prefix} …")
        started = time.perf_counter()
        try:
            stage.run()
        except StageStopped as stopped:
            echo(f"{prefix}: {stopped}")
            raise
        seconds = time.perf_counter() - started
        atomic_write_json(marker, {"stage": stage.name, "index": index, "seconds": round(seconds, 2),
                                   "fingerprint": prints[stage.name],
                                   "depends": json.loads(json.dumps(stage.depends, default=str))})
        echo(f"{prefix}: done in {seconds:.0f} s")
    return stage_timings(out)
