"""Memory-mapped token shards with document boundaries, built in parallel and resumably.

Layout of a shard folder (the data → train contract)::

    OUT/index.json                          format, tokenizer fingerprint, dtype, per-source counts,
                                            rejected records by reason
    OUT/rejects.jsonl                       every record that could not be read, with its reason
    OUT/<source>/<NNNNN>_<stem>.tokens.bin  flat token ids of every document, no specials (dtype)
    OUT/<source>/<NNNNN>_<stem>.docs.npy    int64 offsets, n_documents + 1, starting at 0
    OUT/<source>/<NNNNN>_<stem>.spans.npy   optional, from `rexbert spans mine`: int64 [n, 3]
                                            rows (document, start, end) in document tokens
    OUT/.parts/<NNNNN>_<stem>.json          completion marker of input file NNNNN: its size and
                                            mtime, how it was read, the shards it gave

Input file NNNNN (in the order of the inputs) gives one shard per source among its documents; a
document's source is its domain (see `rexbert.sources.documents`), else the name of its input
folder. The marker is written last, so a rerun after a kill skips finished files and redoes only
the unfinished ones. Documents whose text encodes to zero tokens are dropped and counted
(`empty_documents`); records that cannot be read are rejected with a reason and counted
(`rejected`); nothing is lost in silence.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rexbert.data.tokenizer import TokenizerInfo, load_backend, load_tokenizer_info
from rexbert.errors import UserError
from rexbert.fileio import atomic_write_bytes, atomic_write_json, read_json
from rexbert.sources.documents import (
    BadRecord,
    Document,
    DocumentInput,
    holding_input,
    input_root,
    iter_documents,
    list_files,
    split_named,
)
from rexbert.sources.rejects import RejectLog, readable_documents

log = logging.getLogger(__name__)

FORMAT = "rexbert-token-shards/2"
READABLE_FORMATS = ("rexbert-token-shards/1", FORMAT)  # /1 lacks how each input was read
ENCODE_BATCH = 512
PARTS = ".parts"
REJECTS = "rejects.jsonl"
_RESERVED = {"index.json", REJECTS, "spans.json", "spans_lexicon.txt"}


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id fits (halves disk and page cache), else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 65_536 else np.dtype(np.uint32)


def _input_fingerprint(path: Path) -> dict:
    stat = path.stat()
    return {"input": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def source_name_problem(name: str) -> str | None:
    """Why `name` cannot name a source folder, or None when it can."""
    if not name or name.startswith(".") or "/" in name or "\x00" in name:
        return f"{name!r} cannot name a source folder (empty, hidden or with '/')"
    if name in _RESERVED:
        return f"{name!r} is the name of a file of the shard folder"
    return None


@dataclass(frozen=True)
class FileReader:
    """How one input file is read into (source, document) pairs; recorded with its shards so that
    span mining reads exactly the documents the shards hold."""

    spec: DocumentInput  # the one input (PATH or NAME=PATH) the file was listed from
    path: Path
    path_domain: str | None
    default_source: str

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.spec.model_dump(mode="json"), "path_domain": self.path_domain,
                "default_source": self.default_source}

    @classmethod
    def from_json(cls, path: str | Path, data: dict[str, Any]) -> FileReader:
        return cls(DocumentInput.model_validate(data["spec"]), Path(path), data["path_domain"],
                   data["default_source"])

    def documents(self, rejects: RejectLog) -> Iterator[tuple[str, Document]]:
        """(source, document) for each readable document; the rest go to `rejects`."""
        items = iter_documents(self.spec, on_error="skip", files=[(self.path, self.path_domain)])
        for document in readable_documents(items, rejects):
            source = document.domain or self.default_source
            problem = source_name_problem(source)
            if problem is not None:
                raw = json.dumps({"id": document.id, "domain": source}, ensure_ascii=False)
                rejects.reject(BadRecord("bad_domain", problem, document.source, document.line, raw))
                continue
            yield source, document


@dataclass(frozen=True)
class _ShardJob:
    reader: FileReader
    name: str  # NNNNN_<stem>
    out_dir: Path
    tokenizer_dir: Path
    tokenizer_fingerprint: str
    dtype: str

    @property
    def marker_path(self) -> Path:
        return self.out_dir / PARTS / f"{self.name}.json"

    @property
    def rejects_path(self) -> Path:
        return self.out_dir / PARTS / f"{self.name}.rejects.jsonl"

    def identity(self) -> dict[str, Any]:
        """What a finished marker must match for its shards to be reused."""
        return {**_input_fingerprint(self.reader.path), "reader": self.reader.to_json(), "dtype": self.dtype,
                "tokenizer": self.tokenizer_fingerprint}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_documents(backend, texts: list[str]) -> list[list[int]]:
    """Token ids of each text without special tokens (the packer adds [CLS]/[SEP] per chunk)."""
    return [enc.ids for enc in backend.encode_batch(texts, add_special_tokens=False)]


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _ShardWriter:
    """Appends the documents of one (input file, source) pair to its shard files."""

    def __init__(self, out_dir: Path, source: str, name: str, dtype: np.dtype) -> None:
        self.out_dir, self.source = out_dir, source
        self.stem = out_dir / source / name
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        self.stem.with_suffix(".spans.npy").unlink(missing_ok=True)  # mined for an earlier build
        self.dtype, self.limit = dtype, np.iinfo(dtype).max
        self.tmp_tokens = self.stem.with_suffix(".tokens.bin.tmp")
        self.handle = self.tmp_tokens.open("wb")
        self.offsets, self.empty = [0], 0

    def add(self, ids: list[int], tokenizer_dir: Path) -> None:
        if not ids:
            self.empty += 1
            return
        array = np.asarray(ids, dtype=np.int64)
        if array.max() > self.limit:
            raise UserError(f"{tokenizer_dir}: token id {array.max()} does not fit {self.dtype}")
        array.astype(self.dtype).tofile(self.handle)
        self.offsets.append(self.offsets[-1] + len(ids))

    def finish(self) -> dict[str, Any]:
        """Move the finished files into place; returns the shard's entry for the marker."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.tmp_tokens, self.stem.with_suffix(".tokens.bin"))
        tmp_docs = self.stem.with_suffix(".docs.tmp.npy")
        np.save(tmp_docs, np.asarray(self.offsets, dtype=np.int64))
        os.replace(tmp_docs, self.stem.with_suffix(".docs.npy"))
        _fsync_dir(self.stem.parent)
        return {"source": self.source, "path": str(self.stem.relative_to(self.out_dir)),
                "documents": len(self.offsets) - 1, "tokens": self.offsets[-1], "empty_documents": self.empty}

    def abort(self) -> None:
        self.handle.close()
        self.tmp_tokens.unlink(missing_ok=True)


