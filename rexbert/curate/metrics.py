"""Small pure metric functions (checked against scikit-learn in the tests)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion(reference: Sequence[bool], predicted: Sequence[bool]) -> dict[str, int]:
    """Binary confusion counts: tp, fp, fn, tn (positive = relevant)."""
    ref = np.asarray(reference, dtype=bool)
    pred = np.asarray(predicted, dtype=bool)
    return {
        "tp": int(np.sum(ref & pred)), "fp": int(np.sum(~ref & pred)),
        "fn": int(np.sum(ref & ~pred)), "tn": int(np.sum(~ref & ~pred)),
    }


def cohen_kappa(reference: Sequence[bool], predicted: Sequence[bool]) -> float:
    """Cohen's kappa of two binary labelings (0 when agreement by chance is total)."""
    c = confusion(reference, predicted)
    n = sum(c.values())
    if n == 0:
        return 0.0
    observed = (c["tp"] + c["tn"]) / n
    p_ref = (c["tp"] + c["fn"]) / n
    p_pred = (c["tp"] + c["fp"]) / n
    expected = p_ref * p_pred + (1 - p_ref) * (1 - p_pred)
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1 - expected)


def precision_recall_f1(reference: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float]:
    """Precision, recall, F1 and accuracy (precision is 1 when nothing is predicted positive)."""
    c = confusion(reference, predicted)
    n = sum(c.values())
    precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = (c["tp"] + c["tn"]) / n if n else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}


def best_kappa_threshold(scores: Sequence[float], reference: Sequence[bool]) -> tuple[float, float] | None:
    """(threshold, kappa): the cut (label = score > t) that best agrees with `reference`.

    Candidates are the midpoints between consecutive distinct scores (and one below the
    lowest). None when `reference` has a single class.
    """
    ref = np.asarray(reference, dtype=bool)
    if ref.all() or not ref.any():
        return None
    s = np.asarray(scores, dtype=float)
    distinct = np.unique(s)
    candidates = np.concatenate([[distinct[0] - 1e-6], (distinct[1:] + distinct[:-1]) / 2])
    best = None
    for threshold in candidates:
        kappa = cohen_kappa(ref, s > threshold)
        if best is None or kappa > best[1] + 1e-12:
            best = (float(threshold), kappa)
    return best


def threshold_by_policy(scores: Sequence[float], reference: Sequence[bool], policy: str,
                        target_precision: float) -> tuple[float, str]:
    """The decision threshold chosen by a declared policy, and a note on how it was chosen.

    `f1_max`: the threshold with the highest F1. `target_precision`: the lowest threshold whose
    precision reaches the target (most recall at that precision); if none does, F1-max is used
    and the note says so.
    """
    from sklearn.metrics import precision_recall_curve

    ref = np.asarray(reference, dtype=bool)
    if ref.all() or not ref.any():
        return 0.5, "single class in labels: default 0.5"
    precision, recall, thresholds = precision_recall_curve(ref, np.asarray(scores, dtype=float))
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    if policy == "target_precision":
        ok = np.nonzero(precision >= target_precision)[0]
        if len(ok):
            i = ok[np.argmax(recall[ok])]
            return float(thresholds[i]), f"lowest threshold with precision >= {target_precision:g}"
        i = int(np.argmax(f1))
        return float(thresholds[i]), f"precision {target_precision:g} unreachable; fell back to F1-max"
    i = int(np.argmax(f1))
    return float(thresholds[i]), "F1-max"
