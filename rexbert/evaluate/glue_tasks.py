"""GLUE fine-tuning — the paper's Table 4: SST-2, QNLI, QQP, MNLI (matched), STS-B.

Each task is a small `GlueTask` description (folder, TSV columns, labels, metric); one
`GlueFineTune` evaluation fine-tunes a fresh sequence-classification head (regression for STS-B)
on the train split and scores the dev split: accuracy, or Pearson/Spearman for STS-B.

Data comes from the GLUE TSV layout (`--glue-dir DIR` with `SST-2/`, `QNLI/`, `QQP/`, `MNLI/`,
`STS-B/` as the GLUE download script writes them), or from `datasets` (`nyu-mll/glue`) when no
folder is given and a hub is reachable. Fine-tuning is the one loop of `finetune.py`; with
`seeds` it is repeated from the same weights once per seed and the scores are the mean over
seeds. Every dev prediction is kept in the unit's per-example file (results.py), for paired
bootstrap intervals over dev examples.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rexbert.errors import UserError
from rexbert.evaluate.config import GlueSettings
from rexbert.evaluate.finetune import fine_tune
from rexbert.evaluate.metrics import accuracy, pearson, spearman
from rexbert.evaluate.models import (
    ModelSpec,
    describe,
    load_tokenizer,
    load_transformers_model,
    pick_device,
    quiet_transformers,
    transformers_dir,
)
from rexbert.evaluate.results import ExamplePart, ModelInfo
from rexbert.evaluate.stats import seed_spread
from rexbert.evaluate.task import EvalTask, Measurement

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GlueTask:
    """How one GLUE task is laid out on disk and on the hub, and how it is scored."""

    name: str  # our id: sst2, qnli, …
    title: str  # as the paper's tables print it
    folder: str  # the GLUE download's folder name
    text_columns: tuple[str, ...]  # TSV header names of the one or two inputs
    label_column: str
    labels: tuple[str, ...] | None  # None = regression
    dev_files: tuple[str, ...]  # first existing one is used
    hub_columns: tuple[str, ...]  # the same inputs in `datasets`' nyu-mll/glue
    hub_dev_split: str = "validation"

    @property
    def is_regression(self) -> bool:
        """STS-B predicts a score, the others a class."""
        return self.labels is None


GLUE_TASKS: dict[str, GlueTask] = {
    task.name: task
    for task in (
        GlueTask(
            "sst2",
            "SST-2",
            "SST-2",
            ("sentence",),
            "label",
            ("0", "1"),
            ("dev.tsv",),
            ("sentence",),
        ),
        GlueTask(
            "qnli",
            "QNLI",
            "QNLI",
            ("question", "sentence"),
            "label",
            ("entailment", "not_entailment"),
            ("dev.tsv",),
            ("question", "sentence"),
        ),
        GlueTask(
            "qqp",
            "QQP",
            "QQP",
            ("question1", "question2"),
            "is_duplicate",
            ("0", "1"),
            ("dev.tsv",),
            ("question1", "question2"),
        ),
        GlueTask(
            "mnli",
            "MNLI",
            "MNLI",
            ("sentence1", "sentence2"),
            "gold_label",
            ("entailment", "neutral", "contradiction"),
            ("dev_matched.tsv", "dev.tsv"),
            ("premise", "hypothesis"),
            "validation_matched",
        ),
        GlueTask(
            "stsb",
            "STS-B",
            "STS-B",
            ("sentence1", "sentence2"),
            "score",
            None,
            ("dev.tsv",),
            ("sentence1", "sentence2"),
        ),
    )
}


@dataclass
class GlueSplit:
    """Inputs (one or two texts per example) and labels (class index or score)."""

    texts: list[tuple[str, ...]]
    labels: list[float]

    def __len__(self) -> int:
        return len(self.labels)


def task_folder(glue_dir: Path, task: GlueTask) -> Path:
    """The task's folder: GLUE's name (`SST-2`) or our id (`sst2`), any case."""
    for child in sorted(glue_dir.iterdir()) if glue_dir.is_dir() else []:
        key = child.name.lower().replace("-", "").replace("_", "")
        if child.is_dir() and key in (task.name, task.folder.lower().replace("-", "")):
            return child
    raise UserError(
        f"{glue_dir}: no folder for {task.title} (expected {glue_dir / task.folder}/train.tsv)"
    )


def _decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file; a byte that is not UTF-8 is an error naming file:line."""
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                yield line_no, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                byte = raw[err.start:err.start + 1].hex()
                raise UserError(
                    f"{path}:{line_no}: byte 0x{byte} at column {err.start + 1} is not UTF-8; GLUE "
                    f"files are UTF-8 — convert the file (e.g. iconv -f latin1 -t utf-8 "
                    f"{path.name} > fixed.tsv) and pass the converted folder"
                ) from None


