"""Sampling, labelling, seed labels, the QA audit loop and evaluation against a labelled sample.

RexBERT §3: LLM labels, audited by a stronger model. Here:
- `merge_sample`: the per-rank bottom-k candidates become one stratified, seeded sample.
- seed labels (`load_seed_labels`, `gold_from_seeds`): a user's hand labels `id, relevant` of
  corpus documents, split into a part the labellers learn from and a held-out part (`Gold`).
- `label_sample`: the primary labeller learns from the seeds, sees the sample, labels it.
- `run_audit`: the auditor relabels a stratified subset; agreement (accuracy, Cohen's kappa,
  confusion, error modes) is measured per domain against it and, with seeds, against the
  held-out gold; the labeller is refined on the gold and the auditor's labels and relabels the
  sample; repeat until kappa (the gold one when there is gold) moves by less than epsilon or
  the round limit. Training labels: the best round's, the auditor's where it looked (unless gold
  shows it is the weaker), the gold label wherever a seed exists.
- `evaluate_kept`: precision, recall and F1 of a curation's kept set per domain against a
  labelled sample, with bootstrap intervals and the drop reasons of wrongly dropped documents.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rexbert.curate.labellers.base import Label, LabelItem, Labeller
from rexbert.curate.labellers.openai_chat import is_unparsed
from rexbert.curate.metrics import cohen_kappa, confusion, precision_recall_f1
from rexbert.curate.steps import sample_key
from rexbert.errors import UserError
from rexbert.fileio import iter_jsonl, write_jsonl

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
    """Accuracy, kappa, confusion and error modes per domain and overall (auditor = reference).

    A document either side has no answer for (an unparsed one) is left out and counted: it is
    neither a positive nor a negative judgement.
    """

    def block(every: list[int]) -> dict[str, Any]:
        idx = [i for i in every if not (is_unparsed(primary[i]) or is_unparsed(auditor[i]))]
        ref = [auditor[i].label for i in idx]
        pred = [primary[i].label for i in idx]
        fp = [i for i in idx if primary[i].label and not auditor[i].label]
        fn = [i for i in idx if auditor[i].label and not primary[i].label]
        return {
            "n": len(idx), "unparsed": len(every) - len(idx),
            "accuracy": precision_recall_f1(ref, pred)["accuracy"], "kappa": cohen_kappa(ref, pred),
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


@dataclass
class Gold:
    """Seed labels as gold: the part the labellers may learn from, and the held-out part they are measured on."""

    fit_items: list[LabelItem]
    fit_labels: list[bool]
    eval_items: list[LabelItem]
    eval_labels: list[bool]
    fewshot: int = 0  # how many of the fit part a prompt labeller takes as few-shot examples

    @property
    def ids(self) -> set[str]:
        """Ids of every gold document."""
        return {it.id for it in self.fit_items} | {it.id for it in self.eval_items}

    def labels_by_id(self) -> dict[str, bool]:
        """Every gold label by document id."""
        return {it.id: y for it, y in zip(self.fit_items + self.eval_items, self.fit_labels + self.eval_labels,
                                          strict=True)}


def split_gold(items: Sequence[LabelItem], labels: Sequence[bool], holdout_fraction: float, seed: int,
               fewshot: int = 0) -> Gold:
    """Stratified, seeded split of the seed documents: `holdout_fraction` of each class is held out.

    Ranked by `sample_key`, so the label and audit stages (separate processes) split alike.
    """
    fit, held = [], []
    for relevant in (True, False):
        ranked = sorted((i for i, y in enumerate(labels) if bool(y) == relevant),
                        key=lambda i: (sample_key(seed + 104729, items[i].id), items[i].id))
        n_held = round(len(ranked) * holdout_fraction)
        held += ranked[:n_held]
        fit += ranked[n_held:]
    fit, held = sorted(fit), sorted(held)
    return Gold([items[i] for i in fit], [bool(labels[i]) for i in fit],
                [items[i] for i in held], [bool(labels[i]) for i in held], fewshot)


def _as_labels(items: Sequence[LabelItem], values: Sequence[bool], reason: str) -> list[Label]:
    return [Label(it.id, bool(v), 1.0 if v else 0.0, reason) for it, v in zip(items, values, strict=True)]


def gold_agreement(labeller: Labeller, gold: Gold) -> dict[str, Any] | None:
    """Accuracy, kappa and confusion of `labeller` on the held-out gold (overall and per domain)."""
    if not gold.eval_items:
        return None
    own = labeller.label(gold.eval_items)
    return agreement(gold.eval_items, own, _as_labels(gold.eval_items, gold.eval_labels, "seed label"))


def learn_seeds(labeller: Labeller, gold: Gold | None) -> str | None:
    """Let `labeller` learn from the fit part of the gold (None without gold)."""
    if gold is None or not gold.fit_items:
        return None
    return labeller.use_seed_labels(gold.fit_items, gold.fit_labels, gold.fewshot)


def _reference_set(sub_items: list[LabelItem], reference: list[Label], gold: Gold | None
                   ) -> tuple[list[LabelItem], list[Label]]:
    """What the labeller is refined on: the gold fit part, and the auditor's labels on the rest of
    the subset (those it gave an answer for)."""
    held = {it.id for it in gold.eval_items} | {it.id for it in gold.fit_items} if gold else set()
    keep = [i for i, it in enumerate(sub_items) if it.id not in held and not is_unparsed(reference[i])]
    if gold is None:
        return [sub_items[i] for i in keep], [reference[i] for i in keep]
    items = [sub_items[i] for i in keep] + gold.fit_items
    return items, [reference[i] for i in keep] + _as_labels(gold.fit_items, gold.fit_labels, "seed label")


def run_audit(items: list[LabelItem], initial: list[Label], primary: Labeller, auditor: Labeller, cfg,
              rounds_path: Path, gold: Gold | None = None) -> tuple[list[Label], list[dict[str, Any]], dict[str, Any]]:
    """The QA audit loop. Returns (final labels for every item, round records, summary).

    Each round measures the labeller against the auditor on a stratified subset and, with gold,
    against the held-out seed labels; the kappa that decides convergence and the best round is
    the gold one when gold exists. The labeller is then refined on the gold fit part and the
    auditor's labels, and relabels the sample. Every round is appended to `rounds_path` (JSONL)
    as soon as it is measured.
    """
    seeds_note = {"labeller": learn_seeds(primary, gold), "auditor": learn_seeds(auditor, gold)}
    primary.prepare(items)  # as in the label stage: the sample is what a transductive labeller adapts to
    subset = audit_subset(items, cfg.per_domain, cfg.seed)
    sub_items = [items[i] for i in subset]
    log.info("audit: auditor %s relabels %d documents", auditor.identity(), len(sub_items))
    reference = auditor.label(sub_items)
    auditor_gold = gold_agreement(auditor, gold) if gold else None
    ref_items, ref_labels = _reference_set(sub_items, reference, gold)
    rounds: list[dict[str, Any]] = []
    labels, best = initial, None
    rounds_path.parent.mkdir(parents=True, exist_ok=True)
    rounds_path.write_text("", encoding="utf-8")
    for round_index in range(cfg.max_rounds):
        record = {"round": round_index, "labeller": primary.identity(),
                  **agreement(sub_items, [labels[i] for i in subset], reference)}
        against_gold = gold_agreement(primary, gold) if gold else None
        if against_gold:
            record["gold"] = against_gold
        kappa = (against_gold or record)["overall"]["kappa"]
        record["kappa"], record["kappa_against"] = kappa, "gold" if against_gold else "auditor"
        if rounds:
            record["delta_kappa"] = kappa - rounds[-1]["kappa"]
        if best is None or kappa > best[0] + 1e-12:
            best = (kappa, round_index, labels, primary.state())
        stop = bool(rounds) and abs(record["delta_kappa"]) < cfg.epsilon
        last = round_index == cfg.max_rounds - 1
        if not stop and not last:
            record["refinement"] = primary.refine(ref_items, primary.label(ref_items), ref_labels, cfg.max_fewshot)
        record["stopped"] = "kappa converged" if stop else ("round limit" if last else None)
        rounds.append(record)
        with rounds_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.info("audit round %d: kappa %.3f (against %s)", round_index, kappa, record["kappa_against"])
        if stop or last:
            break
        labels = primary.label(items)
    kappa, best_round, best_labels, best_state = best
    # the auditor's labels replace the labeller's on the subset, unless gold shows it is the weaker
    use_auditor = auditor_gold is None or auditor_gold["overall"]["kappa"] >= kappa
    final = _final_labels(items, best_labels, subset, reference if use_auditor else None, gold)
    summary = {
        "rounds": len(rounds), "best_round": best_round, "best_kappa": kappa,
        "kappa_against": rounds[0]["kappa_against"], "audited_documents": len(subset),
        "auditor_labels_used": use_auditor, "labeller_state": best_state, "auditor": auditor.identity(),
        "usage": {"labeller": dict(primary.usage), "auditor": dict(auditor.usage)},
    }
    if gold:
        summary["gold"] = {"fit": len(gold.fit_items), "held_out": len(gold.eval_items), "seed_use": seeds_note,
                           "auditor": auditor_gold["overall"] if auditor_gold else None,
                           "labeller_best": rounds[best_round].get("gold", {}).get("overall")}
    return final, rounds, summary


def _final_labels(items: list[LabelItem], labels: list[Label], subset: list[int], reference: list[Label] | None,
                  gold: Gold | None) -> list[Label]:
    """Training labels: the best round's, the auditor's where it looked (if used), gold where a seed exists."""
    final = list(labels)
    if reference is not None:
        for position, index in enumerate(subset):
            audited = reference[position]
            if not is_unparsed(audited):  # no answer from the auditor: the labeller's label stands
                final[index] = Label(audited.id, audited.label, audited.score, f"audited: {audited.reason}")
    truth = gold.labels_by_id() if gold else {}
    for index, item in enumerate(items):
        if item.id in truth:
            final[index] = Label(item.id, truth[item.id], 1.0 if truth[item.id] else 0.0, "gold: seed label")
    return final


def write_labels(path: Path, items: Sequence[LabelItem], labels: Sequence[Label]) -> None:
    """Labels as JSONL rows `{id, domain, label, score, reason}`."""
    write_jsonl(path, ({"domain": it.domain, **lab.to_dict()} for it, lab in zip(items, labels, strict=True)))


def read_labels(path: Path) -> dict[str, Label]:
    """Labels written by `write_labels`, by document id."""
    return {row["id"]: Label(row["id"], bool(row["label"]), float(row["score"]), row.get("reason", ""))
            for _, row in iter_jsonl(path)}


# --------------------------------------------------------------------------- seed labels

_TRUE = {"1", "true", "yes", "relevant", "y", "t"}
_FALSE = {"0", "false", "no", "not_relevant", "irrelevant", "n", "f"}


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise UserError(f"{where}: 'relevant' must be true/false (or 1/0, yes/no), got {value!r}")


def _table_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) of a JSONL, CSV or TSV file."""
    if path.suffix.lower() in (".csv", ".tsv"):
        import csv

        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            return [(f"{path}:{number}", row) for number, row in enumerate(reader, start=2)]
    return [(f"{path}:{number}", row) for number, row in iter_jsonl(path)]


