"""Fixtures for curate tests: a tiny FineFineWeb-layout corpus with planted problems (no demo generator needed)."""

from __future__ import annotations

import json
import random
from pathlib import Path

COMMERCE = [
    "This {item} is on sale today for only {price} dollars with free shipping and easy returns. The brand offers sizes from small to large and customers say the quality is worth the money. Add to cart before the deal ends, and read the reviews of buyers who bought it for their family.",
    "Our buying guide compares the best {item} models to buy this year. We tested the features, the price and the warranty of each product, and we recommend the one with the highest customer rating. It is available in every store and online with a discount code for new customers.",
    "I bought the {item} last month and here is my honest review. The price was fair, the delivery was fast and the product has held up well. If you are shopping for a {item}, compare the specs and check whether the retailer offers a money back guarantee.",
]
NON_COMMERCE = [
    "The city council met on Tuesday to discuss the new budget for the schools and the roads. The mayor said that the plan would take several years and that residents should be patient while the work is done in each district of the town.",
    "In the final match of the season the home team scored two goals in the second half and won the title. The coach praised the players for their effort and said that the fans had been the best part of the whole year for everyone at the club.",
    "The history of the old bridge goes back to the eighteenth century, when the river was the main route for trade. The structure was rebuilt after a flood and is now a place where people walk in the evening and remember the story of the town.",
]
GERMAN = "Der Stadtrat hat am Dienstag über den neuen Haushalt für die Schulen und die Straßen beraten. Der Bürgermeister sagte, dass der Plan mehrere Jahre dauern werde und dass die Bewohner Geduld haben sollten, während die Arbeiten in jedem Bezirk der Stadt durchgeführt werden."
PROFANE = ("This fucking product is shit and the seller is a total asshole. What a bullshit experience, the whole "
           "thing was a fucking scam and the customer service was shit too, and that is the truth about the store. "
           "I have told all of my friends and my family to stay away from it and to buy something else with their "
           "money, because the people who run it do not care about anyone who pays them.")
FILLER = ("apple river stone cloud green quiet morning garden window letter candle silver forest mountain ocean pencil orange violet thunder meadow bridge lantern harbor castle dragon feather "
          "planet rocket island valley winter summer autumn spring velvet marble copper crystal").split()
ITEMS = ["jacket", "camera", "guitar", "blender", "helmet", "tent", "lipstick", "watch", "bicycle", "kettle"]


def corpus_rows(seed: int = 0, per_domain: int = 40, domains=("news", "sports", "fashion")) -> tuple[dict, dict]:
    """(domain → FineFineWeb records, truth by id): half commerce, planted German, profane and
    near-duplicate documents."""
    rng = random.Random(seed)
    truth: dict[str, dict] = {}
    by_domain: dict[str, list[dict]] = {}
    for domain in domains:
        rows = []
        for i in range(per_domain):
            doc_id = f"{domain}-{i}"
            commerce = i % 2 == 0
            template = rng.choice(COMMERCE if commerce else NON_COMMERCE)
            text = template.format(item=rng.choice(ITEMS), price=rng.randint(5, 500))
            # make documents distinct so that only planted duplicates are near-duplicates
            text += " " + " ".join(rng.choice(FILLER) for _ in range(40)) + "."
            language, profane = "en", False
            if i % 13 == 5:
                text, language = GERMAN + f" {i} {domain}", "de"
            if i % 17 == 3:
                text, profane = PROFANE + f" {i}", True
            rows.append({"text": text, "url": f"https://example.com/{doc_id}", "domain": domain, "language_score": 0.9, "id": doc_id})
            truth[doc_id] = {"id": doc_id, "domain": domain, "commerce": commerce, "language": language, "profane": profane,
                             "duplicate_of": None, "near_duplicate": False}
        # planted near-duplicate of document 0
        dup = dict(rows[0], id=f"{domain}-dup", text=rows[0]["text"].replace("today", "now", 1))
        rows.append(dup)
        truth[dup["id"]] = dict(truth[rows[0]["id"]], id=dup["id"], duplicate_of=rows[0]["id"], near_duplicate=True)
        by_domain[domain] = rows
    return by_domain, truth


