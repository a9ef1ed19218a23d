"""Paired bootstrap intervals (rexbert/evaluate/stats.py) and the Δ cells of the report tables.

Known differences are planted in simulated per-example data: the interval must cover the
difference the data were drawn with, exclude 0 when that difference is large, include 0 when
there is none, and agree with scipy's own bootstrap where scipy can compute the same thing.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from rexbert.evaluate.report import table3
from rexbert.evaluate.results import (
    ExamplePart,
    ModelInfo,
    ResultRecord,
    Results,
    examples_name,
    save_examples,
)
from rexbert.evaluate.stats import correlation_interval, ratio_interval, seed_spread


def _recovery(n: int, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Masked tokens per text and the hits of a model that recovers each with `rate`."""
    rng = np.random.default_rng(seed)
    masked = rng.integers(2, 12, size=n)
    return rng.binomial(masked, rate), masked


def test_a_planted_recovery_difference_is_covered_and_significant():
    hits_a, masked = _recovery(1500, 0.30, seed=1)
    hits_b = np.random.default_rng(2).binomial(masked, 0.20)
    interval = ratio_interval(hits_a, masked, hits_b, masked)
    assert interval.low < 0.10 < interval.high  # the difference the data were drawn with
    assert interval.excludes_zero and interval.low > 0.05
    assert interval.value == pytest.approx(hits_a.sum() / masked.sum() - hits_b.sum() / masked.sum())


def test_no_difference_gives_an_interval_around_zero():
    hits_a, masked = _recovery(1500, 0.25, seed=3)
    hits_b = np.random.default_rng(4).binomial(masked, 0.25)
    interval = ratio_interval(hits_a, masked, hits_b, masked)
    assert interval.low < 0 < interval.high and not interval.excludes_zero


def test_pairing_narrows_the_interval_when_texts_differ_in_difficulty():
    # Some texts are easy for every model: pairing cancels that, unpaired intervals cannot.
    rng = np.random.default_rng(5)
    masked = rng.integers(2, 12, size=800)
    easy = rng.uniform(0.05, 0.9, size=800)
    hits_a = rng.binomial(masked, np.clip(easy + 0.03, 0, 1))
    hits_b = rng.binomial(masked, easy)
    paired = ratio_interval(hits_a, masked, hits_b, masked)
    alone_a, alone_b = ratio_interval(hits_a, masked), ratio_interval(hits_b, masked)
    unpaired_width = np.hypot(alone_a.high - alone_a.low, alone_b.high - alone_b.low)
    assert paired.high - paired.low < 0.8 * unpaired_width


def test_ratio_interval_agrees_with_scipy_bootstrap():
    hits_a, masked = _recovery(400, 0.3, seed=6)
    hits_b = np.random.default_rng(7).binomial(masked, 0.22)
    ours = ratio_interval(hits_a, masked, hits_b, masked)

    def difference(index):
        index = index.astype(int)
        return hits_a[index].sum() / masked[index].sum() - hits_b[index].sum() / masked[index].sum()

    theirs = scipy_stats.bootstrap((np.arange(400),), difference, n_resamples=2000, method="percentile",
                                   vectorized=False, random_state=0).confidence_interval
    width = theirs.high - theirs.low
    assert abs(ours.low - theirs.low) < 0.15 * width and abs(ours.high - theirs.high) < 0.15 * width


def _graded_pairs(queries: int, per_query: int, seed: int):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(queries), per_query)
    targets = rng.choice([0.0, 0.33, 0.66, 1.0], size=groups.size)
    return rng, groups, targets


def test_correlation_point_values_are_scipys():
    rng, groups, targets = _graded_pairs(60, 5, seed=8)
    good = targets + rng.normal(0, 0.3, size=targets.size)
    bad = targets + rng.normal(0, 1.5, size=targets.size)
    for method, scipy_fn in (("spearman", scipy_stats.spearmanr), ("pearson", scipy_stats.pearsonr)):
        interval = correlation_interval(groups, targets, good, bad, method=method)
        expected = scipy_fn(targets, good)[0] - scipy_fn(targets, bad)[0]
        assert interval.value == pytest.approx(expected, abs=1e-9)
        assert interval.excludes_zero and interval.low > 0


