"""The `results.json` contract between `evaluate` and `report`.

One file per output folder; every evaluation run with `--out OUT` merges its records into
`OUT/results.json`, so one folder can hold masked-token, similarity and GLUE results side by side:

    {
      "schema": "rexbert.results/v1",
      "models": {"<name>": {"path": "...", "source": "...", "architecture": "...",
                             "parameters": 22713216, "fingerprint": "...", "tokenizer": "..."}},
      "records": [{"model": "<name>", "task": "mlm", "metric": "top1_accuracy", "value": 0.41,
                   "settings": {...}, "axes": {"field": "title", "block_size": 128, "k": 1},
                   "unit": "<key>"}]
    }

`settings` holds everything the number depends on; `axes` is the subset that places it in a table
(text field, block size, k, zero-shot/fine-tuned stage). `unit` identifies one (model weights, task, settings) evaluation; a rerun skips units already in
the file, which is how an interrupted multi-model or multi-task run resumes without redoing
finished work. A metric that is undefined (e.g. a correlation of constant predictions) is stored as
`null`, never as a made-up number.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json, read_json

SCHEMA = "rexbert.results/v1"
RESULTS_NAME = "results.json"


@dataclass
class ResultRecord:
    """One number: `metric` of `model` on `task`, under `settings`."""

    model: str
    task: str
    metric: str
    value: float | None
    settings: dict[str, Any]
    unit: str = ""
    axes: dict[str, Any] = field(default_factory=dict)

    def cell(self) -> tuple[str, str, str, str]:
        """Which table cell this record fills: model, task, metric and its axes."""
        return (
            self.model,
            self.task,
            self.metric,
            json.dumps(self.axes, sort_keys=True, default=str),
        )

    def to_json(self) -> dict[str, Any]:
        """The record as stored in results.json (NaN becomes null)."""
        value = None if self.value is None or math.isnan(self.value) else float(self.value)
        return {
            "model": self.model,
            "task": self.task,
            "metric": self.metric,
            "value": value,
            "settings": self.settings,
            "unit": self.unit,
            "axes": self.axes,
        }


@dataclass
class ModelInfo:
    """What the report says about a model: where it came from and how big it is."""

    path: str
    source: str
    architecture: str
    parameters: int
    fingerprint: str
    tokenizer: str = ""

    def to_json(self) -> dict[str, Any]:
        """The model entry as stored in results.json."""
        return dict(self.__dict__)


@dataclass
class Results:
    """The content of one results.json: model descriptions and result records."""

    models: dict[str, ModelInfo] = field(default_factory=dict)
    records: list[ResultRecord] = field(default_factory=list)

    def units(self) -> set[str]:
        """Keys of the evaluation units already present (for resuming)."""
        return {r.unit for r in self.records if r.unit}

    def replace_unit(self, unit: str, records: list[ResultRecord]) -> None:
        """Append `records`, dropping older ones of the same unit or for the same table cell.

        The newest measurement of a cell wins (e.g. after retraining a model into the same
        folder), while other cells — another text field, another GLUE task — are kept.
        """
        cells = {r.cell() for r in records}
        kept = [r for r in self.records if r.unit != unit and r.cell() not in cells]
        self.records = kept + list(records)

    def to_json(self) -> dict[str, Any]:
        """The whole file as a JSON-ready dict."""
        return {
            "schema": SCHEMA,
            "models": {name: info.to_json() for name, info in self.models.items()},
            "records": [r.to_json() for r in self.records],
        }

    def merged_with(self, other: Results) -> Results:
        """A new Results holding both; the other's model entries win on a name clash."""
        return Results({**self.models, **other.models}, [*self.records, *other.records])


def unit_key(task: str, model_fingerprint: str, settings: dict[str, Any]) -> str:
    """A stable key for one evaluation unit: same weights + task + settings → same key."""
    payload = json.dumps([task, model_fingerprint, settings], sort_keys=True, default=str)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()[:16]


def results_path(run: str | Path) -> Path:
    """`run` may be an output folder or a results.json file; return the file."""
    run = Path(run)
    return run / RESULTS_NAME if run.is_dir() or not run.suffix else run


def _parse_record(raw: Any, where: str) -> ResultRecord:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected an object with model, task, metric, value, settings")
    missing = [k for k in ("model", "task", "metric", "value") if k not in raw]
    if missing:
        raise UserError(
            f"{where}: missing key(s) {', '.join(missing)}; regenerate with rexbert evaluate"
        )
    value = raw["value"]
    if value is not None and not isinstance(value, int | float):
        raise UserError(f"{where}: 'value' must be a number or null, got {value!r}")
    settings = raw.get("settings") or {}
    axes = raw.get("axes") or {}
    if not isinstance(settings, dict) or not isinstance(axes, dict):
        raise UserError(f"{where}: 'settings' and 'axes' must be objects")
    return ResultRecord(
        model=str(raw["model"]),
        task=str(raw["task"]),
        metric=str(raw["metric"]),
        value=None if value is None else float(value),
        settings=settings,
        unit=str(raw.get("unit", "")),
        axes=axes,
    )


def load_results(run: str | Path, missing_ok: bool = False) -> Results:
    """Read and validate a results.json (or the one inside folder `run`)."""
    path = results_path(run)
    if not path.exists():
        if missing_ok:
            return Results()
        raise UserError(
            f"{path}: no results file; run `rexbert evaluate … --out {path.parent}` first"
        )
    data = read_json(path)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UserError(f'{path}: not a rexbert results file (expected "schema": "{SCHEMA}")')
    models: dict[str, ModelInfo] = {}
    for name, raw in (data.get("models") or {}).items():
        try:
            models[name] = ModelInfo(**raw)
        except TypeError as err:
            raise UserError(
                f"{path}: models.{name}: {err}; regenerate with rexbert evaluate"
            ) from err
    records = [
        _parse_record(raw, f"{path}: records[{i}]")
        for i, raw in enumerate(data.get("records") or [])
    ]
    return Results(models, records)


def save_results(out_dir: str | Path, results: Results) -> Path:
    """Write `out_dir/results.json` atomically; returns its path."""
    path = Path(out_dir) / RESULTS_NAME
    atomic_write_json(path, results.to_json())
    return path
