"""`rexbert run` end to end on the tiny demo: a SIGTERM in phase 1 stops the run without marking
the phase finished, the same command resumes it to a report whose verdict states exactly the
numbers in results.json, a second rerun skips everything, and a changed config is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rexbert.cli.main import main
from rexbert.evaluate.stats import ratio_interval


@pytest.mark.slow
def test_sigterm_stops_the_run_unfinished_and_the_rerun_resumes(finished_run):
    stopped = finished_run["stopped"]
    assert stopped["code"] == 143, stopped["printed"][-2000:]
    assert not stopped["phase1_marked"] and stopped["checkpoints"]
    assert "run the same `rexbert run` command again to resume" in stopped["printed"]
    assert "resuming phase general" in finished_run["resumed"] or "resum" in finished_run["resumed"]
    metrics = (finished_run["out"] / "pretrain" / "annealed" / "metrics.csv").read_text().splitlines()
    steps = [int(row.split(",")[1]) for row in metrics[1:] if row.startswith("general,")]
    assert steps == sorted(set(steps)) and steps[-1] == 12  # resumed, not restarted or doubled


@pytest.mark.slow
def test_the_report_states_the_numbers_of_results_json(finished_run):
    out = finished_run["out"]
    report = (out / "report.md").read_text()
    for section in ("## What ran", "## Inputs", "## Curation", "## Pretraining", "## Evaluation",
                    "Demo tasks in the GLUE layouts", "## Did domain annealing help?"):
        assert section in report, section
    assert (out / "report.html").read_text().startswith("<!doctype html>")
    for figure in ("loss_curves.png", "domain_distribution.png", "figure4_similarity.png"):
        assert (out / "figures" / figure).read_bytes()[:4] == b"\x89PNG"
    records = json.loads((out / "eval" / "results.json").read_text())["records"]
    # the baselines sit beside the two models: unigram frequency for token recovery, the
    # packaged all-MiniLM-L6-v2 for similarity
    assert {r["model"] for r in records if r["task"] == "mlm"} == {"annealed", "control", "frequency"}
    assert {r["model"] for r in records if r["task"] == "similarity"} == {"annealed", "control",
                                                                          "all-MiniLM-L6-v2"}
    assert {r["task"].split("/")[0] for r in records} == {"mlm", "similarity", "glue"}

    def value(model, task, metric, **axes):
        (found,) = [r["value"] for r in records if r["model"] == model and r["task"] == task
                    and r["metric"] == metric and all(r["axes"].get(k) == v for k, v in axes.items())]
        return found

    top1 = {m: value(m, "mlm", "top1_accuracy", field="product_title", block_size=128) for m in ("annealed", "control")}
    rho = {m: value(m, "similarity", "spearman", stage="fine-tuned") for m in ("annealed", "control")}
    assert (f"top-1: annealed {100 * top1['annealed']:.2f}% vs control {100 * top1['control']:.2f}% "
            f"({100 * (top1['annealed'] - top1['control']):+.2f} points") in report
    assert f"Spearman: annealed {rho['annealed']:.4f} vs control {rho['control']:.4f}" in report
    frequency = value("frequency", "mlm", "top1_accuracy", field="product_title", block_size=128)
    assert f"recovers {100 * frequency:.2f}% top-1" in report
    # the verdict's interval is the paired bootstrap of the per-example files beside results.json
    hits = {m: np.load(out / "eval" / next(r["examples"] for r in records if r["model"] == m
                                           and r["task"] == "mlm" and r["axes"].get("field") == "product_title"))
            for m in ("annealed", "control")}
    part = {m: json.loads(str(hits[m]["index"])) for m in hits}
    name = {m: next(p["name"] for p in part[m] if p["axes"] == {"field": "product_title", "block_size": 128})
            for m in hits}
    a, c = ((hits[m][f"{name[m]}.hits@1"], hits[m][f"{name[m]}.masked"]) for m in ("annealed", "control"))
    interval = ratio_interval(a[0], a[1], c[0], c[1])
    assert interval.value == pytest.approx(top1["annealed"] - top1["control"], abs=1e-9)
    assert f"95% CI [{100 * interval.low:+.2f}, {100 * interval.high:+.2f}]" in report
    # the control started from phase 2 of the annealed run
    control = (out / "pretrain" / "control.yaml").read_text()
    assert f"init_from: {out}/pretrain/annealed/phase2_context/checkpoint-" in control


@pytest.mark.slow
def test_a_rerun_skips_everything_and_a_changed_config_is_refused(finished_run, capsys, tmp_path):
    config, out = finished_run["config"], finished_run["out"]
    capsys.readouterr()
    assert main(["run", "--config", str(config), "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("already done") == 11
    changed = tmp_path / "seed.yaml"
    changed.write_text(config.read_text() + "seed: 123\n")
    before = (out / "run_config.yaml").read_text()
    assert main(["run", "--config", str(changed), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seed: 0 → 123" in err[0] and "--from data" in err[0]
    assert (out / "run_config.yaml").read_text() == before  # the folder claims only what it holds
    assert main(["run", "--config", str(config), "--out", str(out), "--from", "report"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("already done") == 10 and "[11/11] report: done" in printed


def test_unknown_stage_for_from_is_one_line(tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path / "r"), "--from", "phase9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such stage" in err and "phase3" in err
