"""Memory-mapped token shards with document boundaries, built in parallel and resumably.

Layout of a shard folder (the data → train contract)::

    OUT/index.json                          format, tokenizer fingerprint, dtype, per-source counts
    OUT/<source>/<NNNNN>_<stem>.tokens.bin  flat token ids of every document, no specials (dtype)
    OUT/<source>/<NNNNN>_<stem>.docs.npy    int64 offsets, n_documents + 1, starting at 0
    OUT/<source>/<NNNNN>_<stem>.json        completion marker: input file, size, mtime, counts
    OUT/<source>/<NNNNN>_<stem>.spans.npy   optional, from `rexbert spans mine`: int64 [n, 3]
                                            rows (document, start, end) in document tokens

One input file becomes one shard; its completion marker is written last, so a rerun after a kill
skips finished files and redoes only the unfinished ones. Documents whose text encodes to zero
tokens are dropped and counted (`empty_documents`), never lost in silence.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rexbert.data.readers import discover_sources, iter_texts
from rexbert.data.tokenizer import TokenizerInfo, load_backend, load_tokenizer_info
from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json, read_json

log = logging.getLogger(__name__)

FORMAT = "rexbert-token-shards/1"
ENCODE_BATCH = 512


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id fits (halves disk and page cache), else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 65_536 else np.dtype(np.uint32)


def _input_fingerprint(path: Path) -> dict:
    stat = path.stat()
    return {"input": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


@dataclass(frozen=True)
class _ShardJob:
    source: str
    input_path: Path
    stem: Path  # output path without suffix
    tokenizer_dir: Path
    dtype: str
    text_field: str


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_documents(backend, texts: list[str]) -> list[list[int]]:
    """Token ids of each text without special tokens (the packer adds [CLS]/[SEP] per chunk)."""
    return [enc.ids for enc in backend.encode_batch(texts, add_special_tokens=False)]


def iter_encoded(backend, path: Path, text_field: str) -> Iterator[tuple[str, list[int]]]:
    """(text, ids) for every document of a file, in order, batched for the fast tokenizer."""
    batch: list[str] = []
    for text in iter_texts(path, text_field):
        batch.append(text)
        if len(batch) >= ENCODE_BATCH:
            yield from zip(batch, encode_documents(backend, batch), strict=True)
            batch = []
    if batch:
        yield from zip(batch, encode_documents(backend, batch), strict=True)


def _build_one(job: _ShardJob) -> dict:
    """Tokenise one input file into one shard; returns its completion marker."""
    backend = load_backend(job.tokenizer_dir)
    dtype = np.dtype(job.dtype)
    limit = np.iinfo(dtype).max
    tokens_path = job.stem.with_suffix(".tokens.bin")
    tmp_tokens = job.stem.with_suffix(".tokens.bin.tmp")
    offsets = [0]
    empty = 0
    with tmp_tokens.open("wb") as handle:
        for _, ids in iter_encoded(backend, job.input_path, job.text_field):
            if not ids:
                empty += 1
                continue
            array = np.asarray(ids, dtype=np.int64)
            if array.max() > limit:
                raise UserError(f"{job.tokenizer_dir}: token id {array.max()} does not fit {dtype}")
            array.astype(dtype).tofile(handle)
            offsets.append(offsets[-1] + len(ids))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp_tokens, tokens_path)
    docs_path = job.stem.with_suffix(".docs.npy")
    tmp_docs = job.stem.with_suffix(".docs.tmp.npy")
    np.save(tmp_docs, np.asarray(offsets, dtype=np.int64))
    os.replace(tmp_docs, docs_path)
    marker = {
        **_input_fingerprint(job.input_path),
        "source": job.source,
        "documents": len(offsets) - 1,
        "tokens": offsets[-1],
        "empty_documents": empty,
        "dtype": job.dtype,
        "text_field": job.text_field,
    }
    _fsync_dir(job.stem.parent)
    atomic_write_json(job.stem.with_suffix(".json"), marker)
    return marker


def build_shards(
    inputs: list[str],
    tokenizer_dir: str | Path,
    out_dir: str | Path,
    workers: int = 1,
    text_field: str = "text",
    progress: bool = True,
) -> dict:
    """Tokenise every input file into `out_dir` and write `index.json`; returns the index.

    Finished shards (completion marker present and matching the input's size and mtime, made by
    the same tokenizer) are kept, so a rerun after a kill does only the remaining work.
    """
    from tqdm.auto import tqdm

    info = load_tokenizer_info(tokenizer_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = out_dir / "index.json"
    if previous.is_file():
        old = read_json(previous)
        if old.get("tokenizer", {}).get("fingerprint") != info.fingerprint:
            raise UserError(f"{out_dir}: shards were built with another tokenizer; use a new --out folder")
    dtype = token_dtype(info.vocab_size).name
    sources = discover_sources(inputs)
    jobs: list[_ShardJob] = []
    done: dict[Path, dict] = {}
    for source, files in sources.items():
        (out_dir / source).mkdir(parents=True, exist_ok=True)
        for number, path in enumerate(files):
            stem_name = path.name.split(".")[0]
            stem = out_dir / source / f"{number:05d}_{stem_name}"
            marker_path = stem.with_suffix(".json")
            if marker_path.is_file():
                marker = read_json(marker_path)
                fresh = {k: marker.get(k) for k in ("input", "size", "mtime_ns")} == _input_fingerprint(path)
                if fresh and marker.get("dtype") == dtype:
                    done[stem] = marker
                    continue
            jobs.append(_ShardJob(source, path, stem, info.path, dtype, text_field))
    if done:
        log.info("%d of %d shards already built; resuming with the rest", len(done), len(done) + len(jobs))
    bar = tqdm(total=len(jobs), desc="token shards", unit="file", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        # Processes, not threads: tokenisation of one file is sequential Python + Rust work.
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for job, marker in zip(jobs, pool.map(_build_one, jobs), strict=True):
                done[job.stem] = marker
                bar.update()
    else:
        for job in jobs:
            done[job.stem] = _build_one(job)
            bar.update()
    bar.close()
    index = _write_index(out_dir, info, dtype, done)
    return index


def _write_index(out_dir: Path, info: TokenizerInfo, dtype: str, markers: dict[Path, dict]) -> dict:
    sources: dict[str, dict] = {}
    for stem in sorted(markers):
        marker = markers[stem]
        entry = sources.setdefault(marker["source"], {"documents": 0, "tokens": 0, "empty_documents": 0,
                                                      "shards": []})
        entry["documents"] += marker["documents"]
        entry["tokens"] += marker["tokens"]
        entry["empty_documents"] += marker["empty_documents"]
        entry["shards"].append({"path": str(stem.relative_to(out_dir)), "input": marker["input"],
                                "text_field": marker["text_field"],
                                "documents": marker["documents"], "tokens": marker["tokens"]})
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
        "sources": sources,
    }
    atomic_write_json(out_dir / "index.json", index)
    return index


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
        if self.index.get("format") != FORMAT:
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
    """A short human-readable table of tokens and documents per source."""
    lines = [f"{'source':<24}{'documents':>12}{'tokens':>14}{'empty':>8}"]
    for name, entry in index["sources"].items():
        lines.append(f"{name:<24}{entry['documents']:>12,}{entry['tokens']:>14,}{entry['empty_documents']:>8,}")
    lines.append(f"{'total':<24}{index['total_documents']:>12,}{index['total_tokens']:>14,}")
    return "\n".join(lines)


def dumps_index(index: dict) -> str:
    """Compact JSON of an index (used in logs and tests)."""
    return json.dumps(index, sort_keys=True)