def load_seed_labels(path: str | Path) -> dict[str, bool]:
    """Hand labels `{id, relevant}` from JSONL (or CSV/TSV with an `id,relevant` header), by document id."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: seed labels file not found; give a JSONL file of {{\"id\": ..., \"relevant\": true|false}}")
    seeds: dict[str, bool] = {}
    for where, row in _table_rows(path):
        if row.get("id") in (None, "") or "relevant" not in row:
            raise UserError(f"{where}: a seed label needs 'id' and 'relevant' (got keys {sorted(row)})")
        doc_id, relevant = str(row["id"]), _as_bool(row["relevant"], where)
        if seeds.get(doc_id, relevant) != relevant:
            raise UserError(f"{where}: document {doc_id!r} is labelled both relevant and not relevant; keep one line")
        seeds[doc_id] = relevant
    if not seeds:
        raise UserError(f"{path}: no seed labels in the file")
    return seeds


def find_seed_documents(seeds: dict[str, bool], sample: Sequence[dict[str, Any]], shard_dirs: Sequence[Path]
                        ) -> tuple[list[LabelItem], list[bool], list[str]]:
    """(items, labels, ids not found) of the seed documents, read from the sample or the cleaned shards.

    The shards are the `<rank>.jsonl` files that the clean stage leaves (datatrove's JSONL
    adapter: text, id, metadata with the domain). A seed that cleaning dropped is not found.
    """
    found: dict[str, LabelItem] = {str(r["id"]): LabelItem(str(r["id"]), r["domain"], r["text"])
                                   for r in sample if str(r["id"]) in seeds}
    for folder in shard_dirs:
        for path in sorted(Path(folder).glob("*.jsonl")):
            if len(found) == len(seeds):
                break
            for _, row in iter_jsonl(path):
                doc_id = str(row.get("id"))
                if doc_id in seeds and doc_id not in found:
                    domain = (row.get("metadata") or {}).get("domain") or row.get("domain") or ""
                    found[doc_id] = LabelItem(doc_id, domain, row["text"])
    ids = sorted(found)
    return [found[i] for i in ids], [seeds[i] for i in ids], sorted(set(seeds) - set(found))


def gold_from_seeds(labelling, seed: int, sample: Sequence[dict[str, Any]], shard_dirs: Sequence[Path]
                    ) -> tuple[Gold | None, dict[str, Any]]:
    """The seed labels a `LabellingConfig` names, as gold split for learning and measuring (None without seeds).

    Returns (gold, a summary for the report: seeds given, found, held out, not found).
    """
    if not labelling.seed_labels_path:
        return None, {}
    seeds = load_seed_labels(labelling.seed_labels_path)
    items, labels, missing = find_seed_documents(seeds, sample, shard_dirs)
    if not items:
        raise UserError(f"{labelling.seed_labels_path}: none of the {len(seeds)} seed ids is among the cleaned documents; "
                        "check that the ids are the corpus's document ids (cleaning may have dropped them: see rejected/)")
    gold = split_gold(items, labels, labelling.seed_holdout_fraction, seed, labelling.seed_fewshot)
    info = {"file": str(labelling.seed_labels_path), "given": len(seeds), "found": len(items), "relevant": sum(labels),
            "learned_from": len(gold.fit_items), "held_out": len(gold.eval_items), "not_found": len(missing),
            "not_found_examples": missing[:5]}
    return gold, info


def label_sample(labeller: Labeller, items: list[LabelItem], gold: Gold | None) -> tuple[list[Label], str | None]:
    """The label stage's work: learn from the seed fit part, see the sample, label it; seeds keep their gold label."""
    note = learn_seeds(labeller, gold)
    labeller.prepare(items)
    labels = labeller.label(items)
    truth = gold.labels_by_id() if gold else {}
    labels = [Label(lab.id, truth[lab.id], 1.0 if truth[lab.id] else 0.0, "gold: seed label") if lab.id in truth else lab
              for lab in labels]
    return labels, note


