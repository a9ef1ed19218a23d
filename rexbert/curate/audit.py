"""Sampling, labelling and the QA audit loop (RexBERT §3: LLM labels, audited by a stronger model).

- `merge_sample`: the per-rank bottom-k candidates become one stratified, seeded sample.
- `label_sample`: the primary labeller labels the whole sample.
- `run_audit`: the auditor relabels a stratified subset; agreement (accuracy, Cohen's kappa,
  confusion, error modes) is measured per domain; the primary labeller is refined from the
  disagreements and relabels the sample; repeat until kappa moves by less than epsilon or the
  round limit. The final training labels are the auditor's where it looked and the best
  round's primary labels elsewhere.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rexbert.curate.labellers.base import Label, LabelItem, Labeller
from rexbert.curate.metrics import cohen_kappa, confusion, precision_recall_f1
from rexbert.curate.steps import sample_key
from rexbert.fileio import atomic_write_json, iter_jsonl, write_jsonl

log = logging.getLogger(__name__)


def merge_sample(candidate_dir: Path, domains: Sequence[str], per_domain: int) -> list[dict[str, Any]]:
    """Keep the `per_domain` smallest sample keys of each domain across every rank's candidates.

    Memory is `per_domain` documents per domain; the result is sorted by domain then key, so it
    does not depend on the number of ranks.
    """
    heaps: dict[str, list] = defaultdict(list)
    wanted = set(domains)
    for path in sorted(candidate_dir.glob("*.jsonl")):
        for _, row in iter_jsonl(path):
            if row["domain"] not in wanted:
                continue
            entry = (-row["key"], row["id"], row)
            heap = heaps[row["domain"]]
            if len(heap) < per_domain:
                heapq.heappush(heap, entry)
            elif entry[0] > heap[0][0]:
                heapq.heapreplace(heap, entry)
    sample = []
    for domain in sorted(heaps):
        sample.extend(row for _, _, row in sorted(heaps[domain], key=lambda e: (-e[0], e[1])))
    return sample


def items_of(sample: Sequence[dict[str, Any]]) -> list[LabelItem]:
    """Sample rows as labeller inputs."""
    return [LabelItem(row["id"], row["domain"], row["text"]) for row in sample]


def audit_subset(items: Sequence[LabelItem], per_domain: int, seed: int) -> list[int]:
    """Indices of a stratified, seeded subset: `per_domain` documents of each domain."""
    by_domain: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_domain[item.domain].append(i)
    chosen = []
    for domain in sorted(by_domain):
        ranked = sorted(by_domain[domain], key=lambda i: (sample_key(seed + 7919, items[i].id), items[i].id))
        chosen.extend(sorted(ranked[:per_domain]))
    return chosen


def agreement(items: Sequence[LabelItem], primary: Sequence[Label], auditor: Sequence[Label]) -> dict[str, Any]:
    """Accuracy, kappa, confusion and error modes per domain and overall (auditor = reference)."""

    def block(idx: list[int]) -> dict[str, Any]:
        ref = [auditor[i].label for i in idx]
        pred = [primary[i].label for i in idx]
        fp = [i for i in idx if primary[i].label and not auditor[i].label]
        fn = [i for i in idx if auditor[i].label and not primary[i].label]
        return {
            "n": len(idx), "accuracy": precision_recall_f1(ref, pred)["accuracy"], "kappa": cohen_kappa(ref, pred),
            "confusion": confusion(ref, pred),
            "auditor_relevant_fraction": sum(ref) / len(ref) if ref else 0.0,
            "error_modes": {
                "false_positive": {"count": len(fp), "labeller_reasons": Counter(primary[i].reason for i in fp).most_common(3),
                                   "examples": [items[i].id for i in fp[:3]]},
                "false_negative": {"count": len(fn), "auditor_reasons": Counter(auditor[i].reason for i in fn).most_common(3),
                                   "examples": [items[i].id for i in fn[:3]]},
            },
        }

    by_domain: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_domain[item.domain].append(i)
    return {"overall": block(list(range(len(items)))), "domains": {d: block(ix) for d, ix in sorted(by_domain.items())}}


def run_audit(items: list[LabelItem], initial: list[Label], primary: Labeller, auditor: Labeller, cfg,
              rounds_path: Path) -> tuple[list[Label], list[dict[str, Any]], dict[str, Any]]:
    """The QA audit loop. Returns (final labels for every item, round records, summary).

    Every round is appended to `rounds_path` (JSONL) as soon as it is measured.
    """
    subset = audit_subset(items, cfg.per_domain, cfg.seed)
    sub_items = [items[i] for i in subset]
    log.info("audit: auditor %s relabels %d documents", auditor.identity(), len(sub_items))
    reference = auditor.label(sub_items)
    rounds: list[dict[str, Any]] = []
    labels = initial
    best = None
    rounds_path.parent.mkdir(parents=True, exist_ok=True)
    rounds_path.write_text("", encoding="utf-8")
    for round_index in range(cfg.max_rounds):
        own = [labels[i] for i in subset]
        record = {"round": round_index, "labeller": primary.identity(), **agreement(sub_items, own, reference)}
        kappa = record["overall"]["kappa"]
        if rounds:
            record["delta_kappa"] = kappa - rounds[-1]["overall"]["kappa"]
        if best is None or kappa > best[0] + 1e-12:
            best = (kappa, round_index, labels, primary.state())
        stop = bool(rounds) and abs(record["delta_kappa"]) < cfg.epsilon
        last = round_index == cfg.max_rounds - 1
        if not stop and not last:
            record["refinement"] = primary.refine(sub_items, own, reference, cfg.max_fewshot)
        record["stopped"] = "kappa converged" if stop else ("round limit" if last else None)
        rounds.append(record)
        with rounds_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.info("audit round %d: kappa %.3f accuracy %.3f", round_index, kappa, record["overall"]["accuracy"])
        if stop or last:
            break
        labels = primary.label(items)
    kappa, best_round, best_labels, best_state = best
    final = list(best_labels)
    for position, index in enumerate(subset):
        audited = reference[position]
        final[index] = Label(audited.id, audited.label, audited.score, f"audited: {audited.reason}")
    summary = {
        "rounds": len(rounds), "best_round": best_round, "best_kappa": kappa, "audited_documents": len(subset),
        "labeller_state": best_state, "auditor": auditor.identity(),
        "usage": {"labeller": dict(primary.usage), "auditor": dict(auditor.usage)},
    }
    return final, rounds, summary


def write_labels(path: Path, items: Sequence[LabelItem], labels: Sequence[Label]) -> None:
    """Labels as JSONL rows `{id, domain, label, score, reason}`."""
    write_jsonl(path, ({"domain": it.domain, **lab.to_dict()} for it, lab in zip(items, labels, strict=True)))


def read_labels(path: Path) -> dict[str, Label]:
    """Labels written by `write_labels`, by document id."""
    return {row["id"]: Label(row["id"], bool(row["label"]), float(row["score"]), row.get("reason", ""))
            for _, row in iter_jsonl(path)}


def save_summary(path: Path, data: dict[str, Any]) -> None:
    """Atomic JSON write (kept here so callers do not need fileio)."""
    atomic_write_json(path, data)
