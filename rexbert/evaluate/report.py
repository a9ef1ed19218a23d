"""Results → report: the paper's Table 3, Figure 4 and Table 4 layouts, as pure functions.

Every builder takes a `Results` (one or several results.json merged) and returns a
`rexbert.render.Table` or PNG bytes, so other commands (the end-to-end run) can put the same
tables into their own `Report`. `add_sections` adds them all to a report; `write_report` is the
file-writing wrapper behind `rexbert report`. Rendering is rexbert/render.py's, in its one style.

Differences. The first model of the results is the reference; each table gives its difference
from every other model (Δ) with a paired bootstrap 95% interval computed from the per-example
files beside results.json (`paired_difference`, rexbert/evaluate/stats.py), and marks with `*`
the intervals that exclude 0. Results without per-example data (an older rexbert) get no
interval, and the table says so. Fine-tuned scores of several seeds show as mean ± s.d.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rexbert.errors import UserError
from rexbert.evaluate.results import ResultRecord, Results, load_results, record_examples
from rexbert.evaluate.stats import DRAWS, Interval, correlation_interval, ratio_interval
from rexbert.plotting import png_bytes
from rexbert.render import Report, Table, html_table, markdown_table

__all__ = ["Table", "markdown_table", "html_table", "merge_runs", "models_table", "table3",
           "similarity_scores", "similarity_table", "figure4_png", "table4", "add_sections",
           "render_markdown", "render_html", "write_report", "find_record", "paired_difference",
           "seed_sd", "percent_cell", "score_cell", "difference_cell", "SIGNIFICANT"]

GLUE_ORDER = ("sst2", "qnli", "qqp", "mnli", "stsb")
GLUE_TITLES = {"sst2": "SST-2", "qnli": "QNLI", "qqp": "QQP", "mnli": "MNLI", "stsb": "STS-B"}
GLUE_CAPTION = "Table 4 — GLUE dev (fine-tuned)"
FIGURE4_ALT = "Figure 4 — Spearman per model, zero-shot and fine-tuned"
SIGNIFICANT = "*"  # after a difference whose 95% interval excludes 0


# ---- paired differences ----------------------------------------------------------------------
def find_record(results: Results, model: str, task: str, metric: str, **axes) -> ResultRecord | None:
    """The newest record of `metric` for `model` on `task` whose axes include `axes`."""
    found = None
    for record in results.records:
        if (record.model, record.task, record.metric) == (model, task, metric) and all(
                record.axes.get(key) == value for key, value in axes.items()):
            found = record
    return found


def paired_difference(results: Results, model: str, other: str, task: str, metric: str,
                      **axes) -> Interval | None:
    """`model` − `other` on one table cell, with its paired bootstrap 95% interval.

    None when either has no per-example data, or the two were not scored on the same examples
    (other texts, other test pairs), which no paired comparison can bridge.
    """
    first, second = (find_record(results, name, task, metric, **axes) for name in (model, other))
    if first is None or second is None:
        return None
    a, b = record_examples(first), record_examples(second)
    if a is None or b is None:
        return None
    if "masked" in a and "masked" in b:
        if not np.array_equal(a["ids"], b["ids"]):
            return None
        hits = f"hits@{first.axes.get('k')}"
        return ratio_interval(a[hits], a["masked"], b[hits], b["masked"])
    if "predictions" not in a or "predictions" not in b:
        return None
    if not (np.array_equal(a["groups"], b["groups"]) and np.array_equal(a["targets"], b["targets"])):
        return None
    if metric == "accuracy":
        ones = np.ones(len(a["targets"]))
        return ratio_interval((a["predictions"] == a["targets"]).mean(axis=0), ones,
                              (b["predictions"] == b["targets"]).mean(axis=0), ones)
    return correlation_interval(a["groups"], a["targets"], a["predictions"], b["predictions"],
                                method=metric)


def difference_cell(interval: Interval | None, scale: float, digits: int) -> str:
    """`+5.41 [+4.10, +6.80] *` (values × `scale`), `*` when the interval excludes 0."""
    if interval is None or not math.isfinite(interval.low):
        return "n/a"
    return interval.format(scale, digits) + (f" {SIGNIFICANT}" if interval.excludes_zero else "")


def _difference_note(table: Table, found: bool, resampled: str) -> None:
    """Say how the Δ entries were computed, or that they could not be."""
    if found:
        table.notes.append(f"Δ: difference with its paired bootstrap 95% interval ({DRAWS:,} resamples "
                           f"of the {resampled}); {SIGNIFICANT} marks an interval that excludes 0.")
    else:
        table.notes.append("No differences with intervals: these results have no per-example data "
                           "(evaluated by an older rexbert); rerun the evaluation with --overwrite.")


def seed_sd(record: ResultRecord | None) -> float | None:
    """The s.d. over fine-tuning seeds of a score averaged over several seeds, else None."""
    if record is None or len(record.settings.get("per_seed") or []) < 2:
        return None
    return float(record.settings.get("spread", 0.0))


def _with_sd(text: str, sd: float | None, scale: float = 1.0, digits: int = 4) -> str:
    return text if sd is None else f"{text} ± {scale * sd:.{digits}f}"


def _seeds_note(table: Table, records: Sequence[ResultRecord]) -> None:
    seeds = next((r.settings.get("seeds") for r in records if len(r.settings.get("seeds") or []) > 1), None)
    if seeds:
        table.notes.append(f"Fine-tuned scores: mean ± s.d. over fine-tuning seeds "
                           f"{', '.join(map(str, seeds))} (same weights, same examples).")


def merge_runs(runs: Sequence[str | Path]) -> Results:
    """Load every run's results.json and join them (later runs win on model-name clashes)."""
    if not runs:
        raise UserError("--runs: give at least one evaluation output folder")
    merged = Results()
    for run in runs:
        merged = merged.merged_with(load_results(run))
    return merged


