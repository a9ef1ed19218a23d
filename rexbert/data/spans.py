"""Guided MLM span mining (RexBERT §4): find domain-salient spans and store them per document.

Miners are pluggable and each returns a list of phrases or character spans:

* `PatternMiner` — attribute–value pairs ("color: navy", "size 10"), quantities with units
  ("500 ml", "6.5 inch") and model numbers ("XPS-13", "SM-G991B"), by regular expression;
* `PhraseMiner` — frequency/PMI phrase mining: word n-grams (2–3 words) that occur at least
  `min_count` times with a positive pointwise mutual information, plus brand-like capitalised
  words; when a reference (general) source is given, only phrases that are `min_salience` times
  more frequent in the domain than in the reference are kept;
* `DictionaryMiner` — phrases from a user file, one per line (brand lists, catalogue attributes).

Marking maps the character spans onto the shard's token positions (reading each shard's
documents again from its input exactly as the shard was built, re-tokenising them with offsets and
checking that the document counts match the shard) and writes one `<shard>.spans.npy` per shard
with int64 rows (document, start, end).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rexbert.data.shards import ShardSet, shard_documents
from rexbert.data.tokenizer import load_backend, load_tokenizer_info
from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json, atomic_write_text

if TYPE_CHECKING:
    from rexbert.data.api import SpansConfig

ATTRIBUTES = (
    "color", "colour", "size", "material", "fabric", "fit", "pattern", "style", "weight", "length",
    "width", "height", "depth", "capacity", "pack", "gender", "brand", "model", "type", "finish",
    "sleeve", "neck", "storage", "ram", "memory", "screen", "display", "battery", "power", "voltage",
)
UNITS = (
    "mm", "cm", "m", "km", "in", "inch", "inches", "ft", "feet", "kg", "g", "mg", "lb", "lbs", "oz",
    "ml", "l", "litre", "liter", "gb", "tb", "mb", "mah", "w", "kw", "v", "hz", "ghz", "mp", "pcs",
    "pieces", "pack", "count", "ct", "%",
)
STOPWORDS = frozenset(
    "a an the and or of to in on for with at by from as is are was were be been it its this that "
    "these those his her their our your my we you they he she i not no but if then than so such "
    "into over under about after before more most other some any all each can will would may".split()
)

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'&\-]*|\d+(?:\.\d+)?")


class PatternMiner:
    """Regular-expression spans: attribute–value pairs, quantities with units, model numbers."""

    kind = "pattern"

    def __init__(self) -> None:
        attributes = "|".join(ATTRIBUTES)
        units = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
        self.patterns = {
            "attribute_value": re.compile(
                rf"\b(?:{attributes})\s*[:=\-]?\s*(?:[A-Za-z]+(?:[ \-][A-Za-z]+)?|\d+(?:\.\d+)?[A-Za-z]*)\b",
                re.IGNORECASE,
            ),
            "quantity": re.compile(rf"\b\d+(?:[.,]\d+)?\s?(?:{units})(?![A-Za-z])", re.IGNORECASE),
            # Letters and digits mixed, optionally hyphenated: "XPS-13", "SM-G991B", "WH1000XM4".
            "model_number": re.compile(
                r"\b(?=[A-Za-z0-9\-]*\d)(?=[A-Za-z0-9\-]*[A-Za-z])[A-Za-z0-9]{2,}(?:-[A-Za-z0-9]+)*\b"
            ),
        }

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, kind) character spans of every pattern match."""
        found = []
        for kind, pattern in self.patterns.items():
            for match in pattern.finditer(text):
                if kind == "model_number" and len(match.group(0)) < 4:
                    continue  # "4k", "x2": too short to be a model number
                found.append((match.start(), match.end(), kind))
        return found


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


