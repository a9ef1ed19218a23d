"""Distillation: one fastText relevance classifier per domain, with validation and thresholds.

Per domain: a stratified held-out split, k-fold cross-validation on the rest (its out-of-fold
scores pick the threshold by the declared policy), then a model trained on the whole training
split is scored on the held-out split (precision, recall, F1, PR-AUC, calibration curve). That
model is the one shipped to the `filter` stage, so the held-out numbers describe it honestly.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rexbert.curate.metrics import precision_recall_f1, threshold_by_policy
from rexbert.curate.text_rules import fasttext_text
from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json

log = logging.getLogger(__name__)

POSITIVE, NEGATIVE = "__label__relevant", "__label__not_relevant"


class FastTextClassifier:
    """A trained fastText model; `score` gives P(relevant) per text."""

    def __init__(self, model) -> None:
        self.model = model

    def score(self, texts: Sequence[str], max_words: int) -> np.ndarray:
        """Probability of the relevant class for each text."""
        if not texts:
            return np.zeros(0)
        labels, probs = self.model.predict([fasttext_text(t, max_words) for t in texts], k=2)
        out = np.empty(len(texts))
        for i, (names, values) in enumerate(zip(labels, probs, strict=True)):
            found = dict(zip(names, values, strict=True))
            out[i] = float(found.get(POSITIVE, 1.0 - float(found.get(NEGATIVE, 1.0))))
        # rounded to 1e-4: fastText's float32 scores can differ in the last bits between
        # processes, and an unrounded threshold would turn that noise into different outputs
        return np.round(np.clip(out, 0.0, 1.0), 4)


class ConstantClassifier:
    """Stand-in for a domain whose labels hold a single class (no classifier can be trained)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, texts: Sequence[str], max_words: int) -> np.ndarray:
        """The same score for every text."""
        return np.full(len(texts), self.value)




def train_fasttext(texts: Sequence[str], labels: Sequence[bool], cfg, seed: int) -> FastTextClassifier:
    """Train one supervised fastText classifier; a NaN divergence becomes a `UserError` with the fix."""
    import fasttext

    lines = [f"{POSITIVE if y else NEGATIVE} {fasttext_text(t, cfg.max_words)}\n" for t, y in zip(texts, labels, strict=True)]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lines))
    fd, path = tempfile.mkstemp(prefix="rexbert-fasttext-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(lines[i] for i in order)
        # This fastText build sometimes stops with "Encountered NaN" at random (a third of the
        # time in some worker processes, never in others, on identical data and seed) and, more
        # rarely, returns a model whose predictions hit NaN. A clean run at the configured rate
        # is reproducible, so we retry it a few times before lowering the rate, and check the
        # model before using it; the last failure is reported with the fix.
        rates = (cfg.lr, cfg.lr, cfg.lr, cfg.lr / 4, cfg.lr / 16)
        model = None
        for lr in rates:
            try:
                # thread=1: fastText's multi-threaded SGD is not reproducible; the data here is small
                candidate = fasttext.train_supervised(
                    input=path, lr=lr, epoch=cfg.epochs, wordNgrams=cfg.word_ngrams, dim=cfg.dim,
                    minCount=cfg.min_count, bucket=cfg.bucket, loss="softmax", thread=1, seed=seed, verbose=0,
                )
                if not np.isfinite(candidate.get_output_matrix()).all():
                    raise RuntimeError("Encountered NaN in the trained weights")
                candidate.predict([line.split(" ", 1)[1].strip() for line in lines[:8]], k=2)
                model = candidate
                break
            except RuntimeError as err:
                if "nan" not in str(err).lower():
                    raise UserError(f"fastText training failed ({err}); check the labels and distill settings") from err
                log.warning("fastText diverged at lr=%g; retrying", lr)
        if model is None:
            raise UserError(f"fastText diverged (Encountered NaN) at distill.lr={cfg.lr} (3 tries) and at {cfg.lr / 4:g}, "
                            f"{cfg.lr / 16:g}; lower distill.lr (e.g. {cfg.lr / 50:g}) or distill.epochs, or label more documents")
    finally:
        Path(path).unlink(missing_ok=True)
    return FastTextClassifier(model)


def _stratified_folds(labels: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    from sklearn.model_selection import StratifiedKFold

    k = max(2, min(k, int(labels.sum()), int((~labels).sum())))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(labels)), labels)]


