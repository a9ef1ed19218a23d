"""`rexbert run` end to end on the tiny demo: every stage, the report, then a rerun that skips."""

import json

import pytest

from rexbert.cli.main import main

TINY = """\
data: {demo_size: tiny}
pretrain: {max_steps: 2}
evaluate:
  mlm_block_sizes: [128]
  mlm_max_examples: 16
  similarity_max_train: 32
  similarity_max_test: 32
  glue_tasks: [sst2, stsb]
  glue_epochs: 1.0
  glue_max_train: 16
  glue_max_eval: 16
"""


@pytest.mark.slow
def test_run_tiny_then_rerun_skips_everything(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    out = tmp_path / "run"
    assert main(["run", "--config", str(config), "--out", str(out)]) == 0

    report = (out / "report.md").read_text()
    for section in ("## What ran", "## Curation", "## Pretraining", "Table 3", "similarity",
                    "Demo tasks in the GLUE layouts", "## Did domain annealing help?"):
        assert section in report, section
    assert "Verdict:" in report
    assert (out / "report.html").read_text().startswith("<!doctype html>")
    for figure in ("loss_curves.png", "domain_distribution.png", "figure4_similarity.png"):
        assert (out / "figures" / figure).read_bytes()[:4] == b"\x89PNG"
    results = json.loads((out / "eval" / "results.json").read_text())
    assert {r["model"] for r in results["records"]} == {"annealed", "control"}
    tasks = {r["task"].split("/")[0] for r in results["records"]}
    assert tasks == {"mlm", "similarity", "glue"}
    # Both models are transformers folders and the control started from phase 2 of the other run.
    assert (out / "models" / "control" / "config.json").is_file()
    assert "phase2_context/final" in (out / "pretrain" / "control.yaml").read_text()

    capsys.readouterr()
    assert main(["run", "--config", str(config), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("already done") == 11

    assert main(["run", "--config", str(config), "--out", str(out), "--from", "report"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("already done") == 10 and "[11/11] report: done" in printed


def test_unknown_stage_for_from_is_one_line(tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path / "r"), "--from", "phase9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such stage" in err and "phase3" in err
