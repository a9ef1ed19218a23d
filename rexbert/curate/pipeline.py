"""The curation stages and their order: clean → label → audit → distill → filter → stats.

Output folder:
    kept/<domain>/<rank>.jsonl      kept documents: text, id, domain, url + the scores that kept them
    rejected/<stage>/<rank>.jsonl   every dropped document with `stage` and `reason`
    stats.json, report.md, domain_distribution.png, calibration.png
    config.yaml                     the resolved config (reruns must use the same one)
    timings.json                    wall time per stage (the only file that differs between runs)
    work/                           intermediate files, datatrove logs and completion markers

`clean` and `filter` run on datatrove executors (local, Slurm, Ray), one task per input file by
default, with per-task completion markers; the other stages work on the sample only. Each stage
leaves `work/stages/<stage>.done`, so a rerun skips finished stages, and datatrove skips finished
tasks inside an interrupted stage: killing the run at any moment loses no finished work, and
every output file is rewritten whole by the task that owns it, so the final output is the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rexbert.curate.config import CurateConfig, config_from_dict
from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json, atomic_write_text, read_json

log = logging.getLogger(__name__)

STAGES = ("clean", "label", "audit", "distill", "filter", "stats")


class JobsSubmitted(Exception):
    """A cluster executor queued the stage's tasks; rerun the command when they have finished."""


@dataclass
class Workspace:
    """Paths inside one curation output folder."""

    out: Path

    @property
    def work(self) -> Path:
        """Intermediate files."""
        return self.out / "work"

    @property
    def kept(self) -> Path:
        """Kept shards."""
        return self.out / "kept"

    @property
    def rejected(self) -> Path:
        """Rejected shards."""
        return self.out / "rejected"

    def marker(self, stage: str) -> Path:
        """Completion marker of a stage."""
        return self.work / "stages" / f"{stage}.done"

    def is_done(self, stage: str) -> bool:
        """Whether `stage` finished."""
        return self.marker(stage).is_file()

    def mark_done(self, stage: str) -> None:
        """Record that `stage` finished."""
        atomic_write_json(self.marker(stage), {"stage": stage})

    def require(self, stage: str, for_stage: str) -> None:
        """UserError unless `stage` finished."""
        if not self.is_done(stage):
            raise UserError(f"{self.out}: stage '{stage}' has not finished; run `rexbert curate {stage} --out {self.out}` "
                            f"(or the whole `rexbert curate`) before '{for_stage}'")

    def record_time(self, stage: str, seconds: float) -> None:
        """Add one stage's wall time to timings.json."""
        path = self.out / "timings.json"
        timings = read_json(path) if path.is_file() else {}
        timings[stage] = round(seconds, 2)
        atomic_write_json(path, timings)


def _config_fingerprint(cfg: CurateConfig) -> str:
    data = cfg.model_dump(mode="json")
    data.pop("executor")  # where it runs does not change what it produces
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def prepare(out: str | Path, cfg: CurateConfig | None, input_dir: str | None) -> tuple[Workspace, CurateConfig, str | None]:
    """Open (or create) an output folder and reconcile the config and input with earlier runs.

    A rerun without `--config` uses the saved `config.yaml`; a different config or input is
    refused, because mixing two recipes in one output would not be reproducible.
    """
    ws = Workspace(Path(out))
    saved_cfg_path = ws.out / "config.yaml"
    saved_input_path = ws.work / "input.json"
    saved_cfg = None
    if saved_cfg_path.is_file():
        saved_cfg = config_from_dict(yaml.safe_load(saved_cfg_path.read_text("utf-8")), str(saved_cfg_path))
    if cfg is None:
        cfg = saved_cfg or CurateConfig()
    elif saved_cfg is not None and _config_fingerprint(saved_cfg) != _config_fingerprint(cfg):
        raise UserError(f"{ws.out} was curated with a different config ({saved_cfg_path}); "
                        "use a new --out, or delete that folder to start over")
    if saved_input_path.is_file():
        saved_input = read_json(saved_input_path)["input"]
        if input_dir is not None and Path(input_dir).resolve() != Path(saved_input):
            raise UserError(f"{ws.out} was curated from --input {saved_input}; use a new --out for {input_dir}")
        input_dir = saved_input
    ws.out.mkdir(parents=True, exist_ok=True)
    if saved_cfg is None:
        atomic_write_text(saved_cfg_path, cfg.to_yaml())
    if input_dir is not None and not saved_input_path.is_file():
        atomic_write_json(saved_input_path, {"input": str(Path(input_dir).resolve())})
    return ws, cfg, input_dir


