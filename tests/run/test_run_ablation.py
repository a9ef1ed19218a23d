"""`pretrain.arms: [control, no_guided, uncurated]` on the tiny demo: every arm trains phase 3
from the same phase-2 weights on the same tokens, and the report has the arms table, the
contrasts that isolate each ingredient, and the learning curves."""

from __future__ import annotations

import csv
import json

import pytest

from rexbert.cli.main import main

from .conftest import tiny_config


@pytest.mark.slow
def test_ablation_arms_share_phase_two_and_tokens_and_fill_the_arms_table(tmp_path):
    text = tiny_config(tmp_path).replace("pretrain:\n", "pretrain:\n  arms: [control, no_guided, uncurated]\n")
    config = tmp_path / "ablation.yaml"
    config.write_text(text.replace("evaluate:\n", "evaluate:\n  evaluations: [mlm, similarity]\n  minilm_baseline: false\n"))
    out = tmp_path / "out"
    assert main(["run", "--config", str(config), "--out", str(out)]) == 0

    phase2 = f"init_from: {out}/pretrain/annealed/phase2_context/checkpoint-"
    for arm in ("control", "no_guided", "uncurated"):
        recipe = (out / "pretrain" / f"{arm}.yaml").read_text()
        assert phase2 in recipe, arm
    no_guided = (out / "pretrain" / "no_guided.yaml").read_text()
    assert "guided_share: 0.0" in no_guided
    last = {arm: list(csv.DictReader((out / "pretrain" / arm / "metrics.csv").open()))[-1]
            for arm in ("control", "no_guided", "uncurated")}
    annealed = [r for r in csv.DictReader((out / "pretrain" / "annealed" / "metrics.csv").open())
                if r["phase"] == "anneal"][-1]
    assert {r["step"] for r in last.values()} == {annealed["step"]}  # the same steps of the same batches

    records = json.loads((out / "eval" / "results.json").read_text())["records"]
    assert {"annealed", "control", "no_guided", "uncurated"} <= {r["model"] for r in records}
    report = (out / "report.md").read_text()
    assert "## Arms and what they cost" in report
    section = report.split("## Arms and what they cost")[1].split("\n## ")[0]
    tokens = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in ("annealed", "control", "no_guided", "uncurated") and len(cells) == 8:
            tokens[cells[0]] = int(cells[6].replace(",", ""))
    assert set(tokens) == {"annealed", "control", "no_guided", "uncurated"}, section
    assert max(tokens.values()) <= 1.05 * min(tokens.values()), tokens  # the same phase-3 budget
    for what in ("Guided MLM", "curation", "domain annealing"):
        assert what in section, what
    assert section.count("[") >= 6  # every contrast and arm-vs-control difference has its interval
    assert (out / "figures" / "accuracy_curves.png").read_bytes()[:4] == b"\x89PNG"
