"""The whole `rexbert curate` on a small planted corpus: outputs, bad input, reruns, stage commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rexbert.cli.main import main

OUTPUT_FILES = ("stats.json", "report.md", "report.html")


def tree(out: Path) -> dict[str, bytes]:
    """Every file of kept/ and rejected/ plus stats.json and the reports, by relative path."""
    files = {}
    for folder in ("kept", "rejected"):
        for path in sorted((out / folder).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(out))] = path.read_bytes()
    for name in OUTPUT_FILES:
        files[name] = (out / name).read_bytes()
    return files


def rows(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.rglob("*.jsonl")) for line in path.read_text().splitlines()]


@pytest.fixture
def finished_run(finished_fixture_run):
    return finished_fixture_run


@pytest.fixture
def own_copy(finished_fixture_run, tmp_path):
    """A copy of the finished curation that a test may change (its input stays where it is)."""
    out, truth, corpus, config = finished_fixture_run
    shutil.copytree(out, tmp_path / "out", symlinks=True)
    return tmp_path / "out", truth, corpus, config


def test_outputs_schema_and_bad_input(finished_run):
    out, truth, corpus, _ = finished_run
    kept = rows(out / "kept")
    assert kept and all({"text", "id", "domain", "url"} <= set(r) for r in kept)
    assert all("relevance_score" in r and r["selection"] == "relevance" for r in kept if r["domain"] in ("news", "sports"))
    assert all(r["selection"] == "direct" and "relevance_score" not in r for r in kept if r["domain"] == "fashion")
    rejected = rows(out / "rejected")
    assert all(r["reason"] and r["stage"] for r in rejected)
    read = {r["reason"]: r for r in rejected if r["stage"] == "read"}
    assert set(read) == {"bad_json", "missing_text", "bad_utf8", "empty_text", "too_large"}
    # the second shard of news holds 18 documents, then the bad lines (see conftest.make_corpus)
    assert read["bad_json"]["source_line"] == 19 and read["bad_json"]["text"] == "{not json"
    assert read["bad_json"]["source_file"] == str((corpus / "news" / "news_000001.jsonl").resolve())
    assert "fields present: url, domain, language_score, id" in read["missing_text"]["detail"]
    # every document of the corpus is either kept or rejected, never lost
    ids = {r["id"] for r in kept} | {r["id"] for r in rejected}
    assert set(truth) <= ids
    assert not {r["id"] for r in kept} & {r["id"] for r in rejected}
    stats = json.loads((out / "stats.json").read_text())
    assert stats["documents_kept"] == len(kept)
    assert stats["drop_reasons"]["too_large"] == 1 and stats["drop_reasons"]["bad_json"] == 1
    assert stats["documents_read"] == len(kept) + len(rejected)
    assert stats["domains"]["fashion"]["tokens"] > 0
    assert stats["domains_not_selected_files"] == {"finance": 1}
    assert stats["skipped_stages"] == {} and stats["warnings"] == []
    assert (out / "domain_distribution.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    for section in ("## QA audit", "## Distilled classifiers", "held-out PR-AUC", "Calibration"):
        assert section in report
    german = [r for r in rejected if r["stage"] == "language"]
    assert german and all(r["reason"] == "language_de" for r in german)
    assert {r["id"] for r in rejected if r["reason"] == "profanity"} == {i for i, t in truth.items() if t["profane"]}
    assert any(r["reason"] == "near_duplicate" for r in rejected)


def test_report_html_holds_the_same_tables_as_the_markdown(finished_run):
    out = finished_run[0]
    html, markdown = (out / "report.html").read_text(), (out / "report.md").read_text()
    stats = json.loads((out / "stats.json").read_text())
    assert html.startswith("<!doctype html>") and "<h2>Kept corpus by domain</h2>" in html
    tables = sum(line.startswith("|---") for line in markdown.splitlines())
    assert html.count("<table>") == tables and tables >= 6
    # the figure is a file beside the Markdown and embedded in the page
    assert "![domain distribution](domain_distribution.png)" in markdown and 'src="data:image/png;base64,' in html
    for domain, row in stats["domains"].items():
        assert f"<td class=\"label\">{domain}</td>" in html and f"| {domain} | {row['selection']} | {row['documents']:,} |" in markdown


def test_rerun_skips_and_stage_commands(own_copy, capsys):
    out, _, corpus, config = own_copy
    before = tree(out)
    mtime = (out / "stats.json").stat().st_mtime_ns
    # without --config and --input the saved config and input are used
    assert main(["curate", "--out", str(out)]) == 0
    assert main(["curate", "--input", str(corpus), "--out", str(out)]) == 0
    assert tree(out) == before and (out / "stats.json").stat().st_mtime_ns == mtime
    assert main(["curate", "distill", "--out", str(out)]) == 0
    assert "stage distill already finished" in capsys.readouterr().out
    # forcing a stage reruns it and forgets the ones after it, with the same result
    assert main(["curate", "distill", "--out", str(out), "--force"]) == 0
    assert not (out / "work" / "stages" / "filter.done").exists()
    for stage in ("filter", "stats"):
        assert main(["curate", stage, "--out", str(out)]) == 0
    assert tree(out) == before


def test_a_changed_config_on_a_finished_folder_is_refused_with_what_differs(own_copy, tmp_path, capsys):
    out, _, corpus, config = own_copy
    changed = tmp_path / "changed.yaml"
    changed.write_text(config.read_text().replace("epochs: 10", "epochs: 12"))
    assert main(["curate", "--input", str(corpus), "--out", str(out), "--config", str(changed)]) == 2
    err = capsys.readouterr().err.strip()
    assert "stage 'distill' ran with other settings (distill.epochs: 10 → 12)" in err and "\n" not in err
    assert "`rexbert curate distill --force`" in err
    # the fix the message names works: distill is redone with the new config, then the rest
    assert main(["curate", "distill", "--force", "--out", str(out), "--config", str(changed)]) == 0
    assert main(["curate", "--out", str(out), "--config", str(changed)]) == 0
    assert "epochs: 12" in (out / "config.yaml").read_text()
    assert main(["curate", "--out", str(out), "--no-relevance"]) == 2
    assert "stage 'clean' ran with other settings (relevance: true → false)" in capsys.readouterr().err


def test_user_errors_are_one_line(fixture_corpus, tmp_path, capsys):
    corpus, _, _ = fixture_corpus
    bad = tmp_path / "bad.yaml"
    bad.write_text("sampling: {per_domian: 3}\n")
    assert main(["curate", "--input", str(corpus), "--out", str(tmp_path / "o1"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown key 'sampling.per_domian'" in err
    assert main(["curate", "label", "--out", str(tmp_path / "o2")]) == 2
    assert "stage 'clean' has not finished" in capsys.readouterr().err
    assert main(["curate", "--input", str(tmp_path / "nope"), "--out", str(tmp_path / "o3")]) == 2
    assert "nope does not exist" in capsys.readouterr().err and not (tmp_path / "o3").exists()
    both = tmp_path / "both.yaml"
    both.write_text("domains: {filter_required: [news], directly_selected: [news]}\n")
    assert main(["curate", "--input", str(corpus), "--out", str(tmp_path / "o4"), "--config", str(both)]) == 2
    assert "both filter_required and directly_selected" in capsys.readouterr().err
    assert main(["curate", "--out", str(tmp_path / "o5")]) == 2
    assert "pass --input" in capsys.readouterr().err and not (tmp_path / "o5").exists()
    assert main(["curate", "--text-field", "body", "--out", str(tmp_path / "o6")]) == 2
    assert "--text-field describe the documents of --input; pass --input too" in capsys.readouterr().err
    assert main(["curate", "--input", str(corpus), "--out", str(tmp_path / "o7"), "--workers", "0"]) == 2
    assert "--workers: Input should be greater than or equal to 1" in capsys.readouterr().err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    assert main(["curate", "--input", str(corpus), "--out", str(tmp_path / "mine")]) == 2
    assert "never overwrites files it did not create" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"
