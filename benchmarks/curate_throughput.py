"""Throughput and memory of rexbert's cleaning-and-scoring steps vs a plain datatrove pipeline with the same rules.

Both pipelines make the same decisions (checked before any figure is printed; a difference stops
the benchmark and lists it), each in its own child process on one core (tasks=1, workers=1):
- rexbert: CorpusReader (record validation, rejects with reasons) → boilerplate lines → language
  ID (lid.176 on batches of 256, line vote for unsure multi-line pages) → profanity (density,
  allow-list) → structure-aware quality rules → per-domain fastText relevance (batched) → kept
  and rejected writers with per-domain counts;
- datatrove: JsonlReader → the same boilerplate step → datatrove's LanguageFilter (FT176LID on
  one document at a time, the same line vote when unsure) → the same profanity and quality
  filters (rexbert's rules are datatrove BaseFilters; datatrove's own Gopher/C4 filters apply
  other rules and kept 2 of 3,000 documents where rexbert kept 1,030) → datatrove's
  FastTextClassifierFilter on one document at a time (the same model and input text) →
  JsonlWriter, with exclusion writers.
So the ratio measures rexbert's own reader, batching and writers against datatrove's stock steps,
not two different sets of rules.

Text: distinct real documents at both sizes (no text repeats): Wikipedia paragraphs, BBC
articles split at a sentence boundary, and listing pages of 8-12 product titles, from
../shared/data; the demo corpus when that folder is absent. Prints documents/s per core, peak
RSS, the ratio rexbert/datatrove (want >= 1.5) and the RSS growth from the small to the large
corpus (want ~1.0: memory must not grow with the corpus). The ratio is taken per CPU second of
each child (user + system time): on a machine shared with other work, wall time measures the
neighbours; wall-time figures are printed beside it.

    nice -n 15 python benchmarks/curate_throughput.py [--small 2000] [--large 8000]
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
DOMAINS = ("news", "fashion")  # news is relevance-filtered, fashion directly selected
THRESHOLD = 0.5


def _listing_pages(rng: random.Random) -> list[str]:
    import pyarrow.parquet as pq

    titles = [r["title"] for r in pq.read_table(SHARED / "amazon_uk_titles" / "products.parquet").to_pylist() if r["title"]]
    titles += [r["title"] for r in pq.read_table(SHARED / "flipkart_titles" / "products_titles_only.parquet").to_pylist()
               if r["title"]]
    pages, start = [], 0
    while start < len(titles):
        size = rng.randint(8, 12)
        pages.append("\n".join(titles[start:start + size]))
        start += size
    return pages


def _real_texts() -> list[str]:
    rng = random.Random(0)
    texts = []
    for line in (SHARED / "wikitext2" / "paragraphs.jsonl").read_text("utf-8").splitlines():
        text = json.loads(line)["text"].replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
        texts.append(re.sub(r"\s+", " ", text.replace("<unk>", "")).strip())
    for line in (SHARED / "bbc_news" / "articles.jsonl").read_text("utf-8").splitlines():
        sentences = json.loads(line)["text"].split(".  ")
        half = len(sentences) // 2
        texts += [".  ".join(sentences[:half]), ".  ".join(sentences[half:])]
    texts += _listing_pages(rng)
    texts = list(dict.fromkeys(t for t in texts if t.strip()))  # distinct texts only
    rng.shuffle(texts)
    return texts


def _source_texts(tmp: Path) -> tuple[list[str], str]:
    if (SHARED / "wikitext2").is_dir() and (SHARED / "amazon_uk_titles").is_dir():
        return _real_texts(), "../shared/data (Wikipedia paragraphs, BBC article halves, product listing pages)"
    from rexbert.sources.demo import generate_demo_data

    generate_demo_data(tmp / "demo", seed=0, size="medium", progress=False)
    texts = [json.loads(line)["text"] for path in sorted((tmp / "demo" / "corpus").rglob("*.jsonl"))
             for line in path.read_text("utf-8").splitlines()]
    return list(dict.fromkeys(texts)), "demo corpus (medium)"


def _write_corpus(texts: list[str], root: Path) -> None:
    handles = {d: (root / d).mkdir(parents=True, exist_ok=True) or (root / d / f"{d}_000000.jsonl").open("w") for d in DOMAINS}
    for i, text in enumerate(texts):
        domain = DOMAINS[i % 2]
        handles[domain].write(json.dumps({"text": text, "url": f"https://example.com/{i}", "domain": domain,
                                          "language_score": 0.9, "id": f"doc-{i}"}) + "\n")
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


def _reader(corpus: Path, work: Path, rejects):
    """rexbert's CorpusReader over the corpus, set up as `rexbert curate` sets it up."""
    from rexbert.curate import pipeline, steps
    from rexbert.curate.config import CurateConfig
    from rexbert.sources.documents import DocumentInput

    cfg = CurateConfig.model_validate({"domains": {"filter_required": ["news"], "directly_selected": ["fashion"]}})
    run = pipeline.RunSettings(cfg, (DocumentInput(paths=[str(corpus)]),))
    plan = pipeline.plan_domains(run)
    listing = pipeline.list_input(run, plan)
    return steps.CorpusReader(list(run.inputs), listing.files, list(plan.selected), rejects("read"),
                              str(work / "counts" / "files"), cfg.input.max_doc_bytes, cfg.input.min_chars)


