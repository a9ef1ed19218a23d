"""Every shipped run config validates; stage sections are the stages' own models, readable from
files with overrides; a bad key is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rexbert.config import load_config, parse_config
from rexbert.curate.config import CurateConfig
from rexbert.errors import UserError
from rexbert.evaluate.config import MlmSettings
from rexbert.run.config import RunConfig, read_run_config, resolve_config_path

RUN_CONFIGS = sorted((Path(__file__).resolve().parents[2] / "rexbert" / "configs" / "run").glob("*.yaml"))


def test_there_are_real_scale_examples():
    names = {p.stem for p in RUN_CONFIGS}
    assert {"demo", "finefineweb_micro_1gpu", "base_8gpu_torchrun", "curate_slurm", "curate_ray"} <= names


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: p.stem)
def test_run_config_and_its_references_validate(path):
    cfg = load_config(RunConfig, path)
    assert len(cfg.pretrain.recipe.phases) == 3
    assert cfg.curate.executor.kind in ("local", "slurm", "ray")


def test_the_embedded_default_is_the_demo_file():
    default = read_run_config(None)
    assert default == load_config(RunConfig, next(p for p in RUN_CONFIGS if p.stem == "demo"))
    assert default.tokenizer.vocab_size == 4096 and default.evaluate.mlm.max_examples == 1000
    assert default.evaluate.similarity.max_train_examples is None  # every demo pair (docs/run.md)
    # a section left out keeps the stage's own default: one place for each value
    assert parse_config(RunConfig, {}).evaluate.mlm == MlmSettings()
    assert parse_config(RunConfig, {}).curate == CurateConfig()


def test_sections_read_from_files_with_overrides(tmp_path):
    curate = tmp_path / "curate.yaml"
    curate.write_text("seed: 7\nexecutor: {workers: 3}\n")
    cfg = parse_config(RunConfig, {
        "curate": {"file": str(curate), "executor": {"workers": 5}},
        "pretrain": {"recipe": {"file": "configs/pretrain/demo.yaml", "max_steps": 2}},
        "data": {"corpus": "/data/web", "domain_corpus": {"paths": ["p.jsonl"], "text_fields": ["title"]}},
    })
    assert (cfg.curate.seed, cfg.curate.executor.workers) == (7, 5)
    assert cfg.pretrain.recipe.max_steps == 2 and cfg.pretrain.recipe.phases[2].name == "anneal"
    assert cfg.data.corpus.paths == ["/data/web"] and cfg.data.domain_corpus[0].text_fields == ["title"]


def test_bad_run_config_is_one_line(tmp_path):
    bad = tmp_path / "run.yaml"
    bad.write_text("pretrain:\n  arm: [control]\n")
    with pytest.raises(UserError, match=r"run.yaml: unknown key 'pretrain.arm'.*arms"):
        load_config(RunConfig, bad)
    bad.write_text("pretrain:\n  control: false\n")  # the earlier spelling says what replaced it
    with pytest.raises(UserError, match=r"pretrain.control is now pretrain.arms: .*`arms: \[\]` trains none"):
        load_config(RunConfig, bad)
    bad.write_text("evaluate:\n  similarity: {learning_rate: -1}\n")
    with pytest.raises(UserError, match=r"key 'evaluate.similarity.learning_rate': Input should be greater than 0"):
        load_config(RunConfig, bad)
    with pytest.raises(UserError, match="config file not found .neither here nor among the packaged"):
        resolve_config_path("configs/pretrain/nope.yaml", "pretrain.recipe")
    with pytest.raises(UserError, match="three phases"):
        parse_config(RunConfig, {"pretrain": {"recipe": {"file": "configs/pretrain/demo.yaml",
                                                         "phases": [{"name": "only", "init_from": None, "tokens": 10, "batch_tokens": 512, "micro_batch_tokens": 512, "optimizer": {"lr": 1e-3}, "mixture": {"weights": {"general": 1.0}}}]}}})
