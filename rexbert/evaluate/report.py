"""Results → report: the paper's Table 3, Figure 4 and Table 4 layouts, as pure functions.

Every builder takes a `Results` (one or several results.json merged) and returns a
`rexbert.render.Table` or PNG bytes, so other commands (the end-to-end run) can put the same
tables into their own `Report`. `add_sections` adds them all to a report; `write_report` is the
file-writing wrapper behind `rexbert report`. Rendering is rexbert/render.py's, in its one style.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rexbert.errors import UserError
from rexbert.evaluate.results import ResultRecord, Results, load_results
from rexbert.plotting import png_bytes
from rexbert.render import Report, Table, html_table, markdown_table

__all__ = ["Table", "markdown_table", "html_table", "merge_runs", "models_table", "table3",
           "similarity_scores", "similarity_table", "figure4_png", "table4", "add_sections",
           "render_markdown", "render_html", "write_report"]

GLUE_ORDER = ("sst2", "qnli", "qqp", "mnli", "stsb")
GLUE_TITLES = {"sst2": "SST-2", "qnli": "QNLI", "qqp": "QQP", "mnli": "MNLI", "stsb": "STS-B"}
GLUE_CAPTION = "Table 4 — GLUE dev (fine-tuned)"
FIGURE4_ALT = "Figure 4 — Spearman per model, zero-shot and fine-tuned"


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


def _percent(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def _plain(value: float | None) -> str:
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
        [name, f"{info.parameters / 1e6:.1f}M", info.architecture, info.source]
        for name, info in results.models.items()
    ]
    return Table(
        "Models",
        ["Model", "Architecture", "Source", "Parameters"],
        [[r[0], r[2], r[3], r[1]] for r in rows],
        label_columns=3,
    )


def table3(results: Results) -> Table | None:
    """Masked-token recovery, laid out like the paper's Table 3: one row per field, block size
    and k, models side by side (accuracy in %, best per row in bold)."""
    records = [r for r in results.records if r.task == "mlm"]
    if not records:
        return None
    models = _model_order(results, records)
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
    table = Table(
        "Table 3 — masked-token recovery on product text (top-k accuracy, %)",
        ["Field", "Tokens", "Top-k", *models],
        [],
        label_columns=3,
    )
    for key in keys:
        values = [values_at.get((model, *key)) for model in models]
        missing = [(model, *key) not in values_at for model in models]
        cells = ["—" if gone else _percent(v) for v, gone in zip(values, missing, strict=True)]
        table.rows.append([key[0], str(key[1]), f"top-{key[2]}", *cells])
        _bold_best(table, len(table.rows) - 1, values, 3)
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
    first = records[0].settings
    table.notes.append(
        f"Mask ratio {first.get('mask_ratio')}, {first.get('mask')}, seed {first.get('seed')}; "
        f"data {first.get('data')}."
    )
    return table


def similarity_scores(results: Results) -> dict[str, dict[str, dict[str, float | None]]]:
    """model → stage (zero-shot / fine-tuned) → metric (spearman / pearson) → value."""
    scores: dict[str, dict[str, dict[str, float | None]]] = {}
    for record in _latest([r for r in results.records if r.task == "similarity"]).values():
        stage = str(record.axes.get("stage", ""))
        scores.setdefault(record.model, {}).setdefault(stage, {})[record.metric] = record.value
    return scores


def similarity_table(results: Results) -> Table | None:
    """Spearman/Pearson before and after CoSENT fine-tuning, one row per model."""
    records = [r for r in results.records if r.task == "similarity"]
    if not records:
        return None
    scores = similarity_scores(results)
    models = _model_order(results, records)
    table = Table(
        "Query–product similarity (cosine vs graded relevance)",
        [
            "Model",
            "Spearman zero-shot",
            "Spearman fine-tuned",
            "Pearson zero-shot",
            "Pearson fine-tuned",
        ],
        [],
    )
    columns = [
        ("zero-shot", "spearman"),
        ("fine-tuned", "spearman"),
        ("zero-shot", "pearson"),
        ("fine-tuned", "pearson"),
    ]
    for model in models:
        table.rows.append(
            [
                model,
                *(
                    _plain(scores.get(model, {}).get(stage, {}).get(metric))
                    for stage, metric in columns
                ),
            ]
        )
    for column, (stage, metric) in enumerate(columns, start=1):
        values = [scores.get(m, {}).get(stage, {}).get(metric) for m in models]
        numbers = [v for v in values if v is not None and not math.isnan(v)]
        if len(numbers) > 1:
            best = max(numbers)
            table.bold |= {(row, column) for row, v in enumerate(values) if v == best}
    first = records[0].settings
    table.notes.append(
        f"{first.get('train_pairs')} train / {first.get('test_pairs')} test pairs; {first.get('loss')}, "
        f"{first.get('epochs')} epoch(s), lr {first.get('learning_rate')}, batch {first.get('batch_size')}; "
        f"targets from '{first.get('target')}'"
        + (f" mapped {first.get('label_map')}" if first.get("label_map") else "")
        + "."
    )
    return table


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
        table.rows.append([model, *(_percent(v) if v is not None else "—" for v in row_values)])
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
    first = records[0].settings
    table.notes.append(
        f"Data: {first.get('source')}; {first.get('epochs')} epoch(s), lr {first.get('learning_rate')}, "
        f"batch {first.get('batch_size')}, max length {first.get('max_length')}. Avg counts STS-B by Spearman."
    )
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
