"""Faults of the evaluate stage: damaged model folders, bad bytes and bad numbers in the data,
a diverging fine-tune, and output folders rexbert did not create — each a one-line error (exit
2, no traceback), never a result made of NaN."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from rexbert.cli.main import main

WORDS = "red blue green shoe shirt cotton leather women men small large kitchen knife phone case".split()


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    """A 1-layer, 16-wide BERT masked-LM saved by transformers, with its WordPiece tokenizer."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    folder = tmp_path_factory.mktemp("bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *"abcdefghijklmnopqrstuvwxyz"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32,
                        num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=128)
    BertForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=6))


def write_glue_task(root: Path, task: str, rows: int = 12) -> Path:
    """SST-2 (`sentence`, `label`) or STS-B (`sentence1`, `sentence2`, `score`) train and dev."""
    rng = random.Random(0)
    folder = root / task
    folder.mkdir(parents=True)
    for split in ("train", "dev"):
        if task == "SST-2":
            lines = ["sentence\tlabel"] + [f"{sentence(rng)}\t{i % 2}" for i in range(rows)]
        else:
            lines = ["sentence1\tsentence2\tscore"] + [
                f"{sentence(rng)}\t{sentence(rng)}\t{rng.uniform(0, 5):.2f}" for _ in range(rows)]
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def error_line(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def glue_argv(model: Path, glue_dir: Path, task: str, out: Path) -> list[str]:
    return ["evaluate", "glue", "--model", str(model), "--glue-dir", str(glue_dir), "--tasks", task,
            "--epochs", "1", "--batch-size", "4", "--out", str(out)]


def test_a_latin1_byte_in_a_glue_tsv_names_file_and_line(bert_dir, tmp_path, capsys):
    folder = write_glue_task(tmp_path / "glue", "SST-2")
    train = folder / "train.tsv"
    lines = train.read_bytes().splitlines(keepends=True)
    lines[4] = "caf\u00e9 shoe\t1\n".encode("latin-1")
    train.write_bytes(b"".join(lines))
    err = error_line(capsys, glue_argv(bert_dir, tmp_path / "glue", "sst2", tmp_path / "out"))
    assert f"{train}:5: byte 0xe9 at column 4 is not UTF-8" in err and "iconv" in err
    assert not (tmp_path / "out" / "results.json").exists()


def test_one_nan_sts_b_score_is_an_error_not_an_na_result(bert_dir, tmp_path, capsys):
    folder = write_glue_task(tmp_path / "glue", "STS-B")
    dev = folder / "dev.tsv"
    lines = dev.read_text().splitlines()
    lines[3] = lines[3].rsplit("\t", 1)[0] + "\tnan"
    dev.write_text("\n".join(lines) + "\n")
    err = error_line(capsys, glue_argv(bert_dir, tmp_path / "glue", "stsb", tmp_path / "out"))
    assert f"{dev}:4: score 'nan' is not a finite number" in err
    assert not (tmp_path / "out" / "results.json").exists()


def test_a_nan_relevance_score_is_an_error(bert_dir, tmp_path, capsys):
    path = tmp_path / "pairs.csv"
    rows = ["query,product_title,relevance,split"] + [
        f"q{i % 4},{sentence(random.Random(i))},{i % 3},{'test' if i % 4 == 0 else 'train'}"
        for i in range(16)]
    rows[6] = "q1,red cotton shoe,nan,train"  # the 6th data row
    path.write_text("\n".join(rows) + "\n")
    err = error_line(capsys, ["evaluate", "similarity", "--model", str(bert_dir), "--pairs", str(path),
                              "--text-field", "product_title", "--score-field", "relevance",
                              "--out", str(tmp_path / "out")])
    assert f"{path}: row 6: 'relevance' value" in err and "not a finite number" in err


def test_a_diverging_fine_tune_stops_instead_of_reporting_nan():
    import torch

    from rexbert.errors import UserError
    from rexbert.evaluate.config import GlueSettings
    from rexbert.evaluate.finetune import fine_tune

    model = torch.nn.Linear(2, 1)
    losses = iter([torch.tensor(1.0, requires_grad=True), torch.tensor(float("inf"), requires_grad=True)])
    with pytest.raises(UserError, match=r"tiny: the fine-tuning loss became inf at step 2 of 3; lower"):
        fine_tune(model, 6, lambda batch: next(losses), GlueSettings(batch_size=2, epochs=1), "tiny")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "nan"])