# --------------------------------------------------------------------------- evaluation against a user's truth

def read_truth(path: str | Path) -> dict[str, dict[str, Any]]:
    """A labelled sample: JSONL rows `{id, relevant[, keep]}` (a demo truth's `commerce` counts as `relevant`)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: truth file not found; give a JSONL file of {{\"id\": ..., \"relevant\": true|false}}")
    truth: dict[str, dict[str, Any]] = {}
    for where, row in _table_rows(path):
        value = row.get("relevant", row.get("commerce"))
        if row.get("id") in (None, "") or value is None:
            raise UserError(f"{where}: a truth row needs 'id' and 'relevant' (got keys {sorted(row)})")
        entry = {"relevant": _as_bool(value, where)}
        if row.get("keep") not in (None, ""):
            entry["keep"] = _as_bool(row["keep"], where)
        truth[str(row["id"])] = entry
    if not truth:
        raise UserError(f"{path}: no rows in the truth file")
    return truth


def _output_rows(folder: Path) -> list[dict[str, Any]]:
    """Every record of the JSONL(.gz/.zst) shards under a kept/ or rejected/ folder."""
    from rexbert.sources.finefineweb import open_text_lines

    rows = []
    for path in sorted(folder.rglob("*.jsonl*")):
        for _, raw in open_text_lines(str(path)):
            if raw.strip():
                rows.append(json.loads(raw))
    return rows


def document_fates(kept_dir: Path, rejected_dir: Path) -> dict[str, dict[str, Any]]:
    """Document id -> {kept, domain, stage, reason} from a curation's kept/ and rejected/."""
    fates = {str(r["id"]): {"kept": False, "domain": r.get("domain"), "stage": r.get("stage"), "reason": r.get("reason")}
             for r in _output_rows(rejected_dir)}
    for row in _output_rows(kept_dir):
        fates[str(row["id"])] = {"kept": True, "domain": row.get("domain"), "stage": "kept", "reason": ""}
    return fates


