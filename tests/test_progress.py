"""Progress without a terminal is lines a log file can hold, in every stage; on a terminal, bars."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rexbert.progress import Progress, format_duration


def test_without_a_terminal_progress_is_a_line_every_interval(caplog):
    caplog.set_level(logging.INFO, logger="rexbert.progress")
    with Progress(total=4, desc="shards", unit="file", terminal=False, every_s=0.0) as progress:
        for name in ("a", "b", "c", "d"):
            progress.update(detail=name)
    lines = [r.getMessage() for r in caplog.records if r.name == "rexbert.progress"]
    assert lines[0] == "shards: started (4 file)"
    assert [line.split(", ")[0] for line in lines[1:5]] == [
        "shards: 1/4 file (25%)", "shards: 2/4 file (50%)", "shards: 3/4 file (75%)", "shards: 4/4 file (100%)"]
    assert "ETA" in lines[1] and lines[4].endswith(", d") and lines[-1].startswith("shards: 4/4 file in ")


def test_lines_are_spaced_by_the_interval(caplog):
    caplog.set_level(logging.INFO, logger="rexbert.progress")
    with Progress(total=1000, desc="docs", terminal=False, every_s=3600) as progress:
        for _ in range(1000):
            progress.update()
    assert [r.getMessage().split(":")[1].split()[0] for r in caplog.records] == ["started", "1,000/1,000"]


def test_a_failed_loop_says_where_it_stopped(caplog):
    caplog.set_level(logging.INFO, logger="rexbert.progress")
    with pytest.raises(ValueError), Progress(total=3, desc="spans", unit="shard", terminal=False):
        raise ValueError("bad shard")
    assert caplog.records[-1].getMessage().startswith("spans: 0/3 shard stopped after ")


def test_on_a_terminal_it_is_a_bar(capsys):
    with Progress(total=2, desc="bar", terminal=True, every_s=0) as progress:
        progress.update(2)
    err = capsys.readouterr().err
    assert "\r" in err and "2/2" in err  # tqdm's bar redraws itself


def test_disabled_shows_nothing(caplog, capsys):
    caplog.set_level(logging.INFO, logger="rexbert.progress")
    for _ in Progress.wrap(range(3), desc="quiet", enabled=False, terminal=False):
        pass
    assert not caplog.records and capsys.readouterr().err == ""


def test_durations():
    assert [format_duration(s) for s in (5, 75, 3725)] == ["5s", "1m 15s", "1h 02m"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """A `rexbert` command with stderr to a pipe (no terminal), progress lines as often as possible."""
    env = {**os.environ, "REXBERT_PROGRESS_EVERY_S": "0.0001", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "rexbert", *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("progress")
    result = _run(["demo-data", "--size", "tiny", "--out", "demo"], root)
    assert "\r" not in result.stderr and "demo-data: started" in result.stderr
    return root


STAGES = {  # stage → (command, a progress line it must write)
    "tokenizer": (["tokenizer", "train", "--input", "demo/corpus", "--vocab-size", "512", "--out", "tok"],
                  "tokenizer: reading documents: "),
    "shards": (["shards", "build", "--input", "demo/corpus", "--tokenizer", "tok", "--out", "shards"],
               "token shards: "),
    "spans": (["spans", "mine", "--shards", "shards", "--source", "fashion", "--reference-source", "news"],
              "mining spans: "),
    "curate": (["curate", "--input", "demo/corpus", "--out", "curated", "--no-relevance"], "curate clean: "),
}


@pytest.mark.slow
def test_every_stage_without_a_terminal_writes_lines_not_carriage_returns(demo):
    for stage, (args, expected) in STAGES.items():  # in order: each needs the one before
        err = _run(args, demo).stderr
        assert "\r" not in err, f"{stage} wrote carriage returns: {err[-500:]!r}"
        progress = [line for line in err.splitlines() if "rexbert.progress" in line and expected in line]
        assert len(progress) >= 2, f"{stage}: no progress lines in {err[-1000:]!r}"
    assert (demo / "curated" / "work" / "logs" / "clean" / "console.log").stat().st_size > 0  # datatrove's log