def _ours(corpus: Path, work: Path, models: Path) -> list:
    from rexbert.curate import steps
    from rexbert.curate.config import LanguageConfig, ProfanityConfig, QualityConfig

    def rejects(stage):
        return steps.RejectWriter(str(work / "rejected"), stage, str(work / "counts" / stage))

    lid = LanguageConfig()
    return [
        _reader(corpus, work, rejects),
        steps.BoilerplateLineRemover(),
        steps.LanguageFilter(lid.languages, lid.min_score, exclusion_writer=rejects("language")),
        steps.ProfanityFilter(ProfanityConfig(), exclusion_writer=rejects("profanity")),
        steps.QualityFilter(QualityConfig(), exclusion_writer=rejects("quality")),
        steps.RelevanceFilter(str(models), {"news": THRESHOLD}, ["news"], 400, exclusion_writer=rejects("relevance")),
        steps.KeptWriter(str(work / "kept"), str(work / "counts" / "kept")),
    ]


def _datatrove(corpus: Path, work: Path, models: Path) -> list:
    import datatrove.pipeline.filters.fasttext_filter as dt_fasttext
    import datatrove.utils.lid as dt_lid
    from datatrove.pipeline.filters import FastTextClassifierFilter, LanguageFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from rexbert.curate import steps, text_rules
    from rexbert.curate.config import LanguageConfig, ProfanityConfig, QualityConfig

    # no downloads: datatrove resolves model URLs through this helper; point it at local files
    def local_asset(url, **_):
        return url if os.path.exists(url) else steps.default_lid_model()

    dt_lid.cached_asset_path_or_download = local_asset
    dt_fasttext.cached_asset_path_or_download = local_asset
    lid = LanguageConfig()

    class LanguageWithLineVote(LanguageFilter):
        """datatrove's LanguageFilter, one document at a time; unsure multi-line pages take rexbert's line vote."""

        def filter(self, doc):
            best, pairs = self.model.predict(doc)
            lang, score = best
            if score < max(lid.min_score, steps.LID_CONFIDENT) and "\n" in doc.text.strip():
                lang, score = steps.LanguageFilter.line_vote(self.model.model, doc.text)
            return lang in lid.languages and score >= lid.min_score

    class RelevanceOnRexbertInput(FastTextClassifierFilter):
        """datatrove's FastTextClassifierFilter, one document at a time, on the text the model was trained on."""

        def filter(self, doc):
            if doc.metadata.get("domain") == "fashion":
                return True
            labels, scores = self.model.predict(text_rules.fasttext_text(doc.text, 400), k=-1)
            found = dict(zip(labels, scores, strict=True))
            return round(float(found.get("__label__relevant", 0.0)), 4) >= THRESHOLD

    def rejects(stage):
        return JsonlWriter(str(work / "rejected" / stage), compression=None)

    return [
        JsonlReader(str(corpus), glob_pattern="*/*.jsonl"),
        steps.BoilerplateLineRemover(),
        LanguageWithLineVote(languages=lid.languages, language_threshold=lid.min_score, exclusion_writer=rejects("language")),
        steps.ProfanityFilter(ProfanityConfig(), exclusion_writer=rejects("profanity")),
        steps.QualityFilter(QualityConfig(), exclusion_writer=rejects("quality")),
        RelevanceOnRexbertInput(str(models / "news.bin"), keep_labels=("relevant", THRESHOLD),
                                exclusion_writer=rejects("relevance")),
        JsonlWriter(str(work / "kept"), compression=None),
    ]


