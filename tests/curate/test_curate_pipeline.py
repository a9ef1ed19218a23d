"""The whole `rexbert curate` on a small planted corpus: outputs, bad input, reruns, kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rexbert.cli.main import main

OUTPUT_FILES = ("stats.json", "report.md")


def _tree(out: Path) -> dict[str, bytes]:
    """Every file of kept/ and rejected/ plus stats.json and report.md, by relative path."""
    files = {}
    for folder in ("kept", "rejected"):
        for path in sorted((out / folder).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(out))] = path.read_bytes()
    for name in OUTPUT_FILES:
        files[name] = (out / name).read_bytes()
    return files


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.rglob("*.jsonl")) for line in path.read_text().splitlines()]


@pytest.fixture
def finished_run(fixture_corpus, tmp_path):
    corpus, truth, config = fixture_corpus
    out = tmp_path / "out"
    assert main(["curate", "--input", str(corpus), "--out", str(out), "--config", str(config)]) == 0
    return out, truth, corpus, config


def test_outputs_schema_and_bad_input(finished_run):
    out, truth, _, _ = finished_run
    kept = _rows(out / "kept")
    assert kept and all({"text", "id", "domain", "url"} <= set(r) for r in kept)
    assert all("relevance_score" in r for r in kept if r["domain"] in ("news", "sports"))
    assert all(r["selection"] == "direct" for r in kept if r["domain"] == "fashion")
    rejected = _rows(out / "rejected")
    assert all(r["reason"] and r["stage"] for r in rejected)
    read_reasons = {r["reason"] for r in rejected if r["stage"] == "read"}
    assert read_reasons == {"bad_json", "missing_text", "bad_utf8", "empty_text", "too_large"}
    # every document of the corpus is either kept or rejected, never lost
    ids = {r["id"] for r in kept} | {r["id"] for r in rejected}
    assert set(truth) <= ids
    assert not {r["id"] for r in kept} & {r["id"] for r in rejected}
    stats = json.loads((out / "stats.json").read_text())
    assert stats["documents_kept"] == len(kept)
    assert stats["drop_reasons"]["too_large"] == 1 and stats["drop_reasons"]["bad_json"] == 1
    assert stats["documents_read"] == len(kept) + len(rejected)
    assert stats["domains"]["fashion"]["tokens"] > 0
    assert stats["domains_not_selected_files"] == {"finance": 1}
    assert (out / "domain_distribution.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    for section in ("## QA audit", "## Distilled classifiers", "held-out PR-AUC", "Calibration"):
        assert section in report
    german = [r for r in rejected if r["stage"] == "language"]
    assert german and all(r["reason"] == "language_de" for r in german)
    assert any(r["reason"] == "profanity" for r in rejected)
    assert any(r["reason"] == "near_duplicate" for r in rejected)


def test_rerun_skips_and_stage_commands(finished_run, capsys):
    out, _, corpus, config = finished_run
    before = _tree(out)
    mtime = (out / "stats.json").stat().st_mtime_ns
    assert main(["curate", "--input", str(corpus), "--out", str(out)]) == 0
    assert _tree(out) == before and (out / "stats.json").stat().st_mtime_ns == mtime
    assert main(["curate", "distill", "--out", str(out)]) == 0
    assert "already finished" in capsys.readouterr().out
    # forcing a stage reruns it and the ones after it, with the same result
    assert main(["curate", "distill", "--out", str(out), "--force"]) == 0
    assert not (out / "work" / "stages" / "filter.done").exists()
    for stage in ("filter", "stats"):
        assert main(["curate", stage, "--out", str(out)]) == 0
    assert _tree(out) == before


def test_user_errors_are_one_line(fixture_corpus, tmp_path, capsys):
    corpus, _, _ = fixture_corpus
    bad = tmp_path / "bad.yaml"
    bad.write_text("sampling: {per_domian: 3}\n")
    assert main(["curate", "--input", str(corpus), "--out", str(tmp_path / "o1"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown key 'sampling.per_domian'" in err
    assert main(["curate", "label", "--out", str(tmp_path / "o2")]) == 2
    assert "stage 'clean' has not finished" in capsys.readouterr().err
    assert main(["curate", "--input", str(tmp_path / "nope"), "--out", str(tmp_path / "o3")]) == 2
    assert "corpus folder not found" in capsys.readouterr().err
    both = tmp_path / "both.yaml"
    both.write_text("domains: {filter_required: [news], directly_selected: [news]}\n")
    assert main(["curate", "--input", str(corpus), "--out", str(tmp_path / "o4"), "--config", str(both)]) == 2
    assert "both filter_required and directly_selected" in capsys.readouterr().err


def _launch(corpus, out, config):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "rexbert", "curate", "--input", str(corpus), "--out", str(out),
                             "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)


def _kill_when(proc, condition, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group this test started: the run and its helpers
            proc.wait()
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("the kill condition never happened")


@pytest.mark.slow
def test_kill_at_any_moment_and_rerun_gives_identical_output(finished_run, tmp_path):
    reference, _, corpus, config = finished_run
    out = tmp_path / "killed"
    completions = out / "work" / "logs" / "clean" / "completions"
    # kill 1: inside the clean stage, after its first task finished and before the others
    assert _kill_when(_launch(corpus, out, config), lambda: completions.is_dir() and any(completions.iterdir()))
    assert not (out / "work" / "stages" / "clean.done").exists()
    # kill 2: inside a later stage (the audit loop or distillation, which retrains)
    assert _kill_when(_launch(corpus, out, config), lambda: (out / "work" / "stages" / "label.done").exists())
    assert not (out / "stats.json").exists()
    final = _launch(corpus, out, config)
    assert final.wait(timeout=300) == 0
    assert _tree(out) == _tree(reference)
