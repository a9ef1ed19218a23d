"""The one subprocess of `rexbert run`: pretraining on several processes through torchrun.

`torchrun --standalone --nproc_per_node N -m rexbert pretrain …` runs DDP (or FSDP2) on this
node. A SIGTERM or SIGINT that reaches `rexbert run` while the launcher runs is passed on to
the launcher, which passes it to every rank: each rank checkpoints and stops, and the run stops
without marking the phase finished, so the same command resumes it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from rexbert.errors import UserError

STOPPED_BY_SIGNAL = {143: "SIGTERM", 130: "SIGINT"}


def torchrun_command(recipe: Path, run_dir: Path, phase: str, nproc_per_node: int) -> list[str]:
    """The `torchrun --nproc_per_node N -m rexbert pretrain …` command line for one phase."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc_per_node}", "-m", "rexbert", "--log-level", "WARNING",
               "pretrain", "--config", str(recipe), "--out", str(run_dir), "--phases", phase]
    return command + (["--resume"] if run_dir.exists() else [])


def launch_pretrain(recipe: Path, run_dir: Path, phase: str, nproc_per_node: int) -> int:
    """Run one phase on `nproc_per_node` processes; returns the launcher's exit status.

    A status other than 0 or a stop by signal (the ranks checkpointed) is a failed stage.
    """
    command = torchrun_command(recipe, run_dir, phase, nproc_per_node)
    launcher = subprocess.Popen(command)
    forward = lambda signum, frame: launcher.send_signal(signum)  # noqa: E731 - a handler
    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        status = launcher.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if status not in (0, *STOPPED_BY_SIGNAL, -signal.SIGTERM, -signal.SIGINT):
        raise UserError(f"pretraining on {nproc_per_node} processes failed with exit code {status} "
                        f"({' '.join(command[1:])}); fix the cause shown above and rerun the same "
                        "`rexbert run` command to continue where it stopped")
    return status
