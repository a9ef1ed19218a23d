"""Metrics as small pure functions: correlations from scipy, accuracy from scikit-learn, and the
top-k hit count of masked-token recovery (on torch tensors, where the logits already are)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np


def topk_hits(logits, targets, ks: Sequence[int]) -> dict[int, int]:
    """How many rows of `logits` [N, V] rank their `targets` [N] within the top k, for each k.

    Ties at the k-th score are broken by torch.topk's order, as every top-k accuracy does.
    """
    import torch

    if logits.shape[0] == 0:
        return {k: 0 for k in ks}
    largest = min(max(ks), logits.shape[-1])
    top = torch.topk(logits, largest, dim=-1).indices  # [N, max k]
    found = top == targets.unsqueeze(-1)  # [N, max k], at most one True per row
    return {k: int(found[:, :k].any(dim=-1).sum()) for k in ks}


def topk_accuracy(logits, targets, ks: Sequence[int]) -> dict[int, float]:
    """Fraction of rows whose target is in the top k predictions, for each k."""
    hits = topk_hits(logits, targets, ks)
    total = int(targets.numel())
    return {k: (hits[k] / total if total else math.nan) for k in ks}


def _correlation(kind: str, predictions: Sequence[float], targets: Sequence[float]) -> float:
    from scipy import stats

    x = np.asarray(predictions, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"{kind}: {x.shape[0]} predictions but {y.shape[0]} targets")
    # A correlation with a constant side is undefined; say so with NaN (stored as null) rather
    # than letting scipy warn and the number be read as a result.
    if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.spearmanr(x, y) if kind == "spearman" else stats.pearsonr(x, y)
    return float(result[0])


def spearman(predictions: Sequence[float], targets: Sequence[float]) -> float:
    """Spearman rank correlation (ties get average ranks); NaN if either side is constant."""
    return _correlation("spearman", predictions, targets)


def pearson(predictions: Sequence[float], targets: Sequence[float]) -> float:
    """Pearson correlation; NaN if either side is constant."""
    return _correlation("pearson", predictions, targets)


def accuracy(predictions: Sequence[int], targets: Sequence[int]) -> float:
    """Fraction of exact matches (scikit-learn's `accuracy_score`); NaN when there are none."""
    from sklearn.metrics import accuracy_score

    x = np.asarray(predictions)
    y = np.asarray(targets)
    if x.shape != y.shape:
        raise ValueError(f"accuracy: {x.shape[0]} predictions but {y.shape[0]} targets")
    return float(accuracy_score(y, x)) if x.size else math.nan
