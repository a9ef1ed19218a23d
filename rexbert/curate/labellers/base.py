"""The labeller interface, the versioned prompt, the on-disk label cache and the factory.

A labeller maps documents to `Label(label, score, reason)`, where `label` says whether the
document is commerce-relevant (the operational definition lives in the versioned prompt file
`rexbert/curate/prompts/commerce_relevance_v1.md`). Backends that cost money or GPU time
(`openai`, `hf`) go through `LabelCache`: labels are keyed by (document id, prompt version,
model), committed one by one, so a rerun never pays twice and a crash loses no finished label.
"""

from __future__ import annotations

import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rexbert.errors import UserError


@dataclass(frozen=True)
class LabelItem:
    """One document to label."""

    id: str
    domain: str
    text: str


@dataclass
class Label:
    """A relevance judgement: `label` True = commerce-relevant; `score` in [0, 1] when known."""

    id: str
    label: bool
    score: float
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "label": self.label, "score": round(float(self.score), 6), "reason": self.reason}


@dataclass
class Prompt:
    """A versioned labelling prompt: system text and a user template with {domain} and {text}."""

    version: str
    system: str
    user_template: str
    fewshot: list[tuple[str, str, bool, str]] = field(default_factory=list)  # (domain, text, label, reason)

    @property
    def effective_version(self) -> str:
        """The version used in cache keys: few-shot examples change the prompt, so they change the key."""
        if not self.fewshot:
            return self.version
        import hashlib

        digest = hashlib.sha1(repr(self.fewshot).encode("utf-8")).hexdigest()[:10]
        return f"{self.version}+fewshot-{digest}"

    def render_user(self, domain: str, text: str) -> str:
        """The user message for one document."""
        return self.user_template.replace("{domain}", domain).replace("{text}", text)


_SECTION = re.compile(r"^## (System|User)\s*$", re.MULTILINE)


def load_prompt(name_or_path: str) -> Prompt:
    """Read a prompt file: a shipped name (e.g. `commerce_relevance_v1`) or a path to a `.md` file.

    Format: a front matter block with `version: <name>`, then `## System` and `## User` sections.
    """
    if name_or_path.endswith(".md") or "/" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise UserError(f"{path}: prompt file not found; set labelling.prompt to a shipped name or an existing .md file")
        raw, source = path.read_text("utf-8"), str(path)
    else:
        ref = resources.files("rexbert.curate").joinpath(f"prompts/{name_or_path}.md")
        if not ref.is_file():
            raise UserError(f"labelling.prompt: no shipped prompt named {name_or_path!r}; use commerce_relevance_v1 or a .md path")
        raw, source = ref.read_text("utf-8"), name_or_path
    match = re.search(r"^---\s*\n(.*?)\n---\s*\n", raw, re.DOTALL)
    version = None
    if match:
        for line in match.group(1).splitlines():
            if line.strip().startswith("version:"):
                version = line.split(":", 1)[1].strip()
    parts = _SECTION.split(raw[match.end():] if match else raw)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if not version or "System" not in sections or "User" not in sections:
        raise UserError(f"{source}: a prompt file needs front matter 'version: NAME' and '## System' and '## User' sections")
    if "{text}" not in sections["User"]:
        raise UserError(f"{source}: the '## User' section must contain the placeholder {{text}}")
    return Prompt(version=version, system=sections["System"], user_template=sections["User"])