def _model_order(results: Results, records: Sequence[ResultRecord]) -> list[str]:
    present = {r.model for r in records}
    ordered = [name for name in results.models if name in present]
    return ordered + sorted(present - set(ordered))


def percent_cell(value: float | None) -> str:
    """A fraction as a percentage with two decimals; n/a when undefined."""
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def score_cell(value: float | None) -> str:
    """A correlation with four decimals; n/a when undefined."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"


def _latest(records: Sequence[ResultRecord]) -> dict[tuple, ResultRecord]:
    """Index records by table cell; a later record for the same cell replaces an earlier one."""
    return {r.cell(): r for r in records}


def _bold_best(table: Table, row_index: int, values: list[float | None], first_col: int) -> None:
    numbers = [v for v in values if v is not None and not math.isnan(v)]
    if len(numbers) < 2 or min(numbers) == max(numbers):
        return  # nothing to single out
    best = max(numbers)
    for offset, value in enumerate(values):
        if value == best:
            table.bold.add((row_index, first_col + offset))


def models_table(results: Results) -> Table | None:
    """Each model's name, parameter count (encoder, without task heads), architecture, source."""
    if not results.models:
        return None
    rows = [
        [name, f"{info.parameters / 1e6:.1f}M" if info.parameters else "—", info.architecture, info.source]
        for name, info in results.models.items()
    ]
    return Table(
        "Models",
        ["Model", "Architecture", "Source", "Parameters"],
        [[r[0], r[2], r[3], r[1]] for r in rows],
        label_columns=3,
    )


def _recovery_cells(records: Sequence[ResultRecord]) -> tuple[dict[tuple, float | None], list[tuple]]:
    """Values by (model, field, block size, k), and the (field, block size, k) rows in order."""
    values_at: dict[tuple, float | None] = {}
    keys: list[tuple[str, int, int]] = []
    for record in _latest(records).values():
        key = (
            str(record.axes.get("field", "")),
            int(record.axes.get("block_size", 0)),
            int(record.axes.get("k", 0)),
        )
        values_at[(record.model, *key)] = record.value
        if key not in keys:
            keys.append(key)
    fields = list(dict.fromkeys(key[0] for key in keys))  # fields in the order they were given
    keys.sort(key=lambda key: (fields.index(key[0]), key[1], key[2]))
    return values_at, keys


def _recovery_deltas(results: Results, models: list[str], keys: list[tuple]) -> dict[tuple, Interval | None]:
    """The reference model's difference from each other model in every row."""
    return {(other, key): paired_difference(results, models[0], other, "mlm", f"top{key[2]}_accuracy",
                                            field=key[0], block_size=key[1], k=key[2])
            for other in models[1:] for key in keys}


