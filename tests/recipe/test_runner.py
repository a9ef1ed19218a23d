"""Stage markers: finished stages are skipped, a failed stage reruns, --from reruns onwards."""

import pytest

from rexbert.errors import UserError
from rexbert.recipe.runner import Stage, StageNotFinished, marker_path, run_stages


def _stages(calls, fail_at=None):
    def make(name):
        def run():
            calls.append(name)
            if name == fail_at:
                raise RuntimeError("killed")

        return Stage(name, name.upper(), run)

    return [make(n) for n in ("a", "b", "c")]


def test_rerun_skips_finished_and_retries_failed(tmp_path):
    calls = []
    with pytest.raises(RuntimeError):
        run_stages(tmp_path, _stages(calls, fail_at="b"), echo=lambda _: None)
    assert calls == ["a", "b"]
    assert marker_path(tmp_path, "a").is_file() and not marker_path(tmp_path, "b").exists()
    calls.clear()
    timings = run_stages(tmp_path, _stages(calls), echo=lambda _: None)
    assert calls == ["b", "c"]
    assert list(timings) == ["a", "b", "c"]


def test_from_reruns_that_stage_and_later(tmp_path):
    calls = []
    run_stages(tmp_path, _stages(calls), echo=lambda _: None)
    calls.clear()
    run_stages(tmp_path, _stages(calls), start_from="b", echo=lambda _: None)
    assert calls == ["b", "c"]
    with pytest.raises(UserError, match="--from z: no such stage; stages are a, b, c"):
        run_stages(tmp_path, _stages(calls), start_from="z", echo=lambda _: None)


def test_stage_waiting_on_a_cluster_stops_without_marker(tmp_path):
    def queued():
        raise StageNotFinished("jobs queued")

    messages = []
    assert run_stages(tmp_path, [Stage("q", "Q", queued)], echo=messages.append) is None
    assert not marker_path(tmp_path, "q").exists()
    assert messages[-1] == "[1/1] Q: jobs queued"


def test_from_deletes_outputs_of_rerun_stages_only(tmp_path):
    kept, redone = tmp_path / "a_out", tmp_path / "b_out"
    for folder in (kept, redone):
        folder.mkdir()
        (folder / "x").write_text("old")
    stages = [Stage("a", "A", lambda: None, (kept,)), Stage("b", "B", lambda: None, (redone,))]
    run_stages(tmp_path, stages, echo=lambda _: None)
    run_stages(tmp_path, stages, start_from="b", echo=lambda _: None)
    assert (kept / "x").read_text() == "old"
    assert not redone.exists()