def _rates(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    # the conventions of metrics.precision_recall_f1: precision 1 when nothing is kept, recall 0 with no positives
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1}


def bootstrap_prf(target: Sequence[bool], kept: Sequence[bool], resamples: int = 2000, level: float = 0.95,
                  seed: int = 0) -> dict[str, Any]:
    """Precision, recall and F1 of `kept` against `target`, each with a percentile bootstrap interval.

    Documents are resampled with replacement (scipy.stats.bootstrap, paired); the interval is
    the central `level` share of the resampled values.
    """
    from scipy.stats import bootstrap

    ref, pred = np.asarray(target, dtype=bool), np.asarray(kept, dtype=bool)
    point = precision_recall_f1(ref, pred)
    result: dict[str, Any] = {"documents": int(len(ref)), "relevant": int(ref.sum()), "kept": int(pred.sum()),
                              **{k: point[k] for k in ("precision", "recall", "f1")}}
    for name in ("precision", "recall", "f1"):
        if len(ref) < 2:
            result[f"{name}_ci"] = [point[name], point[name]]
            continue

        def statistic(r, p, axis=-1, name=name):
            r, p = r.astype(bool), p.astype(bool)
            tp, fp, fn = ((r & p).sum(axis=axis), (~r & p).sum(axis=axis), (r & ~p).sum(axis=axis))
            return _rates(tp, fp, fn)[name]

        ci = bootstrap((ref.astype(int), pred.astype(int)), statistic, paired=True, vectorized=True,
                       n_resamples=resamples, confidence_level=level, method="percentile",
                       random_state=np.random.default_rng(seed)).confidence_interval
        result[f"{name}_ci"] = [float(ci.low), float(ci.high)]
    return result


