"""`rexbert evaluate mlm` end to end on tiny models, resume, and its one-line errors."""

import json

import pytest

from rexbert.cli.main import main
from rexbert.evaluate import token_recovery as recovery_module


def run_cli(*argv):
    return main(["evaluate", "mlm", *map(str, argv)])


def test_mlm_two_models_side_by_side(models_dir, products_parquet, tmp_path, capsys):
    out = tmp_path / "out"
    status = run_cli(
        "--model",
        models_dir / "bert_mlm",
        "--model",
        f"modern={models_dir / 'modernbert_mlm'}",
        "--input",
        products_parquet,
        "--text-field",
        "product_title,product_description",
        "--block-sizes",
        "128,256",
        "--top-k",
        "1,3",
        "--max-examples",
        "10",
        "--out",
        out,
    )
    assert status == 0
    data = json.loads((out / "results.json").read_text())
    assert set(data["models"]) == {"bert_mlm", "modern"}
    assert data["models"]["modern"]["architecture"] == "ModernBertForMaskedLM"
    assert data["models"]["bert_mlm"]["parameters"] > 0
    records = data["records"]
    # 2 models × 2 fields × 2 block sizes × 2 k
    assert len(records) == 16
    for record in records:
        assert record["task"] == "mlm" and 0.0 <= record["value"] <= 1.0
        assert record["settings"]["mask_ratio"] == 0.15
    by_cell = {
        (r["model"], r["axes"]["field"], r["axes"]["block_size"], r["axes"]["k"]): r
        for r in records
    }
    for model in ("bert_mlm", "modern"):
        for field in ("product_title", "product_description"):
            for block in (128, 256):
                assert (
                    by_cell[(model, field, block, 3)]["value"]
                    >= by_cell[(model, field, block, 1)]["value"]
                )
    # Shared tokenizer → identical masks: both models scored the same number of masked tokens.
    for field in ("product_title", "product_description"):
        masked = {
            by_cell[(m, field, 256, 1)]["settings"]["masked_tokens"] for m in ("bert_mlm", "modern")
        }
        assert len(masked) == 1
    # Descriptions are longer than 128 tokens, so the larger block masks more tokens; titles not.
    desc = by_cell[("modern", "product_description", 128, 1)]["settings"]["masked_tokens"]
    assert by_cell[("modern", "product_description", 256, 1)]["settings"]["masked_tokens"] > desc
    title = by_cell[("modern", "product_title", 128, 1)]["settings"]["masked_tokens"]
    assert by_cell[("modern", "product_title", 256, 1)]["settings"]["masked_tokens"] == title
    table = (out / "table3.md").read_text()
    assert "| Field | Tokens | Top-k | bert_mlm | modern |" in table
    assert "same masked positions" in table


def test_mlm_is_deterministic_and_resumes(models_dir, products_parquet, tmp_path, monkeypatch):
    args = [
        "--model",
        models_dir / "bert_mlm",
        "--input",
        products_parquet,
        "--text-field",
        "product_title",
        "--block-sizes",
        "128",
        "--max-examples",
        "8",
    ]
    assert run_cli(*args, "--out", tmp_path / "a") == 0
    assert run_cli(*args, "--out", tmp_path / "b") == 0
    first = json.loads((tmp_path / "a" / "results.json").read_text())["records"]
    second = json.loads((tmp_path / "b" / "results.json").read_text())["records"]
    assert [r["value"] for r in first] == [r["value"] for r in second]

    # A rerun into the same folder must not load the model again: the unit is already done.
    def refuse(*_args, **_kwargs):
        raise AssertionError("finished model was evaluated again")

    monkeypatch.setattr(recovery_module, "load_masked_lm", refuse)
    assert run_cli(*args, "--out", tmp_path / "a") == 0
    assert json.loads((tmp_path / "a" / "results.json").read_text())["records"] == first


def test_block_larger_than_window_is_skipped_not_faked(models_dir, products_parquet, tmp_path):
    out = tmp_path / "out"
    assert (
        run_cli(
            "--model",
            models_dir / "bert_mlm",
            "--input",
            products_parquet,
            "--text-field",
            "product_title",
            "--block-sizes",
            "128,1024",
            "--max-examples",
            "4",
            "--out",
            out,
        )
        == 0
    )
    blocks = {
        r["axes"]["block_size"] for r in json.loads((out / "results.json").read_text())["records"]
    }
    assert blocks == {128}


