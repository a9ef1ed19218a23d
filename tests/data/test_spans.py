"""Guided MLM span mining: patterns, PMI phrases, dictionary, token alignment, files."""

from __future__ import annotations

import json

import pytest

from rexbert.cli.main import main
from rexbert.data.api import ShardsConfig, SpansConfig, build_shards, mine_spans
from rexbert.data.shards import ShardSet
from rexbert.data.spans import (
    DictionaryMiner,
    PatternMiner,
    PhraseMatcher,
    PhraseMiner,
    char_to_token_spans,
)
from rexbert.data.tokenizer import load_backend
from rexbert.errors import UserError
from rexbert.sources.documents import DocumentInput


def _texts(text, spans):
    return {text[s:e] for s, e, _ in spans}


def test_patterns_find_attribute_values_units_and_model_numbers():
    text = "Acme shirt color: navy, size 10, 500 ml bottle, laptop XPS-13 and phone SM-G991B"
    found = _texts(text, PatternMiner().spans(text))
    assert {"color: navy", "size 10", "500 ml", "XPS-13", "SM-G991B"} <= found
    assert "Acme" not in found


def test_pmi_mining_prefers_domain_phrases_and_brands():
    domain = ["the Acme running shoes are light", "buy Acme running shoes today", "Acme running shoes on sale"] * 3
    general = ["the river is running fast today", "shoes and the river"] * 5
    phrases = PhraseMiner(min_count=3).mine(domain, general)
    assert "running shoes" in phrases and "acme" in phrases
    assert "the river" not in phrases


def test_dictionary_and_matcher(tmp_path):
    (tmp_path / "d.txt").write_text("# brands\nZenith\nslim fit\n")
    matcher = PhraseMatcher(DictionaryMiner(tmp_path / "d.txt").phrases)
    text = "a Zenith   SLIM FIT jacket, zenithal"
    assert _texts(text, matcher.spans(text)) == {"Zenith", "SLIM FIT"}
    (tmp_path / "e.txt").write_text("# nothing\n")
    with pytest.raises(UserError, match="no phrases"):
        DictionaryMiner(tmp_path / "e.txt")


def test_char_to_token_spans():
    offsets = [(0, 4), (4, 10), (10, 15), (15, 18)]  # "navy| shirt| size| 10"
    assert char_to_token_spans([(5, 10)], offsets) == [(1, 2)]
    assert char_to_token_spans([(11, 18)], offsets) == [(2, 4)]


def test_mine_spans_writes_aligned_spans(shards_dir, tokenizer_dir):
    result = mine_spans(shards_dir, ["ecommerce"], ["general"], SpansConfig(min_count=3), progress=False)
    assert result.documents == 240 and result.share_with_spans > 0.9
    assert json.loads(result.summary_path.read_text()) == result.summary
    assert result.phrases == len(result.lexicon.read_text().splitlines()) > 0
    assert [p.name for p in result.span_files] == ["00000_ecommerce_000000.spans.npy",
                                                  "00001_ecommerce_000001.spans.npy"]
    docs = ShardSet(shards_dir).source("ecommerce")
    assert docs.has_spans
    backend = load_backend(tokenizer_dir)
    seen = set()
    for i in range(20):
        tokens = docs.document(i)
        for start, end in docs.spans(i):
            assert 0 <= start < end <= len(tokens)
            seen.add(backend.decode(tokens[start:end].tolist()).strip())
    assert any("size" in s for s in seen) and any("XPS-13" in s or "SM-G991B" in s for s in seen)
    assert not ShardSet(shards_dir).source("general").has_spans


def test_spans_read_the_documents_the_shards_hold(tokenizer_dir, tmp_path):
    # Joined text fields, a domain field and rejected records: span mining must see exactly the
    # documents of each shard, in order, or the spans would land on the wrong tokens.
    catalogue = tmp_path / "catalogue.jsonl"
    lines = []
    for i in range(12):
        lines.append(json.dumps({"title": f"Zenith laptop XPS-13 unit {i}", "description": "16 GB RAM",
                                 "cat": "tech" if i % 2 else "other"}))
        lines.append('{"title": "broken \\ud83d"}')
    catalogue.write_text("\n".join(lines) + "\n")
    spec = DocumentInput(paths=[str(catalogue)], text_fields=["title", "description"], domain_field="cat")
    out = tmp_path / "shards"
    built = build_shards([spec], tokenizer_dir, ShardsConfig(), out, progress=False)
    assert built.sources["tech"]["documents"] == 6 and built.rejected == {"bad_text": 12}
    result = mine_spans(out, ["tech"], ["other"], SpansConfig(phrases=False), progress=False)
    assert result.documents == 6 and result.documents_with_spans == 6
    docs = ShardSet(out).source("tech")
    backend = load_backend(tokenizer_dir)
    for i in range(6):
        tokens = docs.document(i).tolist()
        assert backend.decode(tokens) == f"Zenith laptop XPS-13 unit {2 * i + 1}\n16 GB RAM"
        spans = {backend.decode(tokens[s:e]).strip() for s, e in docs.spans(i)}
        assert {"XPS-13", "16 GB"} <= spans


def test_nothing_to_mine_is_a_one_line_error(shards_dir, capsys):
    assert main(["spans", "mine", "--shards", str(shards_dir), "--source", "ecommerce", "--no-patterns",
                 "--no-phrases"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rexbert: error: span mining has nothing to use: enable patterns, phrases or pass --dictionary"]


def test_missing_shard_folder_is_refused_without_creating_it(tmp_path):
    with pytest.raises(UserError, match="no index.json"):
        mine_spans(tmp_path / "none", ["ecommerce"], progress=False)
    assert not (tmp_path / "none").exists()


def test_unknown_source(shards_dir):
    with pytest.raises(UserError, match="no source 'shoes'"):
        mine_spans(shards_dir, ["shoes"], progress=False)


def test_spans_from_another_working_folder_with_relative_named_inputs(tokenizer_dir, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "shop.jsonl").write_text("".join(
        json.dumps({"text": f"Acme shirt color: navy size {i}"}) + "\n" for i in range(30)))
    (tmp_path / "wiki.jsonl").write_text('{"text": "the river flows through the old town"}\n')
    monkeypatch.chdir(tmp_path)
    spec = DocumentInput(paths=["ecommerce=data", "general=wiki.jsonl"])
    build_shards([spec], tokenizer_dir, ShardsConfig(), "shards", progress=False)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = mine_spans(tmp_path / "shards", ["ecommerce"], ["general"], SpansConfig(phrases=False),
                        progress=False)
    assert result.documents == 30 and result.documents_with_spans == 30
