"""Variety statistics of the generated text, stored in manifest.json.

They show that the demo text is not a handful of templates and that commerce and non-commerce
text differ: distinct n-gram ratios and type/token ratio on equal-size samples (both depend on
sample size, so every group is measured on the same number of tokens), vocabulary overlap and
the Jensen–Shannon divergence between the two unigram distributions, and how much of the
catalogue titles' vocabulary each side of the corpus covers.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

_TOKEN = re.compile(r"[a-z0-9]+(?:['.-][a-z0-9]+)*")
SAMPLE_TOKENS = 100_000


def tokens(text: str) -> list[str]:
    """Lower-case word tokens (numbers and hyphenated words kept whole)."""
    return _TOKEN.findall(text.lower())


def _sample(texts: Iterable[str], limit: int) -> list[str]:
    out: list[str] = []
    for text in texts:
        out.extend(tokens(text))
        if len(out) >= limit:
            break
    return out[:limit]


def distinct_ratio(words: list[str], n: int) -> float:
    """Distinct n-grams / all n-grams (distinct-n)."""
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def group_stats(texts: list[str]) -> dict:
    """Token count, vocabulary size, and distinct-n / type-token ratio on a fixed-size sample."""
    counts = Counter(w for t in texts for w in tokens(t))
    sample = _sample(texts, SAMPLE_TOKENS)
    return {
        "documents": len(texts),
        "tokens": sum(counts.values()),
        "vocabulary": len(counts),
        "sample_tokens": len(sample),
        "type_token_ratio": round(distinct_ratio(sample, 1), 4),
        **{f"distinct_{n}gram_ratio": round(distinct_ratio(sample, n), 4) for n in (2, 3, 4)},
        "distinct_4grams_in_sample": len({tuple(sample[i:i + 4]) for i in range(len(sample) - 3)}),
    }


def _js_divergence(a: Counter, b: Counter) -> float:
    total_a, total_b = sum(a.values()), sum(b.values())
    divergence = 0.0
    for word in sorted(set(a) | set(b)):  # fixed order: float sums must not depend on hash seeds
        p, q = a[word] / total_a, b[word] / total_b
        m = (p + q) / 2
        if p:
            divergence += 0.5 * p * math.log2(p / m)
        if q:
            divergence += 0.5 * q * math.log2(q / m)
    return divergence


def variety_statistics(commerce: list[str], non_commerce: list[str], titles: list[str]) -> dict:
    """All statistics for the manifest; inputs are clean English documents and catalogue titles."""
    c_counts = Counter(_sample(commerce, 10 * SAMPLE_TOKENS))
    n_counts = Counter(_sample(non_commerce, 10 * SAMPLE_TOKENS))
    c_vocab, n_vocab = set(c_counts), set(n_counts)
    title_tokens = [w for t in titles for w in tokens(t)]
    title_lengths = [len(t.split()) for t in titles]
    return {
        "commerce": group_stats(commerce),
        "non_commerce": group_stats(non_commerce),
        "catalogue_titles": {
            "titles": len(titles),
            "distinct_titles": len(set(titles)),
            "mean_words": round(sum(title_lengths) / max(1, len(title_lengths)), 2),
            "min_words": min(title_lengths, default=0),
            "max_words": max(title_lengths, default=0),
            "title_tokens_in_commerce_vocabulary": round(
                sum(w in c_vocab for w in title_tokens) / max(1, len(title_tokens)), 4),
            "title_tokens_in_non_commerce_vocabulary": round(
                sum(w in n_vocab for w in title_tokens) / max(1, len(title_tokens)), 4),
        },
        "overlap": {
            "note": "measured on up to 1M tokens per side",
            "vocabulary_jaccard": round(len(c_vocab & n_vocab) / max(1, len(c_vocab | n_vocab)), 4),
            "non_commerce_tokens_in_commerce_vocabulary": round(
                sum(n for w, n in n_counts.items() if w in c_vocab) / max(1, sum(n_counts.values())), 4),
            "unigram_js_divergence_bits": round(_js_divergence(c_counts, n_counts), 4),
        },
    }
