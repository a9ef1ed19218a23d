"""Real-text inputs for `rexbert run` on a CPU, built deterministically from the shared data.

    python benchmarks/real_text_inputs.py --data ../shared/data --out DIR [--seed 0]

Reads the four samples that ../shared/data/README.md describes (WikiText-2 paragraphs, BBC
news articles, Amazon UK and Flipkart product titles) and writes, in layouts `rexbert run`
reads:

  general/general_00000K.jsonl      WikiText-2 (tokenisation artefacts undone) + BBC news
  ecommerce/ecommerce_00000K.jsonl  listing pages of 20–25 training titles, one per line
  heldout_titles.parquet            the held-out titles (`id`, `title`, `source`, `brand`,
                                    `category`, `family`): never on a training page
  similarity/{train,test}.parquet   graded query–product pairs (`query`, `product_title`,
                                    `esci_label` E/S/C/I, `query_kind`, `query_path`)
  real_text_cpu.yaml                the packaged run config `configs/run/real_text_cpu.yaml`
                                    with its input paths made absolute, for
                                    `rexbert run --config DIR/real_text_cpu.yaml --out RUN`
  manifest.json                     counts, the leak audit, sha256 of every file

Held-out split. Titles are deduplicated (case-insensitive, whitespace collapsed). Two titles are
near-variants when the Jaccard similarity of their lowercase alphanumeric word sets is at least
0.5 (size and colour variants: "X Women's Shorts (Red, M)" / "(Blue, L)"). The connected
components of that graph are product families, and whole families are held out (families of
more than 30 titles are template chains and always stay in training), so no held-out title has
a near-variant in the training text; the manifest records the largest Jaccard of any held-out
title against every training title (below 0.5 by construction) as the audit.

What the similarity pairs are, and are not. They are a development proxy derived from the
Amazon UK category paths, NOT human relevance judgments: they measure whether a model's
embedding puts a product near queries of its own category (and brand) and away from unrelated
ones, which is one part of relevance and not all of it. Queries are a category leaf ("trains";
qualified by its parent when the leaf name is ambiguous: "scaled models vehicles") or brand +
leaf ("hornby trains"). A product's grade is read off the overlap of its category path with the
query's (common prefix c, query depth d):

  leaf query:   E  c = d (same path)   S  c = d - 1 >= 1 (sibling)   C  1 <= c < d - 1   I  c = 0
  brand query:  E  same brand, c = d   S  other brand, c = d   C  c >= 1 or same brand
                I  other brand, c = 0

Up to two products per grade and query. Queries are split train/test with the seed; train pairs
use training products only and test pairs held-out products only, so no test query or test
product is seen in fine-tuning, and no test product in pretraining.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import yaml

NEAR_VARIANT_JACCARD = 0.5
MAX_HELDOUT_FAMILY = 30
PAGE_TITLES = (20, 25)
MIN_GENERAL_WORDS = 20
RUN_CONFIG = "real_text_cpu.yaml"
SOURCES = {
    "wikitext": "wikitext2/paragraphs.jsonl",
    "bbc": "bbc_news/articles.jsonl",
    "amazon": "amazon_uk_titles/products.parquet",
    "flipkart": "flipkart_titles/products_titles_only.parquet",
}
NOT_A_BRAND = ("generic", "unknown", "n/a")


# ---- general text ---------------------------------------------------------------------------
def clean_wikitext(text: str) -> str:
    """WikiText-2's tokenised variant back to plain text: no <unk>, no @-@, no spaced punctuation."""
    text = re.sub(r"\s*<unk>\s*", " ", text)
    text = text.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
    text = re.sub(r"(\d) : (\d)", r"\1:\2", text)
    text = re.sub(r'" ([^"]*?) "', r'"\1"', text)
    text = re.sub(r" ([.,;:!?%)\]}])", r"\1", text)
    text = re.sub(r"([(\[{$]) ", r"\1", text)
    text = re.sub(r" (n't|'s|'re|'ve|'m|'ll|'d)\b", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def general_documents(data: Path) -> list[dict]:
    """Wikipedia paragraphs (headings dropped) and news articles of at least 20 words."""
    docs = []
    for record in _jsonl(data / SOURCES["wikitext"]):
        text = clean_wikitext(record["text"])
        if not text.startswith("=") and len(text.split()) >= MIN_GENERAL_WORDS:
            docs.append({"id": f"wikitext2-{record['id']}", "text": text})
    for record in _jsonl(data / SOURCES["bbc"]):
        text = re.sub(r"\s+", " ", record["text"]).strip()
        if len(text.split()) >= MIN_GENERAL_WORDS:
            docs.append({"id": f"bbc-{record['id']}", "text": text})
    return docs


# ---- titles, families and the held-out split ------------------------------------------------
def _text_or_empty(value: object) -> str:
    return value if isinstance(value, str) else ""


def _title_row(source: str, record: dict) -> dict:
    category = _text_or_empty(record.get("category"))
    if source == "flipkart":  # the first four characters of a pid are its product type (SHOE, NKCE …)
        group = "flipkart:" + str(record["pid"])[:4]
    else:
        group = "amazon:" + (category or "uncategorised")
    return {"id": record["id"], "source": source, "brand": _text_or_empty(record.get("brand")),
            "category": category, "page_group": group}


def load_titles(data: Path) -> pd.DataFrame:
    """The titles of both catalogues, deduplicated, with what the split and the pairs need."""
    rows, seen = [], set()
    for source in ("amazon", "flipkart"):
        for record in pd.read_parquet(data / SOURCES[source]).to_dict("records"):
            title = re.sub(r"\s+", " ", str(record["title"] or "")).strip()
            if title and title.lower() not in seen:
                seen.add(title.lower())
                rows.append({**_title_row(source, record), "title": title})
    return pd.DataFrame(rows, columns=["id", "source", "title", "brand", "category", "page_group"])


def word_matrix(titles: list[str]) -> sp.csr_matrix:
    """Binary title × word matrix of lowercase alphanumeric words."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, title in enumerate(titles):
        for word in set(re.findall(r"[a-z0-9]+", title.lower())):
            rows.append(i)
            cols.append(vocab.setdefault(word, len(vocab)))
    ones = np.ones(len(rows), np.float32)
    return sp.csr_matrix((ones, (rows, cols)), shape=(len(titles), len(vocab)))


def jaccard_blocks(x: sp.csr_matrix, y: sp.csr_matrix, block: int = 2000):
    """Yield (row offset, dense Jaccard block) of x's rows against all of y's rows."""
    xs, ys = np.asarray(x.sum(1)).ravel(), np.asarray(y.sum(1)).ravel()
    yt = y.T.tocsc()
    for start in range(0, x.shape[0], block):
        inter = (x[start:start + block] @ yt).toarray()
        union = xs[start:start + block, None] + ys[None, :] - inter
        yield start, inter / np.maximum(union, 1)


def families(titles: list[str]) -> np.ndarray:
    """Connected components of the near-variant graph (union-find), one label per title."""
    parent = np.arange(len(titles))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    x = word_matrix(titles)
    for start, jaccard in jaccard_blocks(x, x):
        for i, j in zip(*np.nonzero(jaccard >= NEAR_VARIANT_JACCARD), strict=True):
            a, b = find(start + i), find(j)
            if a != b:
                parent[a] = b
    return np.array([find(i) for i in range(len(titles))])


def split_heldout(frame: pd.DataFrame, targets: dict[str, int], rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of held-out titles: whole small families, drawn at random per catalogue."""
    family = frame["family"].to_numpy()
    size = Counter(family)
    heldout = np.zeros(len(frame), bool)
    for source, target in targets.items():
        members = frame.index[frame["source"] == source]
        candidates = sorted({family[i] for i in members if size[family[i]] <= MAX_HELDOUT_FAMILY})
        taken = 0
        for chosen in rng.permutation(candidates):
            if taken >= target:
                break
            in_family = family == chosen
            heldout |= in_family
            taken += int(in_family.sum())
    return heldout


def leak_audit(frame: pd.DataFrame, heldout: np.ndarray) -> dict:
    """The largest word-set Jaccard of every held-out title against all training titles."""
    x = word_matrix(frame["title"].tolist())
    held, train = x[np.flatnonzero(heldout)], x[np.flatnonzero(~heldout)]
    best = np.concatenate([jaccard.max(1) for _, jaccard in jaccard_blocks(held, train)])
    return {"max_jaccard_to_training": round(float(best.max()), 4),
            "median_max_jaccard_to_training": round(float(np.median(best)), 4),
            "heldout_with_max_jaccard_ge_0.4": int((best >= 0.4).sum())}


# ---- listing pages --------------------------------------------------------------------------
def _paginate(titles: list[str], group: str, rng: np.random.Generator, pages: list[dict],
              full_only: bool) -> list[str]:
    """Cut `titles` into pages of 20–25 onto `pages`; with `full_only`, return the remainder
    that would make a short page instead of writing it."""
    while titles:
        count = int(rng.integers(PAGE_TITLES[0], PAGE_TITLES[1] + 1))
        if full_only and len(titles) < count:
            return titles
        pages.append({"text": "\n".join(titles[:count]), "group": group})
        titles = titles[count:]
    return []


def listing_pages(frame: pd.DataFrame, prefix: str, rng: np.random.Generator, order: str) -> list[dict]:
    """Pages of 20–25 titles, one per line, in a random page order.

    order="category": category-coherent pages (a catalogue browse page); a category with fewer
    titles left than a page hands them to a shared pool, paginated after the full pages.
    order="shuffled": titles of all categories in random order (a search-results page).
    """
    if order == "shuffled":
        frame = frame.assign(page_group="mixed")
    pages: list[dict] = []
    leftover: list[str] = []
    for group in sorted(frame["page_group"].unique()):
        titles = frame.loc[frame["page_group"] == group, "title"].tolist()
        titles = [titles[i] for i in rng.permutation(len(titles))]
        leftover += _paginate(titles, group, rng, pages, full_only=True)
    _paginate(leftover, "mixed", rng, pages, full_only=False)
    shuffled = rng.permutation(len(pages))  # interleave categories and catalogues
    return [{"id": f"{prefix}-{k:05d}", **pages[i]} for k, i in enumerate(shuffled)]


# ---- similarity pairs -----------------------------------------------------------------------
def path_of(category: str) -> tuple[str, ...]:
    """`A > B > C` as ("A", "B", "C")."""
    return tuple(part.strip() for part in category.split(">")) if category else ()


def common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """How many leading path parts two category paths share."""
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    return shared


def leaf_queries(paths: list[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """One query per category path: its leaf, qualified by the parent when the leaf is ambiguous."""
    paths_of_leaf = defaultdict(set)
    for path in paths:
        paths_of_leaf[path[-1].lower()].add(path)
    queries = {}
    for path in paths:
        leaf = path[-1].lower()
        unique = len(paths_of_leaf[leaf]) == 1 or len(path) < 2
        queries[path] = leaf if unique else f"{path[-2].lower()} {leaf}"
    return queries


def make_queries(amazon: pd.DataFrame) -> list[dict]:
    """Leaf queries for every category path, brand + leaf queries for each (brand, path) with at
    least three products."""
    leaves = leaf_queries(sorted({path_of(c) for c in amazon["category"] if c}))
    queries = [{"query": text, "kind": "leaf", "path": path, "brand": ""} for path, text in leaves.items()]
    counts = Counter((brand, path_of(category))
                     for brand, category in zip(amazon["brand"], amazon["category"], strict=True)
                     if brand and category and brand.lower() not in NOT_A_BRAND)
    for (brand, path), count in sorted(counts.items()):
        if count >= 3:
            queries.append({"query": f"{brand.lower()} {leaves[path]}", "kind": "brand",
                            "path": path, "brand": brand})
    return queries


def grade(query: dict, path: tuple[str, ...], brand: str) -> str:
    """The E/S/C/I grade of a product for a query, from the category paths (see the docstring)."""
    shared, depth = common_prefix(query["path"], path), len(query["path"])
    if query["kind"] == "leaf":
        if shared == depth:
            return "E"
        if shared == depth - 1 and shared >= 1:
            return "S"
        return "C" if shared >= 1 else "I"
    same_brand = brand == query["brand"]
    if shared == depth:
        return "E" if same_brand else "S"
    return "C" if (shared >= 1 or same_brand) else "I"


def pairs_for(queries: list[dict], products: pd.DataFrame, rng: np.random.Generator,
              per_grade: int = 2) -> pd.DataFrame:
    """Up to `per_grade` products of each grade for every query that has an E product here."""
    paths = [path_of(c) for c in products["category"]]
    brands, titles = products["brand"].tolist(), products["title"].tolist()
    rows = []
    for query in queries:
        by_grade = defaultdict(list)
        for i, (path, brand) in enumerate(zip(paths, brands, strict=True)):
            by_grade[grade(query, path, brand)].append(i)
        if not by_grade["E"]:
            continue  # a query with no relevant product in this pool says nothing
        for label in "ESCI":
            pool = by_grade[label]
            for i in rng.permutation(len(pool))[:per_grade]:
                rows.append({"query": query["query"], "product_title": titles[pool[i]],
                             "esci_label": label, "query_kind": query["kind"],
                             "query_path": " > ".join(query["path"])})
    return pd.DataFrame(rows)


def similarity_pairs(titles: pd.DataFrame, heldout: np.ndarray,
                     rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train pairs (train queries × training products), test pairs (test queries × held-out)."""
    amazon = titles[(titles["source"] == "amazon") & (titles["category"] != "")]
    queries = make_queries(amazon)
    is_test = rng.random(len(queries)) < 0.5
    held = heldout[amazon.index]
    train = pairs_for([q for q, t in zip(queries, is_test, strict=True) if not t], amazon[~held], rng)
    test = pairs_for([q for q, t in zip(queries, is_test, strict=True) if t], amazon[held], rng)
    return train, test


# ---- writing --------------------------------------------------------------------------------
def write_jsonl_parts(records: list[dict], folder: Path, parts: int) -> list[Path]:
    """`records` round-robin into `parts` files FOLDER/<folder name>_00000K.jsonl (id, text)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(parts):
        path = folder / f"{folder.name}_{k:06d}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for record in records[k::parts]:
                handle.write(json.dumps({"id": record["id"], "text": record["text"]},
                                        ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def run_config(out: Path) -> dict:
    """The packaged run config with its input paths (relative to the inputs folder) made absolute."""
    from rexbert.config.base import packaged_config, read_yaml

    cfg = read_yaml(packaged_config("run/" + RUN_CONFIG))
    data = cfg["data"]
    for key in ("general_corpus", "domain_corpus", "mlm_eval"):
        specs = data[key] if isinstance(data[key], list) else [data[key]]  # one spec or a list
        for spec in specs:
            spec["paths"] = [str((out / p).resolve()) for p in spec["paths"]]
    for key in ("train", "test"):
        data["pairs"][key] = str((out / data["pairs"][key]).resolve())
    return cfg


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pairs_summary(frame: pd.DataFrame) -> dict:
    return {"pairs": len(frame), "queries": int(frame["query"].nunique()),
            "labels": dict(sorted(Counter(frame["esci_label"]).items())),
            "kinds": dict(sorted(Counter(frame["query_kind"]).items()))}


# ---- the whole build ------------------------------------------------------------------------
def check_data(data: Path) -> None:
    """Stop with one line when a file of the shared data is missing."""
    missing = [rel for rel in SOURCES.values() if not (data / rel).is_file()]
    if missing:
        raise SystemExit(f"--data {data}: missing {', '.join(missing)}; pass the folder that "
                         "holds wikitext2/, bbc_news/, amazon_uk_titles/ and flipkart_titles/")


def build_inputs(data: Path, out: Path, seed: int = 0, heldout: tuple[int, int] = (1500, 1000),
                 page_order: str = "category") -> dict:
    """Write every input into `out` (which must be empty or absent); returns the manifest.

    `heldout` is how many Amazon and Flipkart titles to hold out (whole families, so a few
    more). Independent random streams: the page order never changes the split or the pairs.
    """
    check_data(data)
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"--out {out}: not empty; choose a new folder")
    rng_general, rng_split, rng_pages, rng_pairs, rng_order = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))
    general = general_documents(data)
    general = [general[i] for i in rng_general.permutation(len(general))]
    titles = load_titles(data)
    titles["family"] = families(titles["title"].tolist())
    held = split_heldout(titles, dict(zip(("amazon", "flipkart"), heldout, strict=True)), rng_split)
    pages = listing_pages(titles[~held], "page", rng_pages, page_order)
    sim_train, sim_test = similarity_pairs(titles, held, rng_pairs)
    held_titles = titles[held].drop(columns="page_group").reset_index(drop=True)
    held_titles = held_titles.iloc[rng_order.permutation(len(held_titles))]  # mix the catalogues
    files = [*write_jsonl_parts(general, out / "general", 4), *write_jsonl_parts(pages, out / "ecommerce", 2),
             write_parquet(held_titles, out / "heldout_titles.parquet"),
             write_parquet(sim_train, out / "similarity/train.parquet"),
             write_parquet(sim_test, out / "similarity/test.parquet")]
    (out / RUN_CONFIG).write_text(yaml.safe_dump(run_config(out), sort_keys=False), encoding="utf-8")
    manifest = {
        "seed": seed, "page_order": page_order, "general_documents": len(general),
        "general_words": sum(len(d["text"].split()) for d in general),
        "titles_deduplicated": len(titles), "families": int(titles["family"].nunique()),
        "training_titles": int((~held).sum()),
        "heldout_titles": {s: int(((titles["source"] == s) & held).sum()) for s in ("amazon", "flipkart")},
        "near_variant_rule": f"word-set Jaccard >= {NEAR_VARIANT_JACCARD}; families of at most "
                             f"{MAX_HELDOUT_FAMILY} held out whole",
        "leak_audit": leak_audit(titles, held), "listing_pages": len(pages),
        "similarity": {"train": _pairs_summary(sim_train), "test": _pairs_summary(sim_test)},
        "files": {str(p.relative_to(out)): sha256(p) for p in files},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (../shared/data)")
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the inputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heldout-amazon", type=int, default=1500)
    parser.add_argument("--heldout-flipkart", type=int, default=1000)
    parser.add_argument("--page-order", choices=("category", "shuffled"), default="category",
                        help="titles on a listing page: one category's, or all categories mixed")
    args = parser.parse_args(argv)
    manifest = build_inputs(args.data, args.out, args.seed, (args.heldout_amazon, args.heldout_flipkart),
                            args.page_order)
    print(json.dumps({k: v for k, v in manifest.items() if k != "files"}, indent=2))
    print(f"run: rexbert run --config {args.out / RUN_CONFIG} --out RUN_DIR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