@pytest.mark.parametrize(
    "model, field, expected",
    [
        ("bert_encoder", "product_title", "no masked-LM head weights"),
        ("bert_nomask", "product_title", "tokenizer has no mask token"),
        ("bert_mlm", "product_name", "no text column 'product_name'"),
    ],
)
def test_mlm_errors_are_one_line(
    models_dir, products_parquet, tmp_path, capsys, model, field, expected
):
    status = run_cli(
        "--model",
        models_dir / model,
        "--input",
        products_parquet,
        "--text-field",
        field,
        "--out",
        tmp_path / "out",
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2
    assert expected in err and err.startswith("rexbert: error: ")


def test_sentence_transformers_folder_has_no_mlm_head(
    minilm_dir, products_parquet, tmp_path, capsys
):
    status = run_cli(
        "--model",
        minilm_dir,
        "--input",
        products_parquet,
        "--text-field",
        "product_title",
        "--out",
        tmp_path / "out",
    )
    assert status == 2
    assert "no masked-LM head weights" in capsys.readouterr().err


def test_bad_data_file_errors(models_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"product_title": "red shoe"}\n{not json\n')
    status = run_cli(
        "--model",
        models_dir / "bert_mlm",
        "--input",
        bad,
        "--text-field",
        "product_title",
        "--out",
        tmp_path / "out",
    )
    assert status == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: bad_json" in err and err.count("\n") == 1
    assert (
        run_cli("--model", tmp_path / "nope", "--input", bad, "--text-field", "x", "--out", tmp_path)
        == 2
    )
    assert "model folder not found" in capsys.readouterr().err


@pytest.mark.parametrize("folder", ["bert_mlm", "modernbert_mlm"])
def test_masked_position_logits_equal_full_head(models_dir, folder):
    import torch

    from rexbert.evaluate.models import ModelSpec, load_masked_lm
    from rexbert.evaluate.token_recovery import masked_logits

    model, tokenizer = load_masked_lm(ModelSpec(folder, models_dir / folder), "cpu")
    inputs = tokenizer(
        ["red leather shoe for women", "usb cable"], padding=True, return_tensors="pt"
    )
    rows, cols = torch.tensor([0, 0, 1]), torch.tensor([1, 3, 2])
    state = {}
    picked = masked_logits(model, dict(inputs), rows, cols, state)
    with torch.inference_mode():
        full = model(**inputs).logits[rows, cols]
    assert picked.shape == full.shape == (3, len(tokenizer))
    assert torch.allclose(picked, full, atol=1e-5)
    assert state.get(id(model)) is None  # the gather path was used, no fallback recorded


def reference_recovery(folder, rows, block, ratio, seed, ks):
    """Top-k hits counted directly with transformers' AutoModelForMaskedLM, one text at a time,
    on the same whole-word span masks: the original token ids are read before any is masked."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from rexbert.evaluate.masking import span_mask

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForMaskedLM.from_pretrained(str(folder)).eval()
    hits, total = dict.fromkeys(ks, 0), 0
    for row, text in rows:
        encoded = tokenizer(text, truncation=True, max_length=block, return_tensors="pt")
        positions = span_mask(encoded.word_ids(0), ratio, seed, row)
        original = encoded["input_ids"][0, positions].clone()
        masked = encoded["input_ids"].clone()
        masked[0, positions] = tokenizer.mask_token_id
        with torch.no_grad():
            logits = model(input_ids=masked, attention_mask=encoded["attention_mask"]).logits
        top = logits[0, positions].topk(max(ks)).indices
        for k in ks:
            hits[k] += int((top[:, :k] == original[:, None]).any(dim=-1).sum())
        total += len(positions)
    return hits, total


@pytest.mark.parametrize("folder", ["trained", "modernbert_mlm"])
def test_accuracies_equal_a_direct_transformers_computation(models_dir, trained_mlm, titles_parquet,
                                                             tmp_path, folder):
    import pandas as pd

    from rexbert import evaluate
    from rexbert.sources.documents import DocumentInput

    ks, blocks, seed = [1, 5, 20], [12, 128], 3
    path = trained_mlm if folder == "trained" else models_dir / folder
    data = DocumentInput(paths=[str(titles_parquet)], text_fields=["title", "description"])
    settings = evaluate.MlmSettings(block_sizes=blocks, top_k=ks, seed=seed, batch_size=7)
    result = evaluate.mlm([f"{folder}={path}"], data, settings, tmp_path / "out")
    frame = pd.read_parquet(titles_parquet)
    measured = {}
    for field in data.text_fields:
        rows = list(enumerate(frame[field].tolist()))
        for block in blocks:
            hits, total = reference_recovery(path, rows, block, 0.15, seed, ks)
            measured[(field, block)] = hits, total
            for k in ks:
                value = result.value(folder, f"top{k}_accuracy", field=field, block_size=block, k=k)
                assert value == hits[k] / total, (field, block, k)
    # Each model recovers some masked tokens and misses others, so scoring the wrong targets
    # (or the wrong positions) could not give these counts.
    field = "title" if folder == "trained" else "description"
    hits, total = measured[(field, 128)]
    assert 0 < hits[1 if folder == "trained" else 5] < total
    assert result.tables["table3"].is_file() and result.results_json.is_file()


def test_every_input_format_gives_the_same_records(models_dir, products_parquet, tmp_path):
    import pandas as pd

    from rexbert import evaluate
    from rexbert.sources.documents import DocumentInput

    frame = pd.read_parquet(products_parquet).head(8)
    files = {"parquet": tmp_path / "p.parquet", "jsonl": tmp_path / "p.jsonl",
             "csv": tmp_path / "p.csv", "tsv": tmp_path / "p.tsv"}
    frame.to_parquet(files["parquet"])
    frame.to_json(files["jsonl"], orient="records", lines=True)
    frame.to_csv(files["csv"], index=False)
    frame.to_csv(files["tsv"], index=False, sep="\t")
    settings = evaluate.MlmSettings(block_sizes=[64], top_k=[1, 20])
    records = {}
    for kind, path in files.items():
        data = DocumentInput(paths=[str(path)], text_fields=["product_title", "product_description"])
        result = evaluate.mlm([models_dir / "bert_mlm"], data, settings, tmp_path / kind)
        records[kind] = sorted((r.axes["field"], r.metric, r.value, r.settings["masked_tokens"])
                               for r in result.results.records)
    assert len(records["parquet"]) == 4
    assert records["jsonl"] == records["csv"] == records["tsv"] == records["parquet"]