def table3(results: Results) -> Table | None:
    """Masked-token recovery, laid out like the paper's Table 3: one row per field, block size
    and k, models side by side (accuracy in %, best per row in bold), then the first model's
    difference from each other model in points, with its interval."""
    records = [r for r in results.records if r.task == "mlm"]
    if not records:
        return None
    models = _model_order(results, records)
    values_at, keys = _recovery_cells(records)
    deltas = _recovery_deltas(results, models, keys)
    shown = any(v is not None for v in deltas.values())
    table = Table(
        "Table 3 — masked-token recovery on product text (top-k accuracy, %)",
        ["Field", "Tokens", "Top-k", *models,
         *([f"Δ {models[0]} − {other} (points)" for other in models[1:]] if shown else [])],
        [],
        label_columns=3,
    )
    for key in keys:
        values = [values_at.get((model, *key)) for model in models]
        missing = [(model, *key) not in values_at for model in models]
        cells = ["—" if gone else percent_cell(v) for v, gone in zip(values, missing, strict=True)]
        if shown:
            cells += [difference_cell(deltas[(other, key)], 100, 2) for other in models[1:]]
        table.rows.append([key[0], str(key[1]), f"top-{key[2]}", *cells])
        _bold_best(table, len(table.rows) - 1, values, 3)
    _table3_notes(table, results, models, records, shown)
    return table


def _table3_notes(table: Table, results: Results, models: list[str], records: list[ResultRecord],
                  shown: bool) -> None:
    tokenizers = {results.models[m].tokenizer for m in models if m in results.models}
    if len(tokenizers) == 1 and len(models) > 1:
        table.notes.append(
            "All models share one tokenizer, so all were scored on the same masked positions."
        )
    elif len(models) > 1:
        table.notes.append(
            "The models' tokenizers differ: each model was scored on its own deterministic whole-word "
            "span mask at the same ratio and seed."
        )
    baseline = next((r.settings for r in records if "counted" in r.settings), None)
    if baseline is not None:
        top = ", ".join(repr(t) for t in baseline.get("top_tokens", []))
        table.notes.append(f"frequency: the k most frequent tokens of {baseline['counted']}, "
                           f"predicted at every masked position (most frequent: {top}).")
    if len(models) > 1:
        _difference_note(table, shown, "texts")
    first = records[0].settings
    table.notes.append(
        f"Mask ratio {first.get('mask_ratio')}, {first.get('mask')}, seed {first.get('seed')}; "
        f"data {first.get('data')}."
    )


def similarity_scores(results: Results) -> dict[str, dict[str, dict[str, float | None]]]:
    """model → stage (zero-shot / fine-tuned) → metric (spearman / pearson) → value."""
    scores: dict[str, dict[str, dict[str, float | None]]] = {}
    for record in _latest([r for r in results.records if r.task == "similarity"]).values():
        stage = str(record.axes.get("stage", ""))
        scores.setdefault(record.model, {}).setdefault(stage, {})[record.metric] = record.value
    return scores


SIMILARITY_COLUMNS = (("zero-shot", "spearman"), ("fine-tuned", "spearman"),
                      ("zero-shot", "pearson"), ("fine-tuned", "pearson"))


