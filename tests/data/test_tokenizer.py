"""Tokenizer training: ModernBERT specials, vocab multiple of 64, AutoTokenizer round trip."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from rexbert.cli.main import main
from rexbert.data.tokenizer import SPECIAL_TOKENS, load_tokenizer_info, train_tokenizer
from rexbert.errors import UserError


def test_trained_tokenizer_loads_with_autotokenizer(tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    assert len(tok) == 384 and len(tok) % 64 == 0
    for token in SPECIAL_TOKENS:
        assert tok.convert_tokens_to_ids(token) is not None
    ids = tok("navy shirt [MASK] size 10")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    # [MASK] strips the space on its left: "shirt [MASK]" and "shirt[MASK]" encode the same.
    assert tok("shirt [MASK]")["input_ids"] == tok("shirt[MASK]")["input_ids"]
    assert tok.mask_token_id in ids
    assert tok.decode(tok("size 10 cotton")["input_ids"], skip_special_tokens=True) == "size 10 cotton"


def test_small_corpus_is_padded_with_special_unused_tokens(tmp_path):
    info = train_tokenizer(["navy shirt size 10"] * 20, 384, tmp_path)
    assert info.vocab_size == info.padded_vocab_size == 384
    assert {info.pad_token_id, info.cls_token_id, info.sep_token_id, info.mask_token_id} <= set(info.special_ids)
    # Unused padding tokens are special too: they must never be masked or sampled.
    assert max(info.special_ids) == 383
    assert load_tokenizer_info(tmp_path).fingerprint == info.fingerprint


def test_vocab_size_must_be_multiple_of_64(tmp_path):
    with pytest.raises(UserError, match="multiple of 64"):
        train_tokenizer(["a b c"], 500, tmp_path)


def test_empty_input_is_an_error(tmp_path):
    with pytest.raises(UserError, match="no non-empty text"):
        train_tokenizer(["", "  "], 384, tmp_path)


def test_cli_trains_from_folder(corpus, tmp_path, capsys):
    assert main(["tokenizer", "train", "--input", str(corpus), "--vocab-size", "320", "--out", str(tmp_path / "t")]) == 0
    assert len(AutoTokenizer.from_pretrained(str(tmp_path / "t"))) == 320


def test_not_a_tokenizer_folder(tmp_path, capsys):
    assert main(["shards", "build", "--input", str(tmp_path), "--tokenizer", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "not a tokenizer folder" in capsys.readouterr().err
