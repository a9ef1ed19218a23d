"""Every shipped run config validates, and so do the curate and pretrain files it points at."""

from pathlib import Path

import pytest

from rexbert.config import load_config, parse_config
from rexbert.curate.config import read_config
from rexbert.errors import UserError
from rexbert.recipe.config import RunConfig
from rexbert.recipe.stages import Recipe, resolve_config_path, torchrun_command
from rexbert.train.config import PretrainConfig

RUN_CONFIGS = sorted((Path(__file__).resolve().parents[2] / "rexbert" / "configs" / "run").glob("*.yaml"))


def test_there_are_real_scale_examples():
    names = {p.stem for p in RUN_CONFIGS}
    assert {"demo", "finefineweb_micro_1gpu", "base_8gpu_torchrun", "curate_slurm", "curate_ray"} <= names


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: p.stem)
def test_run_config_and_its_references_validate(path):
    cfg = load_config(RunConfig, path)
    if cfg.curate.config:
        curate = read_config(resolve_config_path(cfg.curate.config, "curate.config"))
        assert curate.executor.kind in ("local", "slurm", "ray")
    recipe = cfg.pretrain.recipe or "configs/pretrain/demo.yaml"
    pretrain = load_config(PretrainConfig, resolve_config_path(recipe, "pretrain.recipe"))
    assert [p.name for p in pretrain.phases][-1] == cfg.pretrain.anneal_phase


def test_demo_file_equals_the_built_in_default():
    demo = next(p for p in RUN_CONFIGS if p.stem == "demo")
    written = load_config(RunConfig, demo)
    default = parse_config(RunConfig, {}, "<default>")
    assert written.model_copy(update={"pretrain": written.pretrain.model_copy(update={"recipe": None})}) == default


def test_bad_run_config_is_one_line(tmp_path):
    bad = tmp_path / "run.yaml"
    bad.write_text("pretrain:\n  controll: false\n")
    with pytest.raises(UserError, match=r"run.yaml: unknown key 'pretrain.controll'.*control"):
        load_config(RunConfig, bad)
    with pytest.raises(UserError, match="set data.corpus as well"):
        parse_config(RunConfig, {"data": {"esci": "/x"}}, "run.yaml")
    with pytest.raises(UserError, match="neither a file nor a packaged config"):
        resolve_config_path("configs/pretrain/nope.yaml", "pretrain.recipe")


def test_stage_names_and_control_recipe(tmp_path):
    recipe = Recipe(parse_config(RunConfig, {}, "<default>"), tmp_path)
    names = [s.name for s in recipe.stages()]
    assert names == ["data", "curate", "tokenizer", "shards", "phase1", "phase2", "phase3", "control",
                     "export", "evaluate", "report"]
    no_control = Recipe(parse_config(RunConfig, {"pretrain": {"control": False}}, "<x>"), tmp_path)
    assert "control" not in [s.name for s in no_control.stages()]

    # The general component is every corpus domain curation does not target.
    from rexbert.curate.config import CurateConfig

    for domain in ("fashion", "news", "physics", "law"):
        (tmp_path / "data" / "corpus" / domain).mkdir(parents=True)
    (tmp_path / "curated").mkdir()
    (tmp_path / "curated" / "config.yaml").write_text(CurateConfig().to_yaml())
    assert recipe.general_domains() == ["law", "physics"]

    # The control gets phase 3's compute from the same phase-2 weights, on the phase-1 mix.
    written = {}
    recipe._run_pretrain = lambda path, run_dir, phase: written.update(path=path, run=run_dir, phase=phase)
    recipe.pretrain_control()
    control = load_config(PretrainConfig, written["path"])
    base = load_config(PretrainConfig, resolve_config_path("configs/pretrain/demo.yaml", "x"))
    (phase,) = control.phases
    assert phase.name == written["phase"] == base.phases[2].name
    assert phase.init_from == str(tmp_path / "pretrain" / "annealed" / "phase2_context" / "final")
    assert phase.mixture.weights == base.phases[0].mixture.weights
    assert phase.mixture.end_weights is None
    assert phase.masking.guided_share == 0.0
    assert (phase.tokens, phase.batch_tokens) == (base.phases[2].tokens, base.phases[2].batch_tokens)
    assert control.data.shards == str(tmp_path / "shards")
    assert control.data.groups == {"general": ["law", "physics"], "ecommerce": ["ecommerce"]}


def test_torchrun_command():
    command = torchrun_command(["pretrain", "--config", "c.yaml"], 8)
    assert command[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=8",
                           "-m", "rexbert", "pretrain", "--config", "c.yaml"]
