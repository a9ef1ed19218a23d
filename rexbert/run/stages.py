"""The stages of `rexbert run`, each one a call of a stage's typed entry point.

The run owns no stage logic: `RunPlan` decides what each stage reads and where it writes, the
stage entry points do the work, and their result objects name what they wrote. The curriculum's
arms share phases: the annealed arm trains phases 1–3 in one run folder, and every arm of
`pretrain.arms` trains phase 3 again from the same phase-2 weights with the same tokens and
schedule, changing one thing (`arm_recipe`): the control anneals on the phase-1 general mix
without Guided MLM, `no_guided` on the recipe's domain mix without Guided MLM, `uncurated` on
the web corpus's target-domain folders before curation. Only the multi-process torchrun launch
is a subprocess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rexbert.errors import UserError
from rexbert.fileio import atomic_write_text
from rexbert.run.plan import ANNEALED, RunPlan
from rexbert.run.runner import Stage, StageStopped

CONTROL, NO_GUIDED, UNCURATED = "control", "no_guided", "uncurated"
UNCURATED_COMPONENT = "uncurated"  # the mixture component of the uncurated arm's folders
ARM_TITLES = {CONTROL: "control: phase 3 on the general mix",
              NO_GUIDED: "no_guided: phase 3 on the domain mix without Guided MLM",
              UNCURATED: "uncurated: phase 3 on the uncurated domain folders"}


def _pick(dump: dict[str, Any], *paths: str) -> dict[str, Any]:
    """The config values at dotted `paths` (what a stage's fingerprint covers)."""
    picked = {}
    for path in paths:
        node: Any = dump
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        picked[path] = node
    return picked


def stage_list(plan: RunPlan) -> list[Stage]:
    """Every stage in order (names are what `--from` accepts)."""
    cfg, layout = plan.cfg, plan.layout
    dump = cfg.model_dump(mode="json")
    dump["curate"].pop("executor", None)  # where curation runs does not change what it keeps
    dump["shards"].pop("workers", None)
    pretrain = ("seed", "pretrain.recipe", "pretrain.general_source", "pretrain.domain_source")
    stages = []
    if plan.demo_parts:
        stages.append(Stage("data", "demo data", lambda: make_demo_data(plan),
                            _pick(dump, "seed", "data.demo"), (layout.data,)))
    stages.append(Stage("curate", "curation", lambda: curate(plan),
                        _pick(dump, "seed", "data.corpus", "data.domain_corpus", "curate"), (layout.curated,)))
    if cfg.data.tokenizer is None:
        stages.append(Stage("tokenizer", "tokenizer", lambda: train_tokenizer(plan),
                            _pick(dump, "tokenizer", "data.general_corpus"), (layout.tokenizer,)))
    stages += [
        Stage("shards", "token shards and Guided-MLM spans", lambda: build_shards(plan),
              _shards_depends(plan, dump), (layout.shards,)),
        Stage("phase1", "phase 1: general MLM", lambda: train_phase(plan, ANNEALED, 0),
              _pick(dump, *pretrain), (layout.pretrain_run(ANNEALED), layout.recipe(ANNEALED))),
        Stage("phase2", "phase 2: context extension", lambda: train_phase(plan, ANNEALED, 1),
              outputs=_phase_folders(plan, 1)),
        Stage("phase3", "phase 3: domain annealing with Guided MLM", lambda: train_phase(plan, ANNEALED, 2),
              outputs=_phase_folders(plan, 2)),
    ]
    stages += [Stage(arm, ARM_TITLES[arm], lambda arm=arm: train_arm(plan, arm), {"pretrain.arm": arm},
                     (layout.pretrain_run(arm), layout.recipe(arm))) for arm in cfg.pretrain.arms]
    stages += [
        Stage("export", "export to transformers / sentence-transformers", lambda: export(plan),
              _pick(dump, "export"), tuple(layout.model(arm) for arm in plan.arms)),
        Stage("evaluate", "evaluation", lambda: evaluate(plan),
              _pick(dump, "evaluate", "data.pairs", "data.mlm_eval", "data.glue_dir"), (layout.eval,)),
        Stage("report", "report", lambda: report(plan)),
    ]
    return stages


def _phase_folders(plan: RunPlan, first: int) -> tuple[Path, ...]:
    """The annealed run's folders of phase `first` and later (what `--from phase<k>` redoes)."""
    from rexbert.train.api import phase_folder

    recipe = plan.cfg.pretrain.recipe
    return tuple(phase_folder(plan.layout.pretrain_run(ANNEALED), recipe, phase.name)
                 for phase in recipe.phases[first:])


def _shards_depends(plan: RunPlan, dump: dict[str, Any]) -> dict[str, Any]:
    depends = _pick(dump, "data.tokenizer", "data.general_corpus", "shards", "spans",
                    "pretrain.general_source", "pretrain.domain_source")
    if UNCURATED in plan.cfg.pretrain.arms and plan.cfg.data.general_corpus:
        depends["the web corpus sharded for the uncurated arm"] = True  # see RunPlan.shard_inputs
    return depends


# ---- data and curation ------------------------------------------------------------------
def make_demo_data(plan: RunPlan) -> None:
    from rexbert.sources.api import demo_data

    cfg = plan.cfg.data.demo.model_copy(update={"seed": plan.cfg.seed})
    # A killed earlier attempt left part of the folder: regenerate it (deterministic).
    demo_data(cfg, plan.layout.data, overwrite=True)


def curate(plan: RunPlan) -> None:
    from rexbert.curate.api import curate as run_curate

    truth = plan.demo.truth if plan.cfg.data.corpus is None and plan.web_corpus is not None else None
    cfg = plan.cfg.curate.model_copy(update={"seed": plan.cfg.seed})
    result = run_curate(cfg, plan.curate_inputs, plan.layout.curated, truth=truth)
    if result.pending:
        raise StageStopped("curation jobs were queued on the cluster; run the same `rexbert run` "
                           "command again when they have finished")


def train_tokenizer(plan: RunPlan) -> None:
    from rexbert.data.api import train_tokenizer as run_train

    run_train([*plan.general_inputs, plan.kept], plan.cfg.tokenizer, plan.layout.tokenizer)


def tokenizer_dir(plan: RunPlan) -> str:
    """The trained tokenizer, or the one `data.tokenizer` names (a folder, or a hub id resolved
    through the local hub cache)."""
    if plan.cfg.data.tokenizer is None:
        return str(plan.layout.tokenizer)
    from rexbert.model.checkpoint import resolve_model_dir

    return str(resolve_model_dir(plan.cfg.data.tokenizer, "data.tokenizer"))


def build_shards(plan: RunPlan) -> None:
    from rexbert.data.api import build_shards as run_build
    from rexbert.data.api import mine_spans

    run_build(plan.shard_inputs, tokenizer_dir(plan), plan.cfg.shards, plan.layout.shards)
    mine_spans(plan.layout.shards, [plan.cfg.pretrain.domain_source], plan.general_sources(),
               plan.cfg.spans)


# ---- pretraining ------------------------------------------------------------------------
def recipe_data(plan: RunPlan) -> dict[str, Any]:
    """The pretrain recipe with the run's seed, tokenizer, shards and mixture groups."""
    cfg = plan.cfg
    data = cfg.pretrain.recipe.model_dump(mode="json")
    data["seed"] = cfg.seed
    data["data"].update(tokenizer=tokenizer_dir(plan), shards=str(plan.layout.shards), groups={
        cfg.pretrain.general_source: plan.general_sources(),
        cfg.pretrain.domain_source: [cfg.pretrain.domain_source]})
    return data


def _write_recipe(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))


