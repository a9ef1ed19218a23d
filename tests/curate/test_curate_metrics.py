"""Metrics against scikit-learn, threshold policies and calibration."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, precision_score, recall_score

from rexbert.curate.distill import calibration
from rexbert.curate.metrics import (
    best_kappa_threshold,
    cohen_kappa,
    confusion,
    precision_recall_f1,
    threshold_by_policy,
)


def test_kappa_and_prf_match_sklearn():
    rng = np.random.default_rng(0)
    a = rng.random(200) > 0.4
    b = np.where(rng.random(200) > 0.8, ~a, a)
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    prf = precision_recall_f1(a, b)
    assert prf["precision"] == pytest.approx(precision_score(a, b))
    assert prf["recall"] == pytest.approx(recall_score(a, b))
    assert prf["f1"] == pytest.approx(f1_score(a, b))


def test_the_conventions_sklearn_leaves_open():
    # both labelings hold one and the same class: sklearn's kappa is NaN, the audit loop needs a number
    assert cohen_kappa([True] * 5, [True] * 5) == 1.0
    assert cohen_kappa([True] * 5, [False] * 5) == pytest.approx(cohen_kappa_score([True] * 5, [False] * 5)) == 0.0
    assert cohen_kappa([], []) == 0.0
    # a filter that keeps nothing made no wrong keep (precision 1) and found nothing (recall 0)
    assert precision_recall_f1([True, False], [False, False]) == {"precision": 1.0, "recall": 0.0, "f1": 0.0,
                                                                "accuracy": 0.5}
    assert confusion([True, True, False], [True, False, True]) == {"tp": 1, "fp": 1, "fn": 1, "tn": 0}


def test_best_kappa_threshold_separates_perfectly():
    scores = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9]
    threshold, kappa = best_kappa_threshold(scores, [False, False, False, True, True, True])
    assert 0.3 < threshold < 0.7 and kappa == pytest.approx(1.0)
    assert best_kappa_threshold(scores, [True] * 6) is None


def test_threshold_policies():
    scores = np.array([0.1, 0.35, 0.4, 0.6, 0.65, 0.7, 0.8, 0.9])
    labels = np.array([0, 0, 1, 0, 1, 1, 1, 1], dtype=bool)
    t_f1, note = threshold_by_policy(scores, labels, "f1_max", 0.9)
    assert note == "F1-max"
    t_p, note = threshold_by_policy(scores, labels, "target_precision", 1.0)
    assert note.startswith("lowest threshold")
    assert precision_recall_f1(labels, scores >= t_p)["precision"] == 1.0
    assert t_p == pytest.approx(0.65)
    assert t_f1 <= t_p


def test_calibration_bins():
    rows = calibration(np.array([0, 0, 1, 1.0]), np.array([0.05, 0.15, 0.85, 0.95]), 10)
    assert [r["count"] for r in rows] == [1, 1, 1, 1]
    assert rows[-1]["fraction_relevant"] == 1.0 and rows[0]["fraction_relevant"] == 0.0