def _build_one(job: _ShardJob) -> dict:
    """Tokenise one input file into one shard per source; returns its completion marker."""
    backend = load_backend(job.tokenizer_dir)
    dtype = np.dtype(job.dtype)
    job.rejects_path.unlink(missing_ok=True)
    writers: dict[str, _ShardWriter] = {}
    try:
        with RejectLog(job.rejects_path) as rejects:
            for batch in _batches(job.reader.documents(rejects), ENCODE_BATCH):
                encoded = encode_documents(backend, [document.text for _, document in batch])
                for (source, _), ids in zip(batch, encoded, strict=True):
                    if source not in writers:
                        writers[source] = _ShardWriter(job.out_dir, source, job.name, dtype)
                    writers[source].add(ids, job.tokenizer_dir)
        shards = [writers[source].finish() for source in sorted(writers)]
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    marker = {**job.identity(), "shards": shards, "rejected": dict(sorted(rejects.counts.items()))}
    atomic_write_json(job.marker_path, marker)
    return marker


def _plan(inputs: list[DocumentInput], out_dir: Path, info: TokenizerInfo, dtype: str) -> list[_ShardJob]:
    jobs: list[_ShardJob] = []
    for spec in inputs:
        for path, path_domain in list_files(spec):
            value = holding_input(spec, path) or str(path)
            default_source = input_root(spec, path)[0].name or "default"
            problem = source_name_problem(default_source)
            if problem is not None:
                raise UserError(f"--input {value}: {problem}; name the input as NAME=PATH")
            # Absolute, so that span mining reads the same documents from any working folder.
            name, root = split_named(value)
            absolute = f"{name}={root.resolve()}" if name else str(root.resolve())
            reader = FileReader(spec.model_copy(update={"paths": [absolute]}), path.resolve(), path_domain,
                                default_source)
            name = f"{len(jobs):05d}_{path.name.split('.')[0]}"
            jobs.append(_ShardJob(reader, name, out_dir, info.path, info.fingerprint, dtype))
    return jobs


