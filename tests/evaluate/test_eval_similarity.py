"""`rexbert evaluate similarity`: label mapping, CoSENT loss, end to end, and its errors."""

import json
import math

import pytest
import torch

from rexbert.cli.main import main
from rexbert.evaluate.config import ESCI_LABEL_MAP, PairsInput
from rexbert.evaluate.models import ModelSpec, load_sentence_encoder
from rexbert.evaluate.pairs import frame_to_pairs, strip_markup
from rexbert.evaluate.query_similarity import cosent_batch_loss


def run_cli(*argv):
    return main(["evaluate", "similarity", *map(str, argv)])


def test_label_map_defaults_and_parsing(capsys):
    assert ESCI_LABEL_MAP == {"E": 1.0, "S": 0.66, "C": 0.33, "I": 0.0}
    assert PairsInput(pairs="p.csv").label_map == ESCI_LABEL_MAP
    assert run_cli("--model", "m", "--pairs", "p.csv", "--label-map", "E:1", "--out", "o") == 2
    assert "--label-map: expected KEY=VALUE pairs, got 'E:1'" in capsys.readouterr().err


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
    pairs = frame_to_pairs(frame, PairsInput(pairs="mem.csv"), "mem")
    assert pairs.targets == [0.66, 0.0]
    assert pairs.texts == ["Red shoe. leather size 9", "Mug"]
    assert strip_markup("a<br/>b") == "a b"


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


