"""Training metrics: `RUN_DIR/metrics.csv`, TensorBoard scalars and a loss-curve PNG.

metrics.csv has one row per logged step (columns `COLUMNS`); evaluation columns are filled on
the steps where held-out evaluation ran and empty otherwise. On `--resume` rows past the
checkpoint being resumed are dropped, so the file reads as one uninterrupted run.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

from rexbert.fileio import atomic_write_text
from rexbert.plotting import png_bytes

log = logging.getLogger(__name__)

COLUMNS = (
    "phase", "step", "tokens", "loss", "mlm_accuracy", "lr", "grad_norm", "tokens_per_s",
    "batch_tokens", "packing_efficiency", "guided_share", "nan_steps", "elapsed_s",
)


def eval_columns(set_names: list[str]) -> list[str]:
    """Evaluation columns for the configured validation sets."""
    return [f"eval_{name}_{metric}" for name in set_names for metric in ("loss", "accuracy")]


class MetricsLog:
    """Append-only CSV (flushed and fsynced per row) plus optional TensorBoard."""

    def __init__(self, run_dir: Path, set_names: list[str], tensorboard: bool, enabled: bool) -> None:
        self.path = run_dir / "metrics.csv"
        self.columns = [*COLUMNS, *eval_columns(set_names)]
        self.enabled = enabled
        self.writer = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.warning("tensorboard is not installed; metrics go to metrics.csv only "
                            "(pip install tensorboard to get event files)")
            else:
                self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def truncate_after(self, phase_order: dict[str, int], phase: str, step: int) -> None:
        """Keep only rows up to (`phase`, `step`): the state a resumed run continues from."""
        if not self.enabled or not self.path.is_file():
            return
        with self.path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        limit = (phase_order[phase], step)
        kept = [r for r in rows if r["phase"] in phase_order
                and (phase_order[r["phase"]], int(r["step"])) <= limit]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
        atomic_write_text(self.path, buffer.getvalue())

    def write(self, row: dict, global_step: int) -> None:
        """Append one row (missing columns stay empty) and mirror numbers to TensorBoard."""
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
        if self.writer is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and key not in ("step",):
                    self.writer.add_scalar(f"{row['phase']}/{key}", value, global_step)
            self.writer.flush()

    def close(self) -> None:
        """Close the TensorBoard writer."""
        if self.writer is not None:
            self.writer.close()


def read_metrics(path: Path) -> list[dict]:
    """Rows of a metrics.csv as dicts of strings."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def plot_loss_curve(metrics_csv: Path, out_png: Path) -> None:
    """Training loss against tokens, one colour per phase, held-out losses as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_csv)
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(8, 4.5))
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
    ax.legend(fontsize=8)
    from rexbert.fileio import atomic_write_bytes

    atomic_write_bytes(out_png, png_bytes(fig, dpi=110))
