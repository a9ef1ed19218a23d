"""`rexbert evaluate similarity`: label mapping, CoSENT loss, end to end, and its errors."""

import json
import math

import pytest
import torch

from rexbert.cli.main import main
from rexbert.errors import UserError
from rexbert.evaluate.models import ModelSpec, load_sentence_encoder
from rexbert.evaluate.similarity import (
    ESCI_LABEL_MAP,
    SimilaritySettings,
    _frame_to_pairs,
    clean_text,
    cosent_batch_loss,
    parse_label_map,
)


def run_cli(*argv):
    return main(["evaluate", "similarity", *map(str, argv)])


def test_label_map_defaults_and_parsing():
    assert ESCI_LABEL_MAP == {"E": 1.0, "S": 0.66, "C": 0.33, "I": 0.0}
    assert parse_label_map("E=1, S=0.5,I=0") == {"E": 1.0, "S": 0.5, "I": 0.0}
    with pytest.raises(UserError, match="--label-map: cannot read 'E:1'"):
        parse_label_map("E:1")


def test_pairs_map_labels_and_join_title_description():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "query": ["red shoe", "tea"],
            "product_title": ["Red shoe", "Mug"],
            "product_description": ["<p>leather<br>size 9</p>", None],
            "esci_label": ["S", "I"],
        }
    )
    pairs = _frame_to_pairs(frame, SimilaritySettings(), "mem")
    assert pairs.targets == [0.66, 0.0]
    assert pairs.texts == ["Red shoe. leather size 9", "Mug"]
    assert clean_text("a<br/>b") == "a b"


def test_cosent_loss_equals_hand_computation(models_dir):
    model = load_sentence_encoder(ModelSpec("enc", models_dir / "bert_encoder"), "cpu")
    model.eval()  # no dropout: the two computations see the same embeddings
    queries = ["red shoe", "green tea mug", "usb cable", "wooden chair"]
    texts = ["red leather shoe", "glass bottle", "fast usb charger cable", "kids toy"]
    labels = [ESCI_LABEL_MAP[x] for x in ("E", "I", "S", "C")]
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    with torch.no_grad():
        loss = float(cosent_batch_loss(CoSENTLoss(model), model, queries, texts, labels))
        q = model.encode(queries, convert_to_tensor=True)
        t = model.encode(texts, convert_to_tensor=True)
    cos = torch.nn.functional.cosine_similarity(q, t).tolist()
    # CoSENT: log(1 + Σ_{label_i > label_j} exp(20 · (cos_j − cos_i)))
    terms = [
        math.exp(20 * (cos[j] - cos[i]))
        for i in range(4)
        for j in range(4)
        if labels[i] > labels[j]
    ]
    assert len(terms) == 6
    assert loss == pytest.approx(math.log(1 + sum(terms)), rel=1e-5)


def test_similarity_esci_two_models(models_dir, minilm_dir, esci_dir, tmp_path):
    out = tmp_path / "out"
    status = run_cli(
        "--model",
        minilm_dir,
        "--model",
        f"tiny={models_dir / 'bert_encoder'}",
        "--esci",
        esci_dir,
        "--epochs",
        "1",
        "--lr",
        "1e-3",
        "--batch-size",
        "8",
        "--out",
        out,
    )
    assert status == 0
    data = json.loads((out / "results.json").read_text())
    assert set(data["models"]) == {"model", "tiny"}
    assert data["models"]["model"]["architecture"] == "BertModel"
    values = {(r["model"], r["axes"]["stage"], r["metric"]): r["value"] for r in data["records"]}
    assert len(values) == 8
    assert all(-1.0 <= v <= 1.0 for v in values.values())
    # The real sentence encoder ranks word-overlap relevance above chance before any tuning.
    assert values[("model", "zero-shot", "spearman")] > 0.2
    # Fine-tuning changed the tiny model's weights, so its scores moved.
    assert values[("tiny", "fine-tuned", "pearson")] != values[("tiny", "zero-shot", "pearson")]
    settings = data["records"][0]["settings"]
    assert settings["train_pairs"] == 30 and settings["test_pairs"] == 18
    assert settings["label_map"] == ESCI_LABEL_MAP
    assert (out / "figure4.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Spearman zero-shot" in (out / "similarity.md").read_text()


def test_similarity_generic_files_score_field(models_dir, pairs_files, tmp_path):
    import pandas as pd

    train, test = pairs_files
    scored = tmp_path / "scored.parquet"
    frame = pd.read_csv(test)
    frame["relevance"] = frame["esci_label"].map({"E": 3, "S": 2, "C": 1, "I": 0})
    frame.to_parquet(scored)
    out = tmp_path / "out"
    status = run_cli(
        "--model",
        models_dir / "bert_encoder",
        "--train",
        train,
        "--test",
        test,
        "--max-train-examples",
        "10",
        "--batch-size",
        "4",
        "--out",
        out,
    )
    assert status == 0
    records = json.loads((out / "results.json").read_text())["records"]
    assert records[0]["settings"]["train_pairs"] == 10
    # A numeric target column instead of labels (train must have it too: reuse the test table).
    status = run_cli(
        "--model",
        models_dir / "bert_encoder",
        "--train",
        scored,
        "--test",
        scored,
        "--score-field",
        "relevance",
        "--batch-size",
        "4",
        "--out",
        tmp_path / "out2",
    )
    assert status == 0


def _last_error(capsys):
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_similarity_errors(models_dir, pairs_files, tmp_path, capsys):
    import pandas as pd

    train, test = pairs_files
    model = models_dir / "bert_encoder"
    odd = tmp_path / "odd.csv"
    frame = pd.read_csv(test)
    frame.loc[0, "esci_label"] = "X"
    frame.to_csv(odd, index=False)
    assert run_cli("--model", model, "--train", train, "--test", odd, "--out", tmp_path / "o") == 2
    err = _last_error(capsys)
    assert err.startswith("rexbert: error: ") and "label(s) 'X'" in err and "--label-map" in err

    empty = tmp_path / "empty.csv"
    frame.iloc[:0].to_csv(empty, index=False)
    assert (
        run_cli("--model", model, "--train", train, "--test", empty, "--out", tmp_path / "o") == 2
    )
    assert "the test split is empty" in _last_error(capsys)

    assert (
        run_cli(
            "--model",
            model,
            "--train",
            train,
            "--test",
            test,
            "--text-field",
            "product_name",
            "--out",
            tmp_path / "o",
        )
        == 2
    )
    assert "no column 'product_name'" in _last_error(capsys)
    assert not (tmp_path / "o" / "results.json").exists()


def test_esci_without_test_rows_is_an_error(models_dir, esci_dir, tmp_path, capsys):
    import pandas as pd

    products = esci_dir / "shopping_queries_dataset_products.parquet"
    examples = pd.read_parquet(esci_dir / "shopping_queries_dataset_examples.parquet")
    only_train = tmp_path / "train_only.parquet"
    examples[examples.split == "train"].to_parquet(only_train)
    assert (
        run_cli(
            "--model",
            models_dir / "bert_encoder",
            "--products",
            products,
            "--train",
            only_train,
            "--out",
            tmp_path / "o",
        )
        == 2
    )
    assert "the test split is empty" in _last_error(capsys)