def evaluate_kept(kept_dir: Path, rejected_dir: Path, truth_path: str | Path, resamples: int = 2000,
                  seed: int = 0) -> dict[str, Any]:
    """Precision/recall/F1 of the kept set per domain against a user's truth, with 95% bootstrap intervals.

    The target of a document is its `keep` when the truth gives one (what should survive the
    whole curation), else `relevant`. Every wrongly dropped document is listed with the stage
    and reason that dropped it; truth ids that are in neither kept/ nor rejected/ are counted.
    """
    truth = read_truth(truth_path)
    fates = document_fates(Path(kept_dir), Path(rejected_dir))
    missing = sorted(i for i in truth if i not in fates)
    by_domain: dict[str, list[str]] = defaultdict(list)
    for doc_id in sorted(truth):
        if doc_id in fates:
            by_domain[fates[doc_id]["domain"] or "unknown"].append(doc_id)

    def target(doc_id: str) -> bool:
        return truth[doc_id].get("keep", truth[doc_id]["relevant"])

    def block(ids: list[str]) -> dict[str, Any]:
        return bootstrap_prf([target(i) for i in ids], [fates[i]["kept"] for i in ids], resamples, seed=seed)

    wrongly_dropped = [{"id": i, "domain": fates[i]["domain"], "stage": fates[i]["stage"], "reason": fates[i]["reason"]}
                       for ids in by_domain.values() for i in ids if target(i) and not fates[i]["kept"]]
    return {
        "truth": str(truth_path), "documents_in_truth": len(truth), "found": len(truth) - len(missing),
        "missing_ids": missing[:20], "missing": len(missing),
        "target": "keep where given, else relevant", "level": 0.95, "resamples": resamples,
        "overall": block([i for ids in by_domain.values() for i in ids]),
        "domains": {d: block(ids) for d, ids in sorted(by_domain.items())},
        "wrongly_dropped_reasons": dict(Counter(f"{w['stage']}: {w['reason']}" for w in wrongly_dropped).most_common()),
        "wrongly_dropped": wrongly_dropped,
    }