def similarity_table(results: Results) -> Table | None:
    """Spearman/Pearson before and after CoSENT fine-tuning, one row per model, then the first
    model's difference from each other model with its interval (resampled over queries)."""
    records = [r for r in results.records if r.task == "similarity"]
    if not records:
        return None
    scores = similarity_scores(results)
    models = _model_order(results, records)
    table = Table(
        "Query–product similarity (cosine vs graded relevance)",
        ["Model", *(f"{metric.title()} {stage}" for stage, metric in SIMILARITY_COLUMNS)],
        [],
    )
    for model in models:
        table.rows.append([model, *(
            _with_sd(score_cell(scores.get(model, {}).get(stage, {}).get(metric)),
                     seed_sd(find_record(results, model, "similarity", metric, stage=stage)))
            for stage, metric in SIMILARITY_COLUMNS)])
    for column, (stage, metric) in enumerate(SIMILARITY_COLUMNS, start=1):
        values = [scores.get(m, {}).get(stage, {}).get(metric) for m in models]
        numbers = [v for v in values if v is not None and not math.isnan(v)]
        if len(numbers) > 1:
            best = max(numbers)
            table.bold |= {(row, column) for row, v in enumerate(values) if v == best}
    _difference_rows(table, models, lambda other, column: paired_difference(
        results, models[0], other, "similarity", SIMILARITY_COLUMNS[column][1],
        stage=SIMILARITY_COLUMNS[column][0]), len(SIMILARITY_COLUMNS), 1, 4, "queries")
    first = records[0].settings
    table.notes.append(
        f"{first.get('train_pairs')} train / {first.get('test_pairs')} test pairs; {first.get('loss')}, "
        f"{first.get('epochs')} epoch(s), lr {first.get('learning_rate')}, batch {first.get('batch_size')}; "
        f"targets from '{first.get('target')}'"
        + (f" mapped {first.get('label_map')}" if first.get("label_map") else "")
        + "."
    )
    _seeds_note(table, records)
    return table


def _difference_rows(table: Table, models: list[str], difference, columns: int, scale: float,
                     digits: int, resampled: str) -> None:
    """One `Δ first − other` row per other model, `difference(other, column)` in each column."""
    if len(models) < 2:
        return
    rows = [[f"Δ {models[0]} − {other}", *(difference(other, c) for c in range(columns))]
            for other in models[1:]]
    shown = any(cell is not None for row in rows for cell in row[1:])
    if shown:
        table.rows += [[row[0], *(difference_cell(cell, scale, digits) for cell in row[1:])] for row in rows]
    _difference_note(table, shown, resampled)


