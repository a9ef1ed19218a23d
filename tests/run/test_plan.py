"""What each stage of `rexbert run` reads: the stage list, the demo fallbacks, the general
mixture component and the control arm's recipe."""

from __future__ import annotations

import json

import yaml

from rexbert.config import parse_config
from rexbert.run.config import RunConfig
from rexbert.run.plan import RunPlan
from rexbert.run.stages import recipe_data, stage_list


def _plan(tmp_path, **data):
    return RunPlan(parse_config(RunConfig, {"data": data} if data else {}), tmp_path)


def test_stage_names_follow_the_inputs(tmp_path):
    names = [s.name for s in stage_list(_plan(tmp_path))]
    assert names == ["data", "curate", "tokenizer", "shards", "phase1", "phase2", "phase3", "control",
                     "export", "evaluate", "report"]
    cfg = parse_config(RunConfig, {"pretrain": {"arms": []}, "data": {
        "corpus": "/w", "pairs": {"pairs": "/p.csv"}, "mlm_eval": "/m.jsonl", "glue_dir": "/g",
        "tokenizer": "/tok"}})
    names = [s.name for s in stage_list(RunPlan(cfg, tmp_path))]
    assert names == ["curate", "shards", "phase1", "phase2", "phase3", "export", "evaluate", "report"]


def test_only_the_parts_not_given_fall_back_to_the_demo(tmp_path):
    assert _plan(tmp_path).demo_parts == ["web corpus", "query–product pairs", "held-out product text",
                                          "GLUE-layout tasks"]
    plan = _plan(tmp_path, domain_corpus={"paths": ["/p.jsonl"], "text_fields": ["title", "description"]},
                 general_corpus="/g.jsonl", pairs={"pairs": "/r.csv"})
    assert plan.demo_parts == ["held-out product text", "GLUE-layout tasks"]
    assert plan.web_corpus is None  # only the user's domain text is curated
    assert [s.domain for s in plan.curate_inputs] == ["ecommerce"]
    assert [(s.domain, s.paths) for s in plan.general_inputs] == [("general", ["/g.jsonl"])]
    assert plan.general_sources() == ["general"]
    assert plan.mlm_input.paths[0].endswith("shopping_queries_dataset_products.parquet")


def test_general_text_is_the_web_corpus_outside_the_curated_domains(tmp_path):
    corpus = tmp_path / "data" / "corpus"
    for domain in ("fashion", "news", "physics", "law"):
        (corpus / domain).mkdir(parents=True)
        (corpus / domain / f"{domain}_000000.jsonl").write_text(json.dumps({"text": "x", "id": "1"}) + "\n")
    assert _plan(tmp_path).general_sources() == ["law", "physics"]


def test_the_control_trains_phase_3_from_the_same_phase_2_weights_on_the_general_mix(tmp_path, monkeypatch):
    from rexbert.run import stages

    plan = _plan(tmp_path)
    monkeypatch.setattr(RunPlan, "general_sources", lambda self: ["law", "physics"])
    trained = {}
    monkeypatch.setattr(stages, "_pretrain", lambda plan, arm, data, phase: trained.update(data=data, phase=phase))

    class Annealed:
        def final_checkpoint(self, phase):
            return tmp_path / "pretrain" / "annealed" / f"{phase}-final"

    monkeypatch.setattr("rexbert.train.api.read_pretrain_result", lambda run_dir: Annealed())
    stages.train_arm(plan, "control")
    base = recipe_data(plan)
    (phase,) = trained["data"]["phases"]
    assert phase["name"] == trained["phase"] == base["phases"][2]["name"]
    assert phase["init_from"] == str(tmp_path / "pretrain" / "annealed" / "context-final")
    assert phase["mixture"]["weights"] == base["phases"][0]["mixture"]["weights"]
    assert phase["mixture"]["end_weights"] is None and phase["masking"]["guided_share"] == 0.0
    assert (phase["tokens"], phase["batch_tokens"]) == (base["phases"][2]["tokens"], base["phases"][2]["batch_tokens"])
    written = yaml.safe_load((tmp_path / "pretrain" / "control.yaml").read_text())
    assert written["data"]["groups"] == {"general": ["law", "physics"], "ecommerce": ["ecommerce"]}
    assert written["data"]["shards"] == str(tmp_path / "shards")
