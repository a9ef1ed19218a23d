"""Graded query–product similarity — the paper's §6.2 (Figure 4).

Pairs of (query, product text) carry a graded target: ESCI labels map E→1.0, S→0.66, C→0.33,
I→0.0 (configurable), or a numeric score column is used as is. Product text is title +
description (any list of columns), truncated to the model's window by its tokenizer. Each model
is scored zero-shot, fine-tuned with sentence-transformers' `CoSENTLoss` on the train pairs, and
scored again: Spearman (the paper's metric) and Pearson of cosine similarity against the targets
on the test pairs.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field
from tqdm.auto import tqdm

from rexbert.config import ConfigModel
from rexbert.errors import UserError
from rexbert.evaluate.metrics import pearson, spearman
from rexbert.evaluate.models import (
    ModelSpec,
    describe,
    load_sentence_encoder,
    pick_device,
    sentence_backbone,
)
from rexbert.evaluate.results import ModelInfo
from rexbert.evaluate.tables import read_table, require_columns, text_column
from rexbert.evaluate.task import EvalTask, Measurement

log = logging.getLogger(__name__)

ESCI_LABEL_MAP = {"E": 1.0, "S": 0.66, "C": 0.33, "I": 0.0}
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def parse_label_map(text: str) -> dict[str, float]:
    """`E=1.0,S=0.66,C=0.33,I=0.0` → dict; a malformed entry is a UserError naming --label-map."""
    mapping: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        label, sep, value = item.partition("=")
        try:
            if not sep or not label.strip():
                raise ValueError
            mapping[label.strip()] = float(value)
        except ValueError:
            raise UserError(
                f"--label-map: cannot read '{item}'; write LABEL=SCORE pairs such as E=1.0,S=0.66"
            ) from None
    if not mapping:
        raise UserError("--label-map: empty; write LABEL=SCORE pairs such as E=1.0,S=0.66")
    return mapping


def clean_text(text: str) -> str:
    """Product descriptions carry HTML (`<br>`, `<p>`); keep the words only."""
    return _SPACE.sub(" ", _TAG.sub(" ", text)).strip()


@dataclass
class Pairs:
    """Aligned lists of queries, product texts and graded targets."""

    queries: list[str]
    texts: list[str]
    targets: list[float]

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, count: int | None, seed: int) -> Pairs:
        """A seeded random sample of `count` pairs (all when count is None or larger).

        Sampling, not the first rows: files are usually sorted by query, so a prefix would
        cover only a few queries.
        """
        if count is None or count >= len(self):
            return self
        import numpy as np

        keep = sorted(np.random.default_rng(seed).choice(len(self), size=count, replace=False))
        return Pairs(
            [self.queries[i] for i in keep],
            [self.texts[i] for i in keep],
            [self.targets[i] for i in keep],
        )


class SimilaritySettings(ConfigModel):
    """Options of `rexbert evaluate similarity`."""

    train: Path | None = None
    test: Path | None = None
    products: Path | None = None
    locale: str = "us"
    query_field: str = "query"
    text_fields: list[str] = Field(default=["product_title", "product_description"], min_length=1)
    label_field: str = "esci_label"
    score_field: str | None = None
    label_map: dict[str, float] = Field(default_factory=lambda: dict(ESCI_LABEL_MAP))
    epochs: float = Field(1.0, gt=0)
    learning_rate: float = Field(2e-5, gt=0)
    batch_size: int = Field(16, ge=2)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    max_length: int | None = Field(None, ge=8)
    max_train_examples: int | None = Field(None, ge=2)
    max_test_examples: int | None = Field(None, ge=2)
    seed: int = 0
    device: str = "auto"


def _frame_to_pairs(frame, settings: SimilaritySettings, source: str | Path) -> Pairs:
    """Validate columns and map labels; a label outside the map is a UserError."""
    target_column = settings.score_field or settings.label_field
    require_columns(frame, [settings.query_field, *settings.text_fields, target_column], source)
    queries = text_column(frame, settings.query_field)
    parts = [text_column(frame, name) for name in settings.text_fields]
    texts = [clean_text(". ".join(p for p in pieces if p)) for pieces in zip(*parts, strict=True)]
    targets: list[float] = []
    if settings.score_field:
        for row, value in enumerate(frame[settings.score_field]):
            try:
                number = float(value)
                if math.isnan(number):
                    raise ValueError
            except (TypeError, ValueError):
                raise UserError(
                    f"{source}: row {row}: '{settings.score_field}' value {value!r} is not a number"
                ) from None
            targets.append(number)
    else:
        labels = text_column(frame, settings.label_field)
        unknown = sorted({label for label in labels if label not in settings.label_map})
        if unknown:
            count = sum(label in unknown for label in labels)
            raise UserError(
                f"{source}: {count} row(s) with label(s) {', '.join(map(repr, unknown[:5]))} in "
                f"'{settings.label_field}' outside the label map {sorted(settings.label_map)}; "
                "extend --label-map or fix the data"
            )
        targets = [settings.label_map[label] for label in labels]
    return Pairs(queries, texts, targets)


def load_pairs(settings: SimilaritySettings) -> tuple[Pairs, Pairs]:
    """(train, test) pairs from ESCI files (with `products`) or generic tables."""
    if settings.train is None or settings.test is None:
        raise UserError("similarity: pass --train and --test (or --esci DIR for an ESCI folder)")
    splits = []
    for split, path in (("train", settings.train), ("test", settings.test)):
        if settings.products is not None:
            from rexbert.sources.esci import load_esci

            frame = load_esci(settings.products, path, locale=settings.locale, split=split)
            source = f"{path} (split={split}, locale={settings.locale})"
        else:
            frame = read_table(path, flag=f"--{split}")
            source = str(path)
        pairs = _frame_to_pairs(frame, settings, source)
        if len(pairs) == 0:
            raise UserError(
                f"{source}: the {split} split is empty; nothing to {'fine-tune on' if split == 'train' else 'score'}"
            )
        if split == "test" and len(set(pairs.targets)) < 2:
            raise UserError(
                f"{source}: every test pair has the same target; correlations need at least two values"
            )
        splits.append(pairs)
    return splits[0], splits[1]


def encode_pairs(model, pairs: Pairs, batch_size: int) -> list[float]:
    """Cosine similarity of each (query, text) pair, encoding each distinct string once."""
    import torch

    queries = sorted(set(pairs.queries))
    texts = sorted(set(pairs.texts))
    with torch.inference_mode():
        q = model.encode(
            queries, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False
        )
        t = model.encode(
            texts, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False
        )
    q_index = {s: i for i, s in enumerate(queries)}
    t_index = {s: i for i, s in enumerate(texts)}
    qi = torch.tensor([q_index[s] for s in pairs.queries])
    ti = torch.tensor([t_index[s] for s in pairs.texts])
    sims = torch.nn.functional.cosine_similarity(
        q[qi.to(q.device)].float(), t[ti.to(t.device)].float(), dim=-1
    )
    return sims.cpu().tolist()


def features(model, texts: list[str]) -> dict[str, Any]:
    """Tokenized model inputs on the model's device (API name differs across versions)."""
    prepare = getattr(model, "preprocess", None) or model.tokenize
    batch = prepare(texts)
    return {k: (v.to(model.device) if hasattr(v, "to") else v) for k, v in batch.items()}


