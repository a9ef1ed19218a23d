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
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

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


# Why each model is trained in a fresh interpreter: the fastText build we depend on does not train
# reproducibly inside a long-lived process. With the same data, seed and thread=1, the models
# trained one after another in one process are identical while the earlier ones are kept alive,
# and differ (or stop with "Encountered NaN") from about the third on once their memory has been
# freed and reused: its training depends on memory it did not write. The first model trained in a
# fresh process was the same in every run we measured, so each model is fitted by a short-lived
# `python -c` that imports only fastText and NumPy, and saved to a file that the caller loads
# (loading and prediction are reproducible). Measured cost: about 0.3 s of interpreter start-up
# per model; the distill stage of the demo corpus (size small, 9 domains x 6 models, 2 shared
# cores) took 44-53 s this way against 72-77 s for the former one-process-per-domain training,
# which lost more than the start-ups to NaN retries.
_FIT_SCRIPT = """
import json, sys
import fasttext, numpy as np
job = json.loads(sys.argv[1])
try:
    model = fasttext.train_supervised(input=job["input"], **job["params"])
    probs = model.predict(job["check"], k=2)[1]
except RuntimeError as err:
    sys.exit(("NAN " if "nan" in str(err).lower() else "") + str(err))
if not np.isfinite(model.get_output_matrix()).all() or not all(np.isfinite(p).all() for p in probs):
    sys.exit("NAN Encountered NaN in the trained weights")
model.save_model(job["output"])
"""


class _Diverged(Exception):
    """fastText training stopped with NaN weights at the rate it was given."""


def _fit_in_fresh_process(train_path: Path, model_path: Path, params: dict[str, Any], check: list[str]) -> None:
    """Train one supervised fastText model in its own interpreter and save it to `model_path`."""
    job = {"input": str(train_path), "output": str(model_path), "params": params, "check": check}
    done = subprocess.run([sys.executable, "-c", _FIT_SCRIPT, json.dumps(job)], capture_output=True, text=True)
    if done.returncode == 0:
        return
    message = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    if message.startswith("NAN "):
        raise _Diverged(message[4:])
    raise UserError(f"fastText training failed ({message}); check the labels and distill settings")


def train_fasttext(texts: Sequence[str], labels: Sequence[bool], cfg, seed: int,
                   save_to: Path | None = None) -> FastTextClassifier:
    """Train one supervised fastText classifier (saved to `save_to` when given); a NaN
    divergence is retried at lower rates, then becomes a `UserError` with the fix."""
    import fasttext

    lines = [f"{POSITIVE if y else NEGATIVE} {fasttext_text(t, cfg.max_words)}\n" for t, y in zip(texts, labels, strict=True)]
    order = np.random.default_rng(seed).permutation(len(lines))
    folder = Path(tempfile.mkdtemp(prefix="rexbert-fasttext-"))
    try:
        train_path = folder / "train.txt"
        # beside its destination, so that the final rename stays on one file system
        model_path = folder / "model.bin" if save_to is None else save_to.with_name(f".{save_to.name}.tmp")
        train_path.write_text("".join(lines[i] for i in order), encoding="utf-8")
        check = [line.split(" ", 1)[1].strip() for line in lines[:8]]
        # Training is reproducible now, so a rate that diverged diverges again: go down at once.
        rates = (cfg.lr, cfg.lr / 4, cfg.lr / 16)
        for lr in rates:
            # thread=1: fastText's multi-threaded SGD is not reproducible; the data here is small
            params = {"lr": lr, "epoch": cfg.epochs, "wordNgrams": cfg.word_ngrams, "dim": cfg.dim,
                      "minCount": cfg.min_count, "bucket": cfg.bucket, "loss": "softmax", "thread": 1,
                      "seed": seed, "verbose": 0}
            try:
                _fit_in_fresh_process(train_path, model_path, params, check)
                break
            except _Diverged:
                log.warning("fastText diverged at lr=%g; retrying at a lower rate", lr)
        else:
            raise UserError(f"fastText diverged (Encountered NaN) at distill.lr={cfg.lr:g} and at {cfg.lr / 4:g}, "
                            f"{cfg.lr / 16:g}; lower distill.lr (e.g. {cfg.lr / 50:g}) or distill.epochs, or label more documents")
        if save_to is not None:
            os.replace(model_path, save_to)
            model_path = save_to
        return FastTextClassifier(fasttext.load_model(str(model_path)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
    # imported here, not at the top: the filter stage imports this module for `load_classifier`
    # and should not pay for scikit-learn
    from sklearn.metrics import average_precision_score

    from rexbert.curate.metrics import precision_recall_f1

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
    from rexbert.curate.metrics import threshold_by_policy

    threshold, note = threshold_by_policy(oof, y_train, cfg.threshold_policy, cfg.target_precision)
    model = train_fasttext([texts[i] for i in train_idx], y_train, cfg, cfg.seed, save_to=models_dir / f"{domain}.bin")
    held_scores = model.score([texts[i] for i in held_idx], cfg.max_words)
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
