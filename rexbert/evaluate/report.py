"""Results → report: the paper's Table 3, Figure 4 and Table 4 layouts, as pure functions.

Every builder takes a `Results` (one or several results.json merged) and returns a `Table`, PNG
bytes or text, so other commands (the end-to-end recipe) can put the same tables into their own
reports. `write_report` is the file-writing wrapper behind `rexbert report`.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rexbert.errors import UserError
from rexbert.evaluate.results import ResultRecord, Results, load_results
from rexbert.fileio import atomic_write_bytes, atomic_write_text
from rexbert.plotting import png_bytes

GLUE_ORDER = ("sst2", "qnli", "qqp", "mnli", "stsb")
GLUE_TITLES = {"sst2": "SST-2", "qnli": "QNLI", "qqp": "QQP", "mnli": "MNLI", "stsb": "STS-B"}


@dataclass
class Table:
    """A rendered-agnostic table: header, string cells, and which cells to bold (the best)."""

    caption: str
    header: list[str]
    rows: list[list[str]]
    bold: set[tuple[int, int]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    label_columns: int = 1  # leading text columns (left-aligned); the rest are numbers


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


def table4(results: Results) -> Table | None:
    """GLUE dev scores laid out like the paper's Table 4: one row per model, one column per
    task (accuracy %, STS-B Pearson and Spearman ×100), and their average."""
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
    table = Table("Table 4 — GLUE dev (fine-tuned)", ["Model", *(c[2] for c in columns), "Avg"], [])
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


def markdown_table(table: Table, show_caption: bool = True) -> str:
    """A GitHub-flavoured Markdown table with (optionally) its caption, and its notes."""

    def cell(r: int, c: int, text: str) -> str:
        text = text.replace("|", "\\|")
        return f"**{text}**" if (r, c) in table.bold else text

    lines = [f"**{table.caption}**", ""] if show_caption else []
    lines.append("| " + " | ".join(table.header) + " |")
    lines.append(
        "|"
        + "|".join("---" if i < table.label_columns else "---:" for i in range(len(table.header)))
        + "|"
    )
    lines += [
        "| " + " | ".join(cell(r, c, t) for c, t in enumerate(row)) + " |"
        for r, row in enumerate(table.rows)
    ]
    lines += [""] + [f"_{note}_" for note in table.notes]
    return "\n".join(lines).rstrip() + "\n"


def html_table(table: Table) -> str:
    """The same table as HTML."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = []
    for r, row in enumerate(table.rows):
        cells = []
        for c, text in enumerate(row):
            content = html.escape(text)
            if (r, c) in table.bold:
                content = f"<b>{content}</b>"
            align = ' class="label"' if c < table.label_columns else ""
            cells.append(f"<td{align}>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in table.notes)
    return (
        f"<table><caption>{html.escape(table.caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{notes}"
    )


def _sections(results: Results) -> list[tuple[str, Table | None]]:
    return [
        ("Models", models_table(results)),
        ("Masked-token recovery", table3(results)),
        ("Query–product similarity", similarity_table(results)),
        ("GLUE", table4(results)),
    ]


def render_markdown(
    results: Results, figure_link: str | None = None, title: str = "rexbert evaluation report"
) -> str:
    """The report as Markdown; `figure_link` is the (relative) path of the Figure 4 PNG."""
    parts = [f"# {title}", ""]
    for heading, table in _sections(results):
        if table is None:
            continue
        parts += [f"## {heading}", "", markdown_table(table, show_caption=table.caption != heading)]
        if heading == "Query–product similarity" and figure_link:
            parts += [
                f"![Figure 4 — Spearman per model, zero-shot and fine-tuned]({figure_link})",
                "",
            ]
    if len(parts) == 2:
        parts.append("No results.")
    return "\n".join(parts).rstrip() + "\n"


def render_html(
    results: Results, figure_png: bytes | None = None, title: str = "rexbert evaluation report"
) -> str:
    """The report as one self-contained HTML page (the chart is embedded as a data URI)."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for heading, table in _sections(results):
        if table is None:
            continue
        body += [f"<h2>{html.escape(heading)}</h2>", html_table(table)]
        if heading == "Query–product similarity" and figure_png:
            encoded = base64.b64encode(figure_png).decode("ascii")
            body.append(
                f'<img alt="Figure 4 — Spearman per model" src="data:image/png;base64,{encoded}">'
            )
    if len(body) == 1:
        body.append("<p>No results.</p>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}caption{font-weight:bold;text-align:left;padding:.3em 0}"
        "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th:first-child,td.label{text-align:left}"
        ".note{color:#555;font-size:.9em}img{max-width:100%}"
    )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write_report(runs: Sequence[str | Path], out: str | Path) -> Path:
    """Join `runs` into `out` (.md with a PNG beside it, or a self-contained .html)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".md", ".html", ".htm"):
        raise UserError(f"--out {out}: the report must end in .md or .html")
    results = merge_runs(runs)
    png = figure4_png(results)
    if suffix == ".md":
        link = None
        if png is not None:
            figure_path = out.with_name(f"{out.stem}_figure4.png")
            atomic_write_bytes(figure_path, png)
            link = figure_path.name
        atomic_write_text(out, render_markdown(results, link))
    else:
        atomic_write_text(out, render_html(results, png))
    return out
