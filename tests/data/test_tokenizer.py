"""Tokenizer training: ModernBERT specials, vocab multiple of 64, AutoTokenizer round trip, the
stage's inputs (joined fields, rejects), folder ownership and permissions."""

from __future__ import annotations

import json
import os
import stat

import pytest
from pydantic import ValidationError
from transformers import AutoTokenizer

from rexbert.cli.main import main
from rexbert.data.api import TokenizerConfig, train_tokenizer
from rexbert.data.tokenizer import SPECIAL_TOKENS, load_tokenizer_info, train_bpe
from rexbert.errors import UserError
from rexbert.sources.documents import DocumentInput


def test_trained_tokenizer_loads_with_autotokenizer(tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    assert len(tok) == 384 and len(tok) % 64 == 0
    ids = [tok.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS]
    assert ids == [0, 1, 2, 3, 4]  # in the order the trainer was given them
    assert tok.convert_ids_to_tokens(ids) == list(SPECIAL_TOKENS)
    assert tok.convert_tokens_to_ids("[NOT-A-TOKEN]") == tok.unk_token_id == 1
    ids = tok("navy shirt [MASK] size 10")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    # [MASK] strips the space on its left: "shirt [MASK]" and "shirt[MASK]" encode the same.
    assert tok("shirt [MASK]")["input_ids"] == tok("shirt[MASK]")["input_ids"]
    assert tok.mask_token_id in ids
    assert tok.decode(tok("size 10 cotton")["input_ids"], skip_special_tokens=True) == "size 10 cotton"


def test_small_corpus_is_padded_with_special_unused_tokens(tmp_path):
    info = train_bpe(["navy shirt size 10"] * 20, TokenizerConfig(vocab_size=384), tmp_path, progress=False)
    assert info.vocab_size == info.padded_vocab_size == 384
    assert {info.pad_token_id, info.cls_token_id, info.sep_token_id, info.mask_token_id} <= set(info.special_ids)
    # Unused padding tokens are special too: they must never be masked or sampled.
    assert max(info.special_ids) == 383
    assert load_tokenizer_info(tmp_path).fingerprint == info.fingerprint


def test_vocab_size_must_be_a_multiple_of_64(tmp_path, capsys):
    with pytest.raises(ValidationError, match="multiple of 64; use e.g. 512"):
        TokenizerConfig(vocab_size=500)
    assert main(["tokenizer", "train", "--input", str(tmp_path), "--vocab-size", "500", "--out",
                 str(tmp_path / "t")]) == 2
    assert capsys.readouterr().err.strip() == ("rexbert: error: --vocab-size: must be a multiple of 64; "
                                               "use e.g. 512 (got 500)")


def test_empty_input_is_an_error(tmp_path):
    with pytest.raises(UserError, match="no non-empty text"):
        train_bpe(["", "  "], TokenizerConfig(vocab_size=384), tmp_path, progress=False)


def test_cli_trains_from_folder(corpus, tmp_path, capsys):
    assert main(["tokenizer", "train", "--input", str(corpus), "--vocab-size", "320", "--max-documents", "50",
                 "--out", str(tmp_path / "t")]) == 0
    assert len(AutoTokenizer.from_pretrained(str(tmp_path / "t"))) == 320
    assert "320 tokens from 50 documents" in capsys.readouterr().out


def test_own_files_with_their_own_text_fields(tmp_path, capsys):
    products = tmp_path / "products.jsonl"
    products.write_text("".join(json.dumps({"sku": f"S{i}", "category": "shoes", "brand": "Acme",
                                            "title": f"Acme trail runner {i}", "description": "grippy sole",
                                            "price_usd": 80 + i}) + "\n" for i in range(30)))
    general = tmp_path / "general.jsonl"
    general.write_text("".join(json.dumps({"id": i, "body": f"the river flows past mill {i}"}) + "\n"
                               for i in range(30)))
    out = tmp_path / "tok"
    assert main(["tokenizer", "train", "--input", str(products), str(general), "--text-field",
                 "title,description,body", "--vocab-size", "384", "--out", str(out)]) == 0
    assert "from 60 documents" in capsys.readouterr().out
    tok = AutoTokenizer.from_pretrained(str(out))
    # Words of both files (and of the joined description, after its newline) are whole tokens.
    assert [len(tok.tokenize(w)) for w in (" river", " runner", "grippy")] == [1, 1, 1]


def test_a_field_no_record_has_names_the_fields_present_and_the_flag(tmp_path, capsys):
    (tmp_path / "general.jsonl").write_text('{"id": "g1", "body": "The river."}\n')
    assert main(["tokenizer", "train", "--input", str(tmp_path / "general.jsonl"), "--text-field", "description",
                 "--vocab-size", "320", "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "general.jsonl:1: missing_text: record has no text field 'description' (fields present: id, body); " \
           "pass --text-field" in err[0]


def test_bad_records_are_rejected_and_a_rerun_gives_the_same_tokenizer(tmp_path):
    data = tmp_path / "in.jsonl"
    good = [json.dumps({"text": f"navy cotton shirt size {i}"}) for i in range(40)]
    data.write_text("\n".join(good[:20] + ['{"text": "cut \\ud83d emoji"}', '{"text": ', "[1]"] + good[20:]) + "\n")
    spec = [DocumentInput(paths=[str(data)])]
    first = train_tokenizer(spec, TokenizerConfig(vocab_size=320), tmp_path / "tok", progress=False)
    assert first.documents == 40
    assert first.rejected == {"bad_text": 1, "bad_json": 1, "not_object": 1}
    rejects = [json.loads(line) for line in first.rejects.read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [(21, "bad_text"), (22, "bad_json"), (23, "not_object")]
    before = {name: (tmp_path / "tok" / name).read_bytes() for name in ("tokenizer.json", "rejects.jsonl")}
    again = train_tokenizer(spec, TokenizerConfig(vocab_size=320), tmp_path / "tok", progress=False)
    assert again.info.fingerprint == first.info.fingerprint
    assert {name: (tmp_path / "tok" / name).read_bytes() for name in before} == before


def test_tokenizer_folder_has_normal_permissions_and_no_staging_left(corpus, tmp_path):
    umask = os.umask(0o022)
    try:
        result = train_tokenizer([DocumentInput(paths=[str(corpus)])], TokenizerConfig(vocab_size=320),
                                 tmp_path / "tok", progress=False)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(result.out.stat().st_mode) == 0o755
    files = list(result.out.iterdir())
    assert not [p for p in files if p.name.startswith(".staging")]
    assert {stat.S_IMODE(p.stat().st_mode) for p in files if p.is_file()} == {0o644}
    assert result.rejects is None and not (result.out / "rejects.jsonl").exists()


def test_a_folder_not_made_by_rexbert_is_refused(corpus, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "tokenizer.json").write_text("{}")
    assert main(["tokenizer", "train", "--input", str(corpus), "--vocab-size", "320", "--out", str(out)]) == 2
    assert "not empty and not written by rexbert" in capsys.readouterr().err
    assert (out / "tokenizer.json").read_text() == "{}"


def test_not_a_tokenizer_folder(tmp_path, capsys):
    (tmp_path / "x.jsonl").write_text('{"text": "a"}\n')
    assert main(["shards", "build", "--input", str(tmp_path), "--tokenizer", str(tmp_path), "--out",
                 str(tmp_path / "o")]) == 2
    assert "not a tokenizer folder" in capsys.readouterr().err