class LabelCache:
    """SQLite table of labels keyed by (doc id, prompt version, model); every put is committed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: labels arrive from worker threads but are written by one
        # thread at a time (the caller serialises puts).
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS labels (doc_id TEXT, prompt_version TEXT, model TEXT, label INTEGER,"
            " score REAL, reason TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,"
            " PRIMARY KEY (doc_id, prompt_version, model))"
        )
        self._db.commit()

    def get_many(self, ids: Sequence[str], prompt_version: str, model: str) -> dict[str, Label]:
        """Cached labels among `ids`."""
        found: dict[str, Label] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self._db.execute(
                f"SELECT doc_id, label, score, reason FROM labels WHERE prompt_version=? AND model=? "
                f"AND doc_id IN ({','.join('?' * len(chunk))})",
                [prompt_version, model, *chunk],
            ).fetchall()
            for doc_id, label, score, reason in rows:
                found[doc_id] = Label(doc_id, bool(label), float(score), reason)
        return found

    def put(self, label: Label, prompt_version: str, model: str, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        """Store one label durably (committed before returning)."""
        self._db.execute(
            "INSERT OR REPLACE INTO labels VALUES (?,?,?,?,?,?,?,?)",
            (label.id, prompt_version, model, int(label.label), float(label.score), label.reason,
             prompt_tokens, completion_tokens),
        )
        self._db.commit()

    def count(self, prompt_version: str | None = None, model: str | None = None) -> int:
        """How many labels are cached (optionally for one prompt version and model)."""
        if prompt_version is None:
            return self._db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
        return self._db.execute(
            "SELECT COUNT(*) FROM labels WHERE prompt_version=? AND model=?", (prompt_version, model)
        ).fetchone()[0]

    def close(self) -> None:
        """Close the database."""
        self._db.close()


class Labeller(ABC):
    """Commerce-relevance labeller. Subclasses implement `_label`, `identity` and `refine`."""

    backend: str = ""

    def __init__(self) -> None:
        self.usage: dict[str, int] = {"documents": 0, "cached": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                      "requests": 0, "retries": 0, "unparseable": 0}

    @abstractmethod
    def identity(self) -> str:
        """A short description of the labeller's current state (backend, model, version, threshold)."""

    @abstractmethod
    def _label(self, items: Sequence[LabelItem]) -> list[Label]:
        """Label `items` (same order)."""

    def label(self, items: Sequence[LabelItem]) -> list[Label]:
        """Label `items`, returned in the same order."""
        labels = self._label(items)
        self.usage["documents"] += len(items)
        return labels

    def refine(self, items: Sequence[LabelItem], own: Sequence[Label], reference: Sequence[Label],
               max_examples: int) -> str:
        """Adjust the labeller towards `reference` (the auditor's labels); return what changed.

        The default does nothing; offline backends tune thresholds/prototypes, prompt backends
        add few-shot examples drawn from the disagreements.
        """
        return "no refinement available for this backend"

    def prepare(self, items: Sequence[LabelItem]) -> None:  # noqa: B027 (optional hook)
        """See the unlabelled sample before labelling it (a transductive labeller adapts to it); default: nothing."""

    def use_seed_labels(self, items: Sequence[LabelItem], labels: Sequence[bool], max_examples: int = 0) -> str:
        """Learn from a user's hand-labelled documents before labelling; return what was done.

        The default learns nothing (the audit still holds the labeller against the seeds as
        gold); backends override it: the embedding head is fitted on them, the lexicon re-picks
        its threshold, prompt backends take up to `max_examples` of them as few-shot examples.
        """
        return f"{self.backend} does not learn from seed labels; they are gold for the audit"

    def state(self) -> dict[str, Any]:
        """What `refine` changed, to save beside the audit log."""
        return {}

    def close(self) -> None:  # noqa: B027 (optional hook; most backends hold nothing to release)
        """Release resources (connections, models)."""