# --------------------------------------------------------------------------- executors

def _executor(cfg: CurateConfig, pipeline: list, tasks: int, logging_dir: Path, name: str, depends=None):
    """A datatrove executor of the configured kind."""
    kind = cfg.executor.kind
    if kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(cfg.executor.workers, tasks),
                                     logging_dir=str(logging_dir), depends=depends)
    if kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        slurm = cfg.executor.slurm
        return SlurmPipelineExecutor(
            pipeline=pipeline, tasks=tasks, time=slurm.time, partition=slurm.partition, cpus_per_task=slurm.cpus_per_task,
            mem_per_cpu_gb=slurm.mem_per_cpu_gb, job_name=f"rexbert-curate-{name}", qos=slurm.qos,
            venv_path=slurm.venv_path, sbatch_args=dict(slurm.sbatch_args) or None, logging_dir=str(logging_dir),
            depends=depends,
        )
    try:
        import ray  # noqa: F401
        from datatrove.executor import RayPipelineExecutor
    except ImportError as err:
        raise UserError("executor 'ray' needs Ray: pip install 'rexbert[ray]'") from err
    return RayPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=cfg.executor.workers, logging_dir=str(logging_dir),
                               cpus_per_task=cfg.executor.ray.cpus_per_task, mem_per_cpu_gb=cfg.executor.ray.mem_per_cpu_gb,
                               depends=depends)


def _run_chain(cfg: CurateConfig, executors: list) -> None:
    """Run executors in order (local/Ray block; Slurm queues them with dependencies)."""
    if cfg.executor.kind == "slurm":
        executors[-1].run()  # launches its `depends` chain first
        if any(e.get_incomplete_ranks() for e in executors):
            raise JobsSubmitted("Slurm jobs queued")
        return
    for executor in executors:
        executor.run()
        missing = executor.get_incomplete_ranks()
        if missing:
            raise UserError(f"{executor.logging_dir.path}: tasks {missing[:5]} did not finish; see the logs there and rerun")


def _tasks(cfg: CurateConfig, input_dir: str) -> int:
    from rexbert.curate.steps import shard_files

    n_files = len(shard_files(input_dir, cfg.all_domains))
    if n_files == 0:
        raise UserError(f"{input_dir}: none of the declared domains ({', '.join(cfg.all_domains)}) has a folder here; "
                        "check --input or domains in the config")
    return cfg.executor.tasks or n_files


# --------------------------------------------------------------------------- stages

