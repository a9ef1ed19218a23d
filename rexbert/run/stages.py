"""The stages of `rexbert run`, each one a call of a stage's typed entry point.

The run owns no stage logic: `RunPlan` decides what each stage reads and where it writes, the
stage entry points do the work, and their result objects name what they wrote. The curriculum's
arms share phases: the annealed arm trains phases 1–3 in one run folder, the control trains
phase 3 again from the same phase-2 weights on the phase-1 general mix (same tokens, same
schedule, no Guided MLM). Only the multi-process torchrun launch is a subprocess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rexbert.fileio import atomic_write_text
from rexbert.run.plan import RunPlan
from rexbert.run.runner import Stage, StageStopped

ANNEALED, CONTROL = "annealed", "control"


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
              _pick(dump, "data.tokenizer", "data.general_corpus", "shards", "spans",
                    "pretrain.general_source", "pretrain.domain_source"), (layout.shards,)),
        Stage("phase1", "phase 1: general MLM", lambda: train_phase(plan, ANNEALED, 0),
              _pick(dump, *pretrain), (layout.pretrain_run(ANNEALED), layout.recipe(ANNEALED))),
        Stage("phase2", "phase 2: context extension", lambda: train_phase(plan, ANNEALED, 1),
              outputs=_phase_folders(plan, 1)),
        Stage("phase3", "phase 3: domain annealing with Guided MLM", lambda: train_phase(plan, ANNEALED, 2),
              outputs=_phase_folders(plan, 2)),
    ]
    if cfg.pretrain.control:
        stages.append(Stage("control", "control: phase 3 on the general mix", lambda: train_control(plan),
                            _pick(dump, "pretrain.control"),
                            (layout.pretrain_run(CONTROL), layout.recipe(CONTROL))))
    stages += [
        Stage("export", "export to transformers / sentence-transformers", lambda: export(plan),
              _pick(dump, "export"), tuple(layout.model(arm) for arm in arms(plan))),
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


def arms(plan: RunPlan) -> list[str]:
    return [ANNEALED, CONTROL] if plan.cfg.pretrain.control else [ANNEALED]


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
    return plan.cfg.data.tokenizer or str(plan.layout.tokenizer)


def build_shards(plan: RunPlan) -> None:
    from rexbert.data.api import build_shards as run_build
    from rexbert.data.api import mine_spans

    run_build([*plan.general_inputs, plan.kept], tokenizer_dir(plan), plan.cfg.shards, plan.layout.shards)
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


def train_control(plan: RunPlan) -> None:
    """Phase 3 from the same phase-2 weights, on the phase-1 general mix: equal compute."""
    from rexbert.train.api import read_pretrain_result

    data = recipe_data(plan)
    first, second, anneal = data["phases"]
    annealed = read_pretrain_result(plan.layout.pretrain_run(ANNEALED))
    anneal["init_from"] = str(annealed.final_checkpoint(second["name"]))
    anneal["mixture"] = {**first["mixture"], "end_weights": None, "schedule": "constant"}
    anneal["masking"]["guided_share"] = 0.0
    data["phases"] = [anneal]
    _write_recipe(plan.layout.recipe(CONTROL), data)
    _pretrain(plan, CONTROL, data, anneal["name"])


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

    for arm in arms(plan):
        checkpoint = read_pretrain_result(plan.layout.pretrain_run(arm)).last_checkpoint()
        run_export(checkpoint, plan.layout.model(arm), plan.cfg.export, overwrite=True)


def evaluate(plan: RunPlan) -> None:
    from rexbert import evaluate as run_evaluate

    models = [f"{arm}={plan.layout.model(arm)}" for arm in arms(plan)]
    demo_glue = plan.cfg.data.glue_dir is None
    run_evaluate(models, plan.cfg.evaluate, plan.layout.eval, mlm_data=plan.mlm_input,
                 pairs=plan.pairs, glue_dir=plan.glue_dir,
                 glue_caption="Demo tasks in the GLUE layouts (built from the demo data; not GLUE)"
                 if demo_glue else None)


def report(plan: RunPlan) -> None:
    from rexbert.run.report import write_run_report

    write_run_report(plan)
