"""Faults of `rexbert run`: the user's files are never deleted or replaced, a stopped stage is
never recorded as finished, and a failed first attempt does not lock its config into the folder."""

from __future__ import annotations

import os
import time

from rexbert import outputs
from rexbert.cli.main import main
from rexbert.run.runner import Stage, StageStopped, marker_path


def test_run_refuses_a_folder_holding_the_users_files(tmp_path, capsys):
    out = tmp_path / "OUT"
    (out / "data" / "corpus").mkdir(parents=True)
    (out / "data" / "corpus" / "mine.jsonl").write_text('{"text": "mine"}\n')
    (out / "report.md").write_text("my report")
    assert main(["run", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not written by rexbert" in err[0]
    assert (out / "data" / "corpus" / "mine.jsonl").read_text() == '{"text": "mine"}\n'
    assert (out / "report.md").read_text() == "my report"
    assert sorted(p.name for p in out.iterdir()) == ["data", "report.md"]


def test_from_refuses_to_delete_a_users_file_inside_the_run_folder(tmp_path, capsys):
    out = outputs.claim(tmp_path / "OUT", "run")
    data = outputs.claim(out / "data", "demo-data")
    (data / "manifest.json").write_text("{}")
    outputs.seal(data)
    outputs.seal(out)
    mine = data / "corpus" / "mine.jsonl"
    mine.parent.mkdir()
    mine.write_text("x\n")
    old = time.time() - 3600
    os.utime(mine, (old, old))
    assert main(["run", "--out", str(out), "--from", "data"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mine.jsonl: not written by rexbert" in err
    assert mine.read_text() == "x\n" and (data / "manifest.json").is_file()


def test_a_preempted_stage_exits_143_and_is_not_marked(tmp_path, monkeypatch, capsys):
    def preempted():
        raise StageStopped("stopped before the end of phase 'general'; run the same `rexbert run` "
                           "command again to resume", exit_code=143)

    monkeypatch.setattr("rexbert.run.stages.stage_list", lambda plan: [Stage("phase1", "phase 1", preempted)])
    out = tmp_path / "OUT"
    assert main(["run", "--out", str(out)]) == 143
    assert "run the same `rexbert run` command again to resume" in capsys.readouterr().out
    assert not marker_path(out, "phase1").exists()


def test_a_failed_first_attempt_does_not_lock_its_config_in(tmp_path, capsys):
    out = tmp_path / "OUT"
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(f"data: {{corpus: {tmp_path / 'typo'}, domain_corpus: [], demo: {{size: tiny}}}}\n")
    second.write_text(f"data: {{corpus: {tmp_path / 'other'}, demo: {{size: tiny}}}}\n")
    assert main(["run", "--config", str(first), "--out", str(out)]) == 2
    assert "typo" in capsys.readouterr().err
    assert main(["run", "--config", str(second), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "other" in err and "different config" not in err


def test_from_checks_every_later_stage_before_deleting_anything(tmp_path, capsys):
    out = outputs.claim(tmp_path / "OUT", "run")
    data = outputs.claim(out / "data", "demo-data")
    (data / "manifest.json").write_text("{}")
    outputs.seal(data)
    evaluation = outputs.claim(out / "eval", "evaluation")
    (evaluation / "results.json").write_text("{}")
    outputs.seal(evaluation)
    outputs.seal(out)
    notes = evaluation / "notes.md"  # the user's, in the last stage's folder
    notes.write_text("mine")
    assert main(["run", "--out", str(out), "--from", "data"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.md: not written by rexbert" in err
    assert notes.read_text() == "mine" and (evaluation / "results.json").is_file()
    assert (data / "manifest.json").is_file()  # the first stage's folder was not deleted either


def test_a_changed_config_is_refused_before_anything_is_rewritten(tmp_path, capsys):
    out = tmp_path / "OUT"
    first = tmp_path / "a.yaml"
    first.write_text(f"data: {{demo: {{size: tiny}}}}\n"
                     f"curate: {{cleaning: {{profanity: {{wordlist_path: {tmp_path / 'missing.txt'}}}}}}}\n")
    assert main(["run", "--config", str(first), "--out", str(out)]) == 2  # demo data made, curation refused
    assert marker_path(out, "data").is_file() and not marker_path(out, "curate").exists()
    before = {name: (out / name).read_bytes() for name in ("run_config.yaml", "stages/data.json")}
    changed = tmp_path / "b.yaml"
    changed.write_text(first.read_text() + "seed: 123\n")
    capsys.readouterr()
    assert main(["run", "--config", str(changed), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seed: 0 → 123" in err[0] and "--from data" in err[0] and "new --out" in err[0]
    assert {name: (out / name).read_bytes() for name in before} == before
