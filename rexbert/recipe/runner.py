"""Run a list of stages in order, each at most once, with markers that make reruns cheap.

A stage is finished when `DIR/stages/<name>.json` exists; the marker is written atomically after
the stage returns, so a run killed mid-stage reruns that stage (and each stage itself resumes:
curation skips finished shards, pretraining resumes from its last checkpoint, evaluation skips
finished units). `--from STAGE` removes the markers of that stage and every later one.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json, read_json

log = logging.getLogger(__name__)


class StageNotFinished(Exception):
    """A stage handed its work to a cluster (Slurm) and must be run again once that finishes."""


@dataclass(frozen=True)
class Stage:
    """One step of the recipe: a name for `--from`, a title for progress, and its work."""

    name: str
    title: str
    run: Callable[[], None]
    # What `--from` deletes before rerunning the stage, so that it starts over instead of
    # resuming (a killed stage, by contrast, keeps its partial output and resumes).
    outputs: tuple[Path, ...] = ()


def marker_path(out: Path, name: str) -> Path:
    """Where the completion marker of stage `name` lives."""
    return out / "stages" / f"{name}.json"


def stage_timings(out: Path) -> dict[str, float]:
    """Seconds spent in each finished stage, from the markers (in stage order of completion)."""
    timings: dict[str, float] = {}
    folder = out / "stages"
    if not folder.is_dir():
        return timings
    markers = [read_json(p) for p in folder.glob("*.json")]
    for marker in sorted(markers, key=lambda m: m.get("index", 0)):
        timings[marker["stage"]] = float(marker["seconds"])
    return timings


def run_stages(out: Path, stages: Sequence[Stage], start_from: str | None = None,
               echo: Callable[[str], None] = print) -> dict[str, float] | None:
    """Run every unfinished stage in order; returns the seconds each stage took (this run or
    before), or None when a stage is still running elsewhere (its marker is not written)."""
    names = [s.name for s in stages]
    if start_from is not None:
        if start_from not in names:
            raise UserError(f"--from {start_from}: no such stage; stages are {', '.join(names)}")
        for stage in stages[names.index(start_from):]:
            marker_path(out, stage.name).unlink(missing_ok=True)
            for path in stage.outputs:
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
    for index, stage in enumerate(stages, start=1):
        marker = marker_path(out, stage.name)
        prefix = f"[{index}/{len(stages)}] {stage.title}"
        if marker.is_file():
            seconds = read_json(marker)["seconds"]
            echo(f"{prefix}: already done ({seconds:.0f} s), skipped")
            continue
        echo(f"{prefix} …")
        started = time.perf_counter()
        try:
            stage.run()
        except StageNotFinished as pending:
            echo(f"{prefix}: {pending}")
            return None
        seconds = time.perf_counter() - started
        atomic_write_json(marker, {"stage": stage.name, "index": index, "seconds": round(seconds, 2)})
        echo(f"{prefix}: done in {seconds:.0f} s")
    return stage_timings(out)