class PhraseMiner:
    """Frequency/PMI phrase mining over word n-grams, with optional domain salience."""

    kind = "phrase"

    def __init__(self, min_count: int = 5, max_phrases: int = 5000, min_pmi: float = 1.0,
                 min_salience: float = 2.0) -> None:
        self.min_count = min_count
        self.max_phrases = max_phrases
        self.min_pmi = min_pmi
        self.min_salience = min_salience

    @staticmethod
    def _counts(texts: Iterable[str]) -> tuple[Counter, Counter, Counter, Counter]:
        unigrams: Counter = Counter()
        ngrams: Counter = Counter()
        capitalised: Counter = Counter()
        lowered: Counter = Counter()
        for text in texts:
            words = _words(text)
            lower = [w.lower() for w in words]
            unigrams.update(lower)
            for n in (2, 3):
                for i in range(len(lower) - n + 1):
                    ngrams[tuple(lower[i:i + n])] += 1
            for i, word in enumerate(words):
                # Away from a sentence start, a word that is (almost) always capitalised is a
                # name candidate (brands); sentence starts say nothing about it.
                if i == 0 or words[i - 1].endswith("."):
                    continue
                lowered[word.lower()] += 1
                if word[0].isupper():
                    capitalised[word.lower()] += 1
        return unigrams, ngrams, capitalised, lowered

    def mine(self, domain_texts: Iterable[str], reference_texts: Iterable[str] | None = None) -> list[str]:
        """Phrases ranked by count × PMI (n-grams) and brand-like words, most salient first."""
        unigrams, ngrams, capitalised, lowered = self._counts(domain_texts)
        total = max(1, sum(unigrams.values()))
        reference: Counter | None = None
        ref_total = 1
        if reference_texts is not None:
            ref_unigrams, ref_ngrams, _, _ = self._counts(reference_texts)
            reference = ref_unigrams + ref_ngrams
            ref_total = max(1, sum(ref_unigrams.values()))
        scored: list[tuple[float, str]] = []
        for gram, count in ngrams.items():
            if count < self.min_count or gram[0] in STOPWORDS or gram[-1] in STOPWORDS:
                continue
            expected = math.prod(unigrams[w] / total for w in gram)
            pmi = math.log((count / total) / expected)
            if pmi < self.min_pmi or not self._salient(gram, count, total, reference, ref_total):
                continue
            scored.append((count * pmi, " ".join(gram)))
        for word, count in capitalised.items():
            if (count >= self.min_count and count >= 0.8 * lowered[word] and word not in STOPWORDS
                    and self._salient((word,), count, total, reference, ref_total)):
                scored.append((count * math.log(total / count), word))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [phrase for _, phrase in scored[: self.max_phrases]]

    def _salient(self, gram: tuple[str, ...], count: int, total: int, reference: Counter | None,
                 ref_total: int) -> bool:
        if reference is None:
            return True
        ref_key = gram if len(gram) > 1 else gram[0]
        ref_rate = (reference.get(ref_key, 0) + 1) / ref_total  # add-one: unseen in reference → salient
        return (count / total) / ref_rate >= self.min_salience


class DictionaryMiner:
    """Phrases from a user dictionary file (one phrase per line, `#` comments)."""

    kind = "dictionary"

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"--dictionary {path}: file not found")
        self.phrases = [
            line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not self.phrases:
            raise UserError(f"--dictionary {path}: no phrases in the file (one per line)")


class PhraseMatcher:
    """Case-insensitive whole-word matcher for a phrase list (longest match first)."""

    def __init__(self, phrases: list[str]) -> None:
        unique = sorted({p.lower() for p in phrases if p.strip()}, key=len, reverse=True)
        self.pattern = None
        if unique:
            body = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in unique)
            self.pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{body})(?![A-Za-z0-9])", re.IGNORECASE)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, "phrase") for every non-overlapping match."""
        if self.pattern is None:
            return []
        return [(m.start(), m.end(), "phrase") for m in self.pattern.finditer(text)]


