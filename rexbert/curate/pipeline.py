"""The curation stages and their order: clean → label → audit → distill → filter → stats.

Output folder:
    kept/<domain>/<rank>.jsonl      kept documents: text, id, domain, url + the scores that kept them
    rejected/<stage>/<rank>.jsonl   every dropped document with `stage` and `reason`
    stats.json, report.md, report.html, domain_distribution.png, calibration.png
    config.yaml                     the config the finished stages ran with
    timings.json                    wall time per stage (the only file that differs between runs)
    work/                           intermediate files, datatrove logs and completion markers

`clean` and `filter` run on datatrove executors (local, Slurm, Ray), one task per input file by
default, with per-task completion markers; the other stages work on the sample only. A stage
with nothing to do (no domain needs relevance filtering, or no document of one survived
cleaning) is recorded as skipped, with the reason, and the report says it.

Each finished stage leaves `work/stages/<stage>.done` holding the settings it ran with (its
config sections and those of the stages before it; for `clean` also the input and the
relevance switch), so a rerun skips finished stages, and datatrove skips finished tasks inside
an interrupted stage: killing the run at any moment loses no finished work, and every output
file is rewritten whole by the task that owns it, so the final output is the same. A rerun
whose settings differ from those of a finished stage is refused with what differs; one that
differs from an unfinished stage's earlier attempt (a run that failed or was killed) starts
that stage afresh, so a corrected command on the same --out just works.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.executor import LocalPipelineExecutor

from rexbert import outputs
from rexbert.config.flags import changed_values
from rexbert.curate.config import CurateConfig
from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json, atomic_write_text, iter_jsonl, read_json, write_jsonl
from rexbert.sources.documents import DocumentInput, list_files, split_named

log = logging.getLogger(__name__)

STAGES = ("clean", "label", "audit", "distill", "filter", "stats")
# The config sections whose values each stage's output depends on. `executor` is absent on
# purpose: where a stage runs does not change what it produces.
STAGE_SECTIONS = {"clean": ("seed", "domains", "input", "cleaning", "sampling", "output"),
                  "label": ("labelling",), "audit": ("audit",), "distill": ("distill",),
                  "filter": (), "stats": ()}
RELEVANCE_STAGES = ("label", "audit", "distill")


class JobsSubmitted(Exception):
    """A cluster executor queued the stage's tasks; rerun the command when they have finished."""


# --------------------------------------------------------------------------- what to curate

@dataclass(frozen=True)
class RunSettings:
    """Everything that decides a curation's output: the config, the input, the relevance switch."""

    cfg: CurateConfig
    inputs: tuple[DocumentInput, ...]
    relevance: bool = True

    def upto(self, stage: str) -> dict[str, Any]:
        """The settings `stage` depends on: its config sections and those of earlier stages."""
        config = self.cfg.model_dump(mode="json")
        sections = [name for s in STAGES[: STAGES.index(stage) + 1] for name in STAGE_SECTIONS[s]]
        settings = {name: config[name] for name in sections}
        settings["inputs"] = [spec.model_dump(mode="json") for spec in self.inputs]
        settings["relevance"] = self.relevance
        return settings


@dataclass(frozen=True)
class DomainPlan:
    """How each domain is curated.

    `filter_required`: relevance-filtered (empty with relevance off); `direct`: kept after
    cleaning and dedup; `undeclared`: named on the input (--domain, NAME=PATH) but declared by
    neither list of the config, curated as direct.
    """

    filter_required: tuple[str, ...]
    direct: tuple[str, ...]
    undeclared: tuple[str, ...]
    relevance: bool

    @property
    def selected(self) -> tuple[str, ...]:
        """Every domain whose documents are curated."""
        return self.filter_required + self.direct


def named_domains(inputs: tuple[DocumentInput, ...]) -> list[str]:
    """Domains the input names itself: `--domain NAME` and `NAME=PATH`."""
    names = [spec.domain for spec in inputs if spec.domain]
    names += [name for spec in inputs for name, _ in map(split_named, spec.paths) if name]
    return list(dict.fromkeys(names))