def _label(raw: str, task: GlueTask, where: str) -> float:
    """A class index, or a finite score for regression; anything else names file:line."""
    if task.labels is not None:
        if raw not in task.labels:
            raise UserError(f"{where}: label {raw!r} is not one of {', '.join(task.labels)}")
        return float(task.labels.index(raw))
    try:
        score = float(raw)
    except ValueError:
        score = math.nan
    if not math.isfinite(score):
        raise UserError(f"{where}: score {raw!r} is not a finite number; fix or remove the row")
    return score


def read_glue_tsv(path: Path, task: GlueTask) -> GlueSplit:
    """Read a GLUE TSV by its header names.

    GLUE files are unquoted TSV (quotes are text), so lines are split on tabs, not parsed as CSV.
    Rows with the wrong number of fields — the real QQP train file has a few — are skipped and
    counted in a warning (more than 1% of rows is an error: the file has another layout); a
    label outside the task's set, a score that is not a finite number and a byte that is not
    UTF-8 are errors naming file and line.
    """
    if not path.is_file():
        raise UserError(
            f"{path}: file not found; the GLUE layout has train.tsv and {task.dev_files[0]}"
        )
    lines = _decoded_lines(path)
    header = next(lines, (1, ""))[1].split("\t")
    needed = [*task.text_columns, task.label_column]
    missing = [c for c in needed if c not in header]
    if missing:
        raise UserError(f"{path}: no column '{missing[0]}' in the header ({', '.join(header)}); "
                        f"expected the GLUE {task.title} layout")
    index = [header.index(c) for c in needed]
    texts: list[tuple[str, ...]] = []
    labels: list[float] = []
    skipped = 0
    for line_no, line in lines:
        fields = line.split("\t")
        if not line.strip():
            continue
        if len(fields) != len(header):
            skipped += 1
            continue
        values = [fields[i] for i in index]
        labels.append(_label(values[-1].strip(), task, f"{path}:{line_no}"))
        texts.append(tuple(values[:-1]))
    if skipped > 5 and skipped > 0.01 * (skipped + len(labels)):
        # A handful of broken rows is GLUE as published; many means a different layout.
        raise UserError(
            f"{path}: {skipped} of {skipped + len(labels)} rows do not have the header's "
            f"{len(header)} tab-separated fields; expected the GLUE {task.title} layout"
        )
    if skipped:
        log.warning("%s: %d row(s) with a wrong number of fields skipped", path, skipped)
    return GlueSplit(texts, labels)


def load_glue_files(glue_dir: Path, task: GlueTask) -> tuple[GlueSplit, GlueSplit]:
    """(train, dev) from the TSV layout."""
    folder = task_folder(glue_dir, task)
    dev_path = next(
        (folder / f for f in task.dev_files if (folder / f).is_file()), folder / task.dev_files[0]
    )
    return read_glue_tsv(folder / "train.tsv", task), read_glue_tsv(dev_path, task)


def load_glue_hub(task: GlueTask) -> tuple[GlueSplit, GlueSplit]:
    """(train, dev) from `datasets`' nyu-mll/glue; a UserError when the hub cannot be reached."""
    try:
        import datasets

        with quiet_transformers():
            data = datasets.load_dataset("nyu-mll/glue", task.name)
    except Exception as err:  # offline mode, no network, missing cache: all mean "use files"
        raise UserError(
            f"cannot load GLUE {task.title} from the hub ({type(err).__name__}); "
            "pass --glue-dir DIR with the GLUE TSV folders (SST-2/train.tsv, …)"
        ) from err

    def split(name: str) -> GlueSplit:
        rows = data[name]
        texts = list(zip(*(rows[c] for c in task.hub_columns), strict=True))
        return GlueSplit([tuple(t) for t in texts], [float(v) for v in rows["label"]])

    return split("train"), split(task.hub_dev_split)


def glue_tasks(settings: GlueSettings) -> list[GlueTask]:
    """The task descriptions of `settings.tasks`, in order."""
    return [GLUE_TASKS[name] for name in settings.tasks]


