"""Throughput and memory of rexbert's scoring-and-cleaning stages vs the same filters in stock datatrove.

Measured, each in its own child process on one core (tasks=1, workers=1), at two corpus sizes:
- ours: CorpusReader → boilerplate lines → language ID (batched lid.176) → profanity →
  quality heuristics → per-domain fastText relevance → kept/rejected writers;
- datatrove: JsonlReader → LanguageFilter (lid.176, per document) → RegexFilter (the same
  profanity list) → C4QualityFilter (line-level cleanup) → GopherQualityFilter →
  FastTextClassifierFilter (the same relevance model) → JsonlWriter, with exclusion writers.
  datatrove's English word tokenizer needs spaCy, which rexbert does not depend on, so both
  sides get the same regex tokenizer.

Prints documents/s per core, peak RSS, the ratio ours/datatrove (want ≥ 1.0) and the RSS growth
from the small to the large corpus (want ≈ 1.0: memory must not grow with the corpus).
Text: ../shared/data (Wikipedia paragraphs + product titles) when present, else the demo corpus.

    python benchmarks/curate_throughput.py [--small 3000] [--large 12000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _source_texts(tmp: Path) -> tuple[list[str], str]:
    wiki = SHARED / "wikitext2" / "paragraphs.jsonl"
    titles = SHARED / "flipkart_titles" / "products_titles_only.parquet"
    if wiki.is_file() and titles.is_file():
        import pyarrow.parquet as pq

        texts = []
        for line in wiki.read_text("utf-8").splitlines():
            text = json.loads(line)["text"].replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
            texts.append(text.replace("<unk>", "thing"))
        table = pq.read_table(titles).to_pylist()
        rng = random.Random(0)
        for start in range(0, len(table), 12):
            rows = table[start:start + 12]
            lines = [f"{r['title']} by {r.get('brand') or 'a top brand'}: buy now at the best price with free shipping."
                     for r in rows]
            intro = "Shop the latest collection in our store and compare the prices and reviews of these products."
            texts.append(intro + "\n" + "\n".join(lines) + "\n" + rng.choice(["Share on Facebook", "Subscribe to our newsletter"]))
        return texts, "../shared/data (WikiText-2 paragraphs + Flipkart product titles)"
    from rexbert.sources.demo import generate_demo_data

    generate_demo_data(tmp / "demo", seed=0, size="small")
    texts = [json.loads(line)["text"] for path in sorted((tmp / "demo" / "corpus").rglob("*.jsonl"))
             for line in path.read_text("utf-8").splitlines()]
    return texts, "demo corpus (small)"


def _write_corpus(texts: list[str], root: Path, n_docs: int) -> None:
    domains = ("news", "fashion")
    handles = {d: (root / d).mkdir(parents=True, exist_ok=True) or (root / d / f"{d}_000000.jsonl").open("w") for d in domains}
    for i in range(n_docs):
        domain = domains[i % 2]
        record = {"text": texts[i % len(texts)], "url": f"https://example.com/{i}", "domain": domain,
                  "language_score": 0.9, "id": f"doc-{i}"}
        handles[domain].write(json.dumps(record) + "\n")
    for handle in handles.values():
        handle.close()


def _train_model(texts: list[str], models: Path) -> None:
    from rexbert.curate.config import DistillConfig, LexiconOptions
    from rexbert.curate.distill import train_fasttext
    from rexbert.curate.labellers.base import LabelItem
    from rexbert.curate.labellers.lexicon import LexiconLabeller

    sample = texts[:: max(1, len(texts) // 600)][:600]
    labels = LexiconLabeller(LexiconOptions()).label([LabelItem(str(i), "news", t) for i, t in enumerate(sample)])
    model = train_fasttext(sample, [lab.label for lab in labels], DistillConfig(), seed=0)
    models.mkdir(parents=True, exist_ok=True)
    model.model.save_model(str(models / "news.bin"))
    (models / "news.json").write_text(json.dumps({"kind": "fasttext", "model": "news.bin"}))


def _child(kind: str, corpus: Path, work: Path, models: Path) -> None:
    from datatrove.executor import LocalPipelineExecutor

    from rexbert.curate import steps, text_rules
    from rexbert.curate.config import ProfanityConfig, QualityConfig

    tokenizer = steps.RegexWordTokenizer()
    if kind == "ours":
        def rejects(stage):
            return steps.RejectWriter(str(work / "rejected"), stage, str(work / "counts" / stage))

        pipeline = [
            steps.CorpusReader(str(corpus), ["news", "fashion"], rejects("read"), 2_000_000),
            steps.BoilerplateLineRemover(),
            steps.LanguageFilter(["en"], 0.5, exclusion_writer=rejects("language")),
            steps.ProfanityFilter(ProfanityConfig(), exclusion_writer=rejects("profanity")),
            steps.QualityFilter(QualityConfig(), exclusion_writer=rejects("quality")),
            steps.RelevanceFilter(str(models), {"news": 0.5}, ["fashion"], 400, exclusion_writer=rejects("relevance")),
            steps.KeptWriter(str(work / "kept"), str(work / "counts" / "kept")),
        ]
    else:
        from datatrove.pipeline.filters import (
            C4QualityFilter,
            FastTextClassifierFilter,
            GopherQualityFilter,
            LanguageFilter,
            RegexFilter,
        )
        from datatrove.pipeline.readers import JsonlReader
        from datatrove.pipeline.writers import JsonlWriter

        def rejects(stage):
            return JsonlWriter(str(work / "rejected" / stage), compression=None)

        import datatrove.pipeline.filters.fasttext_filter as dt_fasttext
        import datatrove.utils.lid as dt_lid

        # no downloads: datatrove resolves model URLs through this helper; point it at local files
        def local_asset(url, **_):
            return url if os.path.exists(url) else steps.default_lid_model()

        dt_lid.cached_asset_path_or_download = local_asset
        dt_fasttext.cached_asset_path_or_download = local_asset
        language = LanguageFilter(languages=["en"], language_threshold=0.5, exclusion_writer=rejects("language"))
        words = sorted(text_rules.load_wordlist())
        relevance = FastTextClassifierFilter(str(models / "news.bin"), keep_labels=("relevant", 0.5),
                                             exclusion_writer=rejects("relevance"), newline_replacement=" ",
                                             filter_mode="DOCUMENT")
        pipeline = [
            JsonlReader(str(corpus), glob_pattern="*/*.jsonl"),
            language,
            RegexFilter(r"(?i)\b(" + "|".join(map(re.escape, words)) + r")\b", exclusion_writer=rejects("profanity")),
            C4QualityFilter(filter_no_terminal_punct=False, min_num_sentences=-1, language=tokenizer,
                            exclusion_writer=rejects("c4")),
            GopherQualityFilter(language=tokenizer, exclusion_writer=rejects("quality")),
            relevance,
            JsonlWriter(str(work / "kept"), compression=None),
        ]
    start = time.perf_counter()
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=str(work / "logs")).run()
    seconds = time.perf_counter() - start
    kept = sum(1 for p in (work / "kept").rglob("*.jsonl") for _ in p.open())
    print(json.dumps({"seconds": seconds, "kept": kept}))


def _measure(kind: str, corpus: Path, work: Path, models: Path, n_docs: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(corpus), str(work), str(models)],
                          capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    if proc.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.update(kind=kind, docs=n_docs, docs_per_s=n_docs / result["seconds"], peak_rss_mb=usage.ru_maxrss / 1024)
    return result


def main() -> None:
    """Run the benchmark and print the table."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=3000)
    parser.add_argument("--large", type=int, default=12000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        texts, source = _source_texts(tmp)
        models = tmp / "models"
        _train_model(texts, models)
        print(f"text: {source}; {len(texts)} distinct texts; one core per pipeline (tasks=1, workers=1)")
        rows = []
        # ru_maxrss of RUSAGE_CHILDREN is the max over all children so far, so run the smaller
        # corpus first for each pipeline and start a fresh measuring process per pipeline
        for kind in ("ours", "datatrove"):
            for n_docs in (args.small, args.large):
                corpus = tmp / f"corpus_{n_docs}"
                if not corpus.exists():
                    _write_corpus(texts, corpus, n_docs)
                proc = subprocess.run([sys.executable, __file__, "--measure", kind, str(corpus),
                                       str(tmp / f"work_{kind}_{n_docs}"), str(models), str(n_docs)],
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    raise SystemExit(proc.stderr[-3000:])
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{'pipeline':<10} {'docs':>7} {'docs/s/core':>12} {'peak RSS MB':>12} {'kept':>7}")
    for r in rows:
        print(f"{r['kind']:<10} {r['docs']:>7} {r['docs_per_s']:>12.1f} {r['peak_rss_mb']:>12.1f} {r['kept']:>7}")
    by = {(r["kind"], r["docs"]): r for r in rows}
    for n_docs in (args.small, args.large):
        ratio = by[("ours", n_docs)]["docs_per_s"] / by[("datatrove", n_docs)]["docs_per_s"]
        print(f"throughput ratio ours/datatrove at {n_docs} docs: {ratio:.2f} (want >= 1.0)")
    for kind in ("ours", "datatrove"):
        growth = by[(kind, args.large)]["peak_rss_mb"] / by[(kind, args.small)]["peak_rss_mb"]
        print(f"peak RSS growth {kind} {args.small} -> {args.large} docs: x{growth:.2f} (want ~1.0)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        _, _, kind, corpus, work, models, n_docs = sys.argv
        print(json.dumps(_measure(kind, Path(corpus), Path(work), Path(models), int(n_docs))))
    else:
        main()