def plan_domains(run: RunSettings) -> DomainPlan:
    """The domain plan of a run."""
    domains = run.cfg.domains
    declared = set(domains.filter_required) | set(domains.directly_selected)
    undeclared = tuple(d for d in named_domains(run.inputs) if d not in declared)
    if not run.relevance:
        return DomainPlan((), tuple(domains.filter_required) + tuple(domains.directly_selected) + undeclared,
                          undeclared, False)
    return DomainPlan(tuple(domains.filter_required), tuple(domains.directly_selected) + undeclared, undeclared, True)


@dataclass(frozen=True)
class InputListing:
    """The input files to read, and those the domain focus leaves out."""

    files: list[tuple[int, str, str | None]]  # (input index, path, domain the path implies)
    not_selected: dict[str, int]  # domain → files not read
    path_domains: set[str]  # domains the paths imply


def list_input(run: RunSettings, plan: DomainPlan) -> InputListing:
    """Every input file, in a stable order; files of an unselected domain are not read.

    A file's domain is known from its path unless its records name it (`domain_field`); a
    file with no domain at all is an error before any work.
    """
    files, not_selected, path_domains = [], Counter(), set()
    for index, spec in enumerate(run.inputs):
        for path, implied in list_files(spec):
            domain = spec.domain or implied
            if domain is None and spec.domain_field is None:
                raise UserError(f"{path}: no domain for its documents; pass --domain NAME (e.g. --domain ecommerce) or "
                                "--domain-field FIELD, or lay files out as <domain>/<domain>_000000.jsonl")
            if domain is not None and spec.domain_field is None:
                path_domains.add(domain)
                if domain not in plan.selected:
                    not_selected[domain] += 1
                    continue
            files.append((index, str(path), implied))
    if not files:
        shown = ", ".join(sorted(not_selected)[:8])
        raise UserError(f"no input file holds a domain this curation selects: the input has {shown}; the config "
                        f"declares {', '.join(run.cfg.domains.filter_required + run.cfg.domains.directly_selected) or 'none'}"
                        " — fix domains in the config, or name the input's domain with --domain")
    return InputListing(files, dict(sorted(not_selected.items())), path_domains)


def domain_warnings(run: RunSettings, plan: DomainPlan, seen: set[str]) -> list[str]:
    """A declared domain absent from an input that holds undeclared ones is most likely a typo."""
    domains = run.cfg.domains
    declared = list(domains.filter_required) + list(domains.directly_selected)
    absent = [d for d in declared if d not in seen]
    unknown = sorted(seen - set(declared) - set(plan.undeclared) - {"(none)"})
    if not absent or not unknown:
        return []
    guesses = [f"{close[0]} for {d}" for d in absent if (close := difflib.get_close_matches(d, unknown, 1, 0.7))]
    hint = f" (did you mean {', '.join(guesses)}?)" if guesses else ""
    return [f"config domain(s) {_few(absent)} are not in the input, which holds domain(s) {_few(unknown)} that the "
            f"config does not declare{hint}; check the domains section of the config for a misspelling"]


