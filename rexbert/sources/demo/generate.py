"""`generate_demo_data`: write the whole demo folder (corpus, truth, ESCI, GLUE-layout tasks, manifest).

manifest.json is written last: a folder without it is an interrupted run; rerun with
`--overwrite` (generation is deterministic, so the result is the same).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json
from rexbert.progress import Progress
from rexbert.sources.demo import corpus, esci, glue, stats, writer
from rexbert.sources.demo.lexicon import (
    BRAND_HEADS,
    DIRECTLY_SELECTED,
    DOMAINS,
    FILTER_REQUIRED,
    PRODUCT_TYPES,
    UNSELECTED,
)
from rexbert.sources.demo.products import ProductSpace
from rexbert.sources.esci import EXAMPLES_FILE, PRODUCTS_FILE

GENERATOR_VERSION = 1
DOCS_PER_SHARD = 2000


@dataclass(frozen=True)
class SizeSpec:
    """How much of everything one size writes."""

    docs_per_domain: int
    queries: int
    filler_products: int
    glue_train: int
    glue_dev: int


SIZES = {
    # "tiny" is for tests: every kind of file and defect, in about a second.
    "tiny": SizeSpec(docs_per_domain=30, queries=30, filler_products=30, glue_train=60, glue_dev=30),
    "small": SizeSpec(docs_per_domain=240, queries=800, filler_products=1500, glue_train=2000, glue_dev=500),
    "medium": SizeSpec(docs_per_domain=2400, queries=8000, filler_products=15000, glue_train=20000, glue_dev=2000),
}
PUBLIC_SIZES = ("tiny", "small", "medium")


def generate_demo_data(out_dir: str | Path, seed: int = 0, size: str = "small",
                       progress: bool = True) -> dict:
    """Write the demo datasets into `out_dir` and return the manifest (also saved as manifest.json).

    Same `seed` and `size` → byte-identical files. The folder rules (new, empty, or earlier demo
    data with `--overwrite`) are `rexbert.sources.api.demo_data`'s; this only writes.
    """
    if size not in SIZES:
        raise UserError(f"--size {size!r} is not valid; use one of {', '.join(PUBLIC_SIZES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"--seed {seed!r} is not valid; use a non-negative integer")
    spec = SIZES[size]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    space = ProductSpace(seed)
    manifest: dict = {"generator_version": GENERATOR_VERSION, "seed": seed, "size": size,
                      "size_spec": asdict(spec), "files": {}, "domains": {}}

    bar = Progress(total=len(DOMAINS) + 3, desc="demo-data", unit="step", enabled=progress)
    truth_records: list[dict] = []
    commerce_texts: list[str] = []
    other_texts: list[str] = []
    for domain in DOMAINS:
        bar.update(0, detail=domain)
        docs = corpus.build_domain(domain, spec.docs_per_domain, space, seed)
        for shard, start in enumerate(range(0, len(docs), DOCS_PER_SHARD)):
            path = out_dir / "corpus" / domain / f"{domain}_{shard:06d}.jsonl"
            chunk = docs[start:start + DOCS_PER_SHARD]
            manifest["files"][str(path.relative_to(out_dir))] = {
                "rows": len(chunk), "bytes": writer.write_jsonl(path, (d.record for d in chunk))}
        truth_records.extend(d.truth for d in docs)
        for doc in docs:
            t = doc.truth
            if t["language"] == "en" and not (t["duplicate_of"] or t["profane"] or t["low_quality"] or t["boilerplate_lines"]):
                (commerce_texts if t["commerce"] else other_texts).append(doc.record["text"])
        manifest["domains"][domain] = _domain_counts(domain, docs)
        bar.update()

    truth_path = out_dir / "truth.jsonl"
    manifest["files"]["truth.jsonl"] = {"rows": len(truth_records),
                                        "bytes": writer.write_jsonl(truth_path, truth_records)}

    bar.update(0, detail="esci")
    catalogue, queries, judgments = esci.build_esci(space, seed, spec.queries, spec.filler_products)
    product_columns = esci.product_rows(catalogue, seed)
    products_schema, examples_schema = writer.esci_schemas()
    for name, columns, schema in ((PRODUCTS_FILE, product_columns, products_schema),
                                  (EXAMPLES_FILE, esci.example_rows(judgments), examples_schema)):
        path = out_dir / "esci" / name
        manifest["files"][f"esci/{name}"] = {"rows": len(next(iter(columns.values()))),
                                             "bytes": writer.write_parquet(path, columns, schema)}
    labels = [j.label for j in judgments]
    manifest["esci"] = {"queries": len(queries), "products": len(catalogue.products),
                        "labels": {label: labels.count(label) for label in "ESCI"},
                        "test_queries": sum(q.split == "test" for q in queries)}
    bar.update()

    bar.update(0, detail="glue")
    for relative, rows in glue.build_glue(space, seed, spec.glue_train, spec.glue_dev).items():
        path = out_dir / "glue" / relative
        manifest["files"][f"glue/{relative}"] = {"rows": len(rows) - 1, "bytes": writer.write_tsv(path, rows)}
    bar.update()

    bar.update(0, detail="statistics")
    manifest["lexicon"] = {"brands": len(space.brands), "brand_syllable_heads": len(BRAND_HEADS),
                           "product_types": len(PRODUCT_TYPES),
                           "attribute_kinds": len({a for t in PRODUCT_TYPES for a in t.attributes})}
    manifest["domain_groups"] = {"filter_required": list(FILTER_REQUIRED),
                                 "directly_selected": list(DIRECTLY_SELECTED), "unselected": list(UNSELECTED)}
    manifest["totals"] = {"documents": len(truth_records),
                          "bytes": sum(f["bytes"] for f in manifest["files"].values()),
                          **_defect_totals(truth_records)}
    manifest["variety"] = stats.variety_statistics(commerce_texts, other_texts, product_columns["product_title"])
    atomic_write_json(out_dir / "manifest.json", manifest)
    bar.update()
    bar.close()
    return manifest


def _domain_counts(domain: str, docs: list[corpus.Document]) -> dict:
    truths = [d.truth for d in docs]
    return {"documents": len(docs), "commerce": sum(t["commerce"] for t in truths),
            "bytes_of_text": sum(len(d.record["text"].encode()) for d in docs), **_defect_totals(truths)}


def _defect_totals(truths: list[dict]) -> dict:
    return {
        "exact_duplicates": sum(bool(t["duplicate_of"]) and not t["near_duplicate"] for t in truths),
        "near_duplicates": sum(t["near_duplicate"] for t in truths),
        "non_english": sum(t["language"] != "en" for t in truths),
        "with_boilerplate": sum(bool(t["boilerplate_lines"]) for t in truths),
        "profane": sum(t["profane"] for t in truths),
        "low_quality": sum(t["low_quality"] for t in truths),
    }


def describe(manifest: dict) -> str:
    """A short human-readable summary of a manifest, for the CLI."""
    totals, esci_info, variety = manifest["totals"], manifest["esci"], manifest["variety"]
    lines = [
        f"demo data (seed {manifest['seed']}, size {manifest['size']}): {totals['bytes'] / 1e6:.1f} MB",
        f"  corpus: {totals['documents']:,} documents in {len(manifest['domains'])} domains; planted: "
        f"{totals['exact_duplicates']} exact + {totals['near_duplicates']} near duplicates, "
        f"{totals['non_english']} non-English, {totals['with_boilerplate']} with boilerplate, "
        f"{totals['profane']} adult, {totals['low_quality']} low-quality (truth.jsonl)",
        f"  esci: {esci_info['products']:,} products, {esci_info['queries']:,} queries, "
        f"labels {esci_info['labels']}",
        f"  glue-layout tasks: {', '.join(sorted({k.split('/')[1] for k in manifest['files'] if k.startswith('glue/')}))}",
        f"  variety: commerce distinct-4gram ratio {variety['commerce']['distinct_4gram_ratio']}, "
        f"non-commerce {variety['non_commerce']['distinct_4gram_ratio']}; vocabulary Jaccard "
        f"{variety['overlap']['vocabulary_jaccard']}",
    ]
    return "\n".join(lines)
