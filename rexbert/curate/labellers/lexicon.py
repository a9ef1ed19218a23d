"""Transparent keyword baseline: weighted commerce terms per 100 words, one threshold per domain."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from rexbert.curate.labellers.base import Label, LabelItem, Labeller
from rexbert.curate.metrics import best_kappa_threshold
from rexbert.curate.text_rules import words

LEXICON_VERSION = "commerce_lexicon_v1"


def load_lexicon() -> tuple[dict[str, float], dict[tuple[str, ...], float], dict[str, float]]:
    """(single words, phrases, symbols) with their weights, from the shipped lexicon file."""
    raw = resources.files("rexbert.curate").joinpath(f"resources/{LEXICON_VERSION}.txt").read_text("utf-8")
    single, phrases, symbols = {}, {}, {}
    for line in raw.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        term, weight = line.rsplit("\t", 1)
        if not any(c.isalnum() for c in term):
            symbols[term] = float(weight)
        elif " " in term:
            phrases[tuple(term.split())] = float(weight)
        else:
            single[term] = float(weight)
    return single, phrases, symbols


class LexiconLabeller(Labeller):
    """score = sum of matched term weights per 100 words; relevant when score > threshold."""

    backend = "lexicon"

    def __init__(self, options) -> None:
        super().__init__()
        self.default_threshold = float(options.threshold)
        self.thresholds: dict[str, float] = {}
        self.single, self.phrases, self.symbols = load_lexicon()

    def identity(self) -> str:
        """Backend, lexicon version and thresholds."""
        per_domain = ", ".join(f"{d}={t:.2f}" for d, t in sorted(self.thresholds.items()))
        return f"lexicon:{LEXICON_VERSION} threshold={self.default_threshold:.2f}" + (f" ({per_domain})" if per_domain else "")

    def score(self, text: str) -> tuple[float, list[str]]:
        """The raw lexicon score of one text and the terms that matched (most weight first)."""
        tokens = [w.lower() for w in words(text)]
        if not tokens:
            return 0.0, []
        hits: dict[str, float] = {}
        for token in tokens:
            if token in self.single:
                hits[token] = hits.get(token, 0.0) + self.single[token]
        for phrase, weight in self.phrases.items():
            n = len(phrase)
            count = sum(1 for i in range(len(tokens) - n + 1) if tuple(tokens[i:i + n]) == phrase)
            if count:
                hits[" ".join(phrase)] = weight * count
        for symbol, weight in self.symbols.items():
            count = text.count(symbol)
            if count:
                hits[symbol] = weight * count
        total = sum(hits.values()) * 100.0 / len(tokens)
        return total, sorted(hits, key=lambda t: -hits[t])

    def _threshold(self, domain: str) -> float:
        return self.thresholds.get(domain, self.default_threshold)

    def _label(self, items: Sequence[LabelItem]) -> list[Label]:
        labels = []
        for item in items:
            raw, terms = self.score(item.text)
            threshold = self._threshold(item.domain)
            # squash into [0, 1] with 0.5 at the threshold so scores are comparable across domains
            prob = raw / (raw + threshold) if raw + threshold > 0 else 0.0
            reason = f"matched: {', '.join(terms[:4])}" if terms else "no commerce terms"
            labels.append(Label(item.id, raw > threshold, prob, reason))
        return labels

    def refine(self, items: Sequence[LabelItem], own: Sequence[Label], reference: Sequence[Label],
               max_examples: int) -> str:
        """Re-pick each domain's threshold for the best kappa against the auditor's labels."""
        changes = []
        for domain in sorted({it.domain for it in items}):
            idx = [i for i, it in enumerate(items) if it.domain == domain]
            raw = np.array([self.score(items[i].text)[0] for i in idx])
            found = best_kappa_threshold(raw, [reference[i].label for i in idx])
            if found is None:
                continue
            old = self._threshold(domain)
            self.thresholds[domain] = max(found[0], 0.0)
            changes.append(f"{domain}: {old:.2f}->{self.thresholds[domain]:.2f}")
        return "thresholds " + ("; ".join(changes) if changes else "unchanged (single-class reference)")

    def use_seed_labels(self, items: Sequence[LabelItem], labels: Sequence[bool], max_examples: int = 0) -> str:
        """Re-pick the default threshold for the best kappa on the seed documents (all domains together)."""
        found = best_kappa_threshold([self.score(it.text)[0] for it in items], labels)
        if found is None:
            return "seed labels hold a single class; threshold unchanged"
        old, self.default_threshold = self.default_threshold, max(found[0], 0.0)
        return f"threshold {old:.2f}->{self.default_threshold:.2f} from {len(items)} seed label(s)"

    def state(self) -> dict[str, Any]:
        """Thresholds after refinement."""
        return {"default_threshold": self.default_threshold, "thresholds": dict(sorted(self.thresholds.items()))}
