"""Benchmark: the CPU recipe on real text, end to end — the domain-annealed model against its peers.

    python benchmarks/science_real_text.py --data ../shared/data --work /tmp/real_text

Builds the inputs from the shared data (benchmarks/real_text_inputs.py) into WORK/inputs, runs

    rexbert run --config WORK/inputs/real_text_cpu.yaml --out WORK/run

(configs/run/real_text_cpu.yaml with configs/pretrain/real_text_cpu.yaml) and prints, read from
the run's results.json and the per-example files beside it:

  * annealed vs control vs the frequency baseline vs all-MiniLM-L6-v2: held-out title top-1 and
    top-3 at 128 tokens, zero-shot and CoSENT-fine-tuned Spearman (mean ± s.d. over seeds);
  * annealed − control on each, with its paired bootstrap 95% interval (titles resampled for
    token recovery, queries for Spearman; rexbert/evaluate/stats.py);
  * the targets, met or not: annealed title top-1 ≥ 15%, and ≥ control + 5 points with the
    interval above 0; fine-tuned Spearman above the control's with the interval above 0;
  * the wall time of every stage and in all, from the run's stage markers.

The peers, all measured in the same run: the control (phase 3 again from the same phase-2
weights with the same tokens and schedule, on the general mix), the frequency baseline (the
most frequent domain tokens, predicted at every masked position) and all-MiniLM-L6-v2 (a
general sentence encoder, similarity only). Run it again with the same WORK and it reuses the
inputs and the run: `rexbert run` skips finished stages and resumes an interrupted one.
WORK/summary.json holds the printed numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from real_text_inputs import RUN_CONFIG, build_inputs

from rexbert.evaluate.api import MINILM_NAME
from rexbert.evaluate.report import difference_cell, find_record, paired_difference, seed_sd
from rexbert.evaluate.results import Results, load_results
from rexbert.evaluate.stats import Interval
from rexbert.evaluate.token_recovery import FrequencyBaseline
from rexbert.render import Table, markdown_table
from rexbert.run.runner import stage_timings

ANNEALED, CONTROL, FREQUENCY = "annealed", "control", FrequencyBaseline.name
MODELS = (ANNEALED, CONTROL, FREQUENCY, MINILM_NAME)
FIELD, BLOCK = "title", 128
TOP1_TARGET = 0.15
MARGIN_POINTS = 5.0
# (column title, task, metric, axes, scale, digits): the cells of the comparison
COLUMNS = (
    ("title top-1 @128 (%)", "mlm", "top1_accuracy", {"field": FIELD, "block_size": BLOCK, "k": 1}, 100, 2),
    ("title top-3 @128 (%)", "mlm", "top3_accuracy", {"field": FIELD, "block_size": BLOCK, "k": 3}, 100, 2),
    ("Spearman zero-shot", "similarity", "spearman", {"stage": "zero-shot"}, 1, 4),
    ("Spearman fine-tuned", "similarity", "spearman", {"stage": "fine-tuned"}, 1, 4),
)


# ---- inputs and the run -----------------------------------------------------------------------
def ensure_inputs(data: Path, inputs: Path, seed: int) -> Path:
    """The inputs folder, built unless a finished build with the same seed is there."""
    manifest = inputs / "manifest.json"
    if manifest.is_file():
        built = json.loads(manifest.read_text(encoding="utf-8"))
        if built.get("seed") != seed:
            raise SystemExit(f"{inputs}: built with seed {built.get('seed')}, not {seed}; use a new --work")
        print(f"inputs: reusing {inputs} (built with seed {seed})")
        return inputs / RUN_CONFIG
    started = time.perf_counter()
    build_inputs(data, inputs, seed)
    print(f"inputs: built {inputs} in {time.perf_counter() - started:.0f} s")
    return inputs / RUN_CONFIG


def run_recipe(config: Path, out: Path) -> dict[str, float]:
    """`rexbert run` as a user runs it; returns its exit code, wall and CPU seconds."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "rexbert", "run", "--config", str(config),
                            "--out", str(out)], env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"exit_code": code, "wall_s": time.perf_counter() - started, "cpu_s": cpu}


# ---- the comparison -------------------------------------------------------------------------
def value_of(results: Results, model: str, task: str, metric: str, axes: dict) -> float | None:
    record = find_record(results, model, task, metric, **axes)
    return None if record is None or record.value is None else record.value