def test_damaged_weights_of_a_transformers_folder(bert_dir, tmp_path, capsys, damage):
    import shutil

    from safetensors.torch import load_file, save_file

    folder = tmp_path / "model"
    shutil.copytree(bert_dir, folder)
    weights = folder / "model.safetensors"
    if damage == "garbage":
        weights.write_bytes(b"\x00" * 64)
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:200])
    else:
        tensors = load_file(str(weights))
        name = next(n for n in tensors if n.endswith("attention.self.query.weight"))
        tensors[name][0, 0] = float("nan")
        save_file(tensors, str(weights), metadata={"format": "pt"})
    data = tmp_path / "texts.jsonl"
    data.write_text(json.dumps({"text": "red cotton shirt for men"}) + "\n")
    glue_dir = tmp_path / "glue"
    write_glue_task(glue_dir, "SST-2")
    for argv in (["evaluate", "mlm", "--model", str(folder), "--input", str(data), "--out",
                  str(tmp_path / "a")],
                 glue_argv(folder, glue_dir, "sst2", tmp_path / "b")):
        err = error_line(capsys, argv)
        assert str(folder) in err
        assert ("NaN/Inf" in err) if damage == "nan" else ("corrupt" in err)


def test_out_folder_rexbert_did_not_create_is_refused(bert_dir, tmp_path, capsys):
    data = tmp_path / "texts.jsonl"
    data.write_text(json.dumps({"text": "red cotton shirt for men"}) + "\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "results.json").write_text("my own results")
    err = error_line(capsys, ["evaluate", "mlm", "--model", str(bert_dir), "--input", str(data),
                              "--out", str(mine)])
    assert "not empty and not written by rexbert" in err
    assert (mine / "results.json").read_text() == "my own results"
    # Evaluations share a folder they created: a second one merges into it.
    out = tmp_path / "out"
    for block in ("16", "32"):
        assert main(["evaluate", "mlm", "--model", str(bert_dir), "--input", str(data),
                     "--block-sizes", block, "--out", str(out)]) == 0
    blocks = {r["axes"]["block_size"] for r in json.loads((out / "results.json").read_text())["records"]}
    assert blocks == {16, 32}


def write_esci(folder: Path, bad_label_row: int | None = None) -> Path:
    """The two ESCI parquet files: 4 queries × 3 products, labels E/S/C/I, train and test."""
    import pandas as pd

    rng = random.Random(1)
    products = pd.DataFrame({
        "product_id": [f"B{i:02d}" for i in range(12)], "product_title": [sentence(rng) for _ in range(12)],
        "product_description": "", "product_bullet_point": "", "product_brand": "acme",
        "product_color": "", "product_locale": "us"})
    examples = pd.DataFrame({
        "example_id": range(12), "query": [f"{WORDS[i // 3]} {WORDS[i // 3 + 4]}" for i in range(12)],
        "query_id": [i // 3 for i in range(12)], "product_id": products["product_id"], "product_locale": "us",
        "esci_label": ["E", "S", "C", "I"] * 3, "small_version": 1, "large_version": 1,
        "split": ["train" if i < 6 else "test" for i in range(12)]})
    if bad_label_row is not None:
        examples.loc[bad_label_row - 1, "esci_label"] = "X"
    folder.mkdir(parents=True)
    products.to_parquet(folder / "shopping_queries_dataset_products.parquet")
    examples.to_parquet(folder / "shopping_queries_dataset_examples.parquet")
    return folder


def test_no_evaluate_error_advises_a_flag_the_command_lacks(bert_dir, tmp_path, capsys):
    import re

    from rexbert.cli.main import build_parser
    from rexbert.config.flags import generated_actions

    esci = write_esci(tmp_path / "esci", bad_label_row=4)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("query,product_title,relevance\nred shoe,red cotton shoe,nan\nblue,blue shirt,1\n")
    texts = tmp_path / "texts.jsonl"
    texts.write_text(json.dumps({"body": "red cotton shirt"}) + "\n")
    folder = write_glue_task(tmp_path / "glue", "SST-2")
    (folder / "train.tsv").write_bytes(b"sentence\tlabel\ncaf\xe9 shoe\t1\n")
    cases = {
        "similarity": [["--esci", str(esci)], ["--pairs", str(pairs), "--text-field", "product_title",
                                               "--score-field", "relevance"]],
        "mlm": [["--input", str(texts)]],
        "glue": [["--glue-dir", str(tmp_path / "glue"), "--tasks", "sst2"]],
    }
    options = {}
    for prog, action in generated_actions(build_parser()):
        options.setdefault(prog, set()).update(action.option_strings)
    for command, argvs in cases.items():
        for extra in argvs:
            err = error_line(capsys, ["evaluate", command, "--model", str(bert_dir), *extra,
                                      "--out", str(tmp_path / "out")])
            advised = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", err))
            assert advised <= options[f"rexbert evaluate {command}"], (command, err)
    assert "bad_esci_label" in error_line(capsys, ["evaluate", "similarity", "--model", str(bert_dir),
                                                   "--esci", str(esci), "--out", str(tmp_path / "out")])
