"""Graded query–product similarity — the paper's §6.2 (Figure 4).

Pairs of (query, product text) carry a graded target: ESCI labels map E→1.0, S→0.66, C→0.33,
I→0.0 (configurable), or a numeric score column is used as is (see `pairs.py` for the inputs).
Each model is scored zero-shot, fine-tuned with sentence-transformers' `CoSENTLoss` on the train
pairs (the one loop of `finetune.py`), and scored again: Spearman (the paper's metric) and
Pearson of cosine similarity against the targets on the test pairs. With `seeds`, fine-tuning
is repeated from the same weights once per seed (same pairs), and the fine-tuned scores are the
mean over seeds, each seed's kept beside it. The cosine of every test pair is kept in the unit's
per-example file (results.py), grouped by query, for paired bootstrap intervals over queries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
from rexbert.evaluate.results import ExamplePart, ModelInfo
from rexbert.evaluate.stats import seed_spread
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
            "seeds": config.fine_tuning_seeds(),
            "loss": "CoSENTLoss (sentence-transformers), scale 20",
        }

    def evaluate(self, spec: ModelSpec) -> tuple[ModelInfo, list[Measurement]]:
        """Zero-shot score, then CoSENT fine-tuning and the fine-tuned score once per seed."""
        device = pick_device(self.config.device)
        model = load_sentence_encoder(spec, device, self.config.max_length)
        info = describe(spec, sentence_backbone(model), model.tokenizer)
        window = {"window": model.max_seq_length}
        measurements = self._scores([pair_cosines(model, self.test, self.config.batch_size)],
                                    "zero-shot", window)
        tuned, losses = [], []
        for index, seed in enumerate(self.config.fine_tuning_seeds()):
            if index:  # every seed fine-tunes the same starting weights
                model = load_sentence_encoder(spec, device, self.config.max_length)
            settings = self.config.model_copy(update={"seed": seed})
            losses.append(fine_tune_cosent(model, self.train, settings, f"{spec.name} seed {seed}"))
            tuned.append(pair_cosines(model, self.test, self.config.batch_size))
        details = {**window, "steps": len(losses[0]), "final_loss": losses[0][-1]}
        if len(losses) > 1:
            details["final_losses"] = [run[-1] for run in losses]
        return info, measurements + self._scores(tuned, "fine-tuned", details)

    def _scores(self, runs: list[list[float]], stage: str, extra: dict[str, Any]) -> list[Measurement]:
        """Spearman and Pearson of each run's cosines (one run per seed), as their mean."""
        targets = self.test.targets
        queries = sorted(set(self.test.queries))
        position = {query: i for i, query in enumerate(queries)}
        part = ExamplePart({"stage": stage}, {
            "groups": np.asarray([position[q] for q in self.test.queries], dtype=np.int64),
            "targets": np.asarray(targets, dtype=np.float64),
            "predictions": np.asarray(runs, dtype=np.float32)})
        measurements = []
        for metric, score in (("spearman", spearman), ("pearson", pearson)):
            values = [score(cosines, targets) for cosines in runs]
            details = dict(extra)
            if len(runs) > 1:
                details.update(per_seed=values, spread=seed_spread(values))
            measurements.append(Measurement(metric, float(np.mean(values)), {"stage": stage}, details, part))
        return measurements