def run_clean(ws: Workspace, cfg: CurateConfig, input_dir: str | None) -> None:
    """Read → boilerplate lines → language ID → quality → profanity → MinHash near-dup removal → sample candidates."""
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.utils.hashing import HashConfig

    from rexbert.curate import steps

    if input_dir is None:
        raise UserError("stage 'clean' needs --input DIR (a FineFineWeb-layout folder)")
    tasks = _tasks(cfg, input_dir)
    _record_domain_focus(ws, cfg, input_dir)
    work, rej, comp = ws.work, str(ws.rejected), cfg.output.compression
    counts = work / "counts"
    chars = cfg.output.rejected_text_chars

    def rejects(stage: str, reason: str | None = None) -> steps.RejectWriter:
        return steps.RejectWriter(rej, stage, str(counts / stage), comp, default_reason=reason, text_chars=chars)

    cleaning = cfg.cleaning
    pass1: list = [steps.CorpusReader(input_dir, cfg.all_domains, rejects("read"), cfg.input.max_doc_bytes, cfg.input.min_chars)]
    if cleaning.quality.enabled and cleaning.quality.remove_boilerplate_lines:
        pass1.append(steps.BoilerplateLineRemover())
    if cleaning.language.enabled:
        pass1.append(steps.LanguageFilter(cleaning.language.languages, cleaning.language.min_score,
                                          cleaning.language.model_path, exclusion_writer=rejects("language")))
    # profanity before quality: adult spam pages are often list-like and would otherwise be
    # dropped as low quality, hiding what they are from the statistics
    if cleaning.profanity.enabled:
        pass1.append(steps.ProfanityFilter(cleaning.profanity, exclusion_writer=rejects("profanity")))
    if cleaning.quality.enabled:
        pass1.append(steps.QualityFilter(cleaning.quality, exclusion_writer=rejects("quality")))
    pass1.append(steps.intermediate_writer(str(work / "stage1")))
    sampler = steps.SampleCandidates(str(work / "sample_candidates"), cfg.domains.filter_required,
                                     cfg.sampling.per_domain, cfg.sampling.seed)
    dd = cleaning.dedup
    if not dd.enabled:
        pass1.extend([sampler, steps.intermediate_writer(str(work / "clean"))])
        _run_chain(cfg, [_executor(cfg, pass1, tasks, work / "logs" / "clean", "clean")])
        return
    minhash = MinhashConfig(n_grams=dd.n_grams, num_buckets=dd.num_buckets, hashes_per_bucket=dd.hashes_per_bucket,
                            seed=dd.seed, hash_config=HashConfig(precision=64))
    sigs, buckets, clusters = work / "minhash" / "signatures", work / "minhash" / "buckets", work / "minhash" / "remove"
    pass1.append(MinhashDedupSignature(output_folder=str(sigs), config=minhash, language=steps.RegexWordTokenizer()))
    e1 = _executor(cfg, pass1, tasks, work / "logs" / "clean", "clean")
    e2 = _executor(cfg, [MinhashDedupBuckets(input_folder=str(sigs), output_folder=str(buckets), config=minhash)],
                   dd.num_buckets, work / "logs" / "minhash_buckets", "minhash-buckets", depends=e1)
    e3 = _executor(cfg, [MinhashDedupCluster(input_folder=str(buckets), output_folder=str(clusters), config=minhash)],
                   1, work / "logs" / "minhash_cluster", "minhash-cluster", depends=e2)
    e4 = _executor(cfg, [
        steps.RankShardReader(str(work / "stage1")),
        MinhashDedupFilter(input_folder=str(clusters), exclusion_writer=rejects("dedup", "near_duplicate")),
        sampler,
        steps.intermediate_writer(str(work / "clean")),
    ], tasks, work / "logs" / "dedup_filter", "dedup-filter", depends=e3)
    _run_chain(cfg, [e1, e2, e3, e4])


def _record_domain_focus(ws: Workspace, cfg: CurateConfig, input_dir: str) -> None:
    """Which input domains were read and which were left out by the domain focus (for stats)."""
    from rexbert.sources.finefineweb import list_domain_files

    files = list_domain_files(input_dir)
    atomic_write_json(ws.work / "domain_focus.json", {
        "declared_missing_from_input": sorted(set(cfg.all_domains) - set(files)),
        "not_selected": {d: len(paths) for d, paths in sorted(files.items()) if d not in cfg.all_domains},
    })


def _build_labellers(ws: Workspace, cfg: CurateConfig):
    from rexbert.curate.labellers.base import build_labeller, load_prompt

    prompt = load_prompt(cfg.labelling.prompt)
    primary = build_labeller(cfg.labelling.labeller, prompt, ws.work / "label_cache.sqlite", cfg.seed)
    auditor_prompt = load_prompt(cfg.labelling.prompt)
    auditor = build_labeller(cfg.labelling.auditor, auditor_prompt, ws.work / "label_cache.sqlite", cfg.seed)
    return primary, auditor


def run_label(ws: Workspace, cfg: CurateConfig) -> None:
    """Merge the stratified sample and label it with the primary labeller."""
    from rexbert.curate import audit
    from rexbert.curate.labellers.base import build_labeller, load_prompt

    ws.require("clean", "label")
    sample = audit.merge_sample(ws.work / "sample_candidates", cfg.domains.filter_required, cfg.sampling.per_domain)
    from rexbert.fileio import write_jsonl

    if not sample:
        raise UserError(f"{ws.out}: no document of the filter-required domains ({', '.join(cfg.domains.filter_required)}) "
                        f"survived cleaning, so there is nothing to label; check rejected/ and the cleaning settings")
    write_jsonl(ws.work / "label" / "sample.jsonl", sample)
    items = audit.items_of(sample)
    labeller = build_labeller(cfg.labelling.labeller, load_prompt(cfg.labelling.prompt), ws.work / "label_cache.sqlite", cfg.seed)
    try:
        labels = labeller.label(items)
    finally:
        labeller.close()
    audit.write_labels(ws.work / "label" / "initial_labels.jsonl", items, labels)
    per_domain: dict[str, dict[str, int]] = {}
    for item, lab in zip(items, labels, strict=True):
        row = per_domain.setdefault(item.domain, {"sampled": 0, "relevant": 0})
        row["sampled"] += 1
        row["relevant"] += int(lab.label)
    atomic_write_json(ws.work / "label" / "summary.json", {
        "labeller": labeller.identity(), "prompt": cfg.labelling.prompt, "usage": labeller.usage, "domains": per_domain})


