"""The report of `rexbert run`: what ran, on which data, what it cost, what it measured.

Everything in it is read from the files the stages wrote (manifest.json, stats.json,
metrics.csv, results.json, stage markers); nothing is computed here that a stage did not
measure, except the comparison of the two models at the end, which states its own rule. The
verdict is returned as an object (`Verdict`), so `rexbert run` prints it without re-reading
the report.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from rexbert.evaluate import report as eval_report
from rexbert.evaluate.results import Results, load_results
from rexbert.fileio import read_json
from rexbert.plotting import png_bytes
from rexbert.render import Report
from rexbert.run.plan import RunPlan
from rexbert.run.runner import stage_timings

# The target the embedded default is held to: the annealed model recovers ≥ 5 points more
# masked title tokens top-1 at 128 tokens than the control, with a higher fine-tuned Spearman.
TOP1_MARGIN_POINTS = 5.0
VERDICT_FIELD, VERDICT_BLOCK = "product_title", 128


@dataclass
class Verdict:
    """The comparison of the domain-annealed model with its control, with the numbers."""

    title_top1: dict[str, float | None]
    spearman: dict[str, float | None]

    @property
    def top1_gain_points(self) -> float | None:
        a, c = self.title_top1.get("annealed"), self.title_top1.get("control")
        return None if a is None or c is None else 100 * (a - c)

    @property
    def spearman_gain(self) -> float | None:
        a, c = self.spearman.get("annealed"), self.spearman.get("control")
        return None if a is None or c is None else a - c

    @property
    def target_met(self) -> bool:
        gain, rho = self.top1_gain_points, self.spearman_gain
        return gain is not None and rho is not None and gain >= TOP1_MARGIN_POINTS and rho > 0

    def sentences(self) -> list[str]:
        """The verdict in plain words."""
        gain, rho = self.top1_gain_points, self.spearman_gain
        if gain is None or rho is None:
            return ["No verdict: the comparison needs both models' title top-1 at 128 tokens and "
                    "fine-tuned Spearman, and at least one is missing from the results."]
        a, c = self.title_top1["annealed"], self.title_top1["control"]
        sa, sc = self.spearman["annealed"], self.spearman["control"]
        lines = [
            f"Product-title token recovery at 128 tokens, top-1: annealed {100 * a:.2f}% vs control "
            f"{100 * c:.2f}% ({gain:+.2f} points; target ≥ +{TOP1_MARGIN_POINTS:.0f}).",
            f"Query–product similarity after CoSENT fine-tuning, Spearman: annealed {sa:.4f} vs "
            f"control {sc:.4f} ({rho:+.4f}; target > 0).",
        ]
        if self.target_met:
            lines.append("Verdict: domain annealing helped on both measures, and the target is met.")
        else:
            missed = [what for what, ok in (("the top-1 margin", gain >= TOP1_MARGIN_POINTS),
                                            ("the Spearman comparison", rho > 0)) if not ok]
            lines.append(f"Verdict: the target is NOT met ({' and '.join(missed)}).")
        return lines


def verdict_from(results: Results, field: str = VERDICT_FIELD) -> Verdict:
    """Pick the two numbers the verdict compares out of the evaluation results."""
    top1: dict[str, float | None] = {}
    for record in results.records:
        axes = record.axes
        if (record.task == "mlm" and record.metric == "top1_accuracy"
                and axes.get("field") == field and int(axes.get("block_size", 0)) == VERDICT_BLOCK):
            top1[record.model] = record.value
    spearman = {model: stages.get("fine-tuned", {}).get("spearman")
                for model, stages in eval_report.similarity_scores(results).items()}
    return Verdict(top1, spearman)


# ---- training curves ------------------------------------------------------------------------
def _read_metrics(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return None if number is None or math.isnan(number) else number


def _series(rows: list[dict[str, str]], phase: str, column: str) -> list[tuple[float, float]]:
    points = [(_float(r.get("tokens")), _float(r.get(column))) for r in rows if r.get("phase") == phase]
    return [(t, v) for t, v in points if t is not None and v is not None]


def loss_curves_png(runs: dict[str, Path]) -> bytes | None:
    """Training and held-out MLM loss against tokens seen, one panel per phase, shared y-scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows_by_run = {name: _read_metrics(run / "metrics.csv") for name, run in runs.items()}
    phases = list(dict.fromkeys(r["phase"] for rows in rows_by_run.values() for r in rows))
    if not phases:
        return None
    fig, axes = plt.subplots(1, len(phases), figsize=(4.2 * len(phases), 3.8), squeeze=False, sharey=True)
    for ax, phase in zip(axes[0], phases, strict=True):
        for name, rows in rows_by_run.items():
            train = _series(rows, phase, "loss")
            if train:
                ax.plot(*zip(*train, strict=True), label=f"{name} train", linewidth=1.2)
            held_out = [c for c in (rows[0] if rows else {}) if c.startswith("eval_") and c.endswith("_loss")]
            for column in held_out:
                points = _series(rows, phase, column)
                if points:
                    ax.plot(*zip(*points, strict=True), marker="o", markersize=3, linewidth=1,
                            linestyle="--", label=f"{name} {column[5:-5]} held-out")
        ax.set_title(f"phase {phase}")
        ax.set_xlabel("tokens seen")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("MLM loss")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=7, frameon=False)
    fig.subplots_adjust(bottom=0.3)
    return png_bytes(fig, dpi=110, tight=False)