def cosent_batch_loss(
    loss_module, model, queries: list[str], texts: list[str], targets: list[float]
):
    """CoSENT loss of one batch, computed by sentence-transformers' `CoSENTLoss`."""
    import torch

    labels = torch.tensor(targets, dtype=torch.float32, device=model.device)
    return loss_module([features(model, queries), features(model, texts)], labels)


def fine_tune(model, pairs: Pairs, settings: SimilaritySettings, label: str) -> list[float]:
    """Fine-tune `model` in place with CoSENT; returns the loss of each step.

    A plain loop (AdamW, linear warm-up then decay) rather than the trainer, which would need
    `accelerate`; the loss itself is sentence-transformers' own `CoSENTLoss`.
    """
    import torch

    try:
        from sentence_transformers.sentence_transformer.losses import CoSENTLoss
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.losses import CoSENTLoss

    torch.manual_seed(settings.seed)
    loss_module = CoSENTLoss(model)
    batch = settings.batch_size
    steps_per_epoch = math.ceil(len(pairs) / batch)
    total_steps = max(1, math.ceil(steps_per_epoch * settings.epochs))
    warmup = int(settings.warmup_ratio * total_steps)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _linear_schedule(step, warmup, total_steps)
    )
    generator = torch.Generator().manual_seed(settings.seed)
    model.train()
    losses: list[float] = []
    order: list[int] = []
    progress = tqdm(range(total_steps), desc=f"{label} CoSENT", unit="step", leave=False)
    for _ in progress:
        if len(order) < batch:  # a fresh permutation per epoch; the tail of the last is dropped
            order = torch.randperm(len(pairs), generator=generator).tolist()
        chosen, order = order[:batch], order[batch:]
        loss = cosent_batch_loss(
            loss_module,
            model,
            [pairs.queries[i] for i in chosen],
            [pairs.texts[i] for i in chosen],
            [pairs.targets[i] for i in chosen],
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        progress.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


def _linear_schedule(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / (warmup + 1)
    return max(0.0, (total - step) / max(1, total - warmup))


class QueryProductSimilarity(EvalTask):
    """Zero-shot and CoSENT-fine-tuned Spearman/Pearson on graded query–product pairs."""

    task = "similarity"

    def __init__(self, settings: SimilaritySettings):
        self.config = settings
        train, test = load_pairs(settings)
        self.train = train.subset(settings.max_train_examples, settings.seed)
        self.test = test.subset(settings.max_test_examples, settings.seed)
        if len(self.train) < 2:
            raise UserError("similarity: the train split needs at least two pairs for CoSENT")

    def settings(self) -> dict[str, Any]:
        """The settings the scores depend on (stored with each record)."""
        config = self.config
        return {
            "train": str(config.train),
            "test": str(config.test),
            "products": str(config.products) if config.products else None,
            "text_fields": list(config.text_fields),
            "target": config.score_field or config.label_field,
            "label_map": None if config.score_field else dict(config.label_map),
            "epochs": config.epochs,
            "learning_rate": config.learning_rate,
            "batch_size": config.batch_size,
            "max_length": config.max_length,
            "train_pairs": len(self.train),
            "test_pairs": len(self.test),
            "seed": config.seed,
            "loss": "CoSENTLoss (sentence-transformers), scale 20",
        }

    def evaluate(self, spec: ModelSpec) -> tuple[ModelInfo, list[Measurement]]:
        """Zero-shot score, CoSENT fine-tuning, fine-tuned score."""
        device = pick_device(self.config.device)
        model = load_sentence_encoder(spec, device, self.config.max_length)
        info = describe(spec, sentence_backbone(model), model.tokenizer)
        batch = self.config.batch_size
        measurements = []
        zero_shot = encode_pairs(model, self.test, batch)
        measurements += self._scores(zero_shot, "zero-shot", {"window": model.max_seq_length})
        losses = fine_tune(model, self.train, self.config, spec.name)
        tuned = encode_pairs(model, self.test, batch)
        measurements += self._scores(
            tuned,
            "fine-tuned",
            {"window": model.max_seq_length, "steps": len(losses), "final_loss": losses[-1]},
        )
        return info, measurements

    def _scores(
        self, predictions: list[float], stage: str, extra: dict[str, Any]
    ) -> list[Measurement]:
        targets = self.test.targets
        return [
            Measurement("spearman", spearman(predictions, targets), {"stage": stage}, extra),
            Measurement("pearson", pearson(predictions, targets), {"stage": stage}, extra),
        ]