def train_phase(plan: RunPlan, arm: str, phase_index: int) -> None:
    data = recipe_data(plan)
    _write_recipe(plan.layout.recipe(arm), data)
    _pretrain(plan, arm, data, data["phases"][phase_index]["name"])


def arm_recipe(plan: RunPlan, arm: str, init_from: Path) -> dict[str, Any]:
    """The recipe of one phase-3 arm: the annealed recipe's phase 3 alone, from the phase-2
    weights at `init_from`, with the same tokens, batch and schedule — and one change.

    control: phase 1's general mix, constant; no_guided: the domain mix, no Guided MLM;
    uncurated: the domain component's share goes to the web corpus's target-domain folders
    (no Guided MLM: spans are mined on the curated corpus only, so it would have nothing to
    guide, and the arm then isolates curation against no_guided).
    """
    data = recipe_data(plan)
    first, _, anneal = data["phases"]
    anneal["init_from"] = str(init_from)
    anneal["masking"]["guided_share"] = 0.0
    if arm == CONTROL:
        anneal["mixture"] = {**first["mixture"], "end_weights": None, "schedule": "constant"}
    elif arm == UNCURATED:
        domain = plan.cfg.pretrain.domain_source
        mixture = anneal["mixture"]
        if domain not in mixture["weights"]:
            raise UserError(f"pretrain.recipe: phase 3 has no mixture component '{domain}' "
                            "(pretrain.domain_source) for the uncurated arm to replace")
        for key in ("weights", "end_weights"):
            if mixture.get(key):
                mixture[key] = {UNCURATED_COMPONENT if name == domain else name: weight
                                for name, weight in mixture[key].items()}
        data["data"]["groups"][UNCURATED_COMPONENT] = plan.uncurated_sources()
    data["phases"] = [anneal]
    return data


