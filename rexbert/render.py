"""The one report renderer: every report (curation, evaluation, `rexbert run`) is built once as a
`Report` and written both as Markdown (figures as PNG files beside it) and as one self-contained
HTML page (figures embedded), in one style.

    report = Report("rexbert evaluation report")
    report.heading("Masked-token recovery")
    report.table(Table("Top-1 accuracy", ["Model", "128"], [["annealed", "21.1%"]]))
    report.image("figure4.png", png, "Spearman per model")
    report.write(out / "report.md", out / "report.html")
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from rexbert.fileio import atomic_write_bytes, atomic_write_text

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}caption{font-weight:bold;text-align:left;padding:.3em 0}"
    "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
    "th:first-child,td.label{text-align:left}.note{color:#555;font-size:.9em}img{max-width:100%}"
    "code{background:#f4f4f4;padding:0 .2em}"
)


@dataclass
class Table:
    """A renderer-agnostic table: header, string cells, and which cells to bold (the best)."""

    caption: str
    header: list[str]
    rows: list[list[str]]
    bold: set[tuple[int, int]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    label_columns: int = 1  # leading text columns (left-aligned); the rest are numbers


def markdown_table(table: Table, show_caption: bool = True) -> str:
    """A GitHub-flavoured Markdown table with (optionally) its caption, and its notes."""

    def cell(r: int, c: int, text: str) -> str:
        text = text.replace("|", "\\|")
        return f"**{text}**" if (r, c) in table.bold else text

    lines = [f"**{table.caption}**", ""] if show_caption and table.caption else []
    lines.append("| " + " | ".join(table.header) + " |")
    lines.append("|" + "|".join("---" if i < table.label_columns else "---:"
                                for i in range(len(table.header))) + "|")
    lines += ["| " + " | ".join(cell(r, c, t) for c, t in enumerate(row)) + " |"
              for r, row in enumerate(table.rows)]
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
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in table.notes)
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{notes}"


class Report:
    """Markdown and HTML built side by side from the same calls."""

    def __init__(self, title: str):
        self.title = title
        self.md: list[str] = [f"# {title}", ""]
        self.html: list[str] = [f"<h1>{html.escape(title)}</h1>"]
        self.figures: dict[str, bytes] = {}

    def heading(self, text: str, level: int = 2) -> None:
        self.md += ["#" * level + " " + text, ""]
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def para(self, text: str) -> None:
        self.md += [text, ""]
        self.html.append(f"<p>{html.escape(text)}</p>")

    def bullets(self, items: list[str]) -> None:
        if not items:
            return
        self.md += [f"- {item}" for item in items] + [""]
        self.html.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")

    def table(self, table: Table | None, show_caption: bool = True) -> None:
        if table is None:
            return
        self.md += [markdown_table(table, show_caption), ""]
        self.html.append(html_table(table))

    def simple_table(self, header: list[str], rows: list[list[str]], caption: str = "") -> None:
        self.table(Table(caption, header, rows))

    def image(self, name: str, png: bytes | None, alt: str, folder: str = "figures") -> None:
        """A figure: a PNG file `folder/name` beside the Markdown, embedded in the HTML."""
        if png is None:
            return
        self.figures[f"{folder}/{name}" if folder else name] = png
        link = f"{folder}/{name}" if folder else name
        self.md += [f"![{alt}]({link})", ""]
        encoded = base64.b64encode(png).decode("ascii")
        self.html.append(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">')

    def markdown(self) -> str:
        return "\n".join(self.md).rstrip() + "\n"

    def page(self) -> str:
        return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(self.title)}'
                f"</title><style>{STYLE}</style></head><body>{''.join(self.html)}</body></html>\n")

    def write(self, markdown_path: Path | None = None, html_path: Path | None = None) -> None:
        """Write the Markdown (with its figure files beside it) and/or the HTML page."""
        if markdown_path is not None:
            for relative, png in self.figures.items():
                atomic_write_bytes(Path(markdown_path).parent / relative, png)
            atomic_write_text(markdown_path, self.markdown())
        if html_path is not None:
            atomic_write_text(html_path, self.page())
