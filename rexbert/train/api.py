"""The typed entry point of the pretraining stage: `pretrain(cfg, out, ...) -> PretrainResult`.

The CLI (`rexbert pretrain`, under torchrun too), the Python API (`from rexbert import pretrain`)
and `rexbert run` all call `pretrain`; every setting, default and bound lives on
`PretrainConfig`. A run stopped by SIGTERM/SIGINT writes a checkpoint and returns a result with
`finished=False` (never mistaken for a finished one); `resume=True` continues it exactly.

    from rexbert import pretrain
    from rexbert.config import load_config
    from rexbert.train.config import PretrainConfig

    cfg = load_config(PretrainConfig, "configs/pretrain/demo.yaml")
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"tokenizer": "tok", "shards": "shards"})})
    result = pretrain(cfg, "run")
    result.phases["anneal"].checkpoint        # RUN/phase3_anneal/checkpoint-<step>
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from rexbert import outputs
from rexbert.config.flags import changed_values
from rexbert.errors import UserError
from rexbert.fileio import atomic_write_text, read_json
from rexbert.train import checkpointing as ckpt
from rexbert.train.config import PretrainConfig
from rexbert.train.distributed import DistInfo, all_ranks_ok, barrier, destroy, init_distributed
from rexbert.train.logger import read_metrics

OUTPUT_KIND = "pretrain"


@dataclass(frozen=True)
class HeldOut:
    """Held-out MLM loss and top-1 accuracy of one eval set (token-weighted)."""

    loss: float
    accuracy: float


@dataclass(frozen=True)
class PhaseResult:
    """Where one phase stands after the call."""

    name: str
    folder: Path  # RUN_DIR/phase<k>_<name>
    checkpoint: Path | None  # the phase's final checkpoint; None until the phase finished
    steps: int  # optimizer steps done
    total_steps: int
    tokens: int  # tokens trained in this phase
    train_loss: float | None  # last logged training loss
    held_out: dict[str, HeldOut]  # last held-out loss/accuracy per eval set

    @property
    def finished(self) -> bool:
        """Whether the phase ran to its last step."""
        return self.checkpoint is not None


@dataclass(frozen=True)
class PretrainResult:
    """What `pretrain` wrote, and whether it finished."""

    run_dir: Path
    config: Path  # RUN_DIR/config.yaml, the resolved recipe
    metrics: Path  # RUN_DIR/metrics.csv
    loss_curve: Path  # RUN_DIR/loss_curve.png
    tensorboard: Path | None  # RUN_DIR/tensorboard when logging.tensorboard
    phases: dict[str, PhaseResult]  # every phase of the recipe, in curriculum order
    selected: tuple[str, ...]  # the phases this call was asked to run
    finished: bool  # every selected phase reached its last step (False when a signal stopped it)
    signum: int | None = None  # the signal that stopped it
    resume_from: Path | None = None  # the checkpoint written when it stopped

    @property
    def stopped_by(self) -> str | None:
        """`SIGTERM` / `SIGINT` when a signal stopped the run."""
        return None if self.signum is None else signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """0 when finished; 128 + the signal that stopped it (143 for SIGTERM, 130 for SIGINT);
        1 for a run folder read back unfinished with no signal known."""
        if self.finished:
            return 0
        return 1 if self.signum is None else 128 + self.signum

    def final_checkpoint(self, phase: str) -> Path | None:
        """The final checkpoint of `phase` (None until it finished)."""
        if phase not in self.phases:
            raise UserError(f"{self.run_dir}: no phase '{phase}' in its recipe ({', '.join(self.phases)})")
        return self.phases[phase].checkpoint

    def last_checkpoint(self) -> Path:
        """The final checkpoint of the recipe's last phase: the trained model."""
        last = list(self.phases.values())[-1]
        if last.checkpoint is None:
            raise UserError(f"{self.run_dir}: phase '{last.name}' has not finished "
                            f"({last.steps}/{last.total_steps} steps); resume the run with --resume")
        return last.checkpoint

    def stop_message(self) -> str:
        """One line: what stopped the run, where its checkpoint is, how to continue."""
        return (f"pretraining stopped by {self.stopped_by}; checkpoint {self.resume_from} written — "
                f"rerun the same command with --resume to continue")

    def summary(self) -> str:
        """Paths, final losses and held-out accuracy, for the end of a run."""
        lines = [f"pretraining {'finished' if self.finished else 'stopped'}: {self.run_dir}",
                 f"  metrics {self.metrics}, loss curve {self.loss_curve}"
                 + (f", tensorboard {self.tensorboard}" if self.tensorboard else "")]
        for phase in self.phases.values():
            if phase.steps == 0 and phase.name not in self.selected:
                continue  # a phase neither run now nor before
            loss = "n/a" if phase.train_loss is None else f"{phase.train_loss:.4f}"
            held = ", ".join(f"{name} loss {h.loss:.4f} acc {h.accuracy:.1%}" for name, h in phase.held_out.items())
            where = phase.checkpoint or "not finished"
            lines.append(f"  {phase.folder.name}: {phase.steps}/{phase.total_steps} steps, "
                         f"{phase.tokens:,} tokens, train loss {loss}"
                         + (f"; held-out {held}" if held else "") + f"; final {where}")
        return "\n".join(lines)