def _cell(value: float | None, scale: float, digits: int, sd: float | None = None) -> str:
    if value is None or math.isnan(value):
        return "—"
    text = f"{scale * value:.{digits}f}"
    return text if sd is None else f"{text} ± {scale * sd:.{digits}f}"


def differences(results: Results, other: str) -> list[Interval | None]:
    """annealed − `other` on every column, with its paired interval (None where not scored)."""
    return [paired_difference(results, ANNEALED, other, task, metric, **axes)
            for _, task, metric, axes, _, _ in COLUMNS]


def comparison_table(results: Results) -> Table:
    """One row per model, then annealed − control and annealed − frequency."""
    table = Table("Real text on a CPU: annealed vs its peers", ["Model", *(c[0] for c in COLUMNS)], [])
    for model in MODELS:
        table.rows.append([model, *(
            _cell(value_of(results, model, task, metric, axes), scale, digits,
                  seed_sd(find_record(results, model, task, metric, **axes)))
            for _, task, metric, axes, scale, digits in COLUMNS)])
    for other in (CONTROL, FREQUENCY):
        found = differences(results, other)
        table.rows.append([f"Δ annealed − {other}", *(
            difference_cell(interval, column[4], column[5]) if interval is not None else "—"
            for interval, column in zip(found, COLUMNS, strict=True))])
    table.notes.append("Δ: paired bootstrap 95% interval (titles resampled for top-k, queries for "
                       "Spearman); * marks an interval that excludes 0. Fine-tuned: mean ± s.d. "
                       "over fine-tuning seeds.")
    return table


def targets(results: Results) -> list[dict]:
    """Each target with the numbers it is judged on and whether it is met."""
    top1_axes, tuned_axes = COLUMNS[0][3], COLUMNS[3][3]
    top1 = value_of(results, ANNEALED, "mlm", "top1_accuracy", top1_axes)
    gain = paired_difference(results, ANNEALED, CONTROL, "mlm", "top1_accuracy", **top1_axes)
    rho = paired_difference(results, ANNEALED, CONTROL, "similarity", "spearman", **tuned_axes)
    above = [i is not None and math.isfinite(i.low) and i.low > 0 for i in (gain, rho)]
    return [
        {"target": f"annealed title top-1 ≥ {100 * TOP1_TARGET:.0f}%",
         "measured": _cell(top1, 100, 2) + "%", "met": top1 is not None and top1 >= TOP1_TARGET},
        {"target": f"top-1 ≥ control + {MARGIN_POINTS:.0f} points, interval above 0",
         "measured": difference_cell(gain, 100, 2),
         "met": gain is not None and 100 * gain.value >= MARGIN_POINTS and above[0]},
        {"target": "fine-tuned Spearman above the control, interval above 0",
         "measured": difference_cell(rho, 1, 4), "met": above[1]},
    ]


def timings_table(run: Path, invocation: dict[str, float]) -> Table:
    """Seconds of every stage (from its marker: the run that did it) and in all."""
    seconds = stage_timings(run)
    rows = [[name, f"{value:.0f}"] for name, value in seconds.items()]
    rows.append(["total (stages)", f"{sum(seconds.values()):.0f}"])
    table = Table("Wall time of `rexbert run`", ["Stage", "Seconds"], rows)
    table.notes.append(f"This invocation: {invocation['wall_s']:.0f} s wall, {invocation['cpu_s']:.0f} s "
                       f"CPU of the run process ({os.cpu_count()} cores here; stages already done "
                       "are skipped, so a reused run costs only the check).")
    return table


# ---- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (../shared/data)")
    parser.add_argument("--work", type=Path, required=True, help="folder for the inputs and the run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs (the run's is in its config)")
    args = parser.parse_args(argv)
    config = ensure_inputs(args.data, args.work / "inputs", args.seed)
    run = args.work / "run"
    invocation = run_recipe(config, run)
    if invocation["exit_code"] != 0:
        print(f"rexbert run exited with {invocation['exit_code']}; rerun this command to resume")
        return int(invocation["exit_code"])
    results = load_results(run / "eval")
    comparison, goals, timing = comparison_table(results), targets(results), timings_table(run, invocation)
    print()
    for table in (comparison, timing):
        print(markdown_table(table))
    for goal in goals:
        print(f"target {'MET' if goal['met'] else 'NOT MET'}: {goal['target']} — {goal['measured']}")
    summary = {"comparison": {"header": comparison.header, "rows": comparison.rows}, "targets": goals,
               "stage_seconds": stage_timings(run), "invocation": invocation}
    (args.work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
