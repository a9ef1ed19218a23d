"""Stage markers: finished stages are skipped, a stopped stage is not marked, a changed config is
refused, and --from starts over while deleting only what rexbert wrote."""

from __future__ import annotations

import os
import time

import pytest

from rexbert import outputs
from rexbert.errors import UserError
from rexbert.run.runner import Stage, StageStopped, marker_path, run_stages


def _stages(calls, fail_at=None, seed=0):
    def make(name):
        def run():
            calls.append(name)
            if name == fail_at:
                raise RuntimeError("killed")

        return Stage(name, name.upper(), run, depends={"seed": seed} if name == "b" else {})

    return [make(n) for n in ("a", "b", "c")]


def quiet(_):
    return None


def test_rerun_skips_finished_and_retries_failed(tmp_path):
    calls = []
    with pytest.raises(RuntimeError):
        run_stages(tmp_path, _stages(calls, fail_at="b"), echo=quiet)
    assert calls == ["a", "b"]
    assert marker_path(tmp_path, "a").is_file() and not marker_path(tmp_path, "b").exists()
    calls.clear()
    timings = run_stages(tmp_path, _stages(calls), echo=quiet)
    assert calls == ["b", "c"] and list(timings) == ["a", "b", "c"]


def test_a_stopped_stage_is_not_marked_and_says_so(tmp_path):
    def preempted():
        raise StageStopped("stopped by SIGTERM", exit_code=143)

    messages = []
    with pytest.raises(StageStopped) as stopped:
        run_stages(tmp_path, [Stage("q", "Q", preempted)], echo=messages.append)
    assert stopped.value.exit_code == 143
    assert not marker_path(tmp_path, "q").exists()
    assert messages[-1] == "[1/1] Q: stopped by SIGTERM"


def test_a_changed_config_is_refused_naming_the_change_and_the_stage(tmp_path):
    run_stages(tmp_path, _stages([], seed=0), echo=quiet)
    with pytest.raises(UserError, match=r"different config \(seed: 0 → 123\), which changes stage 'b' "
                                        r"onwards; rerun with --from b"):
        run_stages(tmp_path, _stages([], seed=123), echo=quiet)
    with pytest.raises(UserError, match="changes stage 'b'"):
        run_stages(tmp_path, _stages([], seed=123), start_from="c", echo=quiet)
    calls = []
    run_stages(tmp_path, _stages(calls, seed=123), start_from="b", echo=quiet)
    assert calls == ["b", "c"]


def test_from_reruns_onwards_and_deletes_only_rexbert_files(tmp_path):
    out = outputs.claim(tmp_path / "run", "run")
    kept, redone = out / "a_out", out / "b_out"
    for folder in (kept, redone):
        outputs.claim(folder, "x")
        (folder / "x").write_text("old")
        outputs.seal(folder)
    stages = [Stage("a", "A", lambda: None, outputs=(kept,)), Stage("b", "B", lambda: None, outputs=(redone,))]
    run_stages(out, stages, echo=quiet)
    users = redone / "mine.txt"
    users.write_text("user")
    old = time.time() - 3600
    os.utime(users, (old, old))
    with pytest.raises(UserError, match="mine.txt: not written by rexbert"):
        run_stages(out, stages, start_from="b", echo=quiet)
    assert users.read_text() == "user" and marker_path(out, "b").is_file()
    users.unlink()
    run_stages(out, stages, start_from="b", echo=quiet)
    assert (kept / "x").read_text() == "old" and not redone.exists()
    with pytest.raises(UserError, match="--from z: no such stage; stages are a, b"):
        run_stages(out, stages, start_from="z", echo=quiet)