class CachedLabeller(Labeller):
    """A labeller whose labels go through a `LabelCache` (expensive backends)."""

    def __init__(self, cache: LabelCache, model_name: str, prompt: Prompt) -> None:
        super().__init__()
        self.cache = cache
        self.model_name = model_name
        self.prompt = prompt

    @abstractmethod
    def _label_missing(self, items: Sequence[LabelItem], on_label: Callable[..., None]) -> None:
        """Label `items`, calling `on_label(label, prompt_tokens, completion_tokens[, cache])` as each finishes."""

    def _label(self, items: Sequence[LabelItem]) -> list[Label]:
        version = self.prompt.effective_version
        cached = self.cache.get_many([it.id for it in items], version, self.model_name)
        self.usage["cached"] += len(cached)
        missing = [it for it in items if it.id not in cached]
        results = dict(cached)

        def on_label(label: Label, prompt_tokens: int, completion_tokens: int, cache: bool = True) -> None:
            results[label.id] = label
            if cache:
                self.cache.put(label, version, self.model_name, prompt_tokens, completion_tokens)
            self.usage["prompt_tokens"] += prompt_tokens
            self.usage["completion_tokens"] += completion_tokens

        if missing:
            self._label_missing(missing, on_label)
        return [results[it.id] for it in items]

    def refine(self, items: Sequence[LabelItem], own: Sequence[Label], reference: Sequence[Label],
               max_examples: int) -> str:
        """Add few-shot examples from disagreements (false negatives and false positives alternately)."""
        wrong = [(it, ref) for it, mine, ref in zip(items, own, reference, strict=True) if mine.label != ref.label]
        if not wrong or max_examples == 0:
            return "no disagreements to learn from"
        positives = [w for w in wrong if w[1].label]
        negatives = [w for w in wrong if not w[1].label]
        picked = []
        while len(picked) < max_examples and (positives or negatives):
            for pool in (positives, negatives):
                if pool and len(picked) < max_examples:
                    picked.append(pool.pop(0))
        known = {ex[1] for ex in self.prompt.fewshot}
        for item, ref in picked:
            text = item.text[:600]
            if text not in known:
                self.prompt.fewshot.append((item.domain, text, ref.label, ref.reason[:120]))
        return f"added {len(picked)} few-shot example(s) from disagreements; prompt is now {self.prompt.effective_version}"

    def use_seed_labels(self, items: Sequence[LabelItem], labels: Sequence[bool], max_examples: int = 0) -> str:
        """Up to `max_examples` seed documents become few-shot examples, relevant and not alternately."""
        pools = [[it for it, y in zip(items, labels, strict=True) if y], [it for it, y in zip(items, labels, strict=True) if not y]]
        picked: list[tuple[LabelItem, bool]] = []
        while len(picked) < max_examples and any(pools):
            for relevant, pool in zip((True, False), pools, strict=True):
                if pool and len(picked) < max_examples:
                    picked.append((pool.pop(0), relevant))
        for item, relevant in picked:
            self.prompt.fewshot.append((item.domain, item.text[:600], relevant, "seed label"))
        return f"took {len(picked)} seed label(s) as few-shot examples; prompt is now {self.prompt.effective_version}"

    def state(self) -> dict[str, Any]:
        """The few-shot examples in use."""
        return {"prompt_version": self.prompt.effective_version, "fewshot": len(self.prompt.fewshot)}


def build_labeller(cfg, prompt: Prompt, cache_path: str | Path, seed: int = 0) -> Labeller:
    """Instantiate the labeller described by a `LabellerConfig`."""
    if cfg.backend == "lexicon":
        from rexbert.curate.labellers.lexicon import LexiconLabeller

        return LexiconLabeller(cfg.lexicon)
    if cfg.backend == "embedding":
        from rexbert.curate.labellers.embedding import EmbeddingLabeller

        return EmbeddingLabeller(cfg.embedding, Path(cache_path).with_name("embedding_cache.sqlite"))
    if cfg.backend == "openai":
        from rexbert.curate.labellers.openai_chat import OpenAIChatLabeller

        return OpenAIChatLabeller(cfg.openai, prompt, LabelCache(cache_path))
    if cfg.backend == "hf":
        from rexbert.curate.labellers.hf import HFLabeller

        return HFLabeller(cfg.hf, prompt, LabelCache(cache_path))
    raise UserError(f"labeller backend {cfg.backend!r} is unknown; use lexicon, embedding, openai or hf")

