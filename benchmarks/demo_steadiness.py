"""Benchmark: is the embedded default's verdict steady over thread counts and seeds?

    python benchmarks/demo_steadiness.py --work /tmp/steady                 # 1 and 2 threads × seeds 0 1 2
    python benchmarks/demo_steadiness.py --work /tmp/steady --threads 1 --jobs 2 --verdict-only

Runs the embedded default (`configs/run/demo.yaml`, or `--config FILE`) once per thread count
and seed, in WORK/t<threads>_s<seed>, as `rexbert run` with OMP_NUM_THREADS set and the run's
`seed` replaced, then prints one row per run: title top-1 @128 of the annealed model and the
control, their difference with its paired bootstrap 95% interval, the fine-tuned Spearman
difference with its interval, the verdict, and the run's stage seconds. WORK/summary.json holds
the rows.

A run repeats itself bit for bit with the same seed and thread count, but another thread count
sums in another order and takes another trajectory; this benchmark measures how far apart
those trajectories end, which the bootstrap intervals of one run (over texts and queries) do
not. `--verdict-only` evaluates only what the verdict reads (token recovery at 128 tokens and
query–product similarity, without the all-MiniLM-L6-v2 baseline and GLUE): the same numbers in
less time. `--jobs N` runs N of them at once; give each its cores (jobs × threads ≤ cores) when
the stage seconds matter. Rerun with the same WORK to reuse finished runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from rexbert.config.base import read_yaml, resolve_config_path
from rexbert.evaluate.report import difference_cell
from rexbert.evaluate.results import load_results
from rexbert.render import Table, markdown_table
from rexbert.run.config import DEFAULT_RUN_CONFIG
from rexbert.run.report import TOP1_MARGIN_POINTS, Verdict, verdict_from
from rexbert.run.runner import stage_timings

VERDICT_ONLY = {"evaluations": ["mlm", "similarity"], "minilm_baseline": False}


def run_config(source: Path, seed: int, verdict_only: bool) -> dict:
    """The run config of one study run: `source` with its seed replaced (and, for
    --verdict-only, the evaluations the verdict does not read left out). Relative paths in it
    keep resolving from the folder the study starts in, or among the packaged configs."""
    config = read_yaml(source)
    config["seed"] = seed
    if verdict_only:
        evaluate = config.setdefault("evaluate", {})
        evaluate.update(VERDICT_ONLY)
        evaluate.setdefault("mlm", {})["block_sizes"] = [128]
    return config


def run_one(source: Path, work: Path, threads: int, seed: int, verdict_only: bool) -> Path:
    """`rexbert run` for one (threads, seed); its output folder. Its log is beside it."""
    out = work / f"t{threads}_s{seed}"
    config = work / f"t{threads}_s{seed}.yaml"
    config.write_text(yaml.safe_dump(run_config(source, seed, verdict_only), sort_keys=False), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with open(work / f"t{threads}_s{seed}.log", "w", encoding="utf-8") as log:
        code = subprocess.call([sys.executable, "-m", "rexbert", "run", "--config", str(config), "--out", str(out)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        raise SystemExit(f"{out}: rexbert run exited with {code}; see {log.name}, then rerun to resume")
    return out


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def row(threads: int, seed: int, out: Path, verdict: Verdict) -> list[str]:
    top1 = verdict.title_top1
    return [str(threads), str(seed), _percent(top1.get("annealed")), _percent(top1.get("control")),
            difference_cell(verdict.top1_difference, 100, 2), difference_cell(verdict.spearman_difference, 1, 4),
            "met" if verdict.target_met else "NOT met", f"{sum(stage_timings(out).values()):.0f}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the runs")
    parser.add_argument("--config", default=f"configs/{DEFAULT_RUN_CONFIG}",
                        help="run config to repeat (default: the embedded default)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="run seeds (default: 0 1 2)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (default: 1)")
    parser.add_argument("--verdict-only", action="store_true",
                        help="evaluate only what the verdict reads (token recovery @128, similarity)")
    args = parser.parse_args(argv)
    source = resolve_config_path(args.config)
    args.work.mkdir(parents=True, exist_ok=True)
    cases = [(t, s) for t in args.threads for s in args.seeds]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        outs = list(pool.map(lambda case: run_one(source, args.work, *case, args.verdict_only), cases))
    table = Table(f"The verdict of {args.config} over thread counts and seeds",
                  ["Threads", "Seed", "Annealed top-1 (%)", "Control top-1 (%)", "Δ top-1 (points)",
                   "Δ fine-tuned Spearman", "Verdict", "Stage seconds"], [])
    verdicts = []
    for (threads, seed), out in zip(cases, outs, strict=True):
        verdict = verdict_from(load_results(out / "eval"))
        verdicts.append(verdict.target_met)
        table.rows.append(row(threads, seed, out, verdict))
    table.notes.append(f"Δ: annealed − control with its paired bootstrap 95% interval; * marks an interval "
                       f"that excludes 0. 'met' needs Δ top-1 ≥ {TOP1_MARGIN_POINTS:.0f} points and both "
                       "intervals above 0. Stage seconds: the sum of the run's stage markers.")
    print(markdown_table(table))
    print(f"verdict met in {sum(verdicts)} of {len(verdicts)} runs")
    summary = {"config": str(source), "header": table.header, "rows": table.rows}
    (args.work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
