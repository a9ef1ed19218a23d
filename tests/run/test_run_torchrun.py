"""`rexbert run` with `pretrain.nproc_per_node: 2`: pretraining through torchrun on gloo, to a
report. Its losses equal the single-process run's (same global batch), and a SIGTERM to the
torchrun launcher checkpoints every rank, stops the run unfinished, and the rerun resumes."""

from __future__ import annotations

import csv
import os
import signal
import time
from pathlib import Path

import pytest

from .conftest import phase1_rows, rexbert_process, tiny_config


def _launcher_pid(run_pid: int) -> int | None:
    """The torchrun launcher started by `rexbert run` (its child running torch.distributed.run)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(stat[1]) == run_pid and b"torch.distributed.run" in cmdline:
            return int(entry.name)
    return None


def _losses(run_dir: Path) -> list[tuple[str, int, float]]:
    with (run_dir / "metrics.csv").open() as handle:
        return [(r["phase"], int(r["step"]), float(r["loss"])) for r in csv.DictReader(handle) if r["loss"]]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="torchrun needs a POSIX system")
def test_two_processes_through_rexbert_run_match_one_and_resume_after_sigterm(finished_run, tmp_path):
    config, out = tmp_path / "ddp.yaml", tmp_path / "out"
    config.write_text(tiny_config(tmp_path).replace("pretrain:\n", "pretrain:\n  nproc_per_node: 2\n"))
    first = rexbert_process("run", "--config", str(config), "--out", str(out))
    deadline, launcher = time.monotonic() + 900, None
    while first.poll() is None and time.monotonic() < deadline and phase1_rows(out) < 1:
        time.sleep(0.2)
    launcher = _launcher_pid(first.pid)
    assert launcher is not None, "no torchrun launcher found"
    os.kill(launcher, signal.SIGTERM)  # what a scheduler's preemption does to the job step
    printed = first.communicate(timeout=300)[0]
    assert first.returncode in (143, 1, 2) and not (out / "stages" / "phase1.json").exists(), printed[-3000:]
    checkpoints = sorted((out / "pretrain" / "annealed").glob("phase1_general/checkpoint-*"))
    assert checkpoints, printed[-3000:]

    second = rexbert_process("run", "--config", str(config), "--out", str(out))
    resumed = second.communicate(timeout=1800)[0]
    assert second.returncode == 0, resumed[-3000:]
    assert (out / "report.md").is_file()
    for arm in ("annealed", "control"):
        two = _losses(out / "pretrain" / arm)
        one = _losses(finished_run["out"] / "pretrain" / arm)
        assert [(p, s) for p, s, _ in two] == [(p, s) for p, s, _ in one]
        for (_, _, a), (_, _, b) in zip(two, one, strict=True):
            assert abs(a - b) <= 1e-3 * max(1.0, abs(b)), (arm, a, b)