def figure4_png(results: Results) -> bytes | None:
    """Bar chart in the style of the paper's Figure 4: Spearman per model, zero-shot and
    fine-tuned side by side, values on the bars. None when there are no similarity results."""
    scores = similarity_scores(results)
    if not scores:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    models = _model_order(results, [r for r in results.records if r.task == "similarity"])
    stages = [("zero-shot", "#9db4c0"), ("fine-tuned", "#2b6a8f")]
    figure = Figure(figsize=(max(4.0, 1.6 * len(models) + 1.5), 3.6), dpi=120)
    FigureCanvasAgg(figure)  # attaches the Agg canvas: no display, no pyplot global state
    axes = figure.add_subplot()
    width = 0.38
    for offset, (stage, color) in enumerate(stages):
        values = [scores.get(m, {}).get(stage, {}).get("spearman") for m in models]
        heights = [0.0 if v is None or math.isnan(v) else v for v in values]
        positions = [i + (offset - 0.5) * width for i in range(len(models))]
        bars = axes.bar(positions, heights, width, label=stage, color=color)
        for bar, value in zip(bars, values, strict=True):
            text = "n/a" if value is None or math.isnan(value) else f"{value:.3f}"
            axes.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 2),
                textcoords="offset points",
            )
    axes.set_xticks(range(len(models)), models, rotation=15 if len(models) > 3 else 0)
    axes.set_ylabel("Spearman ρ (cosine vs relevance)")
    axes.set_title("Query–product similarity")
    low = min(
        [
            0.0,
            *(
                v
                for s in scores.values()
                for st in s.values()
                for v in st.values()
                if v is not None and not math.isnan(v)
            ),
        ]
    )
    axes.set_ylim(min(low * 1.2, 0.0), 1.0)
    axes.axhline(0, color="black", linewidth=0.6)
    axes.legend(frameon=False, fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    return png_bytes(figure)


def table4(results: Results, caption: str = GLUE_CAPTION) -> Table | None:
    """GLUE dev scores laid out like the paper's Table 4: one row per model, one column per
    task (accuracy %, STS-B Pearson and Spearman ×100), and their average.

    `caption` is the caller's to choose: a run on generated tasks in the GLUE layouts says so
    there; the default names what real GLUE folders hold."""
    records = [r for r in results.records if r.task.startswith("glue/")]
    if not records:
        return None
    cells = _latest(records)
    present = {r.task.split("/", 1)[1] for r in records}
    tasks = [t for t in GLUE_ORDER if t in present] + sorted(present - set(GLUE_ORDER))
    columns: list[tuple[str, str, str]] = []  # (task, metric, title)
    for task in tasks:
        if task == "stsb":
            columns += [("stsb", "pearson", "STS-B (P)"), ("stsb", "spearman", "STS-B (S)")]
        else:
            columns.append((task, "accuracy", GLUE_TITLES.get(task, task)))
    models = _model_order(results, records)
    table = Table(caption, ["Model", *(c[2] for c in columns), "Avg"], [])
    by_cell = {(r.model, r.task, r.metric): r.value for r in cells.values()}
    all_values = []
    for model in models:
        values = [by_cell.get((model, f"glue/{task}", metric)) for task, metric, _ in columns]
        # The average counts each task once (STS-B by Spearman), as GLUE averages tasks.
        per_task = [
            v
            for (task, metric, _), v in zip(columns, values, strict=True)
            if not (task == "stsb" and metric == "pearson")
        ]
        numbers = [v for v in per_task if v is not None and not math.isnan(v)]
        average = sum(numbers) / len(numbers) if len(numbers) == len(per_task) and numbers else None
        row_values = [*values, average]
        all_values.append(row_values)
        sds = [seed_sd(find_record(results, model, f"glue/{task}", metric)) for task, metric, _ in columns]
        table.rows.append([model, *(_with_sd(percent_cell(v), sd, 100, 2) if v is not None else "—"
                                    for v, sd in zip(row_values, [*sds, None], strict=True))])
    for column in range(len(columns) + 1):
        numbers = [
            row[column]
            for row in all_values
            if row[column] is not None and not math.isnan(row[column])
        ]
        if len(numbers) > 1:
            best = max(numbers)
            table.bold |= {
                (i, column + 1) for i, row in enumerate(all_values) if row[column] == best
            }
    _difference_rows(table, models, lambda other, column: None if column == len(columns) else
                     paired_difference(results, models[0], other, f"glue/{columns[column][0]}",
                                       columns[column][1]), len(columns) + 1, 100, 2, "dev examples")
    first = records[0].settings
    table.notes.append(
        f"Data: {first.get('source')}; {first.get('epochs')} epoch(s), lr {first.get('learning_rate')}, "
        f"batch {first.get('batch_size')}, max length {first.get('max_length')}. Avg counts STS-B by Spearman."
    )
    _seeds_note(table, records)
    return table


def _sections(results: Results) -> list[tuple[str, Table | None]]:
    return [
        ("Models", models_table(results)),
        ("Masked-token recovery", table3(results)),
        ("Query–product similarity", similarity_table(results)),
        ("GLUE", table4(results)),
    ]


def add_sections(report: Report, results: Results, figure_name: str = "figure4.png",
                 figure_folder: str = "figures") -> bool:
    """Add the models table, Tables 3 and 4, the similarity table and the Figure 4 chart to
    `report`; False when there was nothing to add."""
    added = False
    for heading, table in _sections(results):
        if table is None:
            continue
        added = True
        report.heading(heading)
        report.table(table, show_caption=table.caption != heading)
        if heading == "Query–product similarity":
            report.image(figure_name, figure4_png(results), FIGURE4_ALT, folder=figure_folder)
    if not added:
        report.para("No results.")
    return added


def _report(results: Results, title: str, figure_name: str, figure_folder: str) -> Report:
    report = Report(title)
    add_sections(report, results, figure_name, figure_folder)
    return report


def render_markdown(results: Results, figure_name: str = "figure4.png",
                    title: str = "rexbert evaluation report") -> str:
    """The report as Markdown; the Figure 4 PNG is linked as `figure_name` beside it."""
    return _report(results, title, figure_name, "").markdown()


def render_html(results: Results, title: str = "rexbert evaluation report") -> str:
    """The report as one self-contained HTML page (the chart embedded)."""
    return _report(results, title, "figure4.png", "").page()


def write_report(runs: Sequence[str | Path], out: str | Path) -> Path:
    """Join `runs` into `out` (.md with its chart as OUT_figure4.png beside it, or .html)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".md", ".html", ".htm"):
        raise UserError(f"--out {out}: the report must end in .md or .html")
    report = _report(merge_runs(runs), "rexbert evaluation report", f"{out.stem}_figure4.png", "")
    if suffix == ".md":
        report.write(markdown_path=out)
    else:
        report.write(html_path=out)
    return out