def merge_char_spans(spans: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Union of overlapping character spans, sorted."""
    merged: list[list[int]] = []
    for start, end, _ in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def char_to_token_spans(char_spans: list[tuple[int, int]], offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Map character spans to [start, end) token spans: the tokens that overlap each span."""
    if not char_spans or not offsets:
        return []
    token_starts = np.asarray([o[0] for o in offsets])
    token_ends = np.asarray([o[1] for o in offsets])
    result = []
    for start, end in char_spans:
        first = int(np.searchsorted(token_ends, start, side="right"))
        last = int(np.searchsorted(token_starts, end, side="left"))
        if last > first:
            result.append((first, last))
    # Neighbouring character spans can share a token: merge overlapping token spans.
    merged: list[list[int]] = []
    for start, end in result:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _source_texts(shards: ShardSet, source: str) -> Iterator[str]:
    for shard in shards.index["sources"][source]["shards"]:
        yield from (document.text for document in shard_documents(shard, source))


def _mine_phrases(shards: ShardSet, sources: list[str], reference_sources: list[str],
                  cfg: SpansConfig) -> list[str]:
    phrases: list[str] = []
    if cfg.phrases:
        miner = PhraseMiner(min_count=cfg.min_count, max_phrases=cfg.max_phrases, min_pmi=cfg.min_pmi,
                            min_salience=cfg.min_salience)
        domain = (t for s in sources for t in _source_texts(shards, s))
        reference = (t for s in reference_sources for t in _source_texts(shards, s)) if reference_sources else None
        phrases = miner.mine(domain, reference)
    if cfg.dictionary is not None:
        phrases += DictionaryMiner(cfg.dictionary).phrases
    return phrases


def _shard_rows(backend, shard: dict[str, Any], source: str, matcher: PhraseMatcher,
                patterns: PatternMiner | None, kinds: Counter) -> tuple[np.ndarray, int, int]:
    """Span rows (document, start, end) of one shard, its document count and how many have spans."""
    rows: list[tuple[int, int, int]] = []
    doc = with_spans = 0
    texts = [document.text for document in shard_documents(shard, source)]
    for begin in range(0, len(texts), 512):
        batch = texts[begin:begin + 512]
        for text, enc in zip(batch, backend.encode_batch(batch, add_special_tokens=False), strict=True):
            if not enc.ids:
                continue  # dropped as empty when the shard was built
            found = matcher.spans(text) + (patterns.spans(text) if patterns else [])
            kinds.update(kind for _, _, kind in found)
            token_spans = char_to_token_spans(merge_char_spans(found), enc.offsets)
            rows.extend((doc, s, e) for s, e in token_spans)
            with_spans += bool(token_spans)
            doc += 1
    if doc != shard["documents"]:
        raise UserError(
            f"{shard['input']}: has {doc} documents now but its shard has {shard['documents']}; "
            "the input changed since `rexbert shards build` — rebuild the shards first"
        )
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3), doc, with_spans


def mark_spans(shards_dir: str | Path, sources: list[str], reference_sources: list[str], cfg: SpansConfig,
               progress: bool = True) -> tuple[dict, list[Path]]:
    """Mine salient spans in `sources` and write `<shard>.spans.npy` next to each of their shards.

    Returns the summary also written to `shards_dir/spans.json` (lexicon size, spans per kind,
    share of documents with at least one span) and the span files. Reruns overwrite the span
    files atomically.
    """
    from rexbert.progress import Progress

    shards = ShardSet(shards_dir)
    for name in [*sources, *reference_sources]:
        shards.source(name)  # validates the name and the shard files
    info = load_tokenizer_info(shards.index["tokenizer"]["path"])
    shards.check_tokenizer(info)
    backend = load_backend(info.path)
    if not cfg.phrases and not cfg.patterns and cfg.dictionary is None:
        raise UserError("span mining has nothing to use: enable patterns, phrases or pass --dictionary")
    phrases = _mine_phrases(shards, sources, reference_sources, cfg)
    if not phrases and not cfg.patterns:
        raise UserError(f"span mining found no phrase seen {cfg.min_count}+ times and patterns are off; "
                        "lower --min-count, pass --dictionary or leave --patterns on")
    matcher = PhraseMatcher(phrases)
    patterns = PatternMiner() if cfg.patterns else None
    kinds: Counter = Counter()
    documents = documents_with_spans = 0
    files: list[Path] = []
    all_shards = [(s, shard) for s in sources for shard in shards.index["sources"][s]["shards"]]
    for source, shard in Progress.wrap(all_shards, desc="mining spans", unit="shard", enabled=progress):
        array, count, with_spans = _shard_rows(backend, shard, source, matcher, patterns, kinds)
        documents += count
        documents_with_spans += with_spans
        stem = shards.root / shard["path"]
        tmp = stem.with_suffix(".spans.tmp.npy")
        np.save(tmp, array)
        tmp.replace(stem.with_suffix(".spans.npy"))
        files.append(stem.with_suffix(".spans.npy"))
    summary = {
        "sources": sources,
        "reference_sources": reference_sources,
        "phrases": len(phrases),
        "matches_per_kind": dict(sorted(kinds.items())),
        "documents": documents,
        "documents_with_spans": documents_with_spans,
        "share_with_spans": documents_with_spans / max(1, documents),
    }
    atomic_write_text(shards.root / "spans_lexicon.txt", "".join(p + "\n" for p in phrases))
    atomic_write_json(shards.root / "spans.json", summary)
    return summary, files
