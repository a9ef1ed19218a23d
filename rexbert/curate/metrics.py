"""Agreement and classification metrics of the audit loop and the distilled classifiers.

scikit-learn computes them (`confusion_matrix`, `cohen_kappa_score`, `precision_score`, …);
what is ours is only what it does not do: the dict shapes the reports and JSON files use, the
degenerate cases that sklearn answers with NaN and a warning (two labelings of a single class),
and the threshold searches (`best_kappa_threshold`, `threshold_by_policy`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
)


def _binary(values: Sequence[bool]) -> np.ndarray:
    return np.asarray(values, dtype=bool)


def confusion(reference: Sequence[bool], predicted: Sequence[bool]) -> dict[str, int]:
    """Binary confusion counts: tp, fp, fn, tn (positive = relevant)."""
    ref, pred = _binary(reference), _binary(predicted)
    if not len(ref):
        return {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    tn, fp, fn, tp = confusion_matrix(ref, pred, labels=[False, True]).ravel()
    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn)}


def cohen_kappa(reference: Sequence[bool], predicted: Sequence[bool]) -> float:
    """Cohen's kappa of two binary labelings.

    sklearn returns NaN when chance agreement is total (both labelings hold one and the same
    class); the audit loop compares kappas between rounds, so that perfect agreement is 1.0,
    and an empty labeling is 0.0.
    """
    ref, pred = _binary(reference), _binary(predicted)
    if not len(ref):
        return 0.0
    if len(np.unique(np.concatenate([ref, pred]))) == 1:
        return 1.0
    return float(cohen_kappa_score(ref, pred, labels=[False, True]))


def precision_recall_f1(reference: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float]:
    """Precision, recall, F1 and accuracy (precision is 1 when nothing is predicted positive,
    recall 0 when nothing is relevant: a filter that keeps nothing made no wrong keep)."""
    ref, pred = _binary(reference), _binary(predicted)
    if not len(ref):
        return {"precision": 1.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.0}
    return {
        "precision": float(precision_score(ref, pred, zero_division=1.0)),
        "recall": float(recall_score(ref, pred, zero_division=0.0)),
        "f1": float(f1_score(ref, pred, zero_division=0.0)),
        "accuracy": float(accuracy_score(ref, pred)),
    }


def best_kappa_threshold(scores: Sequence[float], reference: Sequence[bool]) -> tuple[float, float] | None:
    """(threshold, kappa): the cut (label = score > t) that best agrees with `reference`.

    Candidates are the midpoints between consecutive distinct scores (and one below the
    lowest). None when `reference` has a single class.
    """
    ref = _binary(reference)
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
    ref = _binary(reference)
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
