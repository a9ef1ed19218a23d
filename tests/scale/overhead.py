"""Wall time of the same curation of the tiny demo corpus on the local executor, on a local Ray
cluster (head + worker node) and on a single-node Slurm, and the ratio of each to the local run.

    python tests/scale/overhead.py [--repeat N] [--work DIR] [--no-ray] [--no-slurm]

The recipe is the scale tests' (tests/scale/harness.py). The clusters start once; then each
round runs every executor in turn on a fresh output folder, and the table gives medians over
the rounds, so that a change of the machine's load hits every executor alike. The `clean` and
`filter` columns are the stage times the curation writes to its timings.json (left out for
Slurm, whose stages finish across reruns); the Slurm time counts every rerun and queue wait.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"rexbert_scale_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


clusters, harness = _load("clusters"), _load("harness")


class Executor:
    """One executor: its recipe, its environment, how long its cluster took to start."""

    def __init__(self, name: str, kind: str, recipe: Path, env: dict | None = None, wait=None, started: float | None = None):
        self.name, self.kind, self.recipe, self.env, self.wait, self.started = name, kind, recipe, env, wait, started
        self.runs: list[dict[str, float]] = []

    def curate(self, corpus: Path, out: Path) -> None:
        """Curate into `out` until finished (rerunning after each queue wait) and record the times."""
        args = ["--input", corpus, "--out", out, "--config", self.recipe, "--executor", self.kind]
        if self.wait is None:
            args += ["--workers", "2"]
        start = time.perf_counter()
        while not (out / "stats.json").is_file():
            harness.run_curate(args, env=self.env, timeout=900)
            if self.wait is not None:
                self.wait(600)
        stages = {} if self.wait else json.loads((out / "timings.json").read_text())
        self.runs.append({"total": time.perf_counter() - start, **{s: stages[s] for s in ("clean", "filter") if s in stages}})

    def median(self, key: str) -> float | None:
        values = [run[key] for run in self.runs if key in run]
        return statistics.median(values) if values else None


def _start(stack: ExitStack, cluster_class, prefix: str):
    """A started cluster of `cluster_class` in a fresh folder (stopped and removed by `stack`), and
    the seconds its start took."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    stack.callback(shutil.rmtree, root, ignore_errors=True)
    cluster = cluster_class(root)
    stack.callback(cluster.stop)
    start = time.perf_counter()
    cluster.start()
    return cluster, time.perf_counter() - start


def _executors(stack: ExitStack, work: Path, ray: bool, slurm: bool) -> list[Executor]:
    executors = [Executor("local", "local", harness.write_recipe(work / "local.yaml"))]
    if ray:
        cluster, started = _start(stack, clusters.RayCluster, "rexbert-ray-")
        recipe = harness.write_recipe(work / "ray.yaml", {"ray": {"cpus_per_task": 1, "mem_per_cpu_gb": 0.5}})
        executors.append(Executor("Ray (head + worker node)", "ray", recipe, cluster.env(), started=started))
    if slurm:
        cluster, started = _start(stack, clusters.SlurmCluster, "rexbert-slurm-")
        activate = Path(sys.prefix) / "bin" / "activate"
        options = {"partition": cluster.partition, "time": "00:30:00", "cpus_per_task": 1, "mem_per_cpu_gb": 1,
                   **({"venv_path": str(activate)} if sys.prefix != sys.base_prefix else {})}
        recipe = harness.write_recipe(work / "slurm.yaml", {"slurm": options})
        executors.append(Executor("Slurm (single node)", "slurm", recipe, cluster.env(), cluster.wait_idle, started))
    return executors


def _table(executors: list[Executor]) -> list[str]:
    local = executors[0].median("total")
    lines = ["| executor | cluster start s | clean s | filter s | whole curation s | vs local |", "|---|---|---|---|---|---|"]
    for ex in executors:
        cells = [ex.started, ex.median("clean"), ex.median("filter"), ex.median("total")]
        text = ["-" if v is None else f"{v:.1f}" for v in cells] + [f"{ex.median('total') / local:.2f}"]
        lines.append(f"| {ex.name} | " + " | ".join(text) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the executors (default 3)")
    parser.add_argument("--work", type=Path, help="folder for the corpus and the outputs (default: a temporary one)")
    parser.add_argument("--no-ray", action="store_true", help="leave out the Ray cluster")
    parser.add_argument("--no-slurm", action="store_true", help="leave out the Slurm cluster")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="rexbert-overhead-"))
    subprocess.run([sys.executable, "-m", "rexbert", "demo-data", "--out", str(work / "demo"), "--size", "tiny"],
                   check=True, capture_output=True)
    loads = [os.getloadavg()[0]]
    with ExitStack() as stack:
        executors = _executors(stack, work, not args.no_ray, not args.no_slurm)
        for round_ in range(args.repeat):
            for ex in executors:
                ex.curate(work / "demo" / "corpus", work / f"{ex.kind}-{round_}")
                loads.append(os.getloadavg()[0])
    print(f"tiny demo corpus, {os.cpu_count()} CPUs, median of {args.repeat} rounds, "
          f"1-minute load average {min(loads):.1f} to {max(loads):.1f} during the runs")
    print("\n".join(_table(executors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
