"""The `results.json` contract between `evaluate` and `report`, and the per-example files beside it.

One file per output folder; every evaluation run with `--out OUT` merges its records into
`OUT/results.json`, so one folder can hold masked-token, similarity and GLUE results side by side:

    {
      "schema": "rexbert.results/v1",
      "models": {"<name>": {"path": "...", "source": "...", "architecture": "...",
                             "parameters": 22713216, "fingerprint": "...", "tokenizer": "..."}},
      "records": [{"model": "<name>", "task": "mlm", "metric": "top1_accuracy", "value": 0.41,
                   "settings": {...}, "axes": {"field": "title", "block_size": 128, "k": 1},
                   "unit": "<key>", "examples": "examples/<name>/<key>.npz"}]
    }

`settings` holds everything the number depends on; `axes` is the subset that places it in a table
(text field, block size, k, zero-shot/fine-tuned stage). `unit` identifies one (model weights, task, settings) evaluation; a rerun skips units already in
the file, which is how an interrupted multi-model or multi-task run resumes without redoing
finished work. A metric that is undefined (e.g. a correlation of constant predictions) is stored as
`null`, never as a made-up number.

Per-example data. `examples` names, relative to results.json, the file that holds what every
record of the unit was computed from, one example at a time, so that a report can put a paired
bootstrap interval on the difference of two models (`rexbert.evaluate.stats`). The file is
`OUT/examples/<model>/<unit>.npz` (`<model>` with characters other than letters, digits, `.`,
`_` and `-` replaced by `_`), a NumPy archive read without pickle:

    index          JSON text: [{"name": "p0", "axes": {...}, "arrays": ["ids", ...]}, ...]
    p0.<array>     the arrays of part p0, one entry per example

A record's part is the one whose `axes` all equal the record's own (a masked-token part has
`{field, block_size}`, and serves the records of every k). Two kinds of part:

    masked-token recovery, one entry per text:
      ids      int64   the text's record index in the input: its mask seed, shared by every
                       model, so equal ids with one tokenizer mean the same masked positions
      masked   int32   masked tokens of the text
      hits@K   int32   masked tokens whose original token is in the model's top K (each k)
    similarity and GLUE, one entry per scored pair or example:
      groups       int64    the unit a bootstrap resamples: the query (similarity) or the
                            example itself (GLUE)
      targets      float64  the graded relevance, the class index or the STS-B score
      predictions  float32  [seeds, n]: cosine similarity, predicted class or predicted score,
                            one row per fine-tuning seed (the record's `seeds` setting, in order)
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rexbert.errors import UserError
from rexbert.fileio import atomic_write_bytes, atomic_write_json, read_json

SCHEMA = "rexbert.results/v1"
RESULTS_NAME = "results.json"
EXAMPLES_DIR = "examples"


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
    examples: str = ""  # per-example file, relative to results.json ("" when there is none)
    root: Path | None = field(default=None, repr=False, compare=False)  # the folder of results.json

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
            **({"examples": self.examples} if self.examples else {}),
        }

    def examples_path(self) -> Path | None:
        """Where this record's per-example file is, if it has one."""
        if not self.examples or self.root is None:
            return None
        return self.root / self.examples


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


@dataclass
class ExamplePart:
    """The per-example arrays behind the records at `axes` (see the module docstring)."""

    axes: dict[str, Any]
    arrays: dict[str, np.ndarray]


def examples_name(model: str, unit: str) -> str:
    """`examples/<model>/<unit>.npz`, relative to results.json."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("._") or "model"
    return f"{EXAMPLES_DIR}/{slug}/{unit}.npz"


def save_examples(out_dir: str | Path, name: str, parts: list[ExamplePart]) -> None:
    """Write the parts of one unit to `out_dir/name` atomically."""
    index = [{"name": f"p{i}", "axes": part.axes, "arrays": sorted(part.arrays)}
             for i, part in enumerate(parts)]
    arrays = {f"p{i}.{key}": np.asarray(value) for i, part in enumerate(parts)
              for key, value in part.arrays.items()}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, index=np.array(json.dumps(index, sort_keys=True)), **arrays)
    atomic_write_bytes(Path(out_dir) / name, buffer.getvalue())


@functools.lru_cache(maxsize=256)
def _read_parts(path: Path, mtime_ns: int) -> tuple[ExamplePart, ...]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            index = json.loads(str(archive["index"]))
            return tuple(ExamplePart(entry["axes"], {key: archive[f"{entry['name']}.{key}"]
                                                     for key in entry["arrays"]})
                         for entry in index)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise UserError(f"{path}: unreadable per-example file ({type(err).__name__}); rerun the "
                        "evaluation with --overwrite to write it again") from err


def load_examples(path: str | Path) -> list[ExamplePart]:
    """Every part of one per-example file."""
    path = Path(path)
    return list(_read_parts(path.resolve(), path.stat().st_mtime_ns))


def record_examples(record: ResultRecord) -> dict[str, np.ndarray] | None:
    """The arrays behind `record`: its file's part whose axes all match the record's, or None
    when the record has no per-example file (written by an older rexbert) or it is gone."""
    path = record.examples_path()
    if path is None or not path.is_file():
        return None
    for part in load_examples(path):
        if all(record.axes.get(key) == value for key, value in part.axes.items()):
            return part.arrays
    return None


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
        examples=str(raw.get("examples") or ""),
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
    for record in records:
        record.root = path.parent
    return Results(models, records)


def save_results(out_dir: str | Path, results: Results) -> Path:
    """Write `out_dir/results.json` atomically; returns its path."""
    path = Path(out_dir) / RESULTS_NAME
    atomic_write_json(path, results.to_json())
    return path