def _finished(job: _ShardJob) -> dict | None:
    """The job's marker when its shards are complete and were made from the same input."""
    if not job.marker_path.is_file():
        return None
    marker = read_json(job.marker_path)
    if {key: marker.get(key) for key in job.identity()} != job.identity():
        return None
    for shard in marker.get("shards", []):
        stem = job.out_dir / shard["path"]
        if not (stem.with_suffix(".tokens.bin").is_file() and stem.with_suffix(".docs.npy").is_file()):
            return None
    return marker


@dataclass(frozen=True)
class ShardPlan:
    """What `write_shards` will do: one job per input file, for one tokenizer and shard folder."""

    out_dir: Path
    info: TokenizerInfo
    dtype: str
    jobs: list[_ShardJob]


def plan_shards(inputs: list[DocumentInput], tokenizer_dir: str | Path, out_dir: str | Path) -> ShardPlan:
    """Check the tokenizer, the inputs and an earlier index in `out_dir`; writes nothing."""
    info = load_tokenizer_info(tokenizer_dir)
    out_dir = Path(out_dir)
    previous = out_dir / "index.json"
    if previous.is_file():
        old = read_json(previous)
        if old.get("tokenizer", {}).get("fingerprint") != info.fingerprint:
            raise UserError(f"{out_dir}: shards were built with another tokenizer; use a new --out folder")
    dtype = token_dtype(info.vocab_size).name
    return ShardPlan(out_dir, info, dtype, _plan(inputs, out_dir, info, dtype))


def write_shards(plan: ShardPlan, workers: int = 1, progress: bool = True) -> dict:
    """Tokenise every input file of `plan` and write `index.json`; returns the index.

    Finished input files (marker present and matching the input's size, mtime and reading, made
    by the same tokenizer) are kept, so a rerun after a kill does only the remaining work.
    """
    from rexbert.progress import Progress

    jobs = plan.jobs
    (plan.out_dir / PARTS).mkdir(parents=True, exist_ok=True)
    markers = {job.name: _finished(job) for job in jobs}
    todo = [job for job in jobs if markers[job.name] is None]
    if len(todo) < len(jobs):
        log.info("%d of %d input files already sharded; resuming with the rest", len(jobs) - len(todo), len(jobs))
    # A context manager: a bad file's one-line error is printed after the bar is closed.
    with Progress(total=len(todo), desc="token shards", unit="file", enabled=progress) as bar:
        if workers > 1 and len(todo) > 1:
            # Processes, not threads: tokenisation of one file is sequential Python + Rust work.
            os.environ["TOKENIZERS_PARALLELISM"] = "false"
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for job, marker in zip(todo, pool.map(_build_one, todo), strict=True):
                    markers[job.name] = marker
                    bar.update(detail=job.name)
        else:
            for job in todo:
                markers[job.name] = _build_one(job)
                bar.update(detail=job.name)
    _write_rejects(plan.out_dir, jobs)
    return _write_index(plan.out_dir, plan.info, plan.dtype, [markers[job.name] for job in jobs])