def calibration(labels: np.ndarray, scores: np.ndarray, bins: int) -> list[dict[str, float]]:
    """Reliability table: per score bin, mean predicted score vs observed fraction relevant."""
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (scores >= lo) & ((scores < hi) if hi < 1 else (scores <= hi))
        if mask.any():
            rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "count": int(mask.sum()),
                         "mean_score": float(scores[mask].mean()), "fraction_relevant": float(labels[mask].mean())})
    return rows


def _metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import average_precision_score

    result = precision_recall_f1(labels, scores >= threshold)
    result["pr_auc"] = float(average_precision_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")
    result["n"] = int(len(labels))
    result["positives"] = int(labels.sum())
    return result


def distill_domain(domain: str, texts: list[str], labels: list[bool], cfg, models_dir: Path) -> dict[str, Any]:
    """Train, validate and save one domain's classifier; return its validation record."""
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    record: dict[str, Any] = {"domain": domain, "labelled": len(y), "relevant": n_pos, "not_relevant": n_neg}
    if min(n_pos, n_neg) < max(cfg.folds, 4):
        # too few of one class to train or validate: keep or drop the whole domain as the
        # labels say, and say so in the report instead of pretending to have a classifier
        value = 1.0 if n_pos >= n_neg else 0.0
        atomic_write_json(models_dir / f"{domain}.json", {"kind": "constant", "value": value})
        record.update(kind="constant", threshold=0.5, threshold_note=(
            f"only {n_pos} relevant / {n_neg} not relevant labels: domain {'kept' if value else 'dropped'} whole; "
            "raise sampling.per_domain"))
        return record
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    train_idx, held_idx = train_test_split(idx, test_size=cfg.holdout_fraction, stratify=y, random_state=cfg.seed)
    y_train = y[train_idx]
    oof = np.zeros(len(train_idx))
    for fold, test_pos in enumerate(_stratified_folds(y_train, cfg.folds, cfg.seed)):
        fit_pos = np.setdiff1d(np.arange(len(train_idx)), test_pos)
        model = train_fasttext([texts[train_idx[i]] for i in fit_pos], y_train[fit_pos], cfg, cfg.seed + fold)
        oof[test_pos] = model.score([texts[train_idx[i]] for i in test_pos], cfg.max_words)
    threshold, note = threshold_by_policy(oof, y_train, cfg.threshold_policy, cfg.target_precision)
    model = train_fasttext([texts[i] for i in train_idx], y_train, cfg, cfg.seed)
    held_scores = model.score([texts[i] for i in held_idx], cfg.max_words)
    model.model.save_model(str(models_dir / f"{domain}.bin.tmp"))
    os.replace(models_dir / f"{domain}.bin.tmp", models_dir / f"{domain}.bin")
    atomic_write_json(models_dir / f"{domain}.json", {"kind": "fasttext", "model": f"{domain}.bin"})
    record.update(
        kind="fasttext", threshold=float(threshold), threshold_note=note,
        cv=_metrics(y_train, oof, threshold), heldout=_metrics(y[held_idx], held_scores, threshold),
        calibration=calibration(y[held_idx].astype(float), held_scores, cfg.calibration_bins),
        calibration_points=[[float(s), bool(t)] for s, t in zip(held_scores, y[held_idx], strict=True)],
    )
    return record


def load_classifier(models_dir: Path, domain: str):
    """The saved classifier of `domain` (fastText or constant)."""
    meta_path = models_dir / f"{domain}.json"
    if not meta_path.is_file():
        raise UserError(f"{meta_path}: no classifier for domain {domain!r}; run `rexbert curate distill` first")
    meta = json.loads(meta_path.read_text("utf-8"))
    if meta["kind"] == "constant":
        return ConstantClassifier(float(meta["value"]))
    import fasttext

    return FastTextClassifier(fasttext.load_model(str(models_dir / meta["model"])))
