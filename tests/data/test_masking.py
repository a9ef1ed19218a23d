"""Span masking, 80/10/10 replacement and Guided MLM against their definitions."""

from __future__ import annotations

import numpy as np

from rexbert.data.masking import (
    IGNORE_INDEX,
    MaskingConfig,
    non_special_ids,
    replace_masked,
    span_mask,
    stochastic_round,
)
from rexbert.data.stream import TokenSpec, pack_to_batch


def test_rate_per_document_and_specials_never_masked():
    rng = np.random.default_rng(0)
    maskable = np.ones(200, dtype=bool)
    maskable[[0, 50, 199]] = False
    for rate in (0.3, 0.15):
        counts = [span_mask(maskable, rate, 3.0, rng).sum() for _ in range(200)]
        # Every document gets its share: the count is floor/ceil of rate × maskable tokens.
        assert set(counts) <= {int(np.floor(rate * 197)), int(np.ceil(rate * 197))}
    mask = span_mask(maskable, 0.9, 3.0, rng)
    assert not mask[[0, 50, 199]].any()


def test_short_documents_keep_the_expected_rate():
    rng = np.random.default_rng(1)
    maskable = np.ones(5, dtype=bool)
    total = sum(span_mask(maskable, 0.15, 3.0, rng).sum() for _ in range(4000))
    assert abs(total / (4000 * 5) - 0.15) < 0.01


def test_span_lengths_follow_poisson_mean():
    rng = np.random.default_rng(2)
    lengths = []
    for _ in range(300):
        mask = span_mask(np.ones(2000, dtype=bool), 0.05, 4.0, rng)
        edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
        lengths += list(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))
    # Spans may touch and merge, so the run length is a bit above the mean of max(1, Poisson(4)).
    assert 3.8 < np.mean(lengths) < 4.8


def test_stochastic_round_is_unbiased():
    rng = np.random.default_rng(3)
    assert abs(np.mean([stochastic_round(2.3, rng) for _ in range(5000)]) - 2.3) < 0.03


def test_replacement_80_10_10():
    rng = np.random.default_rng(4)
    ids = np.full(100_000, 7, dtype=np.int64)
    mask = np.zeros(len(ids), dtype=bool)
    mask[::2] = True
    replacements = non_special_ids(100, (0, 1, 2, 3, 4))
    corrupted, labels = replace_masked(ids, mask, rng, 4, replacements)
    assert (labels[mask] == 7).all() and (labels[~mask] == IGNORE_INDEX).all()
    assert (corrupted[~mask] == 7).all()
    masked = corrupted[mask]
    assert abs((masked == 4).mean() - 0.8) < 0.01
    random_share = ((masked != 4) & (masked != 7)).mean()
    assert abs(random_share - 0.1 * (1 - 1 / 95)) < 0.01  # a random draw of 7 looks unchanged
    assert not np.isin(masked[masked != 4], [0, 1, 2, 3]).any()


def test_guided_documents_cover_mined_spans():
    rng = np.random.default_rng(5)
    maskable = np.ones(100, dtype=bool)
    spans = np.array([[10, 13], [40, 42], [70, 74]])
    for _ in range(50):
        mask = span_mask(maskable, 0.3, 3.0, rng, guided_spans=spans)
        assert all(mask[s:e].all() for s, e in spans)
        assert mask.sum() in (30, 31)


class _Docs:
    """A stand-in source with two documents and mined spans on each."""

    name = "shop"
    has_spans = True
    lengths = np.array([60, 60])

    def document(self, index):
        return np.arange(10, 70, dtype=np.int64)

    def spans(self, index):
        return np.array([[5, 8], [20, 24]])


class _Component:
    def locate(self, index):
        return _Docs(), index


def test_guided_share_and_coverage_in_packs():
    tokens = TokenSpec(cls_token_id=2, sep_token_id=3, mask_token_id=4, special_ids=(0, 1, 2, 3, 4), vocab_size=100)
    spec = MaskingConfig(rate=0.15, mean_span=3.0, guided_share=0.05)
    repl = non_special_ids(100, tokens.special_ids)
    guided = total = 0
    for seed in range(400):
        batch = pack_to_batch([(0, 0, 0, 60)] * 10, [_Component()], tokens, spec, np.random.default_rng(seed), repl)
        guided += batch.guided_docs
        total += batch.num_docs
        assert batch.input_ids[0] == 2 and batch.input_ids[61] == 3
        assert (batch.labels[batch.cu_seqlens[:-1]] == IGNORE_INDEX).all()  # [CLS] never predicted
    assert abs(guided / total - 0.05) < 0.015
    # A share of 1 makes every document guided; its spans (shifted by [CLS]) are all predicted.
    spec = MaskingConfig(rate=0.15, mean_span=3.0, guided_share=1.0)
    batch = pack_to_batch([(0, 0, 0, 60)], [_Component()], tokens, spec, np.random.default_rng(0), repl)
    assert batch.guided_docs == 1
    assert (batch.labels[6:9] != IGNORE_INDEX).all() and (batch.labels[21:25] != IGNORE_INDEX).all()