def pretrain(cfg: PretrainConfig, out: str | Path, resume: bool = False, phases: list[str] | None = None,
             *, source: str = "the pretrain config") -> PretrainResult:
    """Train the selected phases (default: all) of `cfg` into the run folder `out`.

    `resume` continues a run in `out` from its latest intact checkpoints (finished phases are
    skipped). Under torchrun every rank calls this; rank 0 writes the files. `source` names
    the config in error messages (the CLI passes the YAML's path).
    """
    selection = select_phases(cfg, phases)
    dist = init_distributed()
    try:
        torch.manual_seed(cfg.seed)
        run_dir = open_run_dir(cfg, Path(out), resume, dist, source)
        try:
            stopped = train(cfg, run_dir, resume, selection, dist, source)
        finally:
            if dist.is_main:  # the files are rexbert's whether the run finished, stopped or failed
                outputs.seal(run_dir)
        return collect_result(cfg, run_dir, selection, stopped)
    finally:
        destroy(dist)


def read_pretrain_result(run_dir: str | Path) -> PretrainResult:
    """The standing of a run folder written by `pretrain` (e.g. after a torchrun launch), read
    from its config.yaml, checkpoints and metrics.csv; `finished` when every phase finished."""
    from rexbert.config import load_config

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise UserError(f"{run_dir}: not a pretraining run folder (no config.yaml); run `rexbert pretrain` first")
    cfg = load_config(PretrainConfig, run_dir / "config.yaml")
    return collect_result(cfg, run_dir, cfg.phase_names(), None)


def select_phases(cfg: PretrainConfig, phases: list[str] | None) -> list[str]:
    """The phases to run, in curriculum order; an unknown name is a one-line error."""
    names = cfg.phase_names()
    if not phases:
        return names
    unknown = sorted(set(phases) - set(names))
    if unknown:
        raise UserError(f"--phases {' '.join(unknown)}: not phases of the recipe ({', '.join(names)})")
    return [name for name in names if name in phases]


def _differences(old: dict, new: dict) -> list[str]:
    return [f"{key} (run: {a!r}, now: {b!r})" for key, a, b in changed_values(old, new, sort_keys=False)]


def open_run_dir(cfg: PretrainConfig, run_dir: Path, resume: bool, dist: DistInfo, source: str) -> Path:
    """Claim the run folder (kind "pretrain") and write config.yaml, or check it on resume."""
    config_path = run_dir / "config.yaml"
    text = cfg.to_yaml()
    exists = config_path.is_file()  # every rank looks before any rank writes
    if exists and not resume:
        raise UserError(f"{run_dir}: already holds a run; pass --resume to continue it or choose a new --out")
    if exists and config_path.read_text(encoding="utf-8") != text:
        changed = _differences(yaml.safe_load(config_path.read_text(encoding="utf-8")) or {},
                               yaml.safe_load(text)) or ["formatting"]
        raise UserError(f"{run_dir}: {source} differs from the run's config.yaml at {changed[0]}; resume "
                        "with the config the run started with (or use a new --out)")
    barrier(dist)
    problem: UserError | None = None
    if dist.is_main:
        try:
            outputs.claim(run_dir, OUTPUT_KIND)
            if not exists:
                atomic_write_text(config_path, text)
        except UserError as err:
            problem = err
    if not all_ranks_ok(problem is None, dist):
        raise problem or UserError(f"--out {run_dir}: rank 0 could not open the run folder")
    return run_dir


