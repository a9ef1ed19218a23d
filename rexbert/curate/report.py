"""Statistics, figures, the curation report (report.md and report.html) and, on request,
evaluation against a truth file.

`stats.json` sums the per-rank count files that the writers leave in `work/counts/` (datatrove's
own stats do not include exclusion writers). The report is built once with `rexbert.render`
and written as Markdown (figures as PNG files beside it) and as one HTML page. Everything here
is deterministic, so a rerun produces the same files; wall times live apart in `timings.json`.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rexbert.curate.metrics import precision_recall_f1
from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json, iter_jsonl, read_json
from rexbert.render import Report, Table

TOKEN_DEFINITION = "word-level tokens: words and punctuation marks (regex \\w+|[^\\w\\s])"
STAGE_ORDER = ("read", "language", "profanity", "quality", "dedup", "relevance")
NAN = float("nan")


def _sum_counts(folder: Path) -> tuple[Counter, dict[str, Counter]]:
    """(by reason, by domain) of one stage's reject count files."""
    by_reason: Counter[str] = Counter()
    by_domain: dict[str, Counter] = defaultdict(Counter)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        for reason, per_domain in read_json(path).items():
            for domain, n in per_domain.items():
                by_reason[reason] += n
                by_domain[domain][reason] += n
    return by_reason, by_domain


def collect_stats(ws, cfg) -> dict[str, Any]:
    """Sum the per-rank counts into the stats.json structure."""
    from rexbert.curate.pipeline import skipped_stages

    counts = ws.work / "counts"
    kept_docs: Counter[str] = Counter()
    kept_tokens: Counter[str] = Counter()
    for path in sorted((counts / "kept").glob("*.json")):
        data = read_json(path)
        kept_docs.update(data.get("documents", {}))
        kept_tokens.update(data.get("tokens", {}))
    by_stage: dict[str, Counter] = {}
    by_domain: dict[str, Counter] = defaultdict(Counter)
    for stage in STAGE_ORDER:
        stage_counts, stage_domains = _sum_counts(counts / stage)
        if stage_counts:
            by_stage[stage] = stage_counts
        for domain, reasons_of_domain in stage_domains.items():
            by_domain[domain].update(reasons_of_domain)
    reasons = sum(by_stage.values(), Counter())
    plan, focus = read_json(ws.work / "plan.json"), read_json(ws.work / "domain_focus.json")
    skipped = skipped_stages(ws)
    scored = set() if "distill" in skipped else set(plan["filter_required"])
    # the curated domains that the input holds (declared ones it lacks are listed apart)
    domains = {d: {"selection": "relevance" if d in scored else "direct", "declared": d not in plan["undeclared"],
                   "documents": kept_docs.get(d, 0), "tokens": kept_tokens.get(d, 0),
                   "dropped": sum(by_domain.get(d, Counter()).values())}
               for d in plan["filter_required"] + plan["direct"] if d not in focus["declared_missing_from_input"]}
    total_dropped = sum(reasons.values())
    return {
        "documents_kept": sum(kept_docs.values()), "tokens_kept": sum(kept_tokens.values()),
        "documents_dropped": total_dropped, "documents_read": sum(kept_docs.values()) + total_dropped,
        "token_definition": TOKEN_DEFINITION, "relevance_filtering": plan["relevance"],
        "domains": domains,
        "domains_not_declared": plan["undeclared"],
        "domains_not_selected_files": focus["not_selected"],
        "declared_domains_missing_from_input": focus["declared_missing_from_input"],
        "empty_files": focus["empty_files"], "warnings": focus["warnings"],
        "skipped_stages": skipped,
        "drop_reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "drop_reasons_by_stage": {s: dict(sorted(c.items())) for s, c in by_stage.items()},
        "drop_reasons_by_domain": {d: dict(sorted(c.items())) for d, c in sorted(by_domain.items())},
    }