def _write_rejects(out_dir: Path, jobs: list[_ShardJob]) -> None:
    parts = [job.rejects_path.read_bytes() for job in jobs if job.rejects_path.is_file()]
    atomic_write_bytes(out_dir / REJECTS, b"".join(parts))


def _write_index(out_dir: Path, info: TokenizerInfo, dtype: str, markers: list[dict]) -> dict:
    sources: dict[str, dict] = {}
    rejected: Counter[str] = Counter()
    for marker in markers:
        rejected.update(marker["rejected"])
        for shard in marker["shards"]:
            entry = sources.setdefault(shard["source"], {"documents": 0, "tokens": 0, "empty_documents": 0,
                                                         "shards": []})
            for key in ("documents", "tokens", "empty_documents"):
                entry[key] += shard[key]
            entry["shards"].append({"path": shard["path"], "input": marker["input"], "reader": marker["reader"],
                                    "documents": shard["documents"], "tokens": shard["tokens"]})
    sources = dict(sorted(sources.items()))
    index = {
        "format": FORMAT,
        "dtype": dtype,
        "tokenizer": {
            "path": str(info.path.resolve()),
            "fingerprint": info.fingerprint,
            "vocab_size": info.vocab_size,
            "cls_token_id": info.cls_token_id,
            "sep_token_id": info.sep_token_id,
        },
        "total_tokens": sum(s["tokens"] for s in sources.values()),
        "total_documents": sum(s["documents"] for s in sources.values()),
        "rejected": {"documents": sum(rejected.values()), "reasons": dict(sorted(rejected.items())),
                     "file": REJECTS},
        "sources": sources,
    }
    atomic_write_json(out_dir / "index.json", index)
    return index


def shard_documents(shard: dict[str, Any], source: str) -> Iterator[Document]:
    """The documents of one shard entry of `index.json`, read again from its input as they were
    when the shard was built (the same reading, the same rejects, the same source)."""
    if "reader" not in shard:
        raise UserError(f"{shard['path']}: built by an older rexbert that did not record how its input "
                        "was read; rebuild the shards with `rexbert shards build`")
    reader = FileReader.from_json(shard["input"], shard["reader"])
    for name, document in reader.documents(RejectLog()):
        if name == source:
            yield document


class SourceDocuments:
    """All documents of one source across its shards, as memory-mapped token arrays."""

    def __init__(self, root: Path, name: str, entry: dict, dtype: np.dtype) -> None:
        self.name = name
        self._tokens: list[np.ndarray] = []
        self._offsets: list[np.ndarray] = []
        self._spans: list[tuple[np.ndarray, np.ndarray] | None] = []
        counts = []
        for shard in entry["shards"]:
            stem = root / shard["path"]
            tokens_path = stem.with_suffix(".tokens.bin")
            try:
                offsets = np.load(stem.with_suffix(".docs.npy"))
                size = tokens_path.stat().st_size // dtype.itemsize
                tokens = np.memmap(tokens_path, dtype=dtype, mode="r") if size else np.zeros(0, dtype)
            except (OSError, ValueError) as err:
                raise UserError(f"{stem}: shard files missing or unreadable ({err}); rebuild with `rexbert shards build`") from err
            if len(offsets) != shard["documents"] + 1 or offsets[-1] != size:
                raise UserError(f"{stem}: shard does not match index.json (partial write?); rebuild with `rexbert shards build`")
            self._tokens.append(tokens)
            self._offsets.append(offsets)
            self._spans.append(_load_spans(stem, len(offsets) - 1))
            counts.append(len(offsets) - 1)
        self._starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.num_documents = int(self._starts[-1])
        self.num_tokens = int(entry["tokens"])
        self.lengths = np.concatenate([np.diff(o) for o in self._offsets]) if self._offsets else np.zeros(0, np.int64)
        self.has_spans = any(s is not None for s in self._spans)

    def _locate(self, index: int) -> tuple[int, int]:
        shard = int(np.searchsorted(self._starts, index, side="right") - 1)
        return shard, index - int(self._starts[shard])

    def document(self, index: int) -> np.ndarray:
        """Token ids of document `index` (no specials)."""
        shard, local = self._locate(index)
        offsets = self._offsets[shard]
        return self._tokens[shard][offsets[local]:offsets[local + 1]]

    def spans(self, index: int) -> np.ndarray:
        """Mined spans of document `index` as int64 [k, 2] (start, end) token positions."""
        shard, local = self._locate(index)
        entry = self._spans[shard]
        if entry is None:
            return np.zeros((0, 2), np.int64)
        rows, starts = entry
        return rows[starts[local]:starts[local + 1], 1:]