def train_arm(plan: RunPlan, arm: str) -> None:
    """Phase 3 of one arm from the annealed run's phase-2 weights."""
    from rexbert.train.api import read_pretrain_result

    recipe = plan.cfg.pretrain.recipe
    annealed = read_pretrain_result(plan.layout.pretrain_run(ANNEALED))
    data = arm_recipe(plan, arm, annealed.final_checkpoint(recipe.phases[1].name))
    _write_recipe(plan.layout.recipe(arm), data)
    _pretrain(plan, arm, data, data["phases"][0]["name"])


def _pretrain(plan: RunPlan, arm: str, data: dict[str, Any], phase: str) -> None:
    from rexbert.train.api import pretrain, read_pretrain_result
    from rexbert.train.config import PretrainConfig

    run_dir = plan.layout.pretrain_run(arm)
    exit_code = None
    if plan.cfg.pretrain.nproc_per_node > 1:
        from rexbert.run.launch import launch_pretrain

        exit_code = launch_pretrain(plan.layout.recipe(arm), run_dir, phase, plan.cfg.pretrain.nproc_per_node)
        result = read_pretrain_result(run_dir)
    else:
        result = pretrain(PretrainConfig.model_validate(data), run_dir, resume=run_dir.exists(),
                          phases=[phase], source=str(plan.layout.recipe(arm)))
    if result.final_checkpoint(phase) is None:
        raise StageStopped(f"stopped before the end of phase '{phase}' (checkpoint in {run_dir}); run "
                           "the same `rexbert run` command again to resume",
                           exit_code=exit_code or result.exit_code)


# ---- export, evaluation, report --------------------------------------------------------------
def export(plan: RunPlan) -> None:
    from rexbert.release.api import export as run_export
    from rexbert.train.api import read_pretrain_result

    for arm in plan.arms:
        checkpoint = read_pretrain_result(plan.layout.pretrain_run(arm)).last_checkpoint()
        run_export(checkpoint, plan.layout.model(arm), plan.cfg.export, overwrite=True)


def evaluate(plan: RunPlan) -> None:
    from rexbert import evaluate as run_evaluate
    from rexbert.evaluate.api import FrequencyInput

    models = [f"{arm}={plan.layout.model(arm)}" for arm in plan.arms]
    ev, seed = plan.cfg.evaluate, {"seed": plan.cfg.seed}
    cfg = ev.model_copy(update={name: getattr(ev, name).model_copy(update=seed)
                                for name in ("mlm", "similarity", "glue")})
    demo_glue = plan.cfg.data.glue_dir is None
    # The frequency baseline counts the domain text the models were trained on: the domain
    # source of the shards, less the documents pretraining held out.
    frequency = FrequencyInput(shards=str(plan.layout.shards), source=plan.cfg.pretrain.domain_source,
                               holdout_documents=plan.cfg.pretrain.recipe.data.holdout_documents)
    run_evaluate(models, cfg, plan.layout.eval, mlm_data=plan.mlm_input,
                 pairs=plan.pairs, glue_dir=plan.glue_dir,
                 glue_caption="Demo tasks in the GLUE layouts (built from the demo data; not GLUE)"
                 if demo_glue else None, frequency=frequency)


def report(plan: RunPlan) -> None:
    from rexbert.run.report import write_run_report

    write_run_report(plan)