def run_audit(ws: Workspace, cfg: CurateConfig) -> None:
    """The QA audit loop over the labelled sample; writes the final training labels."""
    from rexbert.curate import audit
    from rexbert.fileio import iter_jsonl

    ws.require("label", "audit")
    sample = [row for _, row in iter_jsonl(ws.work / "label" / "sample.jsonl")]
    items = audit.items_of(sample)
    initial_by_id = audit.read_labels(ws.work / "label" / "initial_labels.jsonl")
    initial = [initial_by_id[it.id] for it in items]
    primary, auditor = _build_labellers(ws, cfg)
    try:
        final, _rounds, summary = audit.run_audit(items, initial, primary, auditor, cfg.audit,
                                                  ws.work / "audit" / "rounds.jsonl")
    finally:
        primary.close()
        auditor.close()
    audit.write_labels(ws.work / "audit" / "final_labels.jsonl", items, final)
    atomic_write_json(ws.work / "audit" / "summary.json", summary)


def run_distill(ws: Workspace, cfg: CurateConfig) -> None:
    """Train and validate one fastText classifier per filter-required domain."""
    from tqdm import tqdm

    from rexbert.curate import audit
    from rexbert.fileio import iter_jsonl

    ws.require("audit", "distill")
    labels = audit.read_labels(ws.work / "audit" / "final_labels.jsonl")
    by_domain: dict[str, tuple[list[str], list[bool]]] = {}
    for _, row in iter_jsonl(ws.work / "label" / "sample.jsonl"):
        texts, ys = by_domain.setdefault(row["domain"], ([], []))
        texts.append(row["text"])
        ys.append(labels[row["id"]].label)
    models = ws.work / "distill" / "models"
    models.mkdir(parents=True, exist_ok=True)
    records, points = {}, {}
    present = [d for d in cfg.domains.filter_required if d in by_domain]
    trained = _distill_in_subprocesses(present, by_domain, cfg, models)
    for domain in tqdm(cfg.domains.filter_required, desc="distilling", unit="domain"):
        if domain not in by_domain:
            records[domain] = {"domain": domain, "labelled": 0, "kind": "absent", "threshold": 1.0,
                               "threshold_note": "no documents of this domain reached labelling"}
            continue
        record = trained[domain]
        points[domain] = record.pop("calibration_points", [])
        records[domain] = record
    for domain, record in records.items():
        if record["kind"] == "absent":
            atomic_write_json(models / f"{domain}.json", {"kind": "constant", "value": 0.0})
    atomic_write_json(ws.work / "distill" / "validation.json", records)
    atomic_write_json(ws.work / "distill" / "calibration_points.json", points)
    atomic_write_json(ws.work / "distill" / "thresholds.json", {d: r["threshold"] for d, r in records.items()})