def _few(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


# --------------------------------------------------------------------------- the output folder

@dataclass
class Workspace:
    """Paths inside one curation output folder, and the record of which stages ran how."""

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

    def marker(self, stage: str, kind: str = "done") -> Path:
        """`work/stages/<stage>.done` (finished) or `.started` (attempted with these settings)."""
        return self.work / "stages" / f"{stage}.{kind}"

    def is_done(self, stage: str) -> bool:
        """Whether `stage` finished."""
        return self.marker(stage).is_file()

    def skipped(self, stage: str) -> str | None:
        """Why a finished stage had nothing to do, or None when it ran."""
        return read_json(self.marker(stage)).get("skipped") if self.is_done(stage) else None

    def require(self, stage: str, for_stage: str) -> None:
        """UserError unless `stage` finished."""
        if not self.is_done(stage):
            raise UserError(f"{self.out}: stage '{stage}' has not finished; run `rexbert curate {stage} --out {self.out}` "
                            f"(or the whole `rexbert curate --out {self.out}`) before '{for_stage}'")

    def record_time(self, stage: str, seconds: float) -> None:
        """Add one stage's wall time to timings.json."""
        path = self.out / "timings.json"
        timings = read_json(path) if path.is_file() else {}
        timings[stage] = round(seconds, 2)
        atomic_write_json(path, timings)

    def saved_run(self) -> dict[str, Any] | None:
        """The input and relevance switch the finished clean stage ran with (`work/input.json`)."""
        path = self.work / "input.json"
        return read_json(path) if path.is_file() else None


def _differences(old: Any, new: Any) -> list[str]:
    return [f"{key}: {_shown(a)} → {_shown(b)}" for key, a, b in changed_values(old, new)]


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def reconcile(ws: Workspace, run: RunSettings, forced: str | None = None) -> None:
    """Refuse settings that differ from a finished stage's; start afresh an unfinished stage
    whose earlier attempt had other settings. `forced` (and what follows it) is rerun anyway."""
    for stage in STAGES:
        if forced is not None and STAGES.index(stage) >= STAGES.index(forced):
            break
        wanted = run.upto(stage)
        if ws.is_done(stage):
            changed = _differences(read_json(ws.marker(stage))["settings"], wanted)
            if changed:
                raise UserError(f"{ws.out}: stage '{stage}' ran with other settings ({'; '.join(changed[:3])}); "
                                f"redo it with `rexbert curate {stage} --force`, then the rest with `rexbert curate` (same "
                                "--out and flags), or use a new --out")
            continue
        started = ws.marker(stage, "started")
        if started.is_file() and read_json(started)["settings"] != wanted:
            log.info("curate: stage %s was last attempted with other settings; starting it afresh", stage)
            reset_stage(ws, stage)
        return


def reset_stage(ws: Workspace, stage: str) -> None:
    """Forget `stage` and every stage after it, with the partial work a rerun must not reuse."""
    for later in STAGES[STAGES.index(stage):]:
        ws.marker(later).unlink(missing_ok=True)
        ws.marker(later, "started").unlink(missing_ok=True)
        for path in _stage_work(ws, later):
            outputs.remove(path)


def _stage_work(ws: Workspace, stage: str) -> list[Path]:
    work = ws.work
    return {
        "clean": [work / "logs" / n for n in ("clean", "minhash_buckets", "minhash_cluster", "dedup_filter")]
        + [ws.rejected / s for s in ("read", "language", "profanity", "quality", "dedup")]
        + [work / n for n in ("stage1", "clean", "minhash", "sample_candidates", "counts")],
        "label": [work / "label"], "audit": [work / "audit"], "distill": [work / "distill"],
        "filter": [work / "logs" / "filter", ws.kept, ws.rejected / "relevance", work / "counts" / "kept",
                   work / "counts" / "relevance"],
        "stats": [],
    }[stage]


# --------------------------------------------------------------------------- executors

@contextlib.contextmanager
def _console_to(path: Path):
    """Send datatrove's console output (loguru, through sys.stderr) to `path` meanwhile."""
    from datatrove.utils.logging import logger, setup_default_logger

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle, contextlib.redirect_stderr(handle):
        logger.remove()
        logger.add(handle, level="INFO")
        try:
            yield
        finally:
            logger.remove()
    setup_default_logger()


class QuietLocalExecutor(LocalPipelineExecutor):
    """datatrove's local executor, with what it prints (pipeline listings, per-task stats, the
    traceback of a failed task: ~190 lines for one truncated file) written to `console.log` in
    the stage's log folder, beside its per-task logs. The user sees rexbert's own progress lines
    and, when a task fails on bad input, one error line naming the file."""

    def __init__(self, *args, console_log: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.console_log = console_log

    def run(self):
        """Run the tasks with the console output in the log file."""
        with _console_to(Path(self.console_log)):
            return super().run()

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        # also here: with workers > 1 a task runs in a pool process with its own stderr
        with _console_to(Path(self.console_log)):
            return super()._run_for_rank(rank, local_rank, node_rank)


def _executor(cfg: CurateConfig, pipeline: list, tasks: int, logging_dir: Path, name: str, depends=None):
    """A datatrove executor of the configured kind."""
    kind = cfg.executor.kind
    if kind == "local":
        return QuietLocalExecutor(pipeline=pipeline, tasks=tasks, workers=min(cfg.executor.workers, tasks),
                                  logging_dir=str(logging_dir), depends=depends,
                                  console_log=str(logging_dir / "console.log"))
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


@contextlib.contextmanager
def _task_progress(executor, name: str, every_s: float = 1.0):
    """A bar (or lines) of the executor's finished tasks, counted from datatrove's completion
    markers by a watcher thread: it works whether tasks run here, in worker processes or on Ray."""
    import threading

    from rexbert.progress import Progress

    def finished() -> int:
        try:
            return executor.world_size - len(executor.get_incomplete_ranks(skip_completed=True))
        except OSError:  # the logging folder is being written; count again next time
            return progress.n

    progress = Progress(total=executor.world_size, initial=finished(), desc=f"curate {name}", unit="task")
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(every_s):
            progress.update(finished() - progress.n)

    watcher = threading.Thread(target=watch, name=f"rexbert-progress-{name}", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        progress.update(finished() - progress.n)
        progress.close()


def _run_chain(cfg: CurateConfig, executors: list) -> None:
    """Run executors in order (local/Ray block; Slurm queues them with dependencies)."""
    if cfg.executor.kind == "slurm":
        executors[-1].run()  # launches its `depends` chain first
        if any(e.get_incomplete_ranks() for e in executors):
            raise JobsSubmitted("Slurm jobs queued")
        return
    for executor in executors:
        with _task_progress(executor, Path(executor.logging_dir.path).name):
            executor.run()
        missing = executor.get_incomplete_ranks()
        if missing:
            raise UserError(f"{executor.logging_dir.path}: tasks {missing[:5]} did not finish; see the logs there and rerun")


# --------------------------------------------------------------------------- stages

def run_clean(ws: Workspace, run: RunSettings) -> str | None:
    """Read → boilerplate lines → language ID → profanity → quality → MinHash near-dup removal
    (→ sample candidates of the relevance-filtered domains)."""
    from rexbert.curate import steps

    cfg, plan = run.cfg, plan_domains(run)
    listing = list_input(run, plan)
    for warning in domain_warnings(run, plan, listing.path_domains):
        log.warning("curate: %s", warning)
    atomic_write_json(ws.work / "plan.json", {"filter_required": list(plan.filter_required), "direct": list(plan.direct),
                                              "undeclared": list(plan.undeclared), "relevance": plan.relevance})
    tasks = cfg.executor.tasks or len(listing.files)
    reader = steps.CorpusReader(list(run.inputs), listing.files, list(plan.selected), _rejects(ws, cfg, "read"),
                                str(ws.work / "counts" / "files"), cfg.input.max_doc_bytes, cfg.input.min_chars)
    pass1 = [reader, *_cleaning_steps(ws, cfg), steps.intermediate_writer(str(ws.work / "stage1"))]
    tail = []
    if plan.filter_required:
        tail.append(steps.SampleCandidates(str(ws.work / "sample_candidates"), list(plan.filter_required),
                                           cfg.sampling.per_domain, cfg.sampling.seed))
    tail.append(steps.intermediate_writer(str(ws.work / "clean")))
    if cfg.cleaning.dedup.enabled:
        _run_chain(cfg, _dedup_chain(ws, cfg, pass1, tail, tasks))
    else:
        _run_chain(cfg, [_executor(cfg, pass1 + tail, tasks, ws.work / "logs" / "clean", "clean")])
    _record_domain_focus(ws, run, plan, listing)
    return None


def _rejects(ws: Workspace, cfg: CurateConfig, stage: str, reason: str | None = None):
    from rexbert.curate.steps import RejectWriter

    return RejectWriter(str(ws.rejected), stage, str(ws.work / "counts" / stage), cfg.output.compression,
                        default_reason=reason, text_chars=cfg.output.rejected_text_chars)


def _cleaning_steps(ws: Workspace, cfg: CurateConfig) -> list:
    from rexbert.curate import steps

    cleaning, found = cfg.cleaning, []
    if cleaning.quality.enabled and cleaning.quality.remove_boilerplate_lines:
        found.append(steps.BoilerplateLineRemover())
    if cleaning.language.enabled:
        found.append(steps.LanguageFilter(cleaning.language.languages, cleaning.language.min_score,
                                          cleaning.language.model_path, exclusion_writer=_rejects(ws, cfg, "language")))
    # profanity before quality: adult spam pages are often list-like and would otherwise be
    # dropped as low quality, hiding what they are from the statistics
    if cleaning.profanity.enabled:
        found.append(steps.ProfanityFilter(cleaning.profanity, exclusion_writer=_rejects(ws, cfg, "profanity")))
    if cleaning.quality.enabled:
        found.append(steps.QualityFilter(cleaning.quality, exclusion_writer=_rejects(ws, cfg, "quality")))
    return found


def _dedup_chain(ws: Workspace, cfg: CurateConfig, pass1: list, tail: list, tasks: int) -> list:
    """datatrove's four MinHash steps: signatures → buckets → clusters → filter (then `tail`)."""
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.utils.hashing import HashConfig

    from rexbert.curate import steps

    dd, work = cfg.cleaning.dedup, ws.work
    minhash = MinhashConfig(n_grams=dd.n_grams, num_buckets=dd.num_buckets, hashes_per_bucket=dd.hashes_per_bucket,
                            seed=dd.seed, hash_config=HashConfig(precision=64))
    sigs, buckets, clusters = work / "minhash" / "signatures", work / "minhash" / "buckets", work / "minhash" / "remove"
    signatures = MinhashDedupSignature(output_folder=str(sigs), config=minhash, language=steps.RegexWordTokenizer())
    e1 = _executor(cfg, [*pass1, signatures], tasks, work / "logs" / "clean", "clean")
    e2 = _executor(cfg, [MinhashDedupBuckets(input_folder=str(sigs), output_folder=str(buckets), config=minhash)],
                   dd.num_buckets, work / "logs" / "minhash_buckets", "minhash-buckets", depends=e1)
    e3 = _executor(cfg, [MinhashDedupCluster(input_folder=str(buckets), output_folder=str(clusters), config=minhash)],
                   1, work / "logs" / "minhash_cluster", "minhash-cluster", depends=e2)
    e4 = _executor(cfg, [steps.RankShardReader(str(work / "stage1")),
                         MinhashDedupFilter(input_folder=str(clusters), exclusion_writer=_rejects(ws, cfg, "dedup", "near_duplicate")),
                         *tail], tasks, work / "logs" / "dedup_filter", "dedup-filter", depends=e3)
    return [e1, e2, e3, e4]


def _record_domain_focus(ws: Workspace, run: RunSettings, plan: DomainPlan, listing: InputListing) -> None:
    """What was read, what the domain focus left out, empty files and domain typos (for the report)."""
    records: Counter[str] = Counter()
    seen = set(listing.path_domains)
    for path in sorted((ws.work / "counts" / "files").glob("*.json")):
        counts = read_json(path)
        records.update(counts["files"])
        seen |= set(counts["domains"])
    empty = sorted(path for _, path, _ in listing.files if not records.get(path))
    warnings = domain_warnings(run, plan, seen)
    warnings += [f"{path}: empty file (no records)" for path in empty]
    if not sum(records.values()):
        warnings.append(f"the input holds no records ({len(listing.files)} file(s) read)")
    logged_at_start = domain_warnings(run, plan, listing.path_domains)
    for warning in warnings:
        if warning not in logged_at_start:
            log.warning("curate: %s", warning)
    declared = run.cfg.domains.filter_required + run.cfg.domains.directly_selected
    atomic_write_json(ws.work / "domain_focus.json", {
        "declared_missing_from_input": [d for d in declared if d not in seen],
        "not_selected": listing.not_selected, "empty_files": empty, "warnings": warnings,
    })


def _skip_relevance(ws: Workspace, plan: DomainPlan, run: RunSettings) -> str | None:
    """Why the relevance stages have nothing to do, or None when they have."""
    if not plan.relevance:
        return "relevance filtering is off (--no-relevance): every domain is kept after cleaning and dedup"
    if not plan.filter_required:
        return "no domain needs relevance filtering (domains.filter_required is empty)"
    focus = read_json(ws.work / "domain_focus.json")
    present = [d for d in plan.filter_required if d not in focus["declared_missing_from_input"]]
    if not present:
        return (f"none of the filter-required domains ({_few(list(plan.filter_required))}) is in the input")
    return None


def run_label(ws: Workspace, run: RunSettings) -> str | None:
    """Merge the stratified sample and label it with the primary labeller (or say why not)."""
    from rexbert.curate import audit
    from rexbert.curate.labellers.base import build_labeller, load_prompt
    from rexbert.curate.labellers.openai_chat import is_unparsed

    ws.require("clean", "label")
    cfg, plan = run.cfg, plan_domains(run)
    skip = _skip_relevance(ws, plan, run)
    if skip:
        return skip
    sample = audit.merge_sample(ws.work / "sample_candidates", plan.filter_required, cfg.sampling.per_domain)
    if not sample:
        return (f"no document of the filter-required domains ({_few(list(plan.filter_required))}) survived cleaning, "
                "so there is nothing to label; their documents are in rejected/")
    write_jsonl(ws.work / "label" / "sample.jsonl", sample)
    items = audit.items_of(sample)
    gold, seeds = audit.gold_from_seeds(cfg.labelling, cfg.seed, sample, [ws.work / "clean"])
    labeller = build_labeller(cfg.labelling.labeller, load_prompt(cfg.labelling.prompt), ws.work / "label_cache.sqlite", cfg.seed)
    try:
        labels, seeds["use"] = audit.label_sample(labeller, items, gold)
    finally:
        labeller.close()
    audit.write_labels(ws.work / "label" / "initial_labels.jsonl", items, labels)
    per_domain: dict[str, dict[str, int]] = {}
    for item, lab in zip(items, labels, strict=True):
        row = per_domain.setdefault(item.domain, {"sampled": 0, "relevant": 0, "unparsed": 0})
        row["sampled"] += 1
        row["unparsed"] += int(is_unparsed(lab))
        row["relevant"] += int(lab.label)
    atomic_write_json(ws.work / "label" / "summary.json", {
        "labeller": labeller.identity(), "prompt": cfg.labelling.prompt, "usage": labeller.usage, "domains": per_domain,
        **({"seeds": seeds} if gold else {})})
    return None


def _build_labellers(ws: Workspace, cfg: CurateConfig):
    from rexbert.curate.labellers.base import build_labeller, load_prompt

    prompt = load_prompt(cfg.labelling.prompt)
    primary = build_labeller(cfg.labelling.labeller, prompt, ws.work / "label_cache.sqlite", cfg.seed)
    auditor_prompt = load_prompt(cfg.labelling.prompt)
    auditor = build_labeller(cfg.labelling.auditor, auditor_prompt, ws.work / "label_cache.sqlite", cfg.seed)
    return primary, auditor


def run_audit(ws: Workspace, run: RunSettings) -> str | None:
    """The QA audit loop over the labelled sample; writes the final training labels."""
    from rexbert.curate import audit

    ws.require("label", "audit")
    if ws.skipped("label"):
        return ws.skipped("label")
    cfg = run.cfg
    sample = [row for _, row in iter_jsonl(ws.work / "label" / "sample.jsonl")]
    items = audit.items_of(sample)
    initial_by_id = audit.read_labels(ws.work / "label" / "initial_labels.jsonl")
    initial = [initial_by_id[it.id] for it in items]
    gold, _ = audit.gold_from_seeds(cfg.labelling, cfg.seed, sample, [ws.work / "clean"])
    primary, auditor = _build_labellers(ws, cfg)
    try:
        final, _rounds, summary = audit.run_audit(items, initial, primary, auditor, cfg.audit,
                                                  ws.work / "audit" / "rounds.jsonl", gold=gold)
    finally:
        primary.close()
        auditor.close()
    audit.write_labels(ws.work / "audit" / "final_labels.jsonl", items, final)
    atomic_write_json(ws.work / "audit" / "summary.json", summary)
    return None


def run_distill(ws: Workspace, run: RunSettings) -> str | None:
    """Train and validate one fastText classifier per filter-required domain."""
    from rexbert.curate import audit
    from rexbert.curate.labellers.openai_chat import is_unparsed

    ws.require("audit", "distill")
    if ws.skipped("audit"):
        return ws.skipped("audit")
    cfg, plan = run.cfg, plan_domains(run)
    labels = audit.read_labels(ws.work / "audit" / "final_labels.jsonl")
    by_domain: dict[str, tuple[list[str], list[bool]]] = {}
    for _, row in iter_jsonl(ws.work / "label" / "sample.jsonl"):
        label = labels[row["id"]]
        if is_unparsed(label):
            continue  # no judgement was made: neither a positive nor a negative example
        texts, ys = by_domain.setdefault(row["domain"], ([], []))
        texts.append(row["text"])
        ys.append(label.label)
    models = ws.work / "distill" / "models"
    models.mkdir(parents=True, exist_ok=True)
    trained = _distill_domains([d for d in plan.filter_required if d in by_domain], by_domain, cfg, models)
    records, points = {}, {}
    for domain in plan.filter_required:
        if domain not in by_domain:
            records[domain] = {"domain": domain, "labelled": 0, "kind": "absent", "threshold": 1.0,
                               "threshold_note": "no documents of this domain reached labelling"}
            atomic_write_json(models / f"{domain}.json", {"kind": "constant", "value": 0.0})
            continue
        record = dict(trained[domain])
        points[domain] = record.pop("calibration_points", [])
        records[domain] = record
    atomic_write_json(ws.work / "distill" / "validation.json", records)
    atomic_write_json(ws.work / "distill" / "calibration_points.json", points)
    atomic_write_json(ws.work / "distill" / "thresholds.json", {d: r["threshold"] for d, r in records.items()})
    return None


def _distill_domains(domains: list[str], by_domain: dict, cfg: CurateConfig, models: Path) -> dict[str, dict]:
    """Distill each domain (`executor.workers` at a time); each finished domain is saved at once
    (`records/<domain>.json` beside its model), so a rerun after a kill trains only the rest.

    Threads suffice: every fastText model is fitted in a fresh interpreter (see
    `rexbert.curate.distill`), and what runs here is I/O and small NumPy work.
    """
    from concurrent.futures import ThreadPoolExecutor

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

    def one(domain: str) -> None:
        results[domain] = distill.distill_domain(domain, *by_domain[domain], cfg.distill, models)
        atomic_write_json(records_dir / f"{domain}.json", results[domain])
        log.info("curate: distilled %s (%s)", domain, results[domain]["kind"])

    with ThreadPoolExecutor(max_workers=max(1, min(cfg.executor.workers, len(todo) or 1))) as pool:
        for future in [pool.submit(one, d) for d in todo]:
            future.result()
    return results


def run_filter(ws: Workspace, run: RunSettings) -> str | None:
    """Score every cleaned document of the relevance-filtered domains and write kept/."""
    from rexbert.curate import steps

    ws.require("distill", "filter")
    cfg, plan = run.cfg, plan_domains(run)
    scored = () if ws.skipped("distill") else plan.filter_required
    thresholds = read_json(ws.work / "distill" / "thresholds.json") if scored else {}
    pipeline = [
        steps.RankShardReader(str(ws.work / "clean")),
        steps.RelevanceFilter(str(ws.work / "distill" / "models"), thresholds, list(scored), cfg.distill.max_words,
                              exclusion_writer=_rejects(ws, cfg, "relevance")),
        steps.KeptWriter(str(ws.kept), str(ws.work / "counts" / "kept"), cfg.output.compression),
    ]
    _run_chain(cfg, [_executor(cfg, pipeline, _count_rank_tasks(ws), ws.work / "logs" / "filter", "filter")])
    return None


def _count_rank_tasks(ws: Workspace) -> int:
    executor_json = ws.work / "logs" / "clean" / "executor.json"
    if executor_json.is_file():
        return int(read_json(executor_json)["world_size"])
    ranks = [int(p.stem) for p in (ws.work / "clean").glob("*.jsonl")]
    return max(ranks) + 1 if ranks else 1


def run_stats(ws: Workspace, run: RunSettings) -> str | None:
    """stats.json, the figures and the report (report.md and report.html)."""
    from rexbert.curate import report

    ws.require("filter", "stats")
    report.write_stats_and_report(ws, run.cfg)
    return None


STAGE_FUNCS = {"clean": run_clean, "label": run_label, "audit": run_audit, "distill": run_distill,
               "filter": run_filter, "stats": run_stats}


# --------------------------------------------------------------------------- running

def check_config_files(cfg: CurateConfig, relevance: bool) -> None:
    """Every file and folder the config names exists: one line naming the key, before any work.

    Keys ending in `_path` name a file, `model_dir` a folder; a labeller's block counts only for
    the backend it is set to, and the labelling keys only when relevance filtering can run.
    """
    labelling = relevance and bool(cfg.domains.filter_required)
    for key, value, folder in _named_paths(cfg.model_dump(), "", labelling):
        path = Path(value)
        if not (path.is_dir() if folder else path.is_file()):
            kind = "folder" if folder else "file"
            raise UserError(f"curate config key '{key}': {kind} {value} not found; fix the path, or remove the key "
                            "to use the default")
    if labelling:
        from rexbert.curate.labellers.base import load_prompt

        load_prompt(cfg.labelling.prompt)


def _named_paths(data: dict[str, Any], prefix: str, labelling: bool):
    if "backend" in data and prefix.startswith("labelling."):
        data = {data["backend"]: data.get(data["backend"])}  # only the block the backend uses
    if data.get("enabled") is False:
        return  # a switched-off step reads none of its files
    for name, value in data.items():
        key = f"{prefix}{name}"
        if key == "labelling" and not labelling:
            continue
        if isinstance(value, dict):
            yield from _named_paths(value, f"{key}.", labelling)
        elif isinstance(value, str) and (name.endswith("_path") or name == "model_dir"):
            yield key, value, name == "model_dir"


def run_stage(ws: Workspace, run: RunSettings, stage: str, force: bool = False) -> bool:
    """Run one stage unless already done; returns True if it ran (or was recorded as skipped)."""
    if force:
        reset_stage(ws, stage)
    reconcile(ws, run, forced=stage if force else None)
    if ws.is_done(stage):
        log.info("curate: stage %s already finished, skipping", stage)
        return False
    atomic_write_json(ws.marker(stage, "started"), {"stage": stage, "settings": run.upto(stage)})
    start = time.perf_counter()
    log.info("curate: stage %s", stage)
    skipped = STAGE_FUNCS[stage](ws, run)
    if skipped:
        log.info("curate: stage %s skipped: %s", stage, skipped)
    atomic_write_json(ws.marker(stage), {"stage": stage, "settings": run.upto(stage), "skipped": skipped})
    atomic_write_text(ws.out / "config.yaml", run.cfg.to_yaml())
    if stage == "clean":
        atomic_write_json(ws.work / "input.json", {"inputs": [s.model_dump(mode="json") for s in run.inputs],
                                                   "relevance": run.relevance})
    ws.record_time(stage, time.perf_counter() - start)
    return True


def run_all(ws: Workspace, run: RunSettings, stages: tuple[str, ...] = STAGES) -> dict[str, bool]:
    """Run the stages in order, skipping finished ones, with a bar (or lines) over the stages;
    the executor stages show their tasks too (datatrove's own output is in their console.log)."""
    from rexbert.progress import Progress, quiet_library_bars

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quiet_library_bars()
    reconcile(ws, run)
    ran = {}
    with Progress(total=len(stages), desc="curate", unit="stage", rate=False) as progress:
        for stage in stages:
            progress.update(0, detail=stage)
            ran[stage] = run_stage(ws, run, stage)
            progress.update(detail=f"{stage} done")
    return ran


def skipped_stages(ws: Workspace) -> dict[str, str]:
    """Stage → why it had nothing to do, for the finished stages that were skipped."""
    return {stage: reason for stage in STAGES if (reason := ws.skipped(stage))}