def is_labelled_sample(path: str | Path) -> bool:
    """Whether a truth file is a user's labelled sample (`id, relevant[, keep]`) rather than a demo truth file."""
    rows = _table_rows(Path(path))
    return bool(rows) and "relevant" in rows[0][1] and "commerce" not in rows[0][1]


def add_kept_evaluation(report, result: dict[str, Any]) -> None:
    """The labelled-sample section of a `rexbert.render.Report`: per-domain table with intervals, drop reasons."""
    from rexbert.render import Table

    def cell(block: dict[str, Any], name: str) -> str:
        low, high = block[f"{name}_ci"]
        return f"{block[name]:.3f} [{low:.3f}, {high:.3f}]"

    report.heading("Kept documents against the labelled sample")
    report.para(f"Truth `{result['truth']}`: {result['documents_in_truth']:,} documents, {result['found']:,} found in "
                f"the output ({result['missing']:,} missing). Target: {result['target']}. Brackets: "
                f"{result['level']:.0%} percentile bootstrap intervals over documents ({result['resamples']:,} resamples).")
    rows = [[name, f"{b['documents']:,}", f"{b['relevant']:,}", f"{b['kept']:,}", cell(b, "precision"),
             cell(b, "recall"), cell(b, "f1")] for name, b in [*result["domains"].items(), ("all", result["overall"])]]
    report.table(Table("", ["domain", "documents", "target", "kept", "precision", "recall", "F1"], rows))
    dropped = result["wrongly_dropped"]
    report.para(f"Wrongly dropped documents: {len(dropped):,}" + ("; by stage and reason: " + "; ".join(
        f"{reason} ×{n}" for reason, n in result["wrongly_dropped_reasons"].items()) if dropped else "."))
    if dropped:
        shown = [[w["id"], str(w["domain"]), str(w["stage"]), str(w["reason"])] for w in dropped[:200]]
        report.table(Table(f"{min(len(dropped), 200)} of {len(dropped)} (all in evaluation.json)",
                           ["id", "domain", "stage", "reason"], shown, label_columns=4))
