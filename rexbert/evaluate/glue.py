"""GLUE fine-tuning — the paper's Table 4: SST-2, QNLI, QQP, MNLI (matched), STS-B.

Each task is a small `GlueTask` description (folder, TSV columns, labels, metric); one
`GlueFineTune` evaluation fine-tunes a fresh sequence-classification head (regression for STS-B)
on the train split and scores the dev split: accuracy, or Pearson/Spearman for STS-B.

Data comes from the GLUE TSV layout (`--glue-dir DIR` with `SST-2/`, `QNLI/`, `QQP/`, `MNLI/`,
`STS-B/` as the GLUE download script writes them), or from `datasets` (`nyu-mll/glue`) when no
folder is given and a hub is reachable.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field
from tqdm.auto import tqdm

from rexbert.config import ConfigModel
from rexbert.errors import UserError
from rexbert.evaluate.metrics import accuracy, pearson, spearman
from rexbert.evaluate.models import (
    ModelSpec,
    describe,
    load_tokenizer,
    pick_device,
    quiet_transformers,
    transformers_dir,
)
from rexbert.evaluate.results import ModelInfo
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


def parse_tasks(text: str) -> list[GlueTask]:
    """`sst2,qnli` → task descriptions; an unknown name is a UserError listing the known ones."""
    names = [part.strip().lower().replace("-", "") for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in GLUE_TASKS]
    if unknown or not names:
        raise UserError(
            f"--tasks: unknown task '{(unknown or [''])[0]}'; choose from {','.join(GLUE_TASKS)}"
        )
    return [GLUE_TASKS[n] for n in dict.fromkeys(names)]


def task_folder(glue_dir: Path, task: GlueTask) -> Path:
    """The task's folder: GLUE's name (`SST-2`) or our id (`sst2`), any case."""
    for child in sorted(glue_dir.iterdir()) if glue_dir.is_dir() else []:
        key = child.name.lower().replace("-", "").replace("_", "")
        if child.is_dir() and key in (task.name, task.folder.lower().replace("-", "")):
            return child
    raise UserError(
        f"{glue_dir}: no folder for {task.title} (expected {glue_dir / task.folder}/train.tsv)"
    )


def read_glue_tsv(path: Path, task: GlueTask) -> GlueSplit:
    """Read a GLUE TSV by its header names.

    GLUE files are unquoted TSV (quotes are text), so lines are split on tabs, not parsed as CSV.
    Rows with the wrong number of fields — the real QQP train file has a few — are skipped and
    counted in a warning (more than 1% of rows is an error: the file has another layout); a
    label outside the task's set is an error naming file and line.
    """
    if not path.is_file():
        raise UserError(
            f"{path}: file not found; the GLUE layout has train.tsv and {task.dev_files[0]}"
        )
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
        needed = [*task.text_columns, task.label_column]
        missing = [c for c in needed if c not in header]
        if missing:
            raise UserError(
                f"{path}: no column '{missing[0]}' in the header ({', '.join(header)}); "
                f"expected the GLUE {task.title} layout"
            )
        index = [header.index(c) for c in needed]
        texts: list[tuple[str, ...]] = []
        labels: list[float] = []
        skipped = 0
        for line_no, line in enumerate(handle, start=2):
            fields = line.rstrip("\r\n").split("\t")
            if not line.strip():
                continue
            if len(fields) != len(header):
                skipped += 1
                continue
            values = [fields[i] for i in index]
            raw_label = values[-1].strip()
            if task.labels is None:
                try:
                    label = float(raw_label)
                except ValueError:
                    raise UserError(
                        f"{path}:{line_no}: score {raw_label!r} is not a number"
                    ) from None
            else:
                if raw_label not in task.labels:
                    raise UserError(
                        f"{path}:{line_no}: label {raw_label!r} is not one of {', '.join(task.labels)}"
                    )
                label = float(task.labels.index(raw_label))
            texts.append(tuple(values[:-1]))
            labels.append(label)
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


class GlueSettings(ConfigModel):
    """Options of `rexbert evaluate glue`."""

    glue_dir: Path | None = None
    epochs: float = Field(3.0, gt=0)
    learning_rate: float = Field(2e-5, gt=0)
    batch_size: int = Field(16, ge=1)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    max_length: int = Field(128, ge=8)
    max_train_examples: int | None = Field(None, ge=1)
    max_eval_examples: int | None = Field(None, ge=1)
    seed: int = 0
    device: str = "auto"


class GlueFineTune(EvalTask):
    """Fine-tune on one GLUE task's train split and score its dev split."""

    def __init__(self, glue_task: GlueTask, settings: GlueSettings):
        self.glue = glue_task
        self.config = settings
        self.task = f"glue/{glue_task.name}"
        if settings.glue_dir is not None:
            train, dev = load_glue_files(settings.glue_dir, glue_task)
        else:
            train, dev = load_glue_hub(glue_task)
        self.train = _limit(train, settings.max_train_examples, settings.seed)
        self.dev = _limit(dev, settings.max_eval_examples, settings.seed)
        for name, split in (("train", self.train), ("dev", self.dev)):
            if len(split) == 0:
                raise UserError(f"GLUE {glue_task.title}: the {name} split is empty")

    def settings(self) -> dict[str, Any]:
        """Fine-tuning settings (stored with each record)."""
        config = self.config
        return {
            "source": str(config.glue_dir) if config.glue_dir else "hub:nyu-mll/glue",
            "epochs": config.epochs,
            "learning_rate": config.learning_rate,
            "batch_size": config.batch_size,
            "max_length": config.max_length,
            "train_examples": len(self.train),
            "dev_examples": len(self.dev),
            "seed": config.seed,
        }

    def evaluate(self, spec: ModelSpec) -> tuple[ModelInfo, list[Measurement]]:
        """Fine-tune a fresh head on train, predict dev, compute the task's metrics."""
        import torch
        from transformers import AutoModelForSequenceClassification

        device = pick_device(self.config.device)
        folder = transformers_dir(spec.path)
        tokenizer = load_tokenizer(spec.path)
        torch.manual_seed(self.config.seed)  # the new head's initialisation
        labels = 1 if self.glue.is_regression else len(self.glue.labels or ())
        try:
            with quiet_transformers():
                model = AutoModelForSequenceClassification.from_pretrained(
                    str(folder),
                    num_labels=labels,
                    problem_type="regression"
                    if self.glue.is_regression
                    else "single_label_classification",
                )
        except (OSError, ValueError, KeyError) as err:
            raise UserError(
                f"{folder}: cannot load with a sequence-classification head ({str(err).splitlines()[0]})"
            ) from err
        if tokenizer.pad_token_id is None:
            raise UserError(
                f'{folder}: the tokenizer has no padding token; set "pad_token" in tokenizer_config.json'
            )
        model.config.pad_token_id = tokenizer.pad_token_id
        model.to(device)
        info = describe(spec, model.base_model, tokenizer)
        losses = self._train(model, tokenizer, device, spec.name)
        predictions = self._predict(model, tokenizer, device)
        details = {"steps": len(losses), "final_loss": losses[-1]}
        if self.glue.is_regression:
            return info, [
                Measurement("pearson", pearson(predictions, self.dev.labels), {}, details),
                Measurement("spearman", spearman(predictions, self.dev.labels), {}, details),
            ]
        return info, [Measurement("accuracy", accuracy(predictions, self.dev.labels), {}, details)]

    def _batch(
        self, tokenizer, split: GlueSplit, indices: list[int], device: str
    ) -> dict[str, Any]:
        columns = list(zip(*(split.texts[i] for i in indices), strict=True))
        encoded = tokenizer(
            *columns,
            truncation=True,
            max_length=self.config.max_length,
            padding=True,
            return_tensors="pt",
        )
        return {k: v.to(device) for k, v in encoded.items()}

    def _train(self, model, tokenizer, device: str, name: str) -> list[float]:
        import torch

        config = self.config
        steps = max(1, math.ceil(math.ceil(len(self.train) / config.batch_size) * config.epochs))
        warmup = int(config.warmup_ratio * steps)
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.learning_rate, weight_decay=0.01
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda s: (
                (s + 1) / (warmup + 1)
                if s < warmup
                else max(0.0, (steps - s) / max(1, steps - warmup))
            ),
        )
        generator = torch.Generator().manual_seed(config.seed)
        dtype = torch.float32 if self.glue.is_regression else torch.long
        model.train()
        order: list[int] = []
        losses: list[float] = []
        progress = tqdm(range(steps), desc=f"{name} {self.glue.title}", unit="step", leave=False)
        for _ in progress:
            if not order:
                order = torch.randperm(len(self.train), generator=generator).tolist()
            chosen, order = order[: config.batch_size], order[config.batch_size :]
            inputs = self._batch(tokenizer, self.train, chosen, device)
            target = torch.tensor(
                [self.train.labels[i] for i in chosen], dtype=dtype, device=device
            )
            loss = model(**inputs, labels=target).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            progress.set_postfix(loss=f"{losses[-1]:.3f}")
        model.eval()
        return losses

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
