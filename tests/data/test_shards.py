"""Token shards: document boundaries, index counts, sources, resumability, parallel build, rejects,
ownership of the folder, errors."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from rexbert.cli.main import main
from rexbert.data.api import ShardsConfig, build_shards
from rexbert.data.shards import ShardSet
from rexbert.data.tokenizer import load_backend
from rexbert.errors import UserError
from rexbert.sources.documents import Document, DocumentInput, iter_documents


def _build(paths, tokenizer_dir, out, workers: int = 1, **fields):
    return build_shards([DocumentInput(paths=[str(p) for p in paths], **fields)], tokenizer_dir,
                        ShardsConfig(workers=workers), out, progress=False)


def _texts(path: Path, **fields) -> list[str]:
    return [d.text for d in iter_documents(DocumentInput(paths=[str(path)], **fields))]


def test_documents_round_trip_and_index_counts(corpus, tokenizer_dir, shards_dir):
    index = json.loads((shards_dir / "index.json").read_text())
    assert list(index["sources"]) == ["ecommerce", "general"]
    backend = load_backend(tokenizer_dir)
    shards = ShardSet(shards_dir)
    for name in ("general", "ecommerce"):
        texts = _texts(corpus / name)
        expected = [backend.encode(t, add_special_tokens=False).ids for t in texts]
        docs = shards.source(name)
        assert docs.num_documents == len(texts) == index["sources"][name]["documents"] == 240
        assert index["sources"][name]["tokens"] == sum(map(len, expected))
        for i in (0, 7, 130, len(texts) - 1):
            assert docs.document(i).tolist() == expected[i]
    assert shards.dtype == np.uint16
    assert index["rejected"] == {"documents": 0, "reasons": {}, "file": "rejects.jsonl"}
    assert (shards_dir / "rejects.jsonl").read_bytes() == b""


def test_rerun_skips_finished_files_and_redoes_partial(corpus, tokenizer_dir, tmp_path):
    out = tmp_path / "s"
    first = _build([corpus], tokenizer_dir, out).index
    marker = out / ".parts" / "00002_general_000000.json"
    other = out / "general" / "00003_general_000001.tokens.bin"
    before = other.stat().st_mtime_ns
    marker.unlink()  # as if killed before the marker was written
    again = _build([corpus], tokenizer_dir, out).index
    assert marker.is_file() and other.stat().st_mtime_ns == before
    assert again == first


def test_parallel_build_matches_serial(corpus, tokenizer_dir, shards_dir, tmp_path):
    index = _build([corpus], tokenizer_dir, tmp_path / "p", workers=2).index
    serial = json.loads((shards_dir / "index.json").read_text())
    assert index["total_tokens"] == serial["total_tokens"]
    for name in ("general", "ecommerce"):
        for a, b in zip(index["sources"][name]["shards"], serial["sources"][name]["shards"], strict=True):
            assert (tmp_path / "p" / (a["path"] + ".tokens.bin")).read_bytes() == (shards_dir / (b["path"] + ".tokens.bin")).read_bytes()


def test_every_format_gives_the_same_documents(tokenizer_dir, tmp_path):
    records = [{"text": "size 10 shirt"}, {"text": ""}, {"text": "navy cotton, slim \"fit\""}]
    lines = "".join(json.dumps(r) + "\n" for r in records).encode()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl.gz").write_bytes(gzip.compress(lines))
    (tmp_path / "in" / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    pq.write_table(pa.table({"text": [r["text"] for r in records]}), tmp_path / "in" / "c.parquet")
    (tmp_path / "in" / "d.csv").write_text('text\nsize 10 shirt\n""\n"navy cotton, slim ""fit"""\n')
    result = _build([f"shop={tmp_path / 'in'}"], tokenizer_dir, tmp_path / "out")
    entry = result.sources["shop"]
    assert entry["documents"] == 8 and entry["empty_documents"] == 4 and len(entry["shards"]) == 4
    backend = load_backend(tokenizer_dir)
    expected = [backend.encode(r["text"], add_special_tokens=False).ids for r in records if r["text"]]
    docs = ShardSet(tmp_path / "out").source("shop")
    assert [docs.document(i).tolist() for i in range(8)] == expected * 4


def test_source_is_the_domain_else_the_input_folder(tokenizer_dir, tmp_path):
    mixed = tmp_path / "catalogue" / "items.jsonl"
    mixed.parent.mkdir()
    mixed.write_text('{"text": "navy shirt", "cat": "apparel"}\n{"text": "laptop 13", "cat": "tech"}\n'
                     '{"text": "plain"}\n{"text": "odd", "cat": "../escape"}\n')
    result = _build([mixed], tokenizer_dir, tmp_path / "out", domain_field="cat")
    assert {name: entry["documents"] for name, entry in result.sources.items()} == {
        "apparel": 1, "catalogue": 1, "tech": 1}
    assert result.rejected == {"bad_domain": 1}
    assert ShardSet(tmp_path / "out").source("tech").document(0).size > 0
    named = _build([f"products={mixed}"], tokenizer_dir, tmp_path / "out2", domain_field="cat")
    assert list(named.sources) == ["products"] and named.total_documents == 4


