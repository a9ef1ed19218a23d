"""`rexbert curate --executor slurm` through datatrove's Slurm executor on a real single-node Slurm
(Debian's slurm-wlm and munge): the command queues job arrays and returns, is run again once they
have finished, and ends with the same curation as the local executor, document for document."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

MAX_ROUNDS = 4  # queue clean, queue filter, finish; one more before calling it stuck


def _slurm_options(partition: str) -> dict:
    options = {"partition": partition, "time": "00:10:00", "cpus_per_task": 1, "mem_per_cpu_gb": 1}
    activate = Path(sys.prefix) / "bin" / "activate"
    if sys.prefix != sys.base_prefix and activate.is_file():
        options["venv_path"] = str(activate)  # what each job sources before running its task
    return {"slurm": options}


def test_slurm_curation_matches_local(slurm_cluster, demo_corpus, local_reference, harness, tmp_path):
    out = tmp_path / "slurm"
    recipe = harness.write_recipe(tmp_path / "slurm.yaml", _slurm_options(slurm_cluster.partition))
    args = ["--input", demo_corpus, "--out", out, "--config", recipe, "--executor", "slurm"]
    rounds = 0
    with harness.timed("curate, slurm executor (every round and wait)"):
        while not (out / "stats.json").is_file():
            assert rounds < MAX_ROUNDS, f"not finished after {rounds} rounds; queue: {slurm_cluster.queue()}"
            harness.run_curate(args, env=slurm_cluster.env())
            rounds += 1
            slurm_cluster.wait_idle(timeout=300)

    assert rounds >= 2, "the command never queued jobs and returned"
    assert not slurm_cluster.failed_jobs()
    # at least every task of the clean and filter stages ran as a job of this cluster
    assert len(slurm_cluster.job_exits()) >= 2 * harness.TASKS
    harness.assert_same_curation(out, local_reference.out())
