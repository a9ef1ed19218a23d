"""Metrics against hand-computed values, scipy and scikit-learn."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import accuracy_score

from rexbert.evaluate.metrics import accuracy, pearson, spearman, topk_accuracy, topk_hits


def test_topk_accuracy_hand_computed():
    # Row 0: target 2 has the top score → hit at k=1,2,3.
    # Row 1: target 0 is 3rd (scores 0.1 < 0.3 < 0.6 for ids 0,3,1 …) → hit at k=3 only.
    # Row 2: target 3 is 2nd → hit at k=2,3.
    # Row 3: target 1 is last of 4 → never in the top 3.
    logits = torch.tensor(
        [
            [0.1, 0.2, 0.9, 0.0],
            [0.2, 0.6, 0.0, 0.3],
            [0.5, 0.1, 0.0, 0.4],
            [0.3, -1.0, 0.2, 0.1],
        ]
    )
    targets = torch.tensor([2, 0, 3, 1])
    assert topk_hits(logits, targets, [1, 2, 3]) == {1: 1, 2: 2, 3: 3}
    assert topk_accuracy(logits, targets, [1, 2, 3]) == {1: 0.25, 2: 0.5, 3: 0.75}


def test_topk_larger_than_vocab_counts_everything():
    logits = torch.randn(5, 3)
    targets = torch.tensor([0, 1, 2, 0, 1])
    assert topk_accuracy(logits, targets, [5]) == {5: 1.0}


def test_correlations_match_scipy_including_ties():
    rng = np.random.default_rng(3)
    x = rng.normal(size=50)
    y = np.round(x + rng.normal(scale=0.8, size=50), 1)  # rounding creates ties
    y[:5] = y[5]
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)


def test_correlation_of_constant_is_nan_not_a_number():
    assert math.isnan(spearman([0.5, 0.5, 0.5], [0.0, 0.5, 1.0]))
    assert math.isnan(pearson([0.1, 0.2, 0.3], [1.0, 1.0, 1.0]))


def test_accuracy_matches_sklearn_and_is_nan_when_empty():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, size=40)
    pred = np.where(rng.random(40) < 0.6, gold, rng.integers(0, 3, size=40))
    assert accuracy(pred, gold) == accuracy_score(gold, pred) == float((pred == gold).mean())
    assert 0 < accuracy(pred, gold) < 1
    assert math.isnan(accuracy([], []))
    with pytest.raises(ValueError, match="3 predictions but 2 targets"):
        accuracy([1, 2, 3], [1, 2])