def test_bad_records_are_rejected_counted_and_the_stage_finishes(tokenizer_dir, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jsonl").write_text(
        '{"text": "navy shirt"}\n{"text": \n{"text": "cut \\ud83d emoji"}\n["list"]\n{"text": "size 10"}\n')
    out = tmp_path / "out"
    result = _build([tmp_path / "in"], tokenizer_dir, out)
    assert result.total_documents == 2
    assert result.rejected == {"bad_json": 1, "bad_text": 1, "not_object": 1}
    assert result.index["rejected"]["documents"] == 3
    rejects = [json.loads(line) for line in result.rejects.read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [(2, "bad_json"), (3, "bad_text"), (4, "not_object")]
    assert rejects[1]["raw"] == '{"text": "cut \\ud83d emoji"}'
    before = {p.name: p.read_bytes() for p in (out / "index.json", out / "rejects.jsonl")}
    (out / ".parts" / "00000_x.json").unlink()  # rebuild that file: the same result, no doubled rejects
    _build([tmp_path / "in"], tokenizer_dir, out)
    assert {p.name: p.read_bytes() for p in (out / "index.json", out / "rejects.jsonl")} == before


def test_cli_prints_the_rejected_count(tokenizer_dir, tmp_path, capsys):
    (tmp_path / "x.jsonl").write_text('{"text": "ok"}\n{"text": "\\udfff"}\n')
    assert main(["shards", "build", "--input", str(tmp_path / "x.jsonl"), "--tokenizer", str(tokenizer_dir),
                 "--out", str(tmp_path / "out")]) == 0
    assert "rejected 1 record(s) (bad_text: 1), listed in rejects.jsonl" in capsys.readouterr().out


def test_a_text_field_no_record_has_stops_with_the_fields_present(tokenizer_dir, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jsonl").write_text('{"body": "ok", "id": 1}\n')
    with pytest.raises(UserError, match=r"x.jsonl:1: missing_text: .*\(fields present: body, id\); "
                                        r"pass --text-field"):
        _build([tmp_path / "in"], tokenizer_dir, tmp_path / "out")


def test_joined_text_fields_from_two_shapes_of_file(tokenizer_dir, tmp_path):
    (tmp_path / "products.jsonl").write_text('{"sku": "A1", "title": "Trail runner", "description": "grippy"}\n')
    (tmp_path / "general.jsonl").write_text('{"id": "g1", "body": "the river flows"}\n')
    result = _build([f"ecommerce={tmp_path / 'products.jsonl'}", f"general={tmp_path / 'general.jsonl'}"],
                    tokenizer_dir, tmp_path / "out", text_fields=["title", "description", "body"])
    backend = load_backend(tokenizer_dir)
    shards = ShardSet(tmp_path / "out")
    assert shards.source("ecommerce").document(0).tolist() == backend.encode(
        "Trail runner\ngrippy", add_special_tokens=False).ids
    assert result.sources["general"]["documents"] == 1


def test_a_folder_not_made_by_rexbert_is_refused(tokenizer_dir, corpus, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["shards", "build", "--input", str(corpus), "--tokenizer", str(tokenizer_dir),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not empty and not written by rexbert" in err[0]
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_empty_shards_are_refused_for_training(tokenizer_dir, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jsonl").write_text('{"text": ""}\n')
    _build([tmp_path / "in"], tokenizer_dir, tmp_path / "out")
    with pytest.raises(UserError, match="empty"):
        ShardSet(tmp_path / "out")


def test_truncated_shard_is_detected(corpus, tokenizer_dir, tmp_path):
    out = tmp_path / "s"
    _build([corpus], tokenizer_dir, out)
    tokens = out / "ecommerce" / "00000_ecommerce_000000.tokens.bin"
    os.truncate(tokens, tokens.stat().st_size - 4)
    with pytest.raises(UserError, match="does not match index.json"):
        ShardSet(out).source("ecommerce")


def test_shard_documents_reread_the_documents_of_a_shard(corpus, shards_dir):
    from rexbert.data.shards import shard_documents

    shards = ShardSet(shards_dir)
    entry = shards.index["sources"]["general"]["shards"][1]
    documents = list(shard_documents(entry, "general"))
    assert all(isinstance(d, Document) for d in documents) and len(documents) == entry["documents"]
    assert [d.text for d in documents] == _texts(corpus / "general" / "general_000001.jsonl")