def make_corpus(root: Path, seed: int = 0, per_domain: int = 40,
                domains=("news", "sports", "fashion")) -> dict[str, dict]:
    """Write root/<domain>/<domain>_000000.jsonl (+ a second shard and bad lines of every kind for
    the first domain, and an undeclared `finance` folder); return truth by id."""
    by_domain, truth = corpus_rows(seed, per_domain, domains)
    for d_index, (domain, rows) in enumerate(by_domain.items()):
        folder = root / domain
        folder.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(r).encode() for r in rows]
        if d_index == 0:
            # bad input of every kind
            lines += [b"{not json", json.dumps({"url": "u", "domain": domain, "language_score": 0.5, "id": "x1"}).encode(),
                      b'{"text": "caf\xe9", "url": "u", "domain": "news", "language_score": 0.5, "id": "x2"}',
                      json.dumps({"text": "   ", "url": "u", "domain": domain, "language_score": 0.5, "id": "x3"}).encode(),
                      json.dumps({"text": "word " * 2_100_000, "url": "u", "domain": domain, "language_score": 0.5,
                                  "id": "x4"}).encode()]
            half = len(lines) // 2
            (folder / f"{domain}_000000.jsonl").write_bytes(b"\n".join(lines[:half]) + b"\n")
            (folder / f"{domain}_000001.jsonl").write_bytes(b"\n".join(lines[half:]) + b"\n")
        else:
            (folder / f"{domain}_000000.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    # a domain that is not declared in the test config
    (root / "finance").mkdir(exist_ok=True)
    (root / "finance" / "finance_000000.jsonl").write_text(json.dumps({"text": "stocks", "url": "u", "domain": "finance",
                                                                        "language_score": 0.9, "id": "f1"}) + "\n")
    return truth


def kept_records(out: Path) -> dict[str, dict]:
    """Every kept record of a curation, by id."""
    return {row["id"]: row for path in sorted((out / "kept").rglob("*.jsonl"))
            for row in map(json.loads, path.read_text().splitlines())}


def write_config(path: Path, domains: str = "filter_required: [news, sports]\n  directly_selected: [fashion]") -> Path:
    """TEST_CONFIG with other domain lists, written to `path`."""
    path.write_text(TEST_CONFIG.replace("filter_required: [news, sports]\n  directly_selected: [fashion]", domains))
    return path


import pytest  # noqa: E402

TEST_CONFIG = """
domains:
  filter_required: [news, sports]
  directly_selected: [fashion]
sampling: {per_domain: 40}
audit: {per_domain: 16, max_rounds: 2}
distill: {epochs: 10, folds: 3}
labelling:
  labeller: {backend: lexicon}
  auditor: {backend: lexicon, lexicon: {threshold: 2.0}}
"""


@pytest.fixture
def fixture_corpus(tmp_path):
    """(corpus dir, truth by id, config path) of the small planted corpus; the lexicon labels and audits
    itself for speed (the labellers have tests of their own)."""
    truth = make_corpus(tmp_path / "corpus")
    config = tmp_path / "curate.yaml"
    config.write_text(TEST_CONFIG)
    return tmp_path / "corpus", truth, config


@pytest.fixture(scope="session")
def finished_fixture_run(tmp_path_factory):
    """(out, truth, corpus, config): one finished curation of the planted corpus, shared by the
    tests that only read it (copy it before changing it)."""
    from rexbert.cli.main import main

    root = tmp_path_factory.mktemp("finished")
    truth = make_corpus(root / "corpus")
    config = root / "curate.yaml"
    config.write_text(TEST_CONFIG)
    assert main(["curate", "--input", str(root / "corpus"), "--out", str(root / "out"), "--config", str(config)]) == 0
    return root / "out", truth, root / "corpus", config


@pytest.fixture(scope="session")
def helpers():
    """The corpus and output helpers of this file, for tests that build their own corpora."""
    import types

    return types.SimpleNamespace(corpus_rows=corpus_rows, make_corpus=make_corpus, kept_records=kept_records,
                                 write_config=write_config)