def train(cfg: PretrainConfig, run_dir: Path, resume: bool, selection: list[str], dist: DistInfo,
          source: str):
    """Open the inputs, run the phases; returns the `Stopped` of a signal, else None."""
    from rexbert.train.inputs import open_inputs
    from rexbert.train.logger import MetricsLog, plot_loss_curve
    from rexbert.train.phase import RunContext, planned_steps
    from rexbert.train.progress import Progress
    from rexbert.train.trainer import Pretrainer, SignalStop, Stopped

    ctx = RunContext(cfg, open_inputs(cfg, source), run_dir, dist, resume)
    plan = {p.name: (planned_steps(cfg, p, dist.world_size), p.batch_tokens)
            for p in cfg.phases if p.name in selection}
    progress = Progress(plan, dist.is_main and cfg.logging.progress_bar, cfg.logging.progress_every_s)
    metrics = MetricsLog(run_dir, list(cfg.eval.sets), cfg.logging, dist.is_main)
    try:
        with SignalStop() as stop:
            Pretrainer(ctx, metrics, progress, stop).run(selection)
    except Stopped as stopped:
        return stopped
    finally:
        metrics.close()
        if dist.is_main:
            plot_loss_curve(metrics.path, run_dir / "loss_curve.png")
    return None


def phase_result(cfg: PretrainConfig, run_dir: Path, index: int, rows: list[dict]) -> PhaseResult:
    """A phase's standing, read from its checkpoints and metrics.csv (the files are the truth)."""
    from rexbert.train.phase import phase_dir_name

    phase = cfg.phases[index]
    folder = run_dir / phase_dir_name(index, phase)
    final = ckpt.final_pointer(folder)
    checkpoints = ckpt.list_checkpoints(folder)
    latest = final or (checkpoints[-1][1] if checkpoints else None)
    counters = read_json(latest / ckpt.STATE_JSON) if latest is not None else {}
    mine = [row for row in rows if row["phase"] == phase.name]
    losses = [float(row["loss"]) for row in mine if row.get("loss")]
    held_out = {}
    for name in cfg.eval.sets:
        evaluated = [row for row in mine if row.get(f"eval_{name}_loss")]
        if evaluated:
            held_out[name] = HeldOut(float(evaluated[-1][f"eval_{name}_loss"]),
                                     float(evaluated[-1][f"eval_{name}_accuracy"]))
    return PhaseResult(phase.name, folder, final, int(counters.get("step", 0)),
                       int(counters.get("total_steps", 0)), int(counters.get("phase_tokens", 0)),
                       losses[-1] if losses else None, held_out)


def collect_result(cfg: PretrainConfig, run_dir: Path, selection: list[str], stopped) -> PretrainResult:
    """The `PretrainResult` of a call that ran `selection` (stopped: the `Stopped` of a signal)."""
    metrics = run_dir / "metrics.csv"
    rows = read_metrics(metrics) if metrics.is_file() else []
    phases = {phase.name: phase_result(cfg, run_dir, index, rows) for index, phase in enumerate(cfg.phases)}
    finished = stopped is None and all(phases[name].finished for name in selection)
    return PretrainResult(
        run_dir=run_dir, config=run_dir / "config.yaml", metrics=metrics, loss_curve=run_dir / "loss_curve.png",
        tensorboard=run_dir / "tensorboard" if cfg.logging.tensorboard else None, phases=phases,
        selected=tuple(selection), finished=finished, signum=None if stopped is None else stopped.signum,
        resume_from=None if stopped is None else stopped.checkpoint)


def phase_folder(run_dir: str | Path, cfg: PretrainConfig, phase: str) -> Path:
    """Where phase `phase` of `cfg` writes inside `run_dir` (`RUN_DIR/phase<k>_<name>`)."""
    from rexbert.train.phase import phase_dir_name

    select_phases(cfg, [phase])  # an unknown name is a one-line error
    index = cfg.phase_names().index(phase)
    return Path(run_dir) / phase_dir_name(index, cfg.phases[index])
