"""Guided MLM span mining: patterns, PMI phrases, dictionary, token alignment, files."""

from __future__ import annotations

import pytest

from rexbert.data.shards import ShardSet
from rexbert.data.spans import (
    DictionaryMiner,
    PatternMiner,
    PhraseMatcher,
    PhraseMiner,
    char_to_token_spans,
    mine_spans,
)
from rexbert.data.tokenizer import load_backend
from rexbert.errors import UserError


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
    summary = mine_spans(shards_dir, ["ecommerce"], reference_sources=["general"], min_count=3, progress=False)
    assert summary["documents"] == 240 and summary["share_with_spans"] > 0.9
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


def test_unknown_source(shards_dir):
    with pytest.raises(UserError, match="no source 'shoes'"):
        mine_spans(shards_dir, ["shoes"], progress=False)
