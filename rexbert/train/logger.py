"""Training metrics: `RUN_DIR/metrics.csv`, the same scalars to TensorBoard / W&B / MLflow, and a
loss-curve PNG.

metrics.csv has one row per logged step (columns `COLUMNS`); evaluation columns are filled on
the steps where held-out evaluation ran and empty otherwise. On `--resume` rows past the
checkpoint being resumed are dropped, so the file reads as one uninterrupted run. Every tracker
gets each numeric cell of each row as `<phase>/<column>` at x = tokens trained, so what a
dashboard shows is what metrics.csv holds. Only the main rank writes.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time
import uuid
from pathlib import Path

from rexbert.errors import UserError
from rexbert.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text, read_json
from rexbert.plotting import png_bytes
from rexbert.train.config import LoggingSpec

log = logging.getLogger(__name__)

COLUMNS = (
    "phase", "step", "tokens", "loss", "mlm_accuracy", "lr", "grad_norm", "tokens_per_s",
    "batch_tokens", "packing_efficiency", "guided_share", "nan_steps", "elapsed_s",
)
TRACKING_IDS = "tracking.json"  # run ids of W&B / MLflow, so a resumed run continues the same one


def eval_columns(set_names: list[str]) -> list[str]:
    """Evaluation columns for the configured validation sets."""
    return [f"eval_{name}_{metric}" for name in set_names for metric in ("loss", "accuracy")]


def scalars(row: dict) -> dict[str, float]:
    """The numbers of a metrics row as tracker tags `<phase>/<column>`."""
    return {f"{row['phase']}/{key}": float(value) for key, value in row.items()
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool)}


# ----------------------------------------------------------------------------- trackers


class TensorBoardSink:
    """Event files in RUN_DIR/tensorboard."""

    def __init__(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def log(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbSink:
    """A Weights & Biases run (files under RUN_DIR/wandb); the same run again on resume."""

    def __init__(self, run_dir: Path, spec, ids: dict) -> None:
        import wandb

        ids.setdefault("wandb", uuid.uuid4().hex[:16])
        self.run = wandb.init(project=spec.project, entity=spec.entity, name=spec.name or run_dir.name,
                              mode=spec.mode, dir=str(run_dir), id=ids["wandb"], resume="allow")

    def log(self, values: dict[str, float], step: int) -> None:
        self.run.log(values, step=step)

    def close(self) -> None:
        self.run.finish()


class MlflowSink:
    """An MLflow run; the same run again on resume."""

    def __init__(self, run_dir: Path, spec, ids: dict) -> None:
        import mlflow

        self.client = mlflow.MlflowClient(tracking_uri=spec.tracking_uri)
        if "mlflow" not in ids:
            experiment = self.client.get_experiment_by_name(spec.experiment)
            experiment_id = (experiment.experiment_id if experiment is not None
                             else self.client.create_experiment(spec.experiment))
            run = self.client.create_run(experiment_id, run_name=spec.run_name or run_dir.name)
            ids["mlflow"] = run.info.run_id
        self.run_id = ids["mlflow"]

    def log(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(key, value, now, step) for key, value in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def _import_or_explain(module: str, key: str, package: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise UserError(f"logging.{key} is set but {package} is not installed; "
                        f"`pip install {package}` (or rexbert[tracking]), or remove logging.{key}") from None


def open_trackers(run_dir: Path, spec: LoggingSpec) -> list:
    """The trackers `spec` asks for; a configured one whose package is missing is an error."""
    ids_path = run_dir / TRACKING_IDS
    ids = read_json(ids_path) if ids_path.is_file() else {}
    sinks: list = []
    if spec.tensorboard:
        try:
            sinks.append(TensorBoardSink(run_dir))
        except ImportError:
            log.warning("tensorboard is not installed; metrics go to metrics.csv only "
                        "(pip install tensorboard to get event files)")
    if spec.wandb is not None:
        _import_or_explain("wandb", "wandb", "wandb")
        sinks.append(WandbSink(run_dir, spec.wandb, ids))
    if spec.mlflow is not None:
        _import_or_explain("mlflow", "mlflow", "mlflow-skinny")
        sinks.append(MlflowSink(run_dir, spec.mlflow, ids))
    if ids:
        atomic_write_json(ids_path, ids)
    return sinks


# ----------------------------------------------------------------------------- metrics.csv


class MetricsLog:
    """Append-only metrics.csv (flushed and fsynced per row) mirrored to the trackers."""

    def __init__(self, run_dir: Path, set_names: list[str], spec: LoggingSpec, enabled: bool) -> None:
        self.path = run_dir / "metrics.csv"
        self.columns = [*COLUMNS, *eval_columns(set_names)]
        self.enabled = enabled
        self.trackers = open_trackers(run_dir, spec) if enabled else []

    def truncate_after(self, phase_order: dict[str, int], phase: str, step: int) -> None:
        """Keep only rows up to (`phase`, `step`): the state a resumed run continues from."""
        if not self.enabled or not self.path.is_file():
            return
        limit = (phase_order[phase], step)
        kept = [r for r in read_metrics(self.path) if r["phase"] in phase_order
                and (phase_order[r["phase"]], int(r["step"])) <= limit]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
        atomic_write_text(self.path, buffer.getvalue())

    def write(self, row: dict, global_step: int) -> None:
        """Append one row (missing columns stay empty) and send its numbers to every tracker."""
        if not self.enabled:
            return
        new = not self.path.is_file()
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
            handle.flush()
            os.fsync(handle.fileno())
        values = scalars(row)
        for tracker in self.trackers:
            tracker.log(values, global_step)

    def close(self) -> None:
        """Close every tracker."""
        for tracker in self.trackers:
            tracker.close()


def read_metrics(path: Path) -> list[dict]:
    """Rows of a metrics.csv as dicts of strings."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def plot_loss_curve(metrics_csv: Path, out_png: Path) -> None:
    """Training loss against tokens, one colour per phase, held-out losses as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_csv) if metrics_csv.is_file() else []
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(9.5, 4.5))
    phases = list(dict.fromkeys(r["phase"] for r in rows))
    for phase in phases:
        mine = [r for r in rows if r["phase"] == phase and r["loss"] not in ("", "nan")]
        ax.plot([int(r["tokens"]) for r in mine], [float(r["loss"]) for r in mine], label=f"{phase} (train)")
    eval_keys = [k for k in rows[0] if k.startswith("eval_") and k.endswith("_loss")]
    for key in eval_keys:
        points = [(int(r["tokens"]), float(r[key])) for r in rows if r.get(key)]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, "o--", markersize=3, label=key.removeprefix("eval_").removesuffix("_loss") + " (held-out)")
    ax.set_xlabel("tokens")
    ax.set_ylabel("MLM loss")
    ax.set_title("rexbert pretraining")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: clear of curves
    atomic_write_bytes(out_png, png_bytes(fig, dpi=110))