def _load_spans(stem: Path, num_documents: int) -> tuple[np.ndarray, np.ndarray] | None:
    path = stem.with_suffix(".spans.npy")
    if not path.is_file():
        return None
    try:
        rows = np.load(path)
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: unreadable span file ({err}); rerun `rexbert spans mine`") from err
    if rows.ndim != 2 or rows.shape[1] != 3:
        raise UserError(f"{path}: expected int64 rows (document, start, end); rerun `rexbert spans mine`")
    # Per-document slices into the (document-sorted) rows.
    starts = np.searchsorted(rows[:, 0], np.arange(num_documents + 1), side="left")
    return rows, starts


class ShardSet:
    """A shard folder opened for training: its index, tokenizer fingerprint and sources."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        index_path = self.root / "index.json"
        if not index_path.is_file():
            raise UserError(f"{self.root}: no index.json; build token shards with `rexbert shards build`")
        self.index = read_json(index_path)
        if self.index.get("format") not in READABLE_FORMATS:
            raise UserError(f"{index_path}: unknown shard format {self.index.get('format')!r}; rebuild the shards")
        self.dtype = np.dtype(self.index["dtype"])
        if not self.index["sources"] or self.index["total_tokens"] == 0:
            raise UserError(f"{self.root}: the token shards are empty (0 tokens); check the input of `rexbert shards build`")
        self._sources: dict[str, SourceDocuments] = {}

    @property
    def source_names(self) -> list[str]:
        """Names of the sources in the index."""
        return list(self.index["sources"])

    def source(self, name: str) -> SourceDocuments:
        """The documents of one source (opened once, memory-mapped)."""
        if name not in self.index["sources"]:
            raise UserError(f"{self.root}: no source '{name}' in the shards; sources: {', '.join(self.source_names)}")
        if name not in self._sources:
            documents = SourceDocuments(self.root, name, self.index["sources"][name], self.dtype)
            if documents.num_documents == 0:
                raise UserError(f"{self.root}: source '{name}' has no documents (empty shards); check its input files")
            self._sources[name] = documents
        return self._sources[name]

    def check_tokenizer(self, info: TokenizerInfo) -> None:
        """Refuse shards tokenised by a different tokenizer than the one training uses."""
        recorded = self.index["tokenizer"]
        if recorded["fingerprint"] != info.fingerprint:
            raise UserError(
                f"{self.root}: shards were built with the tokenizer at {recorded['path']}, not {info.path} "
                "(tokenizer.json differs); rebuild the shards or point the config at that tokenizer"
            )


def summarize(index: dict) -> str:
    """A short human-readable table of tokens and documents per source, and the rejected records."""
    lines = [f"{'source':<24}{'documents':>12}{'tokens':>14}{'empty':>8}"]
    for name, entry in index["sources"].items():
        lines.append(f"{name:<24}{entry['documents']:>12,}{entry['tokens']:>14,}{entry['empty_documents']:>8,}")
    lines.append(f"{'total':<24}{index['total_documents']:>12,}{index['total_tokens']:>14,}")
    rejected = index.get("rejected", {})
    if rejected.get("documents"):
        reasons = ", ".join(f"{reason}: {n}" for reason, n in rejected["reasons"].items())
        lines.append(f"rejected {rejected['documents']:,} record(s) ({reasons}), listed in {rejected['file']}")
    return "\n".join(lines)