def _child(kind: str, corpus: Path, work: Path, models: Path) -> None:
    from datatrove.executor import LocalPipelineExecutor

    pipeline = (_ours if kind == "rexbert" else _datatrove)(corpus, work, models)
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=str(work / "logs")).run()
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    kept = sorted(json.loads(line)["id"] for p in (work / "kept").rglob("*.jsonl") for line in p.open())
    (work / "kept_ids.json").write_text(json.dumps(kept))
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "kept": len(kept)}))


def _cpu_seconds() -> float:
    """CPU time of this process and its children: on a shared machine, wall time measures the neighbours."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _measure(kind: str, corpus: Path, work: Path, models: Path, n_docs: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(corpus), str(work), str(models)],
                          capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    if proc.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.update(kind=kind, docs=n_docs, docs_per_s=n_docs / result["seconds"],
                  docs_per_cpu_s=n_docs / result["cpu_seconds"], peak_rss_mb=usage.ru_maxrss / 1024)
    return result


def _check_same_decisions(tmp: Path, n_docs: int) -> int:
    """Stop with the difference unless both pipelines kept exactly the same documents."""
    ours = set(json.loads((tmp / f"work_rexbert_{n_docs}" / "kept_ids.json").read_text()))
    theirs = set(json.loads((tmp / f"work_datatrove_{n_docs}" / "kept_ids.json").read_text()))
    if ours != theirs:
        only_ours, only_theirs = sorted(ours - theirs), sorted(theirs - ours)
        raise SystemExit(f"the pipelines decide differently at {n_docs} documents: kept only by rexbert "
                         f"{len(only_ours)} {only_ours[:10]}, only by datatrove {len(only_theirs)} {only_theirs[:10]}; "
                         "no throughput figure is printed for pipelines that do not do the same work")
    return len(ours)


def main() -> None:
    """Run the benchmark and print the table."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=8000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        texts, source = _source_texts(tmp)
        if len(texts) < args.large:
            raise SystemExit(f"only {len(texts)} distinct texts in {source}; pass --large {len(texts)} or less")
        models = tmp / "models"
        _train_model(texts[: args.small], models)
        print(f"text: {source}; {len(texts)} distinct texts, no repeats at either size; one core per pipeline")
        rows = []
        # ru_maxrss of RUSAGE_CHILDREN is the max over all children so far, so run the smaller
        # corpus first for each pipeline and start a fresh measuring process per pipeline
        for kind in ("rexbert", "datatrove"):
            for n_docs in (args.small, args.large):
                corpus = tmp / f"corpus_{n_docs}"
                if not corpus.exists():
                    _write_corpus(texts[:n_docs], corpus)
                proc = subprocess.run([sys.executable, __file__, "--measure", kind, str(corpus),
                                       str(tmp / f"work_{kind}_{n_docs}"), str(models), str(n_docs)],
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    raise SystemExit(proc.stderr[-3000:])
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        kept = {n: _check_same_decisions(tmp, n) for n in (args.small, args.large)}
    print(f"both pipelines kept the same documents: {kept[args.small]} of {args.small}, {kept[args.large]} of {args.large}")
    print(f"{'pipeline':<10} {'docs':>7} {'docs/CPU-s':>11} {'docs/wall-s':>12} {'peak RSS MB':>12} {'kept':>7}")
    for r in rows:
        print(f"{r['kind']:<10} {r['docs']:>7} {r['docs_per_cpu_s']:>11.1f} {r['docs_per_s']:>12.1f} "
              f"{r['peak_rss_mb']:>12.1f} {r['kept']:>7}")
    by = {(r["kind"], r["docs"]): r for r in rows}
    for n_docs in (args.small, args.large):
        ratio = by[("rexbert", n_docs)]["docs_per_cpu_s"] / by[("datatrove", n_docs)]["docs_per_cpu_s"]
        wall = by[("rexbert", n_docs)]["docs_per_s"] / by[("datatrove", n_docs)]["docs_per_s"]
        print(f"throughput ratio rexbert/datatrove at {n_docs} docs: {ratio:.2f} per CPU second (want >= 1.5); "
              f"{wall:.2f} by wall time")
    for kind in ("rexbert", "datatrove"):
        growth = by[(kind, args.large)]["peak_rss_mb"] / by[(kind, args.small)]["peak_rss_mb"]
        print(f"peak RSS growth {kind} {args.small} -> {args.large} docs: x{growth:.2f} (want ~1.0)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        _, _, kind, corpus, work, models, n_docs = sys.argv
        print(json.dumps(_measure(kind, Path(corpus), Path(work), Path(models), int(n_docs))))
    else:
        main()
