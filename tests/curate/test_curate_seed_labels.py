"""Seed labels: loading, what each labeller learns from them, gold in the audit loop, truth evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, precision_score, recall_score

from rexbert.curate import audit
from rexbert.curate.config import AuditConfig, EmbeddingOptions, LexiconOptions
from rexbert.curate.labellers.base import LabelItem
from rexbert.curate.labellers.lexicon import LexiconLabeller
from rexbert.errors import UserError

SHOP = ["Buy the {x} today: price 49 dollars, free shipping and returns, add to cart.",
        "Shop our {x} sale, discount code at checkout, customer reviews and ratings for every product.",
        "The {x} is in stock in three sizes; order now for delivery tomorrow, warranty included."]
NEWS = ["The council met on Tuesday to discuss the {x} budget for the schools and the roads.",
        "In the final match the home side scored twice and the {x} coach praised the players.",
        "The history of the {x} bridge goes back to the eighteenth century, when the river was a trade route."]
THINGS = ["kettle", "camera", "tent", "jacket", "lamp", "guitar", "helmet", "blender"]


def _corpus() -> tuple[list[LabelItem], dict[str, bool]]:
    items, truth = [], {}
    for domain in ("hobby", "news"):
        for i, thing in enumerate(THINGS):
            for kind, templates in (("shop", SHOP), ("news", NEWS)):
                doc_id = f"{domain}-{kind}-{i}"
                items.append(LabelItem(doc_id, domain, templates[i % 3].format(x=thing)))
                truth[doc_id] = kind == "shop"
    return items, truth


def test_seed_files_jsonl_and_csv_and_their_errors(tmp_path):
    jsonl = tmp_path / "seeds.jsonl"
    jsonl.write_text('{"id": "a", "relevant": true}\n{"id": 7, "relevant": 0}\n')
    assert audit.load_seed_labels(jsonl) == {"a": True, "7": False}
    csv = tmp_path / "seeds.csv"
    csv.write_text("id,relevant\na,yes\nb,not_relevant\n")
    assert audit.load_seed_labels(csv) == {"a": True, "b": False}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "relevant": true}\n{"id": "b", "relevant": "maybe"}\n')
    with pytest.raises(UserError, match=r"bad.jsonl:2: 'relevant' must be true/false"):
        audit.load_seed_labels(bad)
    bad.write_text('{"id": "a", "relevant": true}\n{"id": "a", "relevant": false}\n')
    with pytest.raises(UserError, match="labelled both relevant and not relevant"):
        audit.load_seed_labels(bad)
    bad.write_text('{"doc": "a", "relevant": true}\n')
    with pytest.raises(UserError, match=r"bad.jsonl:1: a seed label needs 'id' and 'relevant'"):
        audit.load_seed_labels(bad)


def test_seed_documents_are_found_in_the_sample_and_the_cleaned_shards(tmp_path):
    shards = tmp_path / "clean"
    shards.mkdir()
    (shards / "00000.jsonl").write_text(json.dumps({"text": "shard text", "id": "s2", "metadata": {"domain": "news"}}) + "\n")
    sample = [{"id": "s1", "domain": "hobby", "text": "sample text"}]
    items, labels, missing = audit.find_seed_documents({"s1": True, "s2": False, "gone": True}, sample, [shards])
    assert [(it.id, it.domain, it.text) for it in items] == [("s1", "hobby", "sample text"), ("s2", "news", "shard text")]
    assert labels == [True, False] and missing == ["gone"]


def test_gold_split_is_stratified_and_repeatable():
    items, truth = _corpus()
    labels = [truth[it.id] for it in items]
    gold = audit.split_gold(items, labels, 0.25, seed=3)
    again = audit.split_gold(list(reversed(items)), list(reversed(labels)), 0.25, seed=3)
    assert {it.id for it in gold.eval_items} == {it.id for it in again.eval_items}
    assert sum(gold.eval_labels) == 4 and len(gold.eval_items) == 8 and len(gold.fit_items) == 24


def test_seed_labels_change_the_lexicon_decisions():
    items, truth = _corpus()
    labeller = LexiconLabeller(LexiconOptions(threshold=1000.0))  # far too strict: nothing is relevant
    assert not any(lab.label for lab in labeller.label(items))
    note = labeller.use_seed_labels(items[:16], [truth[it.id] for it in items[:16]])
    assert note.startswith("threshold 1000.00->")
    assert [lab.label for lab in labeller.label(items)] == [truth[it.id] for it in items]


def test_seed_labels_change_the_embedding_head_decisions():
    from rexbert.curate.labellers.embedding import EmbeddingLabeller

    # the shipped examples call recipes not relevant; this user sells groceries and says they are
    recipe = ("Preheat the oven to 200 degrees. Mix {a} with flour, {b} and a pinch of salt, then bake for 25 minutes "
              "and serve warm.")
    targets = [LabelItem(f"r{i}", "food", recipe.format(a=a, b=b)) for i, (a, b) in enumerate(
        [("butter", "sugar"), ("olive oil", "rosemary"), ("yoghurt", "honey"), ("cheese", "chives"), ("cocoa", "eggs"),
         ("oats", "banana"), ("lentils", "cumin"), ("pumpkin", "sage")])]
    seeds = [LabelItem(f"s{i}", "food", recipe.format(a=a, b=b)) for i, (a, b) in enumerate(
        [("almonds", "dates"), ("potatoes", "thyme"), ("rice", "saffron"), ("apples", "cinnamon"), ("chickpeas", "garlic")])]
    options = EmbeddingOptions(batch_size=8, self_training=False)
    before = EmbeddingLabeller(options).label(targets)
    after_labeller = EmbeddingLabeller(options)
    note = after_labeller.use_seed_labels(seeds, [True] * 5)
    after = after_labeller.label(targets)
    assert "5 seed label(s)" in note and "5 seeds" in after_labeller.identity()
    assert sum(not lab.label for lab in before) >= 2  # recipes sit on the boundary of the shipped examples
    assert all(lab.label for lab in after)
    assert all(a.score > b.score for a, b in zip(after, before, strict=True))


def test_the_audit_moves_a_bad_labeller_and_reports_kappa_against_gold_per_round(tmp_path):
    items, truth = _corpus()
    gold = audit.split_gold(items, [truth[it.id] for it in items], 0.5, seed=0)
    gold.fit_items, gold.fit_labels = [], []  # measure only: the loop itself must move the labeller
    primary = LexiconLabeller(LexiconOptions(threshold=1000.0))
    auditor = LexiconLabeller(LexiconOptions(threshold=1.0))
    initial = primary.label(items)
    cfg = AuditConfig(per_domain=8, max_rounds=3)
    final, rounds, summary = audit.run_audit(items, initial, primary, auditor, cfg, tmp_path / "rounds.jsonl", gold=gold)
    kappas = [r["gold"]["overall"]["kappa"] for r in rounds]
    reference = [truth[it.id] for it in gold.eval_items]
    assert kappas[0] == pytest.approx(cohen_kappa_score(reference, [False] * len(reference)))
    assert kappas[0] < 0.1 and kappas[-1] > 0.8 and len(rounds) >= 2
    assert rounds[-1]["gold"]["overall"]["accuracy"] > rounds[0]["gold"]["overall"]["accuracy"] + 0.3
    assert all(r["kappa_against"] == "gold" for r in rounds)
    assert summary["best_kappa"] == pytest.approx(max(kappas)) and summary["kappa_against"] == "gold"
    # the auditor is at least as good on gold as the refined labeller, so its labels are used
    assert summary["gold"]["auditor"]["kappa"] == pytest.approx(1.0) and summary["auditor_labels_used"]
    written = [json.loads(line) for line in (tmp_path / "rounds.jsonl").read_text().splitlines()]
    assert [r["gold"]["overall"]["kappa"] for r in written] == kappas
    # gold documents keep their gold label in the training labels
    by_id = {lab.id: lab for lab in final}
    assert all(by_id[it.id].label == truth[it.id] and by_id[it.id].reason == "gold: seed label" for it in gold.eval_items)


def _write_output(root, kept, rejected):
    (root / "kept" / "d").mkdir(parents=True)
    (root / "rejected" / "quality").mkdir(parents=True)
    (root / "kept" / "d" / "00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    (root / "rejected" / "quality" / "00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rejected))


def test_evaluate_kept_per_domain_with_bootstrap_intervals_and_drop_reasons(tmp_path):
    rng = np.random.default_rng(0)
    truth_rows, kept, rejected = [], [], []
    for domain, n in (("hobby", 400), ("news", 60)):
        relevant = rng.random(n) < 0.4
        is_kept = np.where(rng.random(n) < 0.85, relevant, ~relevant)
        for i in range(n):
            doc = {"id": f"{domain}-{i}", "domain": domain}
            truth_rows.append({"id": doc["id"], "relevant": bool(relevant[i])})
            if is_kept[i]:
                kept.append(doc)
            else:
                rejected.append({**doc, "stage": "quality" if i % 2 else "relevance",
                                 "reason": "quality_stop_words" if i % 2 else "not_commerce_relevant"})
    truth_rows.append({"id": "never-seen", "relevant": True})
    _write_output(tmp_path, kept, rejected)
    truth_path = tmp_path / "truth.jsonl"
    truth_path.write_text("".join(json.dumps(r) + "\n" for r in truth_rows))
    result = audit.evaluate_kept(tmp_path / "kept", tmp_path / "rejected", truth_path, resamples=1000)
    assert result["missing"] == 1 and result["found"] == 460
    kept_ids = {d["id"] for d in kept}
    for domain, block in result["domains"].items():
        ids = [r["id"] for r in truth_rows if r["id"].startswith(domain)]
        ref = [next(r["relevant"] for r in truth_rows if r["id"] == i) for i in ids]
        pred = [i in kept_ids for i in ids]
        assert block["precision"] == pytest.approx(precision_score(ref, pred))
        assert block["recall"] == pytest.approx(recall_score(ref, pred))
        assert block["f1"] == pytest.approx(f1_score(ref, pred))
        for name in ("precision", "recall", "f1"):
            low, high = block[f"{name}_ci"]
            assert low <= block[name] <= high and 0 < high - low < 0.5
    width = {d: b["recall_ci"][1] - b["recall_ci"][0] for d, b in result["domains"].items()}
    assert width["news"] > width["hobby"]  # fewer documents, wider interval
    wrong = [w for w in result["wrongly_dropped"]]
    assert wrong and all(next(r["relevant"] for r in truth_rows if r["id"] == w["id"]) for w in wrong)
    assert sum(result["wrongly_dropped_reasons"].values()) == len(wrong)
    assert set(result["wrongly_dropped_reasons"]) <= {"quality: quality_stop_words", "relevance: not_commerce_relevant"}


def test_keep_overrides_relevant_as_the_target(tmp_path):
    _write_output(tmp_path, [{"id": "a", "domain": "d"}], [{"id": "b", "domain": "d", "stage": "profanity", "reason": "profanity"}])
    truth_path = tmp_path / "truth.jsonl"
    truth_path.write_text('{"id": "a", "relevant": true}\n{"id": "b", "relevant": true, "keep": false}\n')
    result = audit.evaluate_kept(tmp_path / "kept", tmp_path / "rejected", truth_path, resamples=200)
    assert result["overall"]["precision"] == 1.0 and result["overall"]["recall"] == 1.0
    assert result["wrongly_dropped"] == []


@pytest.mark.slow
def test_seed_labels_flag_and_evaluate_truth_through_the_cli(fixture_corpus, tmp_path, capsys):
    from rexbert.cli.main import main

    corpus, truth, _ = fixture_corpus
    config = tmp_path / "fast.yaml"
    config.write_text("domains: {filter_required: [news, sports], directly_selected: [fashion]}\n"
                      "sampling: {per_domain: 40}\naudit: {per_domain: 16, max_rounds: 2}\ndistill: {epochs: 10, folds: 3}\n"
                      "labelling:\n  labeller: {backend: lexicon}\n  auditor: {backend: lexicon, lexicon: {threshold: 2.0}}\n")
    english = sorted(i for i, t in truth.items() if t["domain"] in ("news", "sports") and t["language"] == "en"
                     and not t["profane"] and not t["duplicate_of"])
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"id": i, "relevant": truth[i]["commerce"]}) + "\n" for i in english[::2]))
    out = tmp_path / "out"
    assert main(["curate", "--input", str(corpus), "--out", str(out), "--config", str(config),
                 "--seed-labels", str(seeds)]) == 0
    label_summary = json.loads((out / "work" / "label" / "summary.json").read_text())
    assert label_summary["seeds"]["found"] == len(english[::2]) and label_summary["seeds"]["held_out"] > 0
    rounds = [json.loads(line) for line in (out / "work" / "audit" / "rounds.jsonl").read_text().splitlines()]
    assert all(r["kappa_against"] == "gold" and "accuracy" in r["gold"]["overall"] for r in rounds)
    assert "κ vs gold" in (out / "report.md").read_text()
    sample = tmp_path / "labelled.jsonl"
    sample.write_text("".join(json.dumps({"id": i, "relevant": t["commerce"]}) + "\n" for i, t in truth.items()))
    capsys.readouterr()
    assert main(["curate", "evaluate", "--out", str(out), "--truth", str(sample)]) == 0
    printed = capsys.readouterr().out
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["kind"] == "labelled_sample" and set(evaluation["domains"]) == {"news", "sports", "fashion"}
    news = evaluation["domains"]["news"]
    assert news["precision_ci"][0] <= news["precision"] <= news["precision_ci"][1]
    assert f"{news['precision']:.3f} [{news['precision_ci'][0]:.3f}, {news['precision_ci'][1]:.3f}]" in printed
    dropped = {w["id"]: w for w in evaluation["wrongly_dropped"]}
    german_commerce = [i for i, t in truth.items() if t["language"] == "de" and t["commerce"]]
    assert german_commerce and all(dropped[i]["stage"] == "language" for i in german_commerce if i in dropped)
    assert "Kept documents against the labelled sample" in (out / "report.md").read_text()
