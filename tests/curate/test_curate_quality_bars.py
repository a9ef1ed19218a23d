"""Quality bars of the default recipe on the demo corpus, measured against its truth file.

The pipeline never reads truth.jsonl; `rexbert curate evaluate` does, after the run.
"""

from __future__ import annotations

import json

import pytest

from rexbert.cli.main import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The smallest demo corpus, curated once with the default config, then evaluated."""
    from rexbert.sources.demo import SIZES, generate_demo_data

    root = tmp_path_factory.mktemp("demo")
    size = min(SIZES, key=lambda name: SIZES[name].docs_per_domain)
    generate_demo_data(root / "data", seed=0, size=size)
    out = root / "curated"
    assert main(["curate", "--input", str(root / "data" / "corpus"), "--out", str(out),
                 "--truth", str(root / "data" / "truth.jsonl")]) == 0
    return out, json.loads((out / "evaluation.json").read_text())


@pytest.mark.slow
def test_near_duplicate_bar(demo_run):
    _, ev = demo_run
    nd = ev["near_duplicates"]
    assert nd["pairs_reaching_dedup"] >= 5
    assert nd["recall"] >= 0.9
    assert nd["unique_removed_fraction"] <= 0.01


@pytest.mark.slow
def test_language_id_bar(demo_run):
    _, ev = demo_run
    lang = ev["language"]
    assert lang["non_english_reaching"] >= 10
    assert lang["non_english_removed"] >= 0.95
    assert lang["english_removed"] <= 0.02


@pytest.mark.slow
def test_profanity_bar(demo_run):
    _, ev = demo_run
    assert ev["profanity"]["profane_reaching"] >= 5
    assert ev["profanity"]["profane_removed"] >= 0.9


@pytest.mark.slow
def test_relevance_precision_recall_in_report(demo_run):
    out, ev = demo_run
    rel = ev["relevance_filter"]
    report = (out / "report.md").read_text()
    assert f"precision {rel['precision']:.3f}, recall {rel['recall']:.3f}" in report
    assert "training labels (after audit)" in report and "auditor (audited subset)" in report
    assert "## Evaluation against the demo truth file" in report