def _phase_rows(runs: dict[str, Path]) -> list[list[str]]:
    rows = []
    for name, run in runs.items():
        metrics = _read_metrics(run / "metrics.csv")
        for phase in dict.fromkeys(r["phase"] for r in metrics):
            last = [r for r in metrics if r["phase"] == phase][-1]
            evals = [f"{c[5:]}={_float(last[c]):.3f}" for c in last
                     if c.startswith("eval_") and _float(last[c]) is not None]
            loss = _float(last.get("loss"))
            rows.append([name, phase, last["step"], f"{int(float(last['tokens'])):,}",
                         "—" if loss is None else f"{loss:.3f}", ", ".join(evals) or "—"])
    return rows


# ---- sections ----------------------------------------------------------------------------------
def _inputs_section(report: Report, plan: RunPlan) -> None:
    report.heading("Inputs")
    parts = plan.demo_parts
    if parts:
        report.para("Generated by rexbert itself (`rexbert demo-data`, in the FineFineWeb, ESCI and GLUE "
                    f"layouts) for the parts not given in the run config: {', '.join(parts)}.")
    else:
        report.para("Every input is the user's own data; nothing is generated.")
    manifest_path = plan.layout.data / "manifest.json"
    if parts and manifest_path.is_file():
        manifest = read_json(manifest_path)
        totals, esci = manifest.get("totals", {}), manifest.get("esci", {})
        rows = [["web documents", f"{totals.get('documents', 0):,}"],
                ["web text (bytes)", f"{totals.get('bytes', 0):,}"]]
        rows += [[f"planted: {k.replace('_', ' ')}", f"{v:,}"] for k, v in totals.items()
                 if k not in ("documents", "bytes")]
        rows += [["ESCI products", f"{esci.get('products', 0):,}"],
                 ["ESCI queries (test)", f"{esci.get('queries', 0):,} ({esci.get('test_queries', 0):,})"]]
        report.simple_table(["Demo data", "Count"], rows)


def _curation_section(report: Report, plan: RunPlan) -> None:
    from rexbert.curate.api import CurateResult

    report.heading("Curation")
    curated = CurateResult.at(plan.layout.curated)
    if not curated.stats.is_file():
        report.para("No curation statistics were written.")
        return
    stats = read_json(curated.stats)
    rows = [[name, f"{entry.get('documents', 0):,}", f"{entry.get('tokens', 0):,}"]
            for name, entry in sorted(stats.get("domains", {}).items()) if isinstance(entry, dict)]
    if rows:
        report.simple_table(["Domain", "Kept documents", "Kept tokens"], rows)
    reasons = stats.get("drop_reasons", {})
    if reasons:
        report.simple_table(["Drop reason", "Documents"],
                            [[k, f"{v:,}"] for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])])
    figure = curated.out / "domain_distribution.png"
    if figure.is_file():
        report.image("domain_distribution.png", figure.read_bytes(), "kept corpus by domain")
    report.para(f"Full curation report with validation tables and quality bars: {curated.report}")


def _pretraining_section(report: Report, runs: dict[str, Path]) -> None:
    report.heading("Pretraining")
    rows = _phase_rows(runs)
    if rows:
        report.simple_table(["Model", "Phase", "Steps", "Tokens", "Final train loss", "Held-out"], rows)
    report.image("loss_curves.png", loss_curves_png(runs), "MLM loss per phase")


def _evaluation_section(report: Report, plan: RunPlan, results: Results) -> None:
    report.heading("Evaluation")
    report.table(eval_report.models_table(results))
    report.table(eval_report.table3(results))
    report.table(eval_report.similarity_table(results))
    report.image("figure4_similarity.png", eval_report.figure4_png(results),
                 "query–product similarity (Spearman)")
    caption = ("Demo tasks in the GLUE layouts (built from the demo data; not GLUE)"
               if plan.cfg.data.glue_dir is None else "GLUE dev sets")
    report.table(eval_report.table4(results, caption))


def _results(plan: RunPlan) -> Results:
    folder = plan.layout.eval
    return load_results(folder) if (folder / "results.json").is_file() else Results()


def read_verdict(plan: RunPlan) -> Verdict:
    """The verdict of a run whose evaluation finished (what the report states)."""
    return verdict_from(_results(plan), field=plan.mlm_input.text_fields[0])


def write_run_report(plan: RunPlan) -> Verdict:
    """Write `OUT/report.md` and `OUT/report.html`; returns the verdict."""
    from rexbert.run.stages import arms

    layout = plan.layout
    runs = {arm: layout.pretrain_run(arm) for arm in arms(plan)}
    report = Report("rexbert run report")
    report.heading("What ran")
    timings = stage_timings(layout.out)
    report.simple_table(["Stage", "Seconds"], [[k, f"{v:.0f}"] for k, v in timings.items()]
                        + [["total", f"{sum(timings.values()):.0f}"]])
    _inputs_section(report, plan)
    _curation_section(report, plan)
    _pretraining_section(report, runs)
    results = _results(plan)
    _evaluation_section(report, plan, results)
    verdict = read_verdict(plan)
    report.heading("Did domain annealing help?")
    for sentence in verdict.sentences():
        report.para(sentence)
    report.write(layout.out / "report.md", layout.out / "report.html")
    return verdict