def _distill_in_subprocesses(domains: list[str], by_domain: dict, cfg: CurateConfig, models: Path) -> dict[str, dict]:
    """Train each domain's classifier in its own fresh worker process (`executor.workers` at a time).

    Why not in this process: the fastText build we depend on sometimes stops with "Encountered
    NaN" once the process has run other native code, and its weights are not bit-identical
    between processes with different histories; a fresh process per domain keeps a domain's
    training independent of what ran before it. Each finished domain is saved at once
    (`records/<domain>.json` next to its model), so a rerun after a kill trains only the rest.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from rexbert.curate import distill

    records_dir = models.parent / "records"
    results: dict[str, dict] = {}
    todo = []
    for domain in domains:
        saved = records_dir / f"{domain}.json"
        if saved.is_file() and (models / f"{domain}.json").is_file():
            results[domain] = read_json(saved)
        else:
            todo.append(domain)
    context = multiprocessing.get_context("spawn")
    workers = max(1, min(cfg.executor.workers, len(todo) or 1))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {d: pool.submit(distill.distill_domain, d, *by_domain[d], cfg.distill, models) for d in todo}
        for domain, future in futures.items():
            results[domain] = future.result()
            atomic_write_json(records_dir / f"{domain}.json", results[domain])
    return results


def run_filter(ws: Workspace, cfg: CurateConfig) -> None:
    """Score every cleaned document of the filter-required domains and write kept/."""
    from rexbert.curate import steps

    ws.require("distill", "filter")
    thresholds = read_json(ws.work / "distill" / "thresholds.json")
    tasks = _count_rank_tasks(ws)
    comp = cfg.output.compression
    pipeline = [
        steps.RankShardReader(str(ws.work / "clean")),
        steps.RelevanceFilter(str(ws.work / "distill" / "models"), thresholds, cfg.domains.directly_selected,
                              cfg.distill.max_words,
                              exclusion_writer=steps.RejectWriter(str(ws.rejected), "relevance",
                                                                  str(ws.work / "counts" / "relevance"), comp,
                                                                  text_chars=cfg.output.rejected_text_chars)),
        steps.KeptWriter(str(ws.kept), str(ws.work / "counts" / "kept"), comp),
    ]
    _run_chain(cfg, [_executor(cfg, pipeline, tasks, ws.work / "logs" / "filter", "filter")])


def _count_rank_tasks(ws: Workspace) -> int:
    executor_json = ws.work / "logs" / "clean" / "executor.json"
    if executor_json.is_file():
        return int(read_json(executor_json)["world_size"])
    ranks = [int(p.stem) for p in (ws.work / "clean").glob("*.jsonl")]
    return max(ranks) + 1 if ranks else 1


def run_stats(ws: Workspace, cfg: CurateConfig) -> None:
    """stats.json, the domain figure, the calibration figure and report.md."""
    from rexbert.curate import report

    ws.require("filter", "stats")
    report.write_stats_and_report(ws, cfg)


STAGE_FUNCS = {
    "clean": lambda ws, cfg, inp: run_clean(ws, cfg, inp),
    "label": lambda ws, cfg, inp: run_label(ws, cfg),
    "audit": lambda ws, cfg, inp: run_audit(ws, cfg),
    "distill": lambda ws, cfg, inp: run_distill(ws, cfg),
    "filter": lambda ws, cfg, inp: run_filter(ws, cfg),
    "stats": lambda ws, cfg, inp: run_stats(ws, cfg),
}


def run_stage(ws: Workspace, cfg: CurateConfig, stage: str, input_dir: str | None, force: bool = False) -> bool:
    """Run one stage unless already done; returns True if it ran."""
    if ws.is_done(stage) and not force:
        log.info("curate: stage %s already finished, skipping", stage)
        return False
    if force:
        _reset_stage(ws, stage)
    start = time.perf_counter()
    log.info("curate: stage %s", stage)
    STAGE_FUNCS[stage](ws, cfg, input_dir)
    ws.mark_done(stage)
    ws.record_time(stage, time.perf_counter() - start)
    return True


def _reset_stage(ws: Workspace, stage: str) -> None:
    """Forget a stage's completion (and, for executor stages, its task markers) so it reruns."""
    ws.marker(stage).unlink(missing_ok=True)
    if STAGES.index(stage) <= STAGES.index("distill"):
        shutil.rmtree(ws.work / "distill" / "records", ignore_errors=True)  # classifiers must be retrained
    if stage == "clean":
        for name in ("clean", "minhash_buckets", "minhash_cluster", "dedup_filter"):
            shutil.rmtree(ws.work / "logs" / name, ignore_errors=True)
    elif stage == "filter":
        shutil.rmtree(ws.work / "logs" / "filter", ignore_errors=True)
    # later stages depend on this one
    for later in STAGES[STAGES.index(stage) + 1:]:
        ws.marker(later).unlink(missing_ok=True)
        if later == "filter":
            shutil.rmtree(ws.work / "logs" / "filter", ignore_errors=True)


def run_all(ws: Workspace, cfg: CurateConfig, input_dir: str | None, stages: tuple[str, ...] = STAGES) -> dict[str, Any]:
    """Run the stages in order, skipping finished ones."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ran = {}
    for stage in stages:
        ran[stage] = run_stage(ws, cfg, stage, input_dir)
    return ran