def reference_cosines(model_dir, queries, texts):
    """Cosine of each (query, text) pair, encoded by sentence-transformers directly."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    q = model.encode(queries, convert_to_tensor=True)
    t = model.encode(texts, convert_to_tensor=True)
    return torch.nn.functional.cosine_similarity(q, t).tolist()


def test_zero_shot_spearman_equals_scipy_on_the_raw_cosines(models_dir, pairs_files, tmp_path):
    import pandas as pd
    from scipy import stats

    from rexbert import evaluate

    train, test = pairs_files
    frame = pd.read_csv(test, keep_default_na=False)
    frame["relevance"] = frame["esci_label"].map({"E": 3, "S": 2, "C": 1, "I": 0})
    scored = tmp_path / "scored.csv"
    frame.to_csv(scored, index=False)
    texts = [strip_markup(f"{t}. {d}") for t, d in zip(frame.product_title, frame.product_description,
                                                       strict=True)]
    encoder = models_dir / "bert_encoder"  # plain transformers folder: wrapped with mean pooling
    cosines = reference_cosines(encoder, frame["query"].tolist(), texts)
    settings = evaluate.SimilaritySettings(batch_size=4, max_train_examples=8)
    by_label = evaluate.similarity([encoder], PairsInput(train=str(train), test=str(scored)),
                                   settings, tmp_path / "labels")
    by_score = evaluate.similarity([encoder], PairsInput(train=str(scored), test=str(scored),
                                                            score_field="relevance"),
                                   settings, tmp_path / "scores")
    labels = frame["esci_label"].map(ESCI_LABEL_MAP).tolist()
    # The evaluation encodes in batches of 4, the reference in one batch: padding moves the
    # cosines by ~1e-7, so the correlations agree to 1e-5, not to the last bit.
    for result, targets in ((by_label, labels), (by_score, frame["relevance"].tolist())):
        spearman = result.value("bert_encoder", "spearman", stage="zero-shot")
        pearson = result.value("bert_encoder", "pearson", stage="zero-shot")
        assert spearman == pytest.approx(stats.spearmanr(cosines, targets).statistic, abs=1e-5)
        assert pearson == pytest.approx(stats.pearsonr(cosines, targets).statistic, abs=1e-5)
    # 3/2/1/0 and E/S/C/I → 1/0.66/0.33/0 rank the pairs alike: the same Spearman, another Pearson.
    assert by_score.value("bert_encoder", "spearman", stage="zero-shot") == pytest.approx(
        by_label.value("bert_encoder", "spearman", stage="zero-shot"), abs=1e-9)
    assert by_score.results.records[0].settings["target"] == "relevance"
    assert by_score.results.records[0].settings["label_map"] is None
    tuned = by_score.value("bert_encoder", "spearman", stage="fine-tuned")
    assert tuned is not None and -1 <= tuned <= 1


def test_generic_files_and_a_sample_of_train_pairs(models_dir, pairs_files, tmp_path):
    train, test = pairs_files
    out = tmp_path / "out"
    assert run_cli("--model", models_dir / "bert_encoder", "--train", train, "--test", test,
                   "--max-train-examples", "10", "--batch-size", "4", "--out", out) == 0
    records = json.loads((out / "results.json").read_text())["records"]
    assert {r["settings"]["train_pairs"] for r in records} == {10}
    assert {r["settings"]["test_pairs"] for r in records} == {18}
    assert {r["settings"]["steps"] for r in records if r["axes"]["stage"] == "fine-tuned"} == {3}


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


def _as_records(pairs):
    return sorted(zip(pairs.queries, pairs.texts, pairs.targets, strict=True))


def test_every_pairs_input_gives_the_same_records(esci_dir, tmp_path):
    import pandas as pd

    from rexbert.evaluate.pairs import load_pair_splits

    products = esci_dir / "shopping_queries_dataset_products.parquet"
    examples = esci_dir / "shopping_queries_dataset_examples.parquet"
    joined = pd.read_parquet(examples).merge(pd.read_parquet(products),
                                             on=["product_locale", "product_id"])
    columns = ["query", "product_title", "product_description", "esci_label", "split"]
    table = joined[columns]
    files = {".parquet": table.to_parquet, ".csv": lambda p: table.to_csv(p, index=False),
             ".tsv": lambda p: table.to_csv(p, index=False, sep="\t"),
             ".jsonl": lambda p: table.to_json(p, orient="records", lines=True)}
    inputs = {"esci": PairsInput(esci=str(esci_dir)),
              "products+pairs": PairsInput(products=str(products), pairs=str(examples))}
    for suffix, write in files.items():
        write(tmp_path / f"pairs{suffix}")
        inputs[suffix] = PairsInput(pairs=str(tmp_path / f"pairs{suffix}"))
    for split in ("train", "test"):
        table[table.split == split].drop(columns="split").to_csv(tmp_path / f"{split}.csv", index=False)
    inputs["train+test"] = PairsInput(train=str(tmp_path / "train.csv"), test=str(tmp_path / "test.csv"))
    splits = {name: load_pair_splits(spec, seed=0, test_fraction=0.2) for name, spec in inputs.items()}
    reference = splits["esci"]
    assert (len(reference.train), len(reference.test)) == (30, 18)
    for name, found in splits.items():
        assert _as_records(found.train) == _as_records(reference.train), name
        assert _as_records(found.test) == _as_records(reference.test), name


def test_a_table_without_split_column_is_split_by_query(pairs_files, tmp_path):
    import pandas as pd

    from rexbert.evaluate.pairs import load_pair_splits

    train, test = pairs_files
    table = pd.concat([pd.read_json(train, lines=True), pd.read_csv(test, keep_default_na=False)])
    path = tmp_path / "relevance.csv"
    table.to_csv(path, index=False)
    spec = PairsInput(pairs=str(path))
    first = load_pair_splits(spec, seed=0, test_fraction=0.25)
    again = load_pair_splits(spec, seed=0, test_fraction=0.25)
    other = load_pair_splits(spec, seed=5, test_fraction=0.25)
    train_queries, test_queries = set(first.train.queries), set(first.test.queries)
    assert not train_queries & test_queries  # a query's pairs all land on one side
    assert len(test_queries) == 2 and len(train_queries | test_queries) == 8  # 25% of 8 queries
    assert len(first.train) + len(first.test) == len(table)
    assert _as_records(first.test) == _as_records(again.test)
    assert {first.split, other.split} == {"by query: 0.25 of the queries to test, seed 0",
                                          "by query: 0.25 of the queries to test, seed 5"}


def test_pairs_cli_splits_one_file(models_dir, pairs_files, tmp_path):
    import pandas as pd

    train, _ = pairs_files
    path = tmp_path / "relevance.csv"
    pd.read_json(train, lines=True).to_csv(path, index=False)
    out = tmp_path / "out"
    assert run_cli("--model", models_dir / "bert_encoder", "--pairs", path, "--test-fraction", "0.4",
                   "--batch-size", "4", "--epochs", "0.5", "--out", out) == 0
    record = json.loads((out / "results.json").read_text())["records"][0]
    assert record["settings"]["split"].startswith("by query: 0.4")
    assert record["settings"]["train_pairs"] + record["settings"]["test_pairs"] == 30


def test_pairs_sources_are_exclusive(capsys, tmp_path):
    assert run_cli("--model", "m", "--out", tmp_path, "--esci", "a", "--pairs", "b") == 2
    err = capsys.readouterr().err.strip()
    assert err == ("rexbert: error: give exactly one source of pairs: --esci DIR, --pairs FILE, or "
                   "--train FILE [--test FILE] (got --esci, --pairs)")