def plot_domain_distribution(stats: dict[str, Any]) -> bytes:
    """Figure-1-style chart: kept tokens per domain, coloured by how the domain was selected."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rexbert.plotting import png_bytes

    rows = sorted(stats["domains"].items(), key=lambda kv: kv[1]["tokens"])
    total = max(stats["tokens_kept"], 1)
    colors = {"relevance": "#3b6fb6", "direct": "#e08a2c"}
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(rows) + 1.5))
    ax.barh([d for d, _ in rows], [r["tokens"] for _, r in rows], color=[colors[r["selection"]] for _, r in rows])
    for i, (_, r) in enumerate(rows):
        ax.text(r["tokens"], i, f" {100 * r['tokens'] / total:.1f}% · {r['documents']:,} docs", va="center", fontsize=8)
    ax.set_xlabel("kept tokens (" + TOKEN_DEFINITION.split(":")[0] + ")")
    ax.set_title(f"Curated corpus by domain: {stats['tokens_kept']:,} tokens, {stats['documents_kept']:,} documents")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    ax.legend(handles, ["relevance-filtered", "directly selected"], loc="lower right", fontsize=8)
    ax.margins(x=0.25)
    return png_bytes(fig, dpi=120)


def plot_calibration(validation: dict[str, Any]) -> bytes:
    """Reliability curves of the held-out predictions, one line per domain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rexbert.plotting import png_bytes

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    for domain, record in sorted(validation.items()):
        rows = record.get("calibration") or []
        if rows:
            ax.plot([r["mean_score"] for r in rows], [r["fraction_relevant"] for r in rows], marker="o", ms=3, label=domain)
    if not ax.get_legend_handles_labels()[0]:
        ax.text(0.5, 0.5, "no fastText classifier trained", ha="center")
    ax.set_xlabel("mean predicted P(relevant)")
    ax.set_ylabel("fraction relevant (labels)")
    ax.set_title("Calibration of the distilled classifiers (held-out)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return png_bytes(fig, dpi=110)


def _fmt(x: Any, digits: int = 3) -> str:
    if isinstance(x, float):
        return "n/a" if math.isnan(x) else f"{x:.{digits}f}"
    return f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else str(x)


def _table(caption: str, header: list[str], rows: list[list[Any]], label_columns: int = 1) -> Table:
    return Table(caption, header, [[_fmt(c) for c in row] for row in rows], label_columns=label_columns)


# --------------------------------------------------------------------------- report sections

def _notes(stats: dict[str, Any]) -> list[str]:
    """What a reader must know before the tables: warnings, skipped stages, undeclared domains."""
    notes = [f"Warning: {w}" for w in stats["warnings"]]
    if stats["domains_not_declared"]:
        notes.append(f"Domain(s) {', '.join(stats['domains_not_declared'])} named on the input but not declared in "
                     "the config: curated as directly selected (kept after cleaning and dedup).")
    for stage, reason in stats["skipped_stages"].items():
        notes.append(f"Stage '{stage}' skipped: {reason}.")
    if stats["domains_not_selected_files"]:
        skipped = ", ".join(f"{d} ({n} files)" for d, n in stats["domains_not_selected_files"].items())
        notes.append(f"Domain focus: input domains not declared and not read: {skipped}.")
    if stats["declared_domains_missing_from_input"]:
        notes.append(f"Declared domains absent from the input: {', '.join(stats['declared_domains_missing_from_input'])}.")
    return notes


def _corpus_section(report: Report, stats: dict[str, Any]) -> None:
    report.para(f"Documents read: {stats['documents_read']:,} · kept: {stats['documents_kept']:,} · "
                f"dropped: {stats['documents_dropped']:,} · kept tokens: {stats['tokens_kept']:,} ({TOKEN_DEFINITION}).")
    report.bullets(_notes(stats))
    report.image("domain_distribution.png", plot_domain_distribution(stats), "domain distribution", folder="")
    report.heading("Kept corpus by domain")
    total = max(stats["tokens_kept"], 1)
    report.table(_table("", ["domain", "selection", "documents", "tokens", "token share", "dropped"],
                        [[d, r["selection"] + ("" if r["declared"] else " (not declared)"), r["documents"], r["tokens"],
                          f"{100 * r['tokens'] / total:.1f}%", r["dropped"]] for d, r in stats["domains"].items()],
                        label_columns=2))
    report.heading("Dropped documents by stage and reason")
    report.table(_table("", ["stage", "reason", "documents"],
                        [[s, reason, n] for s, c in stats["drop_reasons_by_stage"].items() for reason, n in c.items()],
                        label_columns=2))


def _labelling_section(report: Report, ws) -> None:
    path = ws.work / "label" / "summary.json"
    if not path.is_file():
        return
    summary = read_json(path)
    usage = summary["usage"]
    report.heading("Relevance labelling")
    report.para(f"Prompt `{summary['prompt']}`; labeller `{summary['labeller']}`.")
    report.para(f"Token accounting (labeller): {usage['prompt_tokens']:,} prompt + {usage['completion_tokens']:,} "
                f"completion tokens, {usage['requests']:,} requests, {usage['retries']:,} retries, {usage['cached']:,} "
                f"labels from cache, {usage['unparseable']:,} documents whose answers never parsed (left out of training).")
    report.table(_table("", ["domain", "sampled", "labelled relevant", "unparsed"],
                        [[d, r["sampled"], r["relevant"], r.get("unparsed", 0)] for d, r in sorted(summary["domains"].items())]))


def _audit_section(report: Report, ws, cfg) -> None:
    path = ws.work / "audit" / "summary.json"
    if not path.is_file():
        return
    summary = read_json(path)
    rounds = [row for _, row in iter_jsonl(ws.work / "audit" / "rounds.jsonl")]
    auditor_usage = summary["usage"]["auditor"]
    report.heading("QA audit")
    report.para(f"Auditor `{summary['auditor']}` relabelled {summary['audited_documents']} documents (stratified by "
                f"domain, `audit.per_domain={cfg.audit.per_domain}`); stop when |Δκ| < {cfg.audit.epsilon} or after "
                f"{cfg.audit.max_rounds} rounds. Best round: {summary['best_round']} (κ = {summary['best_kappa']:.3f}"
                f"{' against the held-out seed labels' if summary.get('kappa_against') == 'gold' else ''}). "
                f"Auditor tokens: {auditor_usage['prompt_tokens']:,} prompt + {auditor_usage['completion_tokens']:,} completion.")
    report.table(_table("", ["round", "labeller", "accuracy", "κ", "accuracy vs gold", "κ vs gold", "Δκ", "refinement",
                             "stopped"],
                        [[r["round"], r["labeller"], r["overall"]["accuracy"], r["overall"]["kappa"],
                          r["gold"]["overall"]["accuracy"] if r.get("gold") else NAN,
                          r["gold"]["overall"]["kappa"] if r.get("gold") else NAN, r.get("delta_kappa", NAN),
                          r.get("refinement") or "", r.get("stopped") or ""] for r in rounds], label_columns=2))
    gold = summary.get("gold")
    if gold:
        auditor = gold["auditor"] or {}
        report.para(f"Seed labels: {gold['fit']} learned from, {gold['held_out']} held out as gold. Auditor against the "
                    f"gold: accuracy {auditor.get('accuracy', NAN):.3f}, κ {auditor.get('kappa', NAN):.3f}; its labels "
                    f"{'replace' if summary['auditor_labels_used'] else 'do not replace (the refined labeller agrees better with the gold)'}"
                    " the labeller's on the audited subset.")
    final = rounds[summary["best_round"]]
    report.para(f"Per domain, round {summary['best_round']}:")
    report.table(_table("", ["domain", "n", "accuracy", "κ", "tp/fp/fn/tn", "false positives (labeller reason)",
                             "false negatives (auditor reason)"],
                        [[d, b["n"], b["accuracy"], b["kappa"], "/".join(str(b["confusion"][k]) for k in ("tp", "fp", "fn", "tn")),
                          _modes(b["error_modes"]["false_positive"], "labeller_reasons"),
                          _modes(b["error_modes"]["false_negative"], "auditor_reasons")]
                         for d, b in final["domains"].items()]))


def _distill_section(report: Report, ws, cfg) -> None:
    path = ws.work / "distill" / "validation.json"
    if not path.is_file():
        return
    validation = read_json(path)
    policy = cfg.distill.threshold_policy + (f" (target {cfg.distill.target_precision})"
                                             if cfg.distill.threshold_policy == "target_precision" else "")
    report.heading("Distilled classifiers (fastText, one per domain)")
    report.para(f"Held-out split {cfg.distill.holdout_fraction:.0%}, {cfg.distill.folds}-fold cross-validation on the "
                f"rest; threshold policy: {policy}, chosen on the out-of-fold scores. Calibration: `calibration.png`.")
    rows = []
    for d, r in validation.items():
        cv, held = r.get("cv", {}), r.get("heldout", {})
        rows.append([d, r.get("labelled", 0), r.get("relevant", 0), r["kind"], r["threshold"], r.get("threshold_note", ""),
                     *(block.get(k, NAN) for block in (cv, held) for k in ("precision", "recall", "f1", "pr_auc"))])
    report.table(_table("", ["domain", "labelled", "relevant", "model", "threshold", "policy note", "CV P", "CV R",
                             "CV F1", "CV PR-AUC", "held-out P", "held-out R", "held-out F1", "held-out PR-AUC"], rows))
    report.image("calibration.png", plot_calibration(validation), "calibration of the distilled classifiers", folder="")
    report.para("Calibration (held-out; per score bin: mean score → fraction relevant, count):")
    report.bullets([f"{d}: " + "; ".join(f"{b['bin']}: {b['mean_score']:.2f}→{b['fraction_relevant']:.2f} ({b['count']})"
                                          for b in r["calibration"]) for d, r in validation.items() if r.get("calibration")])


def _modes(block: dict[str, Any], key: str) -> str:
    if not block["count"]:
        return "0"
    reasons = ", ".join(f"{reason[:50]} ×{n}" for reason, n in block[key][:2])
    return f"{block['count']}: {reasons}"


def build_report(ws, cfg, stats: dict[str, Any]) -> Report:
    """The curation report: corpus, drops, labelling, audit rounds, validation, truth evaluation."""
    report = Report("Curation report")
    _corpus_section(report, stats)
    _labelling_section(report, ws)
    _audit_section(report, ws, cfg)
    _distill_section(report, ws, cfg)
    evaluation_path = ws.out / "evaluation.json"
    if evaluation_path.is_file():
        add_evaluation(report, read_json(evaluation_path))
    return report


def write_stats_and_report(ws, cfg) -> dict[str, Any]:
    """Write stats.json, report.md (figures beside it) and report.html."""
    stats = collect_stats(ws, cfg)
    atomic_write_json(ws.out / "stats.json", stats)
    build_report(ws, cfg, stats).write(ws.out / "report.md", ws.out / "report.html")
    return stats


# --------------------------------------------------------------------------- truth evaluation

def _ids(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob("*.jsonl*")):
        if path.name.endswith(".jsonl"):
            for _, row in iter_jsonl(path):
                yield row
        else:
            from rexbert.sources.finefineweb import open_text_lines

            for _, raw in open_text_lines(path):
                if raw.strip():
                    yield json.loads(raw)


def evaluate_against_truth(ws, cfg, truth_path: str | Path) -> dict[str, Any]:
    """Quality bars against a demo truth file (read only here, never by the pipeline stages).

    - near-duplicates: of planted near-duplicate pairs whose two documents both reached dedup,
      the fraction where dedup removed one; and the fraction of unique documents dedup removed;
    - language ID: planted non-English documents removed by the language stage, and English ones;
    - profanity: planted profane documents removed by the profanity stage (of those reaching it);
    - relevance: precision/recall of kept vs truth `commerce` over filter-required documents that
      reached the relevance stage; and of each labeller on the sample.
    """
    from rexbert.curate import audit

    truth_path = Path(truth_path)
    if not truth_path.is_file():
        raise UserError(f"{truth_path}: truth file not found; pass the truth.jsonl written by `rexbert demo-data`")
    if audit.is_labelled_sample(truth_path):  # a user's own `id, relevant[, keep]` sample
        result = {"kind": "labelled_sample", **audit.evaluate_kept(ws.kept, ws.rejected, truth_path)}
        atomic_write_json(ws.out / "evaluation.json", result)
        return result
    truth = {str(row["id"]): row for _, row in iter_jsonl(truth_path)}
    fate: dict[str, str] = {}
    for row in _ids(ws.rejected):
        fate[str(row["id"])] = row["stage"]
    for row in _ids(ws.kept):
        fate[str(row["id"])] = "kept"
    reached_dedup = {str(r["id"]) for r in _ids(ws.work / "stage1")} if (ws.work / "stage1").is_dir() else set()
    before = {"language": {"read"}, "profanity": {"read", "language"}, "quality": {"read", "language", "profanity"},
              "relevance": {"read", "language", "quality", "profanity", "dedup"}}

    def reached(doc_id: str, stage: str) -> bool:
        return doc_id in fate and fate[doc_id] not in before[stage]

    result: dict[str, Any] = {"truth": str(truth_path), "documents_in_truth": len(truth),
                              "documents_with_fate": sum(1 for i in truth if i in fate)}
    # near-duplicates
    originals = {str(t["duplicate_of"]) for t in truth.values() if t.get("duplicate_of")}
    pairs = [(i, str(t["duplicate_of"])) for i, t in truth.items() if t.get("near_duplicate") and t.get("duplicate_of")]
    pairs = [(a, b) for a, b in pairs if a in reached_dedup and b in reached_dedup]
    hits = sum(1 for a, b in pairs if fate.get(a) == "dedup" or fate.get(b) == "dedup")
    unique = [i for i, t in truth.items() if not t.get("duplicate_of") and i not in originals and i in reached_dedup]
    unique_removed = sum(1 for i in unique if fate.get(i) == "dedup")
    result["near_duplicates"] = {"pairs_reaching_dedup": len(pairs), "recall": hits / len(pairs) if pairs else float("nan"),
                                 "unique_documents": len(unique),
                                 "unique_removed_fraction": unique_removed / len(unique) if unique else float("nan")}
    # language
    lang_in = [i for i in truth if reached(i, "language")]
    non_en = [i for i in lang_in if truth[i].get("language") not in cfg.cleaning.language.languages]
    # planted low-quality pages (keyboard mash, one repeated word) are labelled English in the
    # truth but hold no language; they are measured apart so the bar is about real English
    en = [i for i in lang_in if truth[i].get("language") in cfg.cleaning.language.languages and not truth[i].get("low_quality")]
    en_junk = [i for i in lang_in if truth[i].get("language") in cfg.cleaning.language.languages and truth[i].get("low_quality")]
    result["language"] = {
        "non_english_reaching": len(non_en),
        "non_english_removed": sum(fate[i] == "language" for i in non_en) / len(non_en) if non_en else float("nan"),
        "english_reaching": len(en),
        "english_removed": sum(fate[i] == "language" for i in en) / len(en) if en else float("nan"),
        "english_low_quality_reaching": len(en_junk),
        "english_low_quality_removed": sum(fate[i] == "language" for i in en_junk) / len(en_junk) if en_junk else float("nan"),
    }
    # profanity
    prof = [i for i in truth if truth[i].get("profane") and reached(i, "profanity")]
    clean_docs = [i for i in truth if not truth[i].get("profane") and reached(i, "profanity")]
    result["profanity"] = {
        "profane_reaching": len(prof),
        "profane_removed": sum(fate[i] == "profanity" for i in prof) / len(prof) if prof else float("nan"),
        "clean_removed": sum(fate[i] == "profanity" for i in clean_docs) / len(clean_docs) if clean_docs else float("nan"),
    }
    low_q = [i for i in truth if truth[i].get("low_quality") and reached(i, "quality")]
    result["quality"] = {"low_quality_reaching": len(low_q),
                         "low_quality_removed": sum(fate[i] == "quality" for i in low_q) / len(low_q) if low_q else float("nan")}
    # relevance
    required = set(cfg.domains.filter_required)
    rel = [i for i in truth if truth[i].get("domain") in required and reached(i, "relevance")]
    if rel:
        result["relevance_filter"] = {"documents": len(rel), **precision_recall_f1(
            [bool(truth[i].get("commerce")) for i in rel], [fate[i] == "kept" for i in rel])}
    result["labellers"] = _labeller_accuracy(ws, truth)
    result["kept_vs_truth"] = audit.evaluate_kept(ws.kept, ws.rejected, truth_path)
    atomic_write_json(ws.out / "evaluation.json", result)
    return result


def _labeller_accuracy(ws, truth: dict[str, dict]) -> dict[str, Any]:
    from rexbert.curate.audit import read_labels

    found = {}
    sample_path = ws.work / "label" / "sample.jsonl"
    if not sample_path.is_file():
        return found
    sample = [row for _, row in iter_jsonl(sample_path)]
    sources = {"labeller (initial)": ws.work / "label" / "initial_labels.jsonl",
               "training labels (after audit)": ws.work / "audit" / "final_labels.jsonl"}
    for name, path in sources.items():
        if path.is_file():
            labels = read_labels(path)
            ids = [r["id"] for r in sample if r["id"] in truth and r["id"] in labels]
            found[name] = {"documents": len(ids), **precision_recall_f1(
                [bool(truth[i].get("commerce")) for i in ids], [labels[i].label for i in ids])}
    final = ws.work / "audit" / "final_labels.jsonl"
    if final.is_file():
        labels = read_labels(final)
        audited = [i for i, lab in labels.items() if lab.reason.startswith("audited:") and i in truth]
        if audited:
            found["auditor (audited subset)"] = {"documents": len(audited), **precision_recall_f1(
                [bool(truth[i].get("commerce")) for i in audited], [labels[i].label for i in audited])}
    return found


def add_evaluation(report: Report, ev: dict[str, Any]) -> None:
    """The truth-evaluation section of the report."""
    from rexbert.curate.audit import add_kept_evaluation

    if ev.get("kind") == "labelled_sample":
        add_kept_evaluation(report, ev)
        return
    nd, lang, prof = ev["near_duplicates"], ev["language"], ev["profanity"]
    report.heading("Evaluation against the demo truth file")
    report.para(f"Truth: `{ev['truth']}` ({ev['documents_in_truth']:,} documents). The pipeline never reads it; this "
                "section is written by `rexbert curate evaluate`.")
    report.table(_table("", ["check", "value", "bar"], [
        ["near-duplicate recall", nd["recall"], "≥ 0.9"],
        ["unique documents removed by dedup", nd["unique_removed_fraction"], "≤ 0.01"],
        ["non-English removed by language ID", lang["non_english_removed"], "≥ 0.95"],
        ["English removed by language ID", lang["english_removed"], "≤ 0.02"],
        ["planted low-quality 'English' pages removed by language ID", lang["english_low_quality_removed"], ""],
        ["profane documents removed", prof["profane_removed"], "≥ 0.9"],
        ["clean documents removed by profanity filter", prof["clean_removed"], ""],
        ["low-quality documents removed by quality rules", ev["quality"]["low_quality_removed"], ""],
    ]))
    if "relevance_filter" in ev:
        r = ev["relevance_filter"]
        report.para(f"Relevance filter vs truth `commerce` ({r['documents']:,} documents of filter-required domains): "
                    f"precision {r['precision']:.3f}, recall {r['recall']:.3f}, F1 {r['f1']:.3f}, accuracy {r['accuracy']:.3f}.")
    if ev.get("labellers"):
        report.table(_table("", ["labels on the sample", "documents", "precision", "recall", "F1", "accuracy"],
                            [[name, r["documents"], r["precision"], r["recall"], r["f1"], r["accuracy"]]
                             for name, r in ev["labellers"].items()]))
    if ev.get("kept_vs_truth"):
        add_kept_evaluation(report, ev["kept_vs_truth"])


def render_evaluation(ev: dict[str, Any]) -> str:
    """The truth-evaluation section as Markdown (what `rexbert curate evaluate` prints)."""
    report = Report("Curation evaluation")
    add_evaluation(report, ev)
    return report.markdown()
