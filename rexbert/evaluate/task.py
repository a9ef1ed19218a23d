"""The one interface every evaluation implements, and the loop that runs them with resume.

An `EvalTask` knows its data and settings; `evaluate(spec)` loads one model, measures it and
returns its `ModelInfo` and `Measurement`s. `run_tasks` runs every (model, task) pair, merges each
finished pair into `OUT/results.json` right away (atomically), and on a rerun skips pairs that
are already there — an interrupted comparison of several models resumes where it stopped.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rexbert.evaluate.models import ModelSpec, fingerprint
from rexbert.evaluate.results import (
    ExamplePart,
    ModelInfo,
    ResultRecord,
    Results,
    examples_name,
    load_results,
    save_examples,
    save_results,
    unit_key,
)

log = logging.getLogger(__name__)


@dataclass
class Measurement:
    """One metric value, where it sits in a table (`axes`: field, block size, k, stage…) and
    details worth keeping next to it (`details`: counts, steps, final loss)."""

    metric: str
    value: float
    axes: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    examples: ExamplePart | None = None  # the per-example data behind the value (results.py)


class EvalTask(ABC):
    """An evaluation over one model at a time. Subclasses set `task` and implement two methods."""

    task: str = ""

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything the numbers depend on besides the model (stored with every record)."""

    @abstractmethod
    def evaluate(self, spec: ModelSpec) -> tuple[ModelInfo, list[Measurement]]:
        """Load the model in `spec`, measure it, and describe it."""


def run_tasks(
    tasks: Sequence[EvalTask],
    specs: Sequence[ModelSpec],
    out_dir: str | Path,
    overwrite: bool = False,
) -> Results:
    """Evaluate every model on every task, saving after each pair; returns all results in OUT."""
    out_dir = Path(out_dir)
    results = load_results(out_dir, missing_ok=True)
    done = results.units()
    for spec in specs:
        weights = fingerprint(spec.path)
        for task in tasks:
            settings = task.settings()
            unit = unit_key(task.task, weights, settings)
            if unit in done and not overwrite and unit_complete(results, unit, spec.name):
                log.info(
                    "%s on %s: already in %s/results.json, skipped", task.task, spec.name, out_dir
                )
                continue
            log.info("%s: evaluating %s (%s)", task.task, spec.name, spec.path)
            info, measurements = task.evaluate(spec)
            store_unit(results, out_dir, spec.name, task.task, unit, settings, info, measurements)
    return results


def unit_complete(results: Results, unit: str, name: str) -> bool:
    """Whether `name`'s records of `unit` are in the results with their per-example file."""
    records = [r for r in results.records if r.unit == unit and r.model == name]
    return name in results.models and bool(records) and all(
        r.examples_path() is not None and r.examples_path().is_file() for r in records)


def store_unit(results: Results, out_dir: Path, name: str, task: str, unit: str,
               settings: dict[str, Any], info: ModelInfo, measurements: Sequence[Measurement]) -> None:
    """Merge one evaluated (model, task) pair into OUT/results.json, its per-example file first."""
    parts = list({id(m.examples): m.examples for m in measurements if m.examples is not None}.values())
    examples = examples_name(name, unit) if parts else ""
    if parts:
        save_examples(out_dir, examples, parts)
    records = [
        ResultRecord(
            model=name,
            task=task,
            metric=m.metric,
            value=m.value,
            settings={**settings, **m.axes, **m.details},
            unit=unit,
            axes=dict(m.axes),
            examples=examples,
            root=out_dir,
        )
        for m in measurements
    ]
    results.models[name] = info
    results.replace_unit(unit, records)
    save_results(out_dir, results)
