"""Graded query–product similarity — the paper's §6.2 (Figure 4).

Pairs of (query, product text) carry a graded target: ESCI labels map E→1.0, S→0.66, C→0.33,
I→0.0 (configurable), or a numeric score column is used as is (see `pairs.py` for the inputs).
Each model is scored zero-shot, fine-tuned with sentence-transformers' `CoSENTLoss` on the train
pairs (the one loop of `finetune.py`), and scored again: Spearman (the paper's metric) and
Pearson of cosine similarity against the targets on the test pairs.
"""

from __future__ import annotations

from typing import Any

from rexbert.errors import UserError
from rexbert.evaluate.config import PairsInput, SimilaritySettings
from rexbert.evaluate.finetune import fine_tune
from rexbert.evaluate.metrics import pearson, spearman
from rexbert.evaluate.models import (
    ModelSpec,
    describe,
    load_sentence_encoder,
    pick_device,
    sentence_backbone,
)
from rexbert.evaluate.pairs import Pairs, load_pair_splits
from rexbert.evaluate.results import ModelInfo
from rexbert.evaluate.task import EvalTask, Measurement

COSENT_MIN_BATCH = 2  # CoSENT ranks the pairs of a batch against each other


def pair_cosines(model: Any, pairs: Pairs, batch_size: int) -> list[float]:
    """Cosine similarity of each (query, text) pair, encoding each distinct string once."""
    import torch

    queries = sorted(set(pairs.queries))
    texts = sorted(set(pairs.texts))
    with torch.inference_mode():
        q = model.encode(queries, batch_size=batch_size, convert_to_tensor=True,
                         show_progress_bar=False)
        t = model.encode(texts, batch_size=batch_size, convert_to_tensor=True,
                         show_progress_bar=False)
    q_index = {s: i for i, s in enumerate(queries)}
    t_index = {s: i for i, s in enumerate(texts)}
    qi = torch.tensor([q_index[s] for s in pairs.queries], device=q.device)
    ti = torch.tensor([t_index[s] for s in pairs.texts], device=t.device)
    return torch.nn.functional.cosine_similarity(q[qi].float(), t[ti].float(), dim=-1).cpu().tolist()


def features(model: Any, texts: list[str]) -> dict[str, Any]:
    """Tokenized model inputs on the model's device (API name differs across versions)."""
    prepare = getattr(model, "preprocess", None) or model.tokenize
    batch = prepare(texts)
    return {k: (v.to(model.device) if hasattr(v, "to") else v) for k, v in batch.items()}


def cosent_loss_module(model: Any) -> Any:
    """sentence-transformers' own `CoSENTLoss` (scale 20) for `model`."""
    try:
        from sentence_transformers.sentence_transformer.losses import CoSENTLoss
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.losses import CoSENTLoss
    return CoSENTLoss(model)


def cosent_batch_loss(loss_module: Any, model: Any, queries: list[str], texts: list[str],
                      targets: list[float]) -> Any:
    """CoSENT loss of one batch, computed by sentence-transformers' `CoSENTLoss`."""
    import torch

    labels = torch.tensor(targets, dtype=torch.float32, device=model.device)
    return loss_module([features(model, queries), features(model, texts)], labels)


def fine_tune_cosent(model: Any, pairs: Pairs, settings: SimilaritySettings, label: str) -> list[float]:
    """Fine-tune a SentenceTransformer in place with CoSENT; returns the loss of each step."""
    loss_module = cosent_loss_module(model)

    def batch_loss(chosen: list[int]) -> Any:
        batch = pairs.select(chosen)
        return cosent_batch_loss(loss_module, model, batch.queries, batch.texts, batch.targets)

    return fine_tune(model, len(pairs), batch_loss, settings, f"{label} CoSENT",
                     min_batch=COSENT_MIN_BATCH)


class QueryProductSimilarity(EvalTask):
    """Zero-shot and CoSENT-fine-tuned Spearman/Pearson on graded query–product pairs."""

    task = "similarity"

    def __init__(self, pairs: PairsInput, settings: SimilaritySettings):
        self.pairs = pairs
        self.config = settings
        splits = load_pair_splits(pairs, settings.seed, settings.test_fraction)
        self.split = splits.split
        self.train = splits.train.subset(settings.max_train_examples, settings.seed)
        self.test = splits.test.subset(settings.max_test_examples, settings.seed)
        if len(self.train) < COSENT_MIN_BATCH:
            raise UserError("similarity: the train split needs at least two pairs for CoSENT")

    def settings(self) -> dict[str, Any]:
        """The settings the scores depend on (stored with each record)."""
        config, pairs = self.config, self.pairs
        return {
            "input": pairs.model_dump(mode="json", exclude_none=True),
            "split": self.split,
            "text_fields": list(pairs.text_fields),
            "target": pairs.score_field or pairs.label_field,
            "label_map": None if pairs.score_field else dict(pairs.label_map),
            "epochs": config.epochs,
            "learning_rate": config.learning_rate,
            "batch_size": config.batch_size,
            "warmup_ratio": config.warmup_ratio,
            "weight_decay": config.weight_decay,
            "max_length": config.max_length,
            "train_pairs": len(self.train),
            "test_pairs": len(self.test),
            "seed": config.seed,
            "loss": "CoSENTLoss (sentence-transformers), scale 20",
        }

    def evaluate(self, spec: ModelSpec) -> tuple[ModelInfo, list[Measurement]]:
        """Zero-shot score, CoSENT fine-tuning, fine-tuned score."""
        model = load_sentence_encoder(spec, pick_device(self.config.device), self.config.max_length)
        info = describe(spec, sentence_backbone(model), model.tokenizer)
        window = {"window": model.max_seq_length}
        measurements = self._scores(pair_cosines(model, self.test, self.config.batch_size),
                                    "zero-shot", window)
        losses = fine_tune_cosent(model, self.train, self.config, spec.name)
        tuned = pair_cosines(model, self.test, self.config.batch_size)
        details = {**window, "steps": len(losses), "final_loss": losses[-1]}
        return info, measurements + self._scores(tuned, "fine-tuned", details)

    def _scores(self, cosines: list[float], stage: str, extra: dict[str, Any]) -> list[Measurement]:
        targets = self.test.targets
        return [Measurement("spearman", spearman(cosines, targets), {"stage": stage}, extra),
                Measurement("pearson", pearson(cosines, targets), {"stage": stage}, extra)]
