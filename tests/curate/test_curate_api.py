"""The typed entry point and the mixes of domains it curates: the Python API, a user's own JSONL,
all-direct / all-filtered / single-domain configs, --no-relevance, domains named on the input but
not declared, a domain typo, empty files, and every input format (records compared)."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from rexbert.cli.main import main
from rexbert.curate.config import CurateConfig
from rexbert.sources.documents import DocumentInput

# A team's own product file: the text is title + description, the id a SKU, no url, no domain.
PRODUCTS = [
    {"sku": "A-100", "category": "shoes", "brand": "Acme", "title": "Acme trail running shoe",
     "description": "A light running shoe with a grippy rubber sole, a breathable mesh upper and a cushioned heel "
                    "for long runs on rocky mountain trails.", "price_usd": 89.5},
    {"sku": "A-101", "category": "kitchen", "brand": "Zenith", "title": "Zenith stainless steel kettle",
     "description": "This electric kettle boils a full litre of water in under four minutes and switches itself off "
                    "when the water is ready, with a filter that keeps out limescale.", "price_usd": 39.0},
    {"sku": "A-102", "category": "audio", "brand": "Orbit", "title": "Orbit wireless headphones",
     "description": "Over-ear headphones with active noise cancelling, thirty hours of battery life, soft memory foam "
                    "ear cushions and a carrying case that folds flat for travel.", "price_usd": 149.0},
    {"sku": "A-103", "category": "garden", "brand": "Verde", "title": "Verde garden hose reel",
     "description": "", "price_usd": 25.0},  # no description: the title alone is the text
    {"sku": "A-104", "category": "toys", "brand": "Kiddo", "title": "", "description": "", "price_usd": 9.0},
    {"sku": "A-105", "category": "audio", "brand": "Orbit", "title": "Orbit wireless headphones",
     "description": "Over-ear headphones with active noise cancelling, thirty hours of battery life, soft memory foam "
                    "ear cushions and a carrying case that folds flat for travel.", "price_usd": 139.0},
]


def _write_products(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(p) + "\n" for p in PRODUCTS))
    return path


def _stage_reasons(out: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((out / "rejected").rglob("*.jsonl")):
        for row in map(json.loads, path.read_text().splitlines()):
            found.setdefault(row["id"], set()).add(row["reason"])
    return found


def _survivors(truth: dict[str, dict], out: Path) -> set[str]:
    """The English, clean documents of the truth less those dedup removed (every planted duplicate
    among them; the random filler of the fixture makes a few more pairs near-duplicates)."""
    duplicates = {i for i, reasons in _stage_reasons(out).items() if "near_duplicate" in reasons}
    assert {i for i, t in truth.items() if t["near_duplicate"]} <= duplicates
    return {i for i, t in truth.items() if t["language"] == "en" and not t["profane"]} - duplicates


def test_own_products_through_the_python_api_and_the_cli(tmp_path, helpers):
    from rexbert import curate

    products = _write_products(tmp_path / "my" / "products.jsonl")
    spec = DocumentInput(paths=[str(products)], text_fields=["title", "description"], id_field="sku", domain="ecommerce")
    result = curate(CurateConfig(), [spec], tmp_path / "api")
    kept = helpers.kept_records(result.out)
    # the duplicate listing and the record with no text are dropped, with their reasons (the bare
    # four-word title is left to the quality rules, which have tests of their own)
    reasons = _stage_reasons(result.out)
    assert sorted(kept) == sorted({"A-100", "A-101", "A-102", "A-103"} - set(reasons))
    assert {"A-100", "A-101", "A-102"} <= set(kept)
    assert reasons["A-104"] == {"empty_text"} and reasons["A-105"] == {"near_duplicate"}
    assert set(reasons) <= {"A-103", "A-104", "A-105"}
    assert kept["A-100"]["text"] == PRODUCTS[0]["title"] + "\n" + PRODUCTS[0]["description"]
    assert {(r["domain"], r["selection"], r["url"]) for r in kept.values()} == {("ecommerce", "direct", None)}
    # the result object names the outputs and carries stats.json's counts
    stats = json.loads(result.stats.read_text())
    assert (result.documents_read, result.documents_kept, result.documents_dropped) == (6, len(kept), 6 - len(kept))
    assert result.tokens_kept == stats["tokens_kept"] > 0 and result.kept_by_domain == {"ecommerce": len(kept)}
    assert result.report.is_file() and result.report_html.is_file() and result.config.is_file()
    assert result.ran == ("clean", "label", "audit", "distill", "filter", "stats") and not result.pending
    assert set(result.skipped_stages) == {"label", "audit", "distill"}
    assert "none of the filter-required domains (hobby, news" in result.skipped_stages["label"]
    report = result.report.read_text()
    assert "Domain(s) ecommerce named on the input but not declared in the config: curated as directly selected" in report
    assert "Stage 'label' skipped: none of the filter-required domains" in report
    assert curate(CurateConfig(), [], result.out).ran == ()  # a rerun finds everything done
    # the same from the command line
    assert main(["curate", "--input", str(products), "--text-field", "title,description", "--id-field", "sku",
                 "--domain", "ecommerce", "--out", str(tmp_path / "cli")]) == 0
    assert helpers.kept_records(tmp_path / "cli") == kept


def test_all_direct_equals_no_relevance_and_skips_the_relevance_stages(fixture_corpus, tmp_path, helpers):
    corpus, truth, config = fixture_corpus
    direct = helpers.write_config(tmp_path / "direct.yaml", "filter_required: []\n  directly_selected: [news, sports, fashion]")
    assert main(["curate", "--input", str(corpus), "--out", str(tmp_path / "direct"), "--config", str(direct)]) == 0
    assert main(["curate", "--input", str(corpus), "--out", str(tmp_path / "off"), "--config", str(config),
                 "--no-relevance"]) == 0
    all_direct, no_relevance = helpers.kept_records(tmp_path / "direct"), helpers.kept_records(tmp_path / "off")
    assert all_direct == no_relevance
    # what is kept is exactly what survives cleaning and dedup: English, not profane, not a near-duplicate
    assert set(all_direct) == _survivors(truth, tmp_path / "direct")
    assert {r["selection"] for r in all_direct.values()} == {"direct"}
    for out, why in ((tmp_path / "direct", "no domain needs relevance filtering"),
                     (tmp_path / "off", "relevance filtering is off (--no-relevance)")):
        stats = json.loads((out / "stats.json").read_text())
        assert set(stats["skipped_stages"]) == {"label", "audit", "distill"}
        assert stats["skipped_stages"]["label"].startswith(why)
        assert f"Stage 'distill' skipped: {why}" in (out / "report.md").read_text()
        assert not (out / "work" / "label").exists() and not (out / "rejected" / "relevance").exists()


@pytest.mark.slow
def test_all_filtered_and_single_domain(fixture_corpus, tmp_path, helpers):
    corpus, truth, _ = fixture_corpus
    for name, domains in (("all", "filter_required: [news, sports, fashion]\n  directly_selected: []"),
                          ("single", "filter_required: [sports]\n  directly_selected: []")):
        config = helpers.write_config(tmp_path / f"{name}.yaml", domains)
        out = tmp_path / name
        assert main(["curate", "--input", str(corpus), "--out", str(out), "--config", str(config)]) == 0
        kept = helpers.kept_records(out)
        stats = json.loads((out / "stats.json").read_text())
        assert kept and stats["skipped_stages"] == {}
        assert all(r["selection"] == "relevance" and r["relevance_score"] >= r["relevance_threshold"] for r in kept.values())
        assert set(stats["domains"]) == set(domains.split("[")[1].split("]")[0].split(", "))
    single = json.loads((tmp_path / "single" / "stats.json").read_text())
    assert single["domains_not_selected_files"] == {"fashion": 1, "finance": 1, "news": 2}
    # the one relevance-filtered domain keeps mostly its commerce half
    sports = helpers.kept_records(tmp_path / "single")
    assert sum(truth[i]["commerce"] for i in sports) >= 0.8 * len(sports)


def test_undeclared_named_domain_typo_empty_file_and_no_dead_end(tmp_path, helpers, caplog):
    rows, _ = helpers.corpus_rows(per_domain=12, domains=("news", "fashion"))
    corpus = tmp_path / "corpus"
    (corpus / "news").mkdir(parents=True)
    (corpus / "fashion").mkdir()
    # every news document is German, so none survives cleaning (language ID keeps English)
    german = [dict(r, text=r["text"] if r["id"].endswith("-5") else "Der Stadtrat hat am Dienstag über den neuen "
              f"Haushalt für die Schulen und die Straßen beraten, sagte der Bürgermeister {r['id']}.") for r in rows["news"]]
    (corpus / "news" / "news_000000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in german))
    (corpus / "fashion" / "fashion_000000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows["fashion"]))
    (corpus / "fashion" / "fashion_000001.jsonl").write_text("")
    shop = _write_products(tmp_path / "shop.jsonl")
    config = helpers.write_config(tmp_path / "c.yaml", "filter_required: [news]\n  directly_selected: [fashion, sprots]")
    caplog.set_level(logging.WARNING)
    out = tmp_path / "out"
    assert main(["curate", "--input", str(corpus), f"shop={shop}", "--text-field", "text,title,description",
                 "--out", str(out), "--config", str(config)]) == 0
    stats = json.loads((out / "stats.json").read_text())
    kept = helpers.kept_records(out)
    assert {r["domain"] for r in kept.values()} == {"fashion", "shop"}
    assert stats["skipped_stages"]["label"].startswith("no document of the filter-required domains (news) survived cleaning")
    assert stats["domains_not_declared"] == ["shop"] and stats["domains"]["shop"]["selection"] == "direct"
    empty = str((corpus / "fashion" / "fashion_000001.jsonl").resolve())
    assert stats["empty_files"] == [empty]
    assert f"{empty}: empty file (no records)" in caplog.text
    assert stats["declared_domains_missing_from_input"] == ["sprots"]
    # `sprots` is declared and absent, but the input holds no undeclared domain: no typo warning
    assert "misspelling" not in caplog.text
    # a typo next to an undeclared domain of the input is said, with the likely fix
    typo = helpers.write_config(tmp_path / "typo.yaml", "filter_required: [newz]\n  directly_selected: [fashion]")
    assert main(["curate", "--input", str(corpus), "--out", str(tmp_path / "typo"), "--config", str(typo),
                 "--no-relevance"]) == 0
    line = "config domain(s) newz are not in the input, which holds domain(s) news that the config does not declare " \
           "(did you mean news for newz?)"
    assert line in caplog.text
    assert line in (tmp_path / "typo" / "report.md").read_text()


def _write_shard(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    elif path.name.endswith(".zst"):
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    elif path.name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_bytes(data)


def test_parquet_gzip_and_zstd_input_keep_the_same_records_as_jsonl(tmp_path, helpers):
    rows, truth = helpers.corpus_rows(per_domain=16)
    formats = {"news": ".parquet", "sports": ".jsonl.gz", "fashion": ".jsonl.zst"}
    for domain, suffix in formats.items():
        _write_shard(tmp_path / "jsonl" / domain / f"{domain}_000000.jsonl", rows[domain])
        _write_shard(tmp_path / "mixed" / domain / f"{domain}_000000{suffix}", rows[domain])
    config = helpers.write_config(tmp_path / "c.yaml", "filter_required: []\n  directly_selected: [news, sports, fashion]")
    for name in ("jsonl", "mixed"):
        assert main(["curate", "--input", str(tmp_path / name), "--out", str(tmp_path / f"out_{name}"),
                     "--config", str(config)]) == 0
    reference, mixed = helpers.kept_records(tmp_path / "out_jsonl"), helpers.kept_records(tmp_path / "out_mixed")
    for domain in formats:
        of_domain = {i: r for i, r in mixed.items() if r["domain"] == domain}
        assert of_domain, domain
        assert of_domain == {i: r for i, r in reference.items() if r["domain"] == domain}, formats[domain]
    assert set(mixed) == _survivors(truth, tmp_path / "out_mixed")
    source = {r["id"]: r["text"] for rs in rows.values() for r in rs}
    assert all(r["text"] == source[i] and r["url"] == f"https://example.com/{i}" for i, r in mixed.items())


def test_the_package_is_the_entry_point():
    import rexbert
    from rexbert import curate
    from rexbert.curate import api

    assert curate is rexbert.curate and callable(curate) and curate.__entry__ == "rexbert.curate.api:curate"
    assert api.curate.__annotations__["return"] == "CurateResult"
