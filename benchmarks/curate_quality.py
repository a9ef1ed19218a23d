"""Relevance and cleaning quality of the default `rexbert curate` on real text and on the demo corpus.

Real corpus (FineFineWeb layout, built from ../shared/data):
- listing pages of 20-25 product titles: Amazon UK titles grouped by category (with prices in
  some page styles) and Flipkart titles in catalogue order (with the size/colour variants that
  real category pages show), some pages wrapped in navigation/cookie/footer lines: relevant;
- BBC news articles and Wikipedia paragraphs (WikiText-2, detokenised): not relevant;
- mixed in four filter-required domains at different commerce shares, plus a directly-selected
  domain (`fashion`) of listing pages only.

Each corpus is curated twice by the `rexbert curate` command with the default config: without
seed labels, then with 100 seed labels (`id, relevant`) drawn at random from the filter-required
domains (the seed documents are left out of the figures of both runs). Printed per domain:
precision and recall of the kept commerce documents against the truth, and the share of real
listing pages dropped by each cleaning rule (a rule that drops catalogue text is a bug); for the
demo corpus, the same figures and its quality bars (`rexbert curate evaluate`).

Targets with the offline default: precision >= 0.95, recall >= 0.90 in every filter-required
domain, <= 2% of real listing pages dropped by cleaning.

    nice -n 15 python benchmarks/curate_quality.py [--out /tmp/curate-quality] [--seeds 100] [--skip-demo]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# (domain, share of listing pages): commerce is common in hobby, rare in news
REAL_DOMAINS = {"hobby": 0.45, "entertainment": 0.3, "sports": 0.2, "news": 0.15}
DIRECT_DOMAIN = "fashion"
NAVIGATION = ("Home | Shop | Deals | Help | Sign in", "Skip to main content", "Menu Search Account Basket",
              "We use cookies to give you the best experience. Accept all cookies",
              "Free delivery on orders over £25 | Sign in | Basket (0)")
FOOTER = ("Back to top", "© 2016 All rights reserved.", "Privacy Policy | Terms of Use | Cookie Settings | Sitemap",
          "Subscribe to our newsletter for the latest offers", "Follow us on Facebook")


# --------------------------------------------------------------------------- real corpus

def _amazon_groups() -> list[list[dict]]:
    """Amazon UK rows grouped by category, in file order within a category."""
    import pyarrow.parquet as pq

    groups: dict[str, list[dict]] = defaultdict(list)
    for row in pq.read_table(SHARED / "amazon_uk_titles" / "products.parquet").to_pylist():
        if row["title"]:
            groups[row["category"] or "Toys & Games"].append(row)
    return [groups[c] for c in sorted(groups)]


def _flipkart_rows() -> list[dict]:
    import pyarrow.parquet as pq

    return [r for r in pq.read_table(SHARED / "flipkart_titles" / "products_titles_only.parquet").to_pylist() if r["title"]]


def _chunks(rows: list[dict], rng: random.Random) -> list[list[dict]]:
    pages, start = [], 0
    while len(rows) - start >= 20:
        size = rng.randint(20, 25)
        pages.append(rows[start:start + size])
        start += size
    return pages


def _listing_text(rows: list[dict], rng: random.Random, currency: str, heading: str | None) -> str:
    """One listing page in one of four layouts seen on real category pages."""
    style = rng.randrange(4)
    lines = [heading] if heading else []
    for row in rows:
        title, price, brand = row["title"].strip(), row.get("price"), row.get("brand")
        if style == 0 or (style in (1, 2) and price is None):
            lines.append(title)
        elif style == 1:
            lines += [title, f"{currency}{price:,.2f}"]
        elif style == 2:
            lines.append(f"{title} - {currency}{price:,.2f}")
        else:
            lines += [title, f"by {brand}" if brand else "Sponsored"]
    if rng.random() < 0.5:
        lines = rng.sample(NAVIGATION, rng.randint(1, 3)) + lines + rng.sample(FOOTER, rng.randint(1, 3))
    return "\n".join(lines)


def listing_pages(rng: random.Random) -> list[str]:
    """Every listing page that the two title sets give (each title used once)."""
    pages = []
    for group in _amazon_groups():
        leaf = (group[0]["category"] or "Toys & Games").split(">")[-1].strip()
        pages += [_listing_text(rows, rng, "£", leaf if rng.random() < 0.6 else None) for rows in _chunks(group, rng)]
    pages += [_listing_text(rows, rng, "Rs. ", None) for rows in _chunks(_flipkart_rows(), rng)]
    rng.shuffle(pages)
    return pages


def _detokenise(text: str) -> str:
    """WikiText-2's tokenised form back to plain text (`<unk>` dropped, ` @-@ ` joined)."""
    text = text.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".").replace("<unk>", "")
    text = re.sub(r" ([,.;:!?)\]'])", r"\1", text)
    text = re.sub(r"([(\[]) ", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def prose_documents() -> list[str]:
    """BBC articles and Wikipedia paragraphs."""
    texts = [json.loads(line)["text"] for line in (SHARED / "bbc_news" / "articles.jsonl").read_text("utf-8").splitlines()]
    for line in (SHARED / "wikitext2" / "paragraphs.jsonl").read_text("utf-8").splitlines():
        texts.append(_detokenise(json.loads(line)["text"]))
    return [t for t in texts if t.strip()]


def build_real_corpus(root: Path, seed: int = 0) -> dict[str, dict]:
    """Write the real-text corpus; return the truth by document id."""
    rng = random.Random(seed)
    listings, prose = listing_pages(rng), prose_documents()
    rng.shuffle(prose)
    # the same number of prose documents per domain; listing pages at the domain's share, with
    # about 250 pages left for the directly-selected domain
    per_domain = min(len(prose) // len(REAL_DOMAINS),
                     int((len(listings) - 250) / sum(s / (1 - s) for s in REAL_DOMAINS.values())))
    truth: dict[str, dict] = {}
    rows: dict[str, list[dict]] = defaultdict(list)

    def add(domain: str, text: str, relevant: bool, kind: str) -> None:
        doc_id = f"{domain}-{len(rows[domain]):05d}"
        rows[domain].append({"text": text, "url": f"https://example.org/{doc_id}", "domain": domain,
                             "language_score": 0.9, "id": doc_id})
        truth[doc_id] = {"id": doc_id, "domain": domain, "relevant": relevant, "kind": kind}

    cursor = 0
    for domain, share in REAL_DOMAINS.items():
        n_list = round(per_domain * share / (1 - share))
        docs = [(t, True, "listing") for t in listings[cursor:cursor + n_list]]
        cursor += n_list
        docs += [(t, False, "prose") for t in prose[:per_domain]]
        prose = prose[per_domain:]
        rng.shuffle(docs)
        for text, relevant, kind in docs:
            add(domain, text, relevant, kind)
    for text in listings[cursor:]:
        add(DIRECT_DOMAIN, text, True, "listing")
    for domain, domain_rows in rows.items():
        folder = root / domain
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{domain}_000000.jsonl").open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in domain_rows)
    return truth


# --------------------------------------------------------------------------- runs and figures

def write_seeds(truth: dict[str, dict], filter_domains: list[str], n: int, path: Path, seed: int = 1) -> set[str]:
    """`n` seed labels `{id, relevant}` drawn at random from the filter-required domains."""
    pool = sorted(i for i, t in truth.items() if t["domain"] in filter_domains)
    chosen = random.Random(seed).sample(pool, n)
    path.write_text("".join(json.dumps({"id": i, "relevant": truth[i]["relevant"]}) + "\n" for i in chosen), "utf-8")
    return set(chosen)


def run_curate(corpus: Path, out: Path, config: Path | None, seeds: Path | None, truth: Path | None = None) -> float:
    """`rexbert curate` as a user runs it (a fresh process); returns its wall time."""
    command = [sys.executable, "-m", "rexbert", "curate", "--input", str(corpus), "--out", str(out)]
    if config:
        command += ["--config", str(config)]
    if seeds:
        command += ["--seed-labels", str(seeds)]
    if truth:
        command += ["--truth", str(truth)]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"rexbert curate failed ({' '.join(command)}):\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def fates(out: Path) -> dict[str, tuple[str, str]]:
    """Document id -> (stage, reason) from rejected/, or ("kept", "") from kept/."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted((out / "rejected").rglob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            found[str(row["id"])] = (row["stage"], row["reason"])
    for path in sorted((out / "kept").rglob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            found[str(json.loads(line)["id"])] = ("kept", "")
    return found


def relevance_figures(truth: dict[str, dict], fate: dict[str, tuple[str, str]], domains: list[str],
                      relevant_key: str, skip: set[str]) -> dict[str, dict]:
    """Per domain: precision and recall of the kept commerce documents (all documents of the domain)."""
    rows = {}
    for domain in domains:
        ids = [i for i, t in truth.items() if t["domain"] == domain and i not in skip and i in fate]
        kept = [i for i in ids if fate[i][0] == "kept"]
        relevant = [i for i in ids if truth[i][relevant_key]]
        hits = sum(1 for i in kept if truth[i][relevant_key])
        rows[domain] = {"documents": len(ids), "relevant": len(relevant), "kept": len(kept),
                        "precision": hits / len(kept) if kept else float("nan"),
                        "recall": hits / len(relevant) if relevant else float("nan")}
    return rows


def cleaning_drops(truth: dict[str, dict], fate: dict[str, tuple[str, str]], is_commerce) -> tuple[int, Counter]:
    """(commerce documents, how many each cleaning rule dropped)."""
    ids = [i for i, t in truth.items() if is_commerce(t) and i in fate]
    drops = Counter(f"{fate[i][0]}:{fate[i][1]}" for i in ids if fate[i][0] not in ("kept", "relevance"))
    return len(ids), drops


def print_figures(title: str, rel: dict[str, dict], n_commerce: int, drops: Counter, what: str) -> None:
    print(f"\n{title}")
    print(f"  {'domain':<16}{'docs':>6}{'relevant':>9}{'kept':>6}{'precision':>11}{'recall':>8}")
    for domain, r in rel.items():
        print(f"  {domain:<16}{r['documents']:>6}{r['relevant']:>9}{r['kept']:>6}{r['precision']:>11.3f}{r['recall']:>8.3f}")
    total = sum(drops.values())
    print(f"  {what} dropped by cleaning: {total} of {n_commerce} ({100 * total / max(n_commerce, 1):.2f}%)"
          + "".join(f"; {rule} {n} ({100 * n / max(n_commerce, 1):.2f}%)" for rule, n in drops.most_common()))


def _bench_real(work: Path, n_seeds: int) -> None:
    corpus = work / "real" / "corpus"
    truth = build_real_corpus(corpus)
    filter_domains = list(REAL_DOMAINS)
    config = work / "real" / "curate.yaml"
    config.write_text(f"domains: {{filter_required: {filter_domains}, directly_selected: [{DIRECT_DOMAIN}]}}\n")
    seeds = write_seeds(truth, filter_domains, n_seeds, work / "real" / "seeds.jsonl")
    kinds = Counter(t["kind"] for t in truth.values())
    print(f"real corpus: {len(truth)} documents ({kinds['listing']} listing pages, {kinds['prose']} news/Wikipedia); "
          f"{len(seeds)} seed labels, left out of every figure")
    for name, seed_file in (("no seed labels", None), (f"{n_seeds} seed labels", work / "real" / "seeds.jsonl")):
        out = work / "real" / ("out_seeds" if seed_file else "out")
        seconds = run_curate(corpus, out, config, seed_file)
        fate = fates(out)
        rel = relevance_figures(truth, fate, [*filter_domains, DIRECT_DOMAIN], "relevant", seeds)
        n_list, drops = cleaning_drops(truth, fate, lambda t: t["kind"] == "listing")
        print_figures(f"real text, default config, {name} ({seconds:.0f} s)", rel, n_list, drops, "listing pages")


def _planted(t: dict) -> bool:
    return bool(t.get("profane") or t.get("low_quality") or t.get("duplicate_of") or t.get("language") != "en")


def _bench_demo(work: Path, n_seeds: int) -> None:
    from rexbert.curate.config import default_config

    data = work / "demo" / "data"
    if not (data / "manifest.json").is_file():
        proc = subprocess.run([sys.executable, "-m", "rexbert", "demo-data", "--out", str(data), "--size", "small"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
    truth = {}
    for line in (data / "truth.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        truth[str(row["id"])] = row
    cfg = default_config()
    seeds_path = work / "demo" / "seeds.jsonl"
    for row in truth.values():
        row["relevant"] = bool(row.get("commerce"))
    seeds = write_seeds(truth, cfg.domains.filter_required, n_seeds, seeds_path)
    # the planted defects (copies, foreign, adult, junk pages) are the cleaning's to drop: the
    # relevance figures are over the clean documents, as on the real corpus
    planted = {i for i, t in truth.items() if _planted(t)}
    for name, seed_file in (("no seed labels", None), (f"{n_seeds} seed labels", seeds_path)):
        out = work / "demo" / ("out_seeds" if seed_file else "out")
        seconds = run_curate(data / "corpus", out, None, seed_file, data / "truth.jsonl")
        fate = fates(out)
        rel = relevance_figures(truth, fate, cfg.domains.filter_required, "relevant", seeds | planted)
        n_commerce, drops = cleaning_drops(truth, fate, lambda t: t["relevant"] and not _planted(t))
        print_figures(f"demo corpus (small), default config, {name} ({seconds:.0f} s)", rel, n_commerce, drops,
                      "clean commerce documents")
        ev = json.loads((out / "evaluation.json").read_text("utf-8"))
        print(f"  quality bars: near-dup recall {ev['near_duplicates']['recall']:.3f} (>= 0.9), unique removed "
              f"{ev['near_duplicates']['unique_removed_fraction']:.3f} (<= 0.01), non-English removed "
              f"{ev['language']['non_english_removed']:.3f} (>= 0.95), English removed {ev['language']['english_removed']:.3f} "
              f"(<= 0.02), adult removed {ev['profanity']['profane_removed']:.3f} (>= 0.9), clean removed by profanity "
              f"{ev['profanity']['clean_removed']:.3f}, low-quality removed {ev['quality']['low_quality_removed']:.3f}")


def main() -> None:
    """Build the corpora, run the curations, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/curate-quality/bench", help="work folder (corpora and curations)")
    parser.add_argument("--seeds", type=int, default=100, help="seed labels for the second run")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args()
    work = Path(args.out)
    if work.exists() and any(work.iterdir()):
        raise SystemExit(f"{work} is not empty; pass a new --out")
    work.mkdir(parents=True, exist_ok=True)
    if not args.skip_real:
        if not (SHARED / "amazon_uk_titles").is_dir():
            raise SystemExit(f"{SHARED} not found: the real-text benchmark needs ../shared/data")
        _bench_real(work, args.seeds)
    if not args.skip_demo:
        _bench_demo(work, args.seeds)


if __name__ == "__main__":
    main()
