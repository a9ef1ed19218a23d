"""What a person sees while pretraining runs: a progress bar on a terminal, otherwise one log line
every `logging.progress_every_s` seconds (a log file gets lines, not carriage returns), both
with an ETA over every phase still to run. The terminal test and the bar are the ones every
stage uses (`rexbert.progress`); the lines carry the loss, learning rate and run-wide ETA.

The ETA divides the nominal tokens left in this and the later phases (steps × batch_tokens) by
the tokens per second measured since this process started training, so a resumed run estimates
from its own speed.
"""

from __future__ import annotations

import logging
import time

from rexbert.progress import Progress as Bar
from rexbert.progress import format_duration, is_terminal

__all__ = ["Progress", "format_duration"]
log = logging.getLogger("rexbert.train.progress")


class Progress:
    """Progress of the whole run: `plan` maps each phase to run → (total steps, tokens per step)."""

    def __init__(self, plan: dict[str, tuple[int, int]], enabled: bool, every_s: float) -> None:
        self.plan = dict(plan)
        self.done = dict.fromkeys(plan, 0)
        self.enabled = enabled
        self.every_s = every_s
        self.terminal = enabled and is_terminal()
        self.bar = None
        self.label = ""
        self.started = time.perf_counter()
        self.trained_tokens = 0  # actual tokens (the speed shown)
        self.budget_tokens = 0  # nominal tokens, in the units of the plan (the ETA)
        self.last_line = 0.0

    def eta_s(self) -> float | None:
        """Seconds left for every planned phase at the speed measured so far (None: no speed yet)."""
        elapsed = time.perf_counter() - self.started
        if self.budget_tokens == 0 or elapsed <= 0:
            return None
        left = sum((total - self.done[name]) * per_step for name, (total, per_step) in self.plan.items())
        return left / (self.budget_tokens / elapsed)

    def start_phase(self, name: str, label: str, step: int, total: int) -> None:
        """A phase begins (or resumes) at `step` of `total`."""
        self.plan[name] = (total, self.plan.get(name, (total, 0))[1])
        self.done[name] = step
        self.label = label
        self.last_line = time.perf_counter()
        if self.terminal:
            self.bar = Bar(total=total, initial=step, desc=label, unit="step", terminal=True)

    def skip(self, name: str) -> None:
        """A phase found already finished: nothing of it is left to run."""
        self.done[name] = self.plan.get(name, (0, 0))[0]

    def update(self, name: str, step: int, tokens: int, budget: int, loss: float, lr: float) -> None:
        """One optimizer step finished: `tokens` trained of a `budget` of nominal tokens."""
        self.done[name] = step
        self.trained_tokens += tokens
        self.budget_tokens += budget
        if not self.enabled:
            return
        eta = self.eta_s()
        eta_text = "…" if eta is None else format_duration(eta)
        if self.bar is not None:
            self.bar.update(step - self.bar.n, loss=f"{loss:.3f}", lr=f"{lr:.2e}", eta_all=eta_text)
            return
        now = time.perf_counter()
        total = self.plan[name][0]
        if now - self.last_line >= self.every_s or step == total:
            self.last_line = now
            speed = self.trained_tokens / max(now - self.started, 1e-9)
            log.info("%s step %d/%d (%d%%)  loss %.4f  lr %.2e  %s tokens/s  ETA all phases %s",
                     self.label, step, total, 100 * step // max(total, 1), loss, lr,
                     f"{speed:,.0f}", eta_text)

    def end_phase(self) -> None:
        """Close the bar of the phase that just ended or stopped."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
