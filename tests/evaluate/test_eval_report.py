"""`rexbert report` and the pure table/figure builders behind it."""

import base64
import json

import pytest

from rexbert.cli.main import main
from rexbert.errors import UserError
from rexbert.evaluate.report import (
    figure4_png,
    markdown_table,
    merge_runs,
    render_html,
    render_markdown,
    table3,
    table4,
)
from rexbert.evaluate.results import ModelInfo, ResultRecord, Results, load_results, save_results


def info(params, tokenizer="tok"):
    return ModelInfo(
        path="/m",
        source="/m",
        architecture="ModernBertForMaskedLM",
        parameters=params,
        fingerprint="f",
        tokenizer=tokenizer,
    )


def mlm_results():
    results = Results({"annealed": info(17_000_000), "control": info(17_000_000)})
    for model, base in (("annealed", 0.5), ("control", 0.4)):
        for field in ("title", "description"):
            for block in (128, 512):
                for k in (1, 5):
                    axes = {"field": field, "block_size": block, "k": k}
                    results.records.append(
                        ResultRecord(
                            model,
                            "mlm",
                            f"top{k}_accuracy",
                            base + 0.01 * k,
                            {"mask_ratio": 0.15, **axes},
                            "u",
                            axes,
                        )
                    )
    return results


def similarity_results():
    results = Results({"annealed": info(17_000_000), "control": info(17_000_000)})
    for model, zero, tuned in (("annealed", 0.31, 0.62), ("control", 0.28, 0.55)):
        for stage, value in (("zero-shot", zero), ("fine-tuned", tuned)):
            for metric in ("spearman", "pearson"):
                axes = {"stage": stage}
                results.records.append(
                    ResultRecord(model, "similarity", metric, value, {"train_pairs": 10}, "s", axes)
                )
    return results


def glue_results():
    results = Results({"annealed": info(17_000_000)})
    for task, metric, value in (
        ("sst2", "accuracy", 0.9),
        ("mnli", "accuracy", 0.8),
        ("stsb", "pearson", 0.85),
        ("stsb", "spearman", 0.84),
    ):
        results.records.append(
            ResultRecord("annealed", f"glue/{task}", metric, value, {"epochs": 3}, task, {})
        )
    return results


def test_table3_layout_models_side_by_side_best_in_bold():
    table = table3(mlm_results())
    assert table.header == ["Field", "Tokens", "Top-k", "annealed", "control"]
    assert table.rows[0] == ["title", "128", "top-1", "51.00", "41.00"]
    assert [row[:3] for row in table.rows[:4]] == [
        ["title", "128", "top-1"],
        ["title", "128", "top-5"],
        ["title", "512", "top-1"],
        ["title", "512", "top-5"],
    ]
    assert (0, 3) in table.bold and (0, 4) not in table.bold
    assert "same masked positions" in " ".join(table.notes)
    text = markdown_table(table)
    assert "| title | 128 | top-1 | **51.00** | 41.00 |" in text


def test_table4_layout_and_average():
    table = table4(glue_results())
    assert table.header == ["Model", "SST-2", "MNLI", "STS-B (P)", "STS-B (S)", "Avg"]
    # Avg over tasks, STS-B counted once (Spearman): (0.9 + 0.8 + 0.84) / 3
    assert table.rows[0] == [
        "annealed",
        "90.00",
        "80.00",
        "85.00",
        "84.00",
        f"{100 * 2.54 / 3:.2f}",
    ]


def test_figure4_png_and_reports_embed_it():
    results = similarity_results()
    png = figure4_png(results)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure4_png(mlm_results()) is None
    html = render_html(results.merged_with(mlm_results()))
    assert base64.b64encode(png).decode()[:100] in html
    assert "<b>0.6200</b>" in html  # best fine-tuned Spearman is bold
    md = render_markdown(results, "r_figure4.png")
    assert "![Figure 4" in md and "(r_figure4.png)" in md
    assert "| annealed | **0.3100** | **0.6200** |" in md


def test_report_command_joins_runs(tmp_path):
    save_results(tmp_path / "mlm", mlm_results())
    save_results(tmp_path / "sim", similarity_results())
    save_results(tmp_path / "glue", glue_results())
    runs = [str(tmp_path / name) for name in ("mlm", "sim", "glue")]
    assert main(["report", "--runs", *runs, "--out", str(tmp_path / "r.md")]) == 0
    md = (tmp_path / "r.md").read_text()
    for heading in ("## Models", "Table 3", "Query–product similarity", "Table 4"):
        assert heading in md
    assert "| annealed | ModernBertForMaskedLM | /m | 17.0M |" in md
    assert "**Models**" not in md  # the section heading already says it
    assert (tmp_path / "r_figure4.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["report", "--runs", *runs, "--out", str(tmp_path / "r.html")]) == 0
    assert "data:image/png;base64," in (tmp_path / "r.html").read_text()


def test_results_round_trip_and_bad_files(tmp_path, capsys):
    results = mlm_results()
    results.records[0].value = float("nan")
    save_results(tmp_path, results)
    loaded = load_results(tmp_path)
    assert loaded.records[0].value is None  # undefined stays undefined, never a number
    assert len(loaded.records) == len(results.records)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "results.json").write_text(json.dumps({"records": []}))
    with pytest.raises(UserError, match="not a rexbert results file"):
        merge_runs([tmp_path / "x"])
    assert (
        main(["report", "--runs", str(tmp_path / "missing"), "--out", str(tmp_path / "r.md")]) == 2
    )
    assert "no results file" in capsys.readouterr().err
    assert main(["report", "--runs", str(tmp_path), "--out", str(tmp_path / "r.pdf")]) == 2
    assert "must end in .md or .html" in capsys.readouterr().err


def test_newer_measurement_of_a_cell_replaces_the_older():
    results = mlm_results()
    axes = {"field": "title", "block_size": 128, "k": 1}
    results.replace_unit(
        "new",
        [ResultRecord("annealed", "mlm", "top1_accuracy", 0.99, dict(axes), "new", dict(axes))],
    )
    cells = [
        r
        for r in results.records
        if r.model == "annealed" and r.axes == axes and r.metric == "top1_accuracy"
    ]
    assert [r.value for r in cells] == [0.99]
    assert len(results.records) == 16


def test_table4_caption_is_the_callers_to_choose():
    assert table4(glue_results()).caption == "Table 4 — GLUE dev (fine-tuned)"
    demo = table4(glue_results(), caption="Demo tasks in the GLUE layouts (generated)")
    assert demo.caption == "Demo tasks in the GLUE layouts (generated)"
    assert "**Demo tasks in the GLUE layouts (generated)**" in markdown_table(demo)


def test_reports_use_the_one_renderer():
    from rexbert import render
    from rexbert.evaluate import report

    assert report.Table is render.Table
    assert report.markdown_table is render.markdown_table and report.html_table is render.html_table
    page = render_html(mlm_results())
    assert f"<style>{render.STYLE}</style>" in page
    assert "<caption>Table 3 — masked-token recovery" in page
