"""The model card of an export tells the truth: hub metadata that parses, the training that really
ran (phases, tokens, the lengths trained), the base model and data it came from, and the
evaluation results, kept in step with results.json."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from rexbert.cli.main import main
from rexbert.release.card import split_card

TINY = {"num_layers": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2}
LONG_SEQ = 4096  # phase 2 packs at 4,096 tokens, longer than any test document


def _phase(name, init_from="previous", steps=3, seq_len=64):
    return {"name": name, "init_from": init_from, "seq_len": seq_len, "steps": steps,
            "batch_tokens": max(512, seq_len), "micro_batch_tokens": max(256, seq_len),
            "optimizer": {"lr": 3e-3}, "masking": {"rate": 0.3}, "mixture": {"weights": {"general": 1.0}}}


def _recipe(tokenizer, shards, phases, overrides=TINY):
    return {"seed": 0, "model": {"preset": "nano", "overrides": dict(overrides)},
            "data": {"tokenizer": str(tokenizer), "shards": str(shards), "holdout_documents": 4, "lookahead": 16},
            "eval": {"every_steps": 2, "sets": {"general": ["general"]}, "max_documents": 4, "seq_len": 64},
            "checkpoint": {"every_steps": 2, "keep_last": 1},
            "logging": {"every_steps": 1, "tensorboard": False, "progress_bar": False},
            "phases": phases}


def _pretrain(root: Path, recipe: dict) -> Path:
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["pretrain", "--config", str(root / "recipe.yaml"), "--out", str(root / "run")]) == 0
    return root / "run"


def _longest_document(shards: Path, source: str) -> int:
    """Read straight from the shard files: the longest document of `source`, in tokens."""
    return max(int(np.diff(np.load(path)).max()) for path in (shards / source).glob("*.docs.npy"))


@pytest.fixture(scope="module")
def data(corpus, tmp_path_factory):
    """A BPE tokenizer and shards of the shared tiny corpus (general + ecommerce)."""
    from rexbert.data.api import ShardsConfig, TokenizerConfig, build_shards, train_tokenizer
    from rexbert.sources.documents import DocumentInput

    root = tmp_path_factory.mktemp("card-data")
    train_tokenizer([DocumentInput(paths=[str(corpus)])], TokenizerConfig(vocab_size=384), root / "tok", progress=False)
    build_shards([DocumentInput(paths=[str(corpus)])], root / "tok", ShardsConfig(), root / "shards", progress=False)
    return root / "tok", root / "shards"


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """Two phases from scratch: 64-token packs, then 4,096-token packs."""
    tokenizer, shards = data
    root = tmp_path_factory.mktemp("card-run")
    run = _pretrain(root, _recipe(tokenizer, shards, [_phase("general", None), _phase("context", seq_len=LONG_SEQ)]))
    out = root / "model"
    assert main(["export", "--model", str(run / "phase2_context" / "final"), "--out", str(out),
                 "--license", "mit", "--dataset", "acme/shop-titles", "--model-name", "shop-encoder"]) == 0
    return run, out


def test_front_matter_parses_and_says_what_the_model_is(trained):
    _, model = trained
    meta, body = split_card((model / "README.md").read_text())
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "fill-mask"
    assert {"modernbert", "rexbert", "sentence-transformers"} <= set(meta["tags"])
    assert meta["license"] == "mit" and meta["language"] == ["en"]
    assert meta["datasets"] == ["acme/shop-titles"]  # declared; the local corpus has no hub id
    assert "base_model" not in meta and "model-index" not in meta  # from scratch, not evaluated yet
    assert body.startswith("# shop-encoder\n")
    assert "Trained from scratch" in body and "```yaml" not in body  # a summary, not a config dump


def test_training_summary_gives_the_lengths_actually_trained(trained, data):
    run, model = trained
    _, shards = data
    body = (model / "README.md").read_text()
    longest = _longest_document(shards, "general") + 2  # the mixture draws on general only; + [CLS] [SEP]
    assert longest < LONG_SEQ  # so the cap below is the documents', not the recipe's
    general = [line for line in body.splitlines() if line.startswith("| general (`run`)")][0]
    context = [line for line in body.splitlines() if line.startswith("| context (`run`)")][0]
    assert "| 3/3 |" in general and "| 64 / 64 |" in general
    assert f"| {LONG_SEQ:,} / {longest:,} |" in context
    assert f"| max trained length | {longest:,} tokens (of 8,192 positions) |" in body
    assert "max positions" not in body
    from rexbert.train.logger import read_metrics

    last = [r for r in read_metrics(run / "metrics.csv") if r["phase"] == "context" and r["loss"]][-1]
    assert f"{float(last['loss']):.4f}" in context  # the final training loss of the phase
    held = [r for r in read_metrics(run / "metrics.csv") if r["phase"] == "context" and r["eval_general_loss"]][-1]
    assert f"{float(held['eval_general_accuracy']):.1%}" in context
    assert "| general | " in body and "| ecommerce |" not in body  # only the sources the mixture drew from


@pytest.fixture(scope="module")
def annealed(trained, data, tmp_path_factory, monkeypatch_module):
    """A model annealed from `import-hf` of a hub id (a hub cache laid out on disk), on shards
    whose input lies in a hub dataset cache folder."""
    _, exported = trained
    tokenizer, _ = data
    root = tmp_path_factory.mktemp("card-anneal")
    snapshot = root / "hub" / "models--acme--tiny-encoder" / "snapshots" / ("0" * 40)
    shutil.copytree(exported, snapshot, ignore=shutil.ignore_patterns(".rexbert-output.json"))
    (root / "hub" / "models--acme--tiny-encoder" / "refs").mkdir()
    (root / "hub" / "models--acme--tiny-encoder" / "refs" / "main").write_text("0" * 40)
    monkeypatch_module.setenv("HF_HUB_CACHE", str(root / "hub"))
    assert main(["import-hf", "--model", "acme/tiny-encoder", "--out", str(root / "imported")]) == 0

    from rexbert.data.api import ShardsConfig, build_shards
    from rexbert.sources.documents import DocumentInput

    hub_data = root / "hub" / "datasets--acme--shop-corpus" / "snapshots" / ("1" * 40)
    shutil.copytree(_corpus_of(data), hub_data)
    build_shards([DocumentInput(paths=[str(hub_data)])], tokenizer, ShardsConfig(), root / "shards", progress=False)
    phase = _phase("anneal", init_from=str(root / "imported"), seq_len=64) | {
        "mixture": {"weights": {"general": 0.5, "ecommerce": 0.5}}}
    anneal_run = _pretrain(root, _recipe(tokenizer, root / "shards", [phase], overrides={}))
    out = root / "model"
    assert main(["export", "--model", str(anneal_run / "phase1_anneal" / "final"), "--out", str(out)]) == 0
    return out


def _corpus_of(data) -> Path:
    """The corpus folder the shards of `data` were built from (their index records it)."""
    from rexbert.fileio import read_json

    _, shards = data
    path = Path(read_json(shards / "index.json")["sources"]["general"]["shards"][0]["input"])
    return path.parent.parent


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_base_model_and_hub_datasets_of_a_model_annealed_from_an_import(annealed):
    meta, body = split_card((annealed / "README.md").read_text())
    assert meta["base_model"] == "acme/tiny-encoder"
    assert meta["datasets"] == ["acme/shop-corpus"]
    assert "Continued from `acme/tiny-encoder`" in body
    assert "| anneal (`run`) | 3/3 |" in body
    assert "| ecommerce |" in body and "(hub: acme/shop-corpus)" in body


def _model_index_values(meta) -> list[tuple[str, str, float]]:
    return sorted((result["task"]["type"], metric["type"], metric["value"])
                  for entry in meta["model-index"] for result in entry["results"] for metric in result["metrics"])


def test_evaluation_fills_the_model_index_from_results_json(trained, data, tmp_path):
    from rexbert import evaluate, outputs
    from rexbert.evaluate.api import MlmSettings
    from rexbert.evaluate.results import load_results
    from rexbert.model.checkpoint import verify_checkpoint
    from rexbert.sources.documents import DocumentInput

    _, model = trained
    folder = tmp_path / "model"
    shutil.copytree(model, folder)  # this test's own copy of the export
    foreign = tmp_path / "theirs"  # the same weights in a folder rexbert did not write
    shutil.copytree(model, foreign, ignore=shutil.ignore_patterns(".rexbert-output.json"))
    os.utime(foreign / "model.safetensors")  # its own weights fingerprint (size + mtime)
    card_before = (foreign / "README.md").read_bytes()
    text = DocumentInput(paths=[str(_corpus_of(data) / "ecommerce")])
    evaluate.mlm({"ours": folder, "theirs": foreign}, text, MlmSettings(block_sizes=[32], max_examples=12),
                 tmp_path / "eval")
    evaluate.mlm({"ours": folder}, text, MlmSettings(block_sizes=[64], max_examples=12), tmp_path / "eval2")

    meta, body = split_card((folder / "README.md").read_text())
    expected = sorted(("fill-mask", r.metric, round(r.value, 6))
                      for path in ("eval", "eval2") for r in load_results(tmp_path / path).records
                      if r.model == "ours" and r.value is not None)
    assert len(expected) == 6 and _model_index_values(meta) == expected  # both evaluations, nothing else
    assert meta["model-index"][0]["name"] == "shop-encoder"
    assert "block size 32" in body and "block size 64" in body and "Not evaluated yet" not in body
    assert verify_checkpoint(folder) is None  # checkpoint.json covers the rewritten card
    assert outputs.foreign_files(folder) == []
    assert (foreign / "README.md").read_bytes() == card_before  # never touched


def test_reexport_of_new_weights_drops_old_results(trained, data, tmp_path):
    """Results measured on other weights stay out of the card (results.json keeps them)."""
    from rexbert import evaluate
    from rexbert.evaluate.api import MlmSettings
    from rexbert.release.card import update_evaluations
    from rexbert.sources.documents import DocumentInput

    run, model = trained
    folder = tmp_path / "model"
    shutil.copytree(model, folder)
    text = DocumentInput(paths=[str(_corpus_of(data) / "ecommerce")])
    evaluate.mlm({"ours": folder}, text, MlmSettings(block_sizes=[32], max_examples=8), tmp_path / "eval")
    assert main(["export", "--model", str(run / "phase1_general" / "final"), "--out", str(folder), "--overwrite"]) == 0
    evaluate.mlm({"ours": folder}, text, MlmSettings(block_sizes=[64], max_examples=8), tmp_path / "eval2")
    assert update_evaluations(folder, tmp_path / "eval" / "results.json")  # measured on the old weights
    meta, _ = split_card((folder / "README.md").read_text())
    names = {m["name"] for e in meta["model-index"] for r in e["results"] for m in r["metrics"]}
    assert names and all("block size 64" in name for name in names)


def test_model_index_names_each_task_and_dataset():
    from rexbert.evaluate.results import ResultRecord
    from rexbert.release.card import join_card, model_index

    records = [
        ResultRecord("m", "similarity", "spearman", 0.41, {"input": {"esci": "/d/esci", "query_field": "query"}},
                     axes={"stage": "fine-tuned"}),
        ResultRecord("m", "glue/sst2", "accuracy", 0.8125, {"source": "hub:nyu-mll/glue"}),
        ResultRecord("m", "glue/stsb", "pearson", None, {"source": "/data/glue"}),  # undefined: left out
    ]
    index = yaml.safe_load(join_card({"model-index": model_index("m", records)}, "")[4:].split("---")[0])
    results = index["model-index"][0]["results"]
    assert [r["task"]["type"] for r in results] == ["sentence-similarity", "text-classification"]
    assert results[0]["metrics"] == [{"type": "spearman", "value": 0.41, "name": "spearman, stage fine-tuned"}]
    assert results[1]["dataset"] == {"name": "GLUE sst2", "type": "nyu-mll/glue", "config": "sst2"}
    assert results[0]["dataset"] == {"name": "esci", "type": "esci"}