class GlueFineTune(EvalTask):
    """Fine-tune on one GLUE task's train split and score its dev split."""

    def __init__(self, glue_task: GlueTask, glue_dir: str | Path | None, settings: GlueSettings):
        self.glue = glue_task
        self.glue_dir = Path(glue_dir) if glue_dir is not None else None
        self.config = settings
        self.task = f"glue/{glue_task.name}"
        if self.glue_dir is not None:
            train, dev = load_glue_files(self.glue_dir, glue_task)
        else:
            train, dev = load_glue_hub(glue_task)
        self.train = _limit(train, settings.max_train_examples, settings.seed)
        self.dev = _limit(dev, settings.max_test_examples, settings.seed)
        for name, split in (("train", self.train), ("dev", self.dev)):
            if len(split) == 0:
                raise UserError(f"GLUE {glue_task.title}: the {name} split is empty")

    def settings(self) -> dict[str, Any]:
        """Fine-tuning settings (stored with each record)."""
        config = self.config
        return {
            "source": str(self.glue_dir) if self.glue_dir else "hub:nyu-mll/glue",
            "epochs": config.epochs,
            "learning_rate": config.learning_rate,
            "batch_size": config.batch_size,
            "warmup_ratio": config.warmup_ratio,
            "weight_decay": config.weight_decay,
            "max_length": config.max_length,
            "train_examples": len(self.train),
            "dev_examples": len(self.dev),
            "seed": config.seed,
            "seeds": config.fine_tuning_seeds(),
        }

    def evaluate(self, spec: ModelSpec) -> tuple[ModelInfo, list[Measurement]]:
        """Per seed: fine-tune a fresh head on train, predict dev; the task's metrics, averaged."""
        device = pick_device(self.config.device)
        tokenizer = load_tokenizer(spec.path)
        runs, losses, info = [], [], None
        for seed in self.config.fine_tuning_seeds():
            settings = self.config.model_copy(update={"seed": seed})
            model = self._load_model(spec, tokenizer, device, seed)
            info = info or describe(spec, model.base_model, tokenizer)
            losses.append(self._train(model, tokenizer, device, spec.name, settings))
            runs.append(self._predict(model, tokenizer, device))
        details = {"steps": len(losses[0]), "final_loss": losses[0][-1]}
        if len(losses) > 1:
            details["final_losses"] = [run[-1] for run in losses]
        part = ExamplePart({}, {"groups": np.arange(len(self.dev), dtype=np.int64),
                                "targets": np.asarray(self.dev.labels, dtype=np.float64),
                                "predictions": np.asarray(runs, dtype=np.float32)})
        metrics = ((("pearson", pearson), ("spearman", spearman)) if self.glue.is_regression
                   else (("accuracy", accuracy),))
        return info, [self._mean(metric, score, runs, details, part) for metric, score in metrics]

    def _mean(self, metric: str, score: Any, runs: list[list[float]], details: dict[str, Any],
              part: ExamplePart) -> Measurement:
        values = [score(predictions, self.dev.labels) for predictions in runs]
        if len(runs) > 1:
            details = {**details, "per_seed": values, "spread": seed_spread(values)}
        return Measurement(metric, float(np.mean(values)), {}, details, part)

    def _load_model(self, spec: ModelSpec, tokenizer: Any, device: str, seed: int) -> Any:
        """The encoder with a fresh classification (regression for STS-B) head, seeded."""
        import torch
        from transformers import AutoModelForSequenceClassification

        folder = transformers_dir(spec.path)
        if tokenizer.pad_token_id is None:
            raise UserError(
                f'{folder}: the tokenizer has no padding token; set "pad_token" in tokenizer_config.json'
            )
        torch.manual_seed(seed)  # the new head's initialisation
        labels = 1 if self.glue.is_regression else len(self.glue.labels or ())
        problem = "regression" if self.glue.is_regression else "single_label_classification"
        model = load_transformers_model(
            AutoModelForSequenceClassification, folder, "a sequence-classification head",
            num_labels=labels, problem_type=problem)
        model.config.pad_token_id = tokenizer.pad_token_id
        return model.to(device)

    def _batch(self, tokenizer, split: GlueSplit, indices: list[int], device: str) -> dict[str, Any]:
        columns = list(zip(*(split.texts[i] for i in indices), strict=True))
        encoded = tokenizer(*columns, truncation=True, max_length=self.config.max_length,
                            padding=True, return_tensors="pt")
        return {k: v.to(device) for k, v in encoded.items()}

    def _train(self, model, tokenizer, device: str, name: str, settings: GlueSettings) -> list[float]:
        import torch

        dtype = torch.float32 if self.glue.is_regression else torch.long

        def batch_loss(chosen: list[int]) -> Any:
            inputs = self._batch(tokenizer, self.train, chosen, device)
            target = torch.tensor([self.train.labels[i] for i in chosen], dtype=dtype, device=device)
            return model(**inputs, labels=target).loss

        return fine_tune(model, len(self.train), batch_loss, settings,
                         f"{name} {self.glue.title} seed {settings.seed}")

    def _predict(self, model, tokenizer, device: str) -> list[float]:
        import torch

        predictions: list[float] = []
        size = self.config.batch_size * 2
        with torch.inference_mode():
            for start in range(0, len(self.dev), size):
                indices = list(range(start, min(start + size, len(self.dev))))
                logits = model(**self._batch(tokenizer, self.dev, indices, device)).logits.float()
                if self.glue.is_regression:
                    predictions += logits[:, 0].cpu().tolist()
                else:
                    predictions += logits.argmax(dim=-1).cpu().tolist()
        return predictions


def _limit(split: GlueSplit, count: int | None, seed: int) -> GlueSplit:
    """A seeded sample of `count` examples (GLUE files are not shuffled; some are sorted)."""
    if count is None or count >= len(split):
        return split
    import numpy as np

    keep = sorted(np.random.default_rng(seed).choice(len(split), size=count, replace=False))
    return GlueSplit([split.texts[i] for i in keep], [split.labels[i] for i in keep])
