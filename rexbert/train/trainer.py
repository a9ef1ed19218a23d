"""The curriculum loop: for each phase, build it, then step → log → evaluate → checkpoint.

Reads top to bottom: `Pretrainer.run` walks the phases; `run_phase` builds one
(`rexbert/train/phase.py`: fresh, previous phase, init_from or resumed) and runs its step loop,
which calls one named helper per concern. Distribution details live in `distributed.py`, the
step itself in `step.py`, files in `checkpointing.py` and `logger.py`.

Run folder::

    RUN_DIR/config.yaml                      the resolved recipe
    RUN_DIR/metrics.csv                      one row per logged step (see logger.COLUMNS)
    RUN_DIR/loss_curve.png                   training and held-out loss against tokens
    RUN_DIR/tensorboard/                     event files (logging.tensorboard, on by default)
    RUN_DIR/phase<k>_<name>/checkpoint-<step>/   model + tokenizer + trainer state (checkpointing.py)
    RUN_DIR/phase<k>_<name>/final -> checkpoint-<step>   (and final.json) once the phase is done
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rexbert.data.stream import PackedBatch, pack_to_batch
from rexbert.errors import UserError
from rexbert.fileio import read_json
from rexbert.train import checkpointing as ckpt
from rexbert.train.config import PhaseSpec, PretrainConfig
from rexbert.train.distributed import barrier, full_state_dict, optimizer_state_dict, plain_module
from rexbert.train.logger import MetricsLog, plot_loss_curve
from rexbert.train.phase import (
    PhaseBundle,
    RunContext,
    build_phase,
    checkpoint_state,
    phase_dir_name,
)
from rexbert.train.progress import Progress
from rexbert.train.schedule import batch_tokens_at, packs_per_step
from rexbert.train.step import StepStats, evaluate, train_step

log = logging.getLogger(__name__)


class Stopped(Exception):
    """A signal stopped the run after its checkpoint was written."""

    def __init__(self, signum: int, checkpoint: Path) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum
        self.checkpoint = checkpoint


class SignalStop:
    """While active, SIGTERM/SIGINT only set `signum`; the loop checkpoints at the end of the step."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.previous: dict[int, object] = {}

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():  # Python delivers signals there only
            for signum in (signal.SIGTERM, signal.SIGINT):
                self.previous[signum] = signal.signal(signum, self._record)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _record(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        log.warning("received %s: checkpointing at the end of this step", signal.Signals(signum).name)
        self.signum = signum


@dataclass
class Meter:
    """Wall-clock bookkeeping of one phase: its elapsed time and the throughput window."""

    phase_origin: float  # perf_counter() at which the phase's elapsed time was zero
    window_start: float = field(default_factory=time.perf_counter)
    window_tokens: int = 0

    def tokens_per_s(self) -> float:
        """Tokens per second since the last call (starts a new window)."""
        now = time.perf_counter()
        rate = self.window_tokens / max(now - self.window_start, 1e-9)
        self.window_start, self.window_tokens = now, 0
        return round(rate, 1)


def finished_run_tokens(folder: Path) -> int | None:
    """Tokens trained up to the end of a finished phase (its final checkpoint's counters), else None.

    Only a count for the metrics' `tokens` column: a phase that loads those weights verifies them.
    """
    final = ckpt.final_pointer(folder)
    return None if final is None else int(read_json(final / ckpt.STATE_JSON)["run_tokens"])


# ----------------------------------------------------------------------------- loop helpers


def open_phase(ctx: RunContext, bundle: PhaseBundle, metrics: MetricsLog) -> None:
    """Create the phase folder; drop metrics rows the resumed checkpoint does not cover."""
    if ctx.dist.is_main:
        bundle.folder.mkdir(parents=True, exist_ok=True)
        order = {name: i for i, name in enumerate(ctx.cfg.phase_names())}
        resumed = bundle.start.kind == "resumed"
        metrics.truncate_after(order, bundle.spec.name, bundle.state.step if resumed else -1)


def step_batches(ctx: RunContext, bundle: PhaseBundle) -> tuple[list[PackedBatch], int]:
    """Plan this step's packs (every rank plans all of them) and mask this rank's share."""
    phase, state, dist, inputs = bundle.spec, bundle.state, ctx.dist, ctx.inputs
    batch_tokens = batch_tokens_at(state.nominal_tokens, phase.batch_tokens, phase.batch_warmup)
    n_packs = packs_per_step(batch_tokens, phase.micro_batch_tokens, dist.world_size)
    packs = bundle.stream.next_packs(n_packs, state.step / bundle.total_steps)
    mine = [pack_to_batch(items, bundle.components, inputs.tokens, phase.masking,
                          np.random.default_rng([ctx.cfg.seed, bundle.index, state.step, i]),
                          inputs.replacement_ids)
            for i, items in enumerate(packs) if i % dist.world_size == dist.rank]
    return mine, n_packs


def is_log_step(cfg: PretrainConfig, bundle: PhaseBundle, step: int) -> bool:
    """Whether step `step` (1-based) writes a training row."""
    return step % cfg.logging.every_steps == 0 or step == bundle.total_steps


def count_nonfinite(cfg: PretrainConfig, bundle: PhaseBundle, stats: StepStats) -> None:
    """A NaN/Inf step was skipped: count it, and stop once there were too many."""
    if stats.finite:
        return
    state, name = bundle.state, bundle.spec.name
    state.nan_steps += 1
    log.warning("phase %s step %d: loss %s / grad norm %s is not finite; step skipped (%d so far)",
                name, state.step, stats.loss, stats.grad_norm, state.nan_steps)
    if state.nan_steps > cfg.max_nan_steps:
        raise UserError(f"phase '{name}' step {state.step}: {state.nan_steps} steps had a NaN/Inf loss "
                        f"or gradient (max_nan_steps={cfg.max_nan_steps}); training diverged — lower "
                        f"optimizer.lr or raise schedule.warmup_fraction, then resume from {bundle.folder}")


def train_row(cfg: PretrainConfig, bundle: PhaseBundle, stats: StepStats, lr: float, n_packs: int,
              meter: Meter) -> dict | None:
    """The metrics.csv row of a logging step (None on other steps)."""
    state = bundle.state
    if not is_log_step(cfg, bundle, state.step):
        return None
    budget = n_packs * bundle.spec.micro_batch_tokens
    return {
        "phase": bundle.spec.name, "step": state.step, "tokens": state.run_tokens, "loss": stats.loss,
        "mlm_accuracy": stats.accuracy, "lr": lr, "grad_norm": stats.grad_norm,
        "tokens_per_s": meter.tokens_per_s(), "batch_tokens": stats.tokens,
        "packing_efficiency": round(stats.tokens / budget, 4),
        "guided_share": round(stats.guided_documents / max(stats.documents, 1), 4),
        "nan_steps": state.nan_steps, "elapsed_s": round(time.perf_counter() - meter.phase_origin, 2),
    }


def eval_row(ctx: RunContext, bundle: PhaseBundle, row: dict | None) -> dict | None:
    """Add held-out loss/accuracy on evaluation steps (every eval.every_steps and the last)."""
    state = bundle.state
    due = state.step % ctx.cfg.eval.every_steps == 0 or state.step == bundle.total_steps
    if not (bundle.eval_sets and due):
        return row
    row = row or {"phase": bundle.spec.name, "step": state.step, "tokens": state.run_tokens,
                  "nan_steps": state.nan_steps}
    row.update(evaluate(bundle.model, bundle.eval_sets, ctx.dist.device))
    return row


def save_checkpoint(ctx: RunContext, bundle: PhaseBundle) -> Path:
    """Write `checkpoint-<step>` (every rank takes part in gathering; rank 0 writes)."""
    from rexbert.model.checkpoint import save_weights

    weights = full_state_dict(bundle.model)
    optim_state = optimizer_state_dict(bundle.model, bundle.optimizer)
    path = bundle.folder / f"checkpoint-{bundle.state.step}"
    if ctx.dist.is_main:
        state = checkpoint_state(bundle, optim_state, ctx.dist.world_size)
        summary = {k: v for k, v in state.items() if k not in ("optimizer", "data", "rng")}
        summary["tokenizer_fingerprint"] = ctx.inputs.tokenizer.fingerprint
        config, tokenizer = plain_module(bundle.model).config, ctx.inputs.tokenizer.path
        path = ckpt.write_checkpoint(bundle.folder, bundle.state.step,
                                     lambda folder: save_weights(weights, config, folder, tokenizer),
                                     state, summary, ctx.cfg.checkpoint.keep_last)
    barrier(ctx.dist)
    return path


def finish_phase(ctx: RunContext, bundle: PhaseBundle, metrics: MetricsLog) -> None:
    """Point `final` at the last checkpoint (also when resumed exactly at the end) and plot."""
    if ctx.dist.is_main and not (bundle.folder / "final.json").is_file():
        ckpt.point_final(bundle.folder, bundle.folder / f"checkpoint-{bundle.state.step}")
    barrier(ctx.dist)
    if ctx.dist.is_main:
        plot_loss_curve(metrics.path, ctx.run_dir / "loss_curve.png")


# ----------------------------------------------------------------------------- the pretrainer


class Pretrainer:
    """Runs the selected phases of a recipe into a run folder (one per process under torchrun)."""

    def __init__(self, ctx: RunContext, metrics: MetricsLog, progress: Progress, stop: SignalStop) -> None:
        self.ctx = ctx
        self.metrics = metrics
        self.progress = progress
        self.stop = stop

    def run(self, selection: list[str]) -> None:
        """Run (or resume) the selected phases in order; `Stopped` when a signal arrived."""
        run_tokens = 0
        for index, phase in enumerate(self.ctx.cfg.phases):
            folder = self.ctx.run_dir / phase_dir_name(index, phase)
            if phase.name in selection:
                run_tokens = self.run_phase(index, phase, run_tokens)
            elif (done := finished_run_tokens(folder)) is not None:
                run_tokens = done

    def run_phase(self, index: int, phase: PhaseSpec, run_tokens: int) -> int:
        """Build the phase and run its step loop; returns the run's tokens at its end."""
        bundle = build_phase(self.ctx, index, phase, run_tokens)
        if bundle is None:
            log.info("phase %s already complete; skipping", phase.name)
            self.progress.skip(phase.name)
            return finished_run_tokens(self.ctx.run_dir / phase_dir_name(index, phase))
        open_phase(self.ctx, bundle, self.metrics)
        self.progress.start_phase(phase.name, bundle.label, bundle.state.step, bundle.total_steps)
        meter = Meter(phase_origin=time.perf_counter() - bundle.state.elapsed_s)
        try:
            while bundle.state.step < bundle.total_steps:
                stats, lr, n_packs = self.train_one_step(bundle)
                meter.window_tokens += stats.tokens
                row = eval_row(self.ctx, bundle, train_row(self.ctx.cfg, bundle, stats, lr, n_packs, meter))
                if row is not None:
                    self.metrics.write(row, global_step=bundle.state.run_tokens)
                self.progress.update(phase.name, bundle.state.step, stats.tokens,
                                     n_packs * phase.micro_batch_tokens, stats.loss, lr)
                self.checkpoint_if_due(bundle, meter, stopping=stats.stop or self.stop.signum is not None)
        finally:
            self.progress.end_phase()
        finish_phase(self.ctx, bundle, self.metrics)
        return bundle.state.run_tokens

    def train_one_step(self, bundle: PhaseBundle) -> tuple[StepStats, float, int]:
        """Train one optimizer step on this rank's packs; advances the schedule and counters."""
        lr = bundle.scheduler.get_last_lr()[0]
        batches, n_packs = step_batches(self.ctx, bundle)
        stats = train_step(bundle.model, bundle.optimizer, batches, self.ctx.dist,
                           bundle.spec.optimizer.grad_clip,
                           with_accuracy=is_log_step(self.ctx.cfg, bundle, bundle.state.step + 1),
                           stop=self.stop.signum is not None)
        count_nonfinite(self.ctx.cfg, bundle, stats)
        bundle.scheduler.step()
        bundle.state.advance(stats.tokens, n_packs * bundle.spec.micro_batch_tokens)
        return stats, lr, n_packs

    def checkpoint_if_due(self, bundle: PhaseBundle, meter: Meter, stopping: bool) -> None:
        """Checkpoint every checkpoint.every_steps, at the phase's end, and when stopping."""
        state = bundle.state
        last = state.step == bundle.total_steps
        if not (stopping or last or state.step % self.ctx.cfg.checkpoint.every_steps == 0):
            return
        state.elapsed_s = time.perf_counter() - meter.phase_origin
        path = save_checkpoint(self.ctx, bundle)
        if last and self.ctx.dist.is_main:
            ckpt.point_final(bundle.folder, path)
        if stopping:
            raise Stopped(self.stop.signum or signal.SIGTERM, path)


def run_pretrain(config: str | Path, out: str | Path, max_steps: int | None = None, resume: bool = False,
                 phases: list[str] | None = None, tokenizer: str | None = None,
                 shards: str | None = None) -> int:
    """Load a recipe YAML (with optional path and step-cap overrides) and run `pretrain`;
    returns the exit status (0, or 128 + signal when a signal stopped the run)."""
    from rexbert.config.base import parse_config, read_yaml
    from rexbert.config.flags import deep_merge
    from rexbert.train.api import pretrain
    from rexbert.train.config import PretrainConfig

    given = {"data": {k: v for k, v in (("tokenizer", tokenizer), ("shards", shards)) if v is not None}}
    if max_steps is not None:
        given["max_steps"] = max_steps
    cfg = parse_config(PretrainConfig, deep_merge(read_yaml(config), given), source=str(config))
    return pretrain(cfg, out, resume=resume, phases=phases, source=str(config)).exit_code
