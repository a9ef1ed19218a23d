"""Span-aware whole-word masking: ratio, whole words, determinism."""

import pytest

from rexbert.evaluate.masking import group_words, span_mask


def word_ids_for(lengths):
    """[CLS] + words with the given piece counts + [SEP], as a fast tokenizer reports them."""
    ids = [None]
    for word, pieces in enumerate(lengths):
        ids += [word] * pieces
    return ids + [None]


def test_group_words_skips_specials():
    assert group_words([None, 0, 0, 1, None]) == [[1, 2], [3]]


def test_mask_covers_whole_words_and_the_ratio():
    lengths = [1, 2, 1, 3, 1, 1, 2, 1, 1, 1] * 4  # 56 tokens in 40 words
    ids = word_ids_for(lengths)
    words = group_words(ids)
    for row in range(20):
        masked = set(span_mask(ids, 0.15, seed=0, row=row))
        budget = round(0.15 * 56)
        # Budget met, overshoot at most the rest of one 3-piece word.
        assert budget <= len(masked) <= budget + 2
        for word in words:  # every word is entirely masked or entirely kept
            assert {p in masked for p in word} in ({True}, {False})
        assert not masked & {0, len(ids) - 1}  # never a special token


def test_mask_is_deterministic_by_seed_and_row():
    ids = word_ids_for([1] * 60)
    assert span_mask(ids, 0.15, 0, 7) == span_mask(ids, 0.15, 0, 7)
    draws = {tuple(span_mask(ids, 0.15, seed, 7)) for seed in range(5)}
    assert len(draws) > 1


def test_mask_forms_spans():
    ids = word_ids_for([1] * 200)
    masked = span_mask(ids, 0.15, seed=1, row=0)
    runs = sum(1 for i, p in enumerate(masked) if i == 0 or masked[i - 1] != p - 1)
    assert runs < len(masked)  # some masked words are adjacent: spans, not isolated tokens


def test_short_text_gets_at_least_one_mask_and_empty_gets_none():
    assert len(span_mask(word_ids_for([1, 1]), 0.15, 0, 0)) == 1
    assert span_mask([None, None], 0.15, 0, 0) == []
    with pytest.raises(ValueError):
        span_mask(word_ids_for([1]), 1.5, 0, 0)
