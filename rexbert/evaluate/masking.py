"""Span-aware masking for masked-token recovery: whole words, in contiguous spans.

Masking single sub-word pieces makes recovery easy (the rest of the word gives it away), so the
evaluation masks whole words, grouped into spans of consecutive words whose lengths follow a
geometric distribution (SpanBERT's scheme: p = 0.2, clipped), until `ratio` of the text's tokens
are masked. The random stream depends only on the seed and the text's row number, so

* the same tokenization always gets the same mask (reruns, different batch sizes, `--max-examples`);
* models that share a tokenizer are scored on exactly the same masked positions;
* models with different tokenizers get their own deterministic mask at the same ratio, drawn over
  their own word segmentation (masked positions cannot be shared across vocabularies).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPAN_P = 0.2  # SpanBERT's geometric parameter: mean span ≈ 1/p words before clipping
MAX_SPAN_WORDS = 5  # clip: product titles are ~10–20 words, a 10-word span would erase them


def group_words(word_ids: Sequence[int | None]) -> list[list[int]]:
    """Token positions of each word, in order; special tokens (word id None) are left out.

    A word split by truncation keeps the pieces that survived. Tokenizers without word ids
    (slow tokenizers) pass `range(n)`, making every token its own word.
    """
    words: list[list[int]] = []
    previous: int | None = None
    for position, word in enumerate(word_ids):
        if word is None:
            previous = None
            continue
        if word != previous or not words:
            words.append([])
        words[-1].append(position)
        previous = word
    return words


def span_mask(
    word_ids: Sequence[int | None],
    ratio: float,
    seed: int,
    row: int,
    span_p: float = SPAN_P,
    max_span_words: int = MAX_SPAN_WORDS,
) -> list[int]:
    """Sorted token positions to mask in one text.

    The budget is `round(ratio × tokens)` (at least one token when the text has any); spans are
    added word by word and stop as soon as the budget is met, so the masked share overshoots
    only by the remainder of the last word.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"mask ratio must be in (0, 1), got {ratio}")
    words = group_words(word_ids)
    n_tokens = sum(len(w) for w in words)
    if n_tokens == 0:
        return []
    budget = max(1, round(ratio * n_tokens))
    rng = np.random.default_rng([seed, row])
    is_masked = [False] * len(words)
    masked: list[int] = []
    while len(masked) < budget:
        free = [i for i, done in enumerate(is_masked) if not done]
        if not free:
            break
        span = min(int(rng.geometric(span_p)), max_span_words)
        start = free[int(rng.integers(len(free)))]
        for index in range(start, min(start + span, len(words))):
            if is_masked[index] or len(masked) >= budget:
                break
            is_masked[index] = True
            masked.extend(words[index])
    return sorted(masked)
