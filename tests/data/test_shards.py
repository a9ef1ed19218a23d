"""Token shards: document boundaries, index counts, resumability, parallel build, errors."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from rexbert.data.readers import iter_texts
from rexbert.data.shards import ShardSet, build_shards
from rexbert.data.tokenizer import load_backend
from rexbert.errors import UserError


def test_documents_round_trip_and_index_counts(corpus, tokenizer_dir, shards_dir):
    index = json.loads((shards_dir / "index.json").read_text())
    assert set(index["sources"]) == {"general", "ecommerce"}
    backend = load_backend(tokenizer_dir)
    shards = ShardSet(shards_dir)
    for name in ("general", "ecommerce"):
        texts = [t for p in sorted((corpus / name).glob("*.jsonl")) for t in iter_texts(p)]
        expected = [backend.encode(t, add_special_tokens=False).ids for t in texts]
        docs = shards.source(name)
        assert docs.num_documents == len(texts) == index["sources"][name]["documents"]
        assert index["sources"][name]["tokens"] == sum(map(len, expected))
        for i in (0, 7, len(texts) - 1):
            assert docs.document(i).tolist() == expected[i]
    assert shards.dtype == np.uint16


def test_rerun_skips_finished_shards_and_redoes_partial(corpus, tokenizer_dir, tmp_path):
    out = tmp_path / "s"
    build_shards([str(corpus)], tokenizer_dir, out, progress=False)
    marker = out / "general" / "00000_general_000000.json"
    other = out / "general" / "00001_general_000001.tokens.bin"
    before = other.stat().st_mtime_ns
    marker.unlink()  # as if killed before the marker was written
    index = build_shards([str(corpus)], tokenizer_dir, out, progress=False)
    assert marker.is_file() and other.stat().st_mtime_ns == before
    assert index["sources"]["general"]["documents"] == 240


def test_parallel_build_matches_serial(corpus, tokenizer_dir, shards_dir, tmp_path):
    index = build_shards([str(corpus)], tokenizer_dir, tmp_path / "p", workers=2, progress=False)
    serial = json.loads((shards_dir / "index.json").read_text())
    assert index["total_tokens"] == serial["total_tokens"]
    for name in ("general", "ecommerce"):
        for a, b in zip(index["sources"][name]["shards"], serial["sources"][name]["shards"], strict=True):
            assert (tmp_path / "p" / (a["path"] + ".tokens.bin")).read_bytes() == (shards_dir / (b["path"] + ".tokens.bin")).read_bytes()


def test_compressed_parquet_inputs_and_empty_documents(tokenizer_dir, tmp_path):
    records = [{"text": "size 10 shirt"}, {"text": ""}, {"text": "navy cotton"}]
    lines = "".join(json.dumps(r) + "\n" for r in records).encode()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl.gz").write_bytes(gzip.compress(lines))
    (tmp_path / "in" / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    pq.write_table(pa.table({"text": [r["text"] for r in records]}), tmp_path / "in" / "c.parquet")
    index = build_shards([f"shop={tmp_path / 'in'}"], tokenizer_dir, tmp_path / "out", progress=False)
    entry = index["sources"]["shop"]
    assert entry["documents"] == 6 and entry["empty_documents"] == 3 and len(entry["shards"]) == 3


def test_malformed_line_names_file_and_line(tokenizer_dir, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jsonl").write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(UserError, match=r"x.jsonl:2: malformed JSON"):
        build_shards([str(tmp_path / "in")], tokenizer_dir, tmp_path / "out", progress=False)


def test_missing_text_field(tokenizer_dir, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jsonl").write_text('{"body": "ok"}\n')
    with pytest.raises(UserError, match="--text-field"):
        build_shards([str(tmp_path / "in")], tokenizer_dir, tmp_path / "out", progress=False)


def test_empty_shards_are_refused_for_training(tokenizer_dir, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jsonl").write_text('{"text": ""}\n')
    build_shards([str(tmp_path / "in")], tokenizer_dir, tmp_path / "out", progress=False)
    with pytest.raises(UserError, match="empty"):
        ShardSet(tmp_path / "out")


def test_truncated_shard_is_detected(corpus, tokenizer_dir, tmp_path):
    out = tmp_path / "s"
    build_shards([str(corpus)], tokenizer_dir, out, progress=False)
    tokens = out / "ecommerce" / "00000_ecommerce_000000.tokens.bin"
    os.truncate(tokens, tokens.stat().st_size - 4)
    with pytest.raises(UserError, match="does not match index.json"):
        ShardSet(out).source("ecommerce")
