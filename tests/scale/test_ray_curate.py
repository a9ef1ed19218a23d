"""`rexbert curate --executor ray` on a real Ray cluster (a head and a worker node on this machine):
the same curation as the local executor, document for document, and a killed run that, rerun,
runs only the shards that had not finished."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# Each node offers 1 CPU and 1 GiB to Ray; a task asks for one CPU and half of that memory, so
# one task runs on each node at a time (datatrove asks for cpus_per_task * mem_per_cpu_gb).
RAY_OPTIONS = {"ray": {"cpus_per_task": 1, "mem_per_cpu_gb": 0.5}}


def test_ray_curation_matches_local(ray_cluster, demo_corpus, local_reference, harness, tmp_path):
    out = tmp_path / "ray"
    recipe = harness.write_recipe(tmp_path / "ray.yaml", RAY_OPTIONS)
    actors_before = {node: ray_cluster.rank_workers(node) for node in ("head", "worker")}
    with harness.timed("curate, ray executor"):
        harness.run_curate(["--input", demo_corpus, "--out", out, "--config", recipe, "--executor", "ray",
                            "--workers", "2"], env=ray_cluster.env())
    harness.assert_same_curation(out, local_reference.out())
    for node, before in actors_before.items():
        assert ray_cluster.rank_workers(node) > before, f"the Ray {node} node ran no datatrove task"


def _completed_ranks(logging_dir: Path) -> set[int]:
    folder = logging_dir / "completions"
    return {int(p.name) for p in folder.iterdir()} if folder.is_dir() else set()


def _settled_completions(logging_dir: Path, quiet: float = 2.0) -> set[int]:
    """The completed ranks once none has been added for `quiet` seconds (Ray stops the dead
    driver's actors on its own schedule)."""
    seen, since = _completed_ranks(logging_dir), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.2)
        now = _completed_ranks(logging_dir)
        if now != seen:
            seen, since = now, time.monotonic()
    return seen


def _rank_files(logging_dir: Path, rank: int) -> dict[str, tuple[int, bytes]]:
    """(mtime, bytes) of what datatrove writes when a rank finishes: its marker, log and stats."""
    paths = {"marker": logging_dir / "completions" / f"{rank:05d}",
             "log": logging_dir / "logs" / f"task_{rank:05d}.log",
             "stats": logging_dir / "stats" / f"{rank:05d}.json"}
    return {name: (p.stat().st_mtime_ns, p.read_bytes()) for name, p in paths.items()}


def _kill_after_first_shard(command: list[str], env: dict, logging_dir: Path, log: Path, timeout: float = 240) -> None:
    """Start `command` and SIGKILL its process group as soon as one shard of the stage logging
    to `logging_dir` has finished."""
    with log.open("w") as output:
        proc = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while not _completed_ranks(logging_dir) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, (f"the run ended ({proc.returncode}) before a shard finished or "
                                                f"before it could be killed:\n{log.read_text()[-3000:]}")


def test_killed_ray_run_reruns_only_missing_shards(ray_cluster, demo_corpus, local_reference, harness, tmp_path):
    out = tmp_path / "ray-killed"
    recipe = harness.write_recipe(tmp_path / "ray.yaml", RAY_OPTIONS)
    # one task at a time, so that the kill leaves finished and unfinished shards
    args = ["--input", demo_corpus, "--out", out, "--config", recipe, "--executor", "ray", "--workers", "1",
            "--no-relevance"]
    clean_logs = out / "work" / "logs" / "clean"  # datatrove's logging folder of the first executor stage
    with harness.timed("curate, ray executor, killed after one shard"):
        _kill_after_first_shard(harness.curate_command(*args), ray_cluster.env(), clean_logs, tmp_path / "killed.log")
    finished = _settled_completions(clean_logs)
    missing = set(range(harness.TASKS)) - finished
    assert finished and missing, f"the kill left finished {finished} and missing {missing}; both must be non-empty"
    before = {rank: _rank_files(clean_logs, rank) for rank in finished}
    rerun_start = time.time_ns()

    with harness.timed("curate, ray executor, rerun after the kill"):
        harness.run_curate(args, env=ray_cluster.env())

    assert _completed_ranks(clean_logs) == set(range(harness.TASKS))
    for rank in finished:  # not run again: marker, task log and stats untouched
        assert _rank_files(clean_logs, rank) == before[rank], f"shard {rank} had finished but was run again"
    for rank in missing:  # run by the rerun
        assert _rank_files(clean_logs, rank)["log"][0] >= rerun_start, f"shard {rank} was not run by the rerun"
    harness.assert_same_curation(out, local_reference.out(relevance=False))