def test_spearman_difference_agrees_with_scipy_bootstrap_when_each_pair_is_its_own_group():
    rng, _, targets = _graded_pairs(300, 1, seed=9)
    groups = np.arange(targets.size)
    a = targets + rng.normal(0, 0.5, size=targets.size)
    b = targets + rng.normal(0, 0.8, size=targets.size)
    ours = correlation_interval(groups, targets, a, b)

    def difference(index):
        index = index.astype(int)
        return (scipy_stats.spearmanr(targets[index], a[index])[0]
                - scipy_stats.spearmanr(targets[index], b[index])[0])

    theirs = scipy_stats.bootstrap((groups,), difference, n_resamples=1000, method="percentile",
                                   vectorized=False, random_state=0).confidence_interval
    width = theirs.high - theirs.low
    assert abs(ours.low - theirs.low) < 0.2 * width and abs(ours.high - theirs.high) < 0.2 * width


def test_whole_queries_are_resampled():
    # Within a query every pair moves together, so resampling pairs would understate the
    # spread: the grouped interval must be wider than the one over independent pairs.
    rng, groups, targets = _graded_pairs(20, 15, seed=10)
    shift = rng.normal(0, 1.0, size=20)[groups]  # a per-query offset of model a only
    a = targets + shift + rng.normal(0, 0.3, size=targets.size)
    b = targets + rng.normal(0, 0.3, size=targets.size)
    grouped = correlation_interval(groups, targets, a, b)
    independent = correlation_interval(np.arange(targets.size), targets, a, b)
    assert grouped.high - grouped.low > 1.3 * (independent.high - independent.low)


def test_several_seeds_average_per_draw_and_report_their_spread():
    rng, groups, targets = _graded_pairs(40, 5, seed=11)
    seeds = np.stack([targets + rng.normal(0, 0.5, size=targets.size) for _ in range(3)])
    interval = correlation_interval(groups, targets, seeds)
    single = [scipy_stats.spearmanr(targets, row)[0] for row in seeds]
    assert interval.value == pytest.approx(np.mean(single), abs=1e-9)
    assert seed_spread(single) == pytest.approx(np.std(single, ddof=1))
    assert seed_spread([0.4]) == 0.0


def _mlm_record(root, model, hits, masked, ids):
    unit = f"{model}-u"
    name = examples_name(model, unit)
    axes = {"field": "title", "block_size": 128}
    save_examples(root, name, [ExamplePart(axes, {"ids": ids, "masked": masked, "hits@1": hits})])
    return ResultRecord(model, "mlm", "top1_accuracy", float(hits.sum() / masked.sum()),
                        {"mask_ratio": 0.15, "mask": "span", "seed": 0, "data": "titles"}, unit,
                        {**axes, "k": 1}, name, root)


def test_table3_marks_a_planted_difference_and_leaves_no_difference_unmarked(tmp_path):
    info = ModelInfo(path="/m", source="/m", architecture="ModernBertForMaskedLM", parameters=1,
                     fingerprint="f", tokenizer="tok")
    hits_a, masked = _recovery(1000, 0.30, seed=12)
    hits_b = np.random.default_rng(13).binomial(masked, 0.20)
    hits_c = np.random.default_rng(14).binomial(masked, 0.30)
    ids = np.arange(1000)
    results = Results({"annealed": info, "control": info, "same": info})
    results.records = [_mlm_record(tmp_path, m, h, masked, ids)
                       for m, h in (("annealed", hits_a), ("control", hits_b), ("same", hits_c))]
    table = table3(results)
    header = table.header
    row = table.rows[0]
    against_control = row[header.index("Δ annealed − control (points)")]
    against_same = row[header.index("Δ annealed − same (points)")]
    low, high = (float(x) for x in against_control.split("[")[1].split("]")[0].split(","))
    assert low < 10 < high and against_control.endswith("*")  # the planted 10 points
    assert not against_same.endswith("*")
    assert any("paired bootstrap" in note for note in table.notes)
