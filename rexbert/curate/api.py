"""The typed entry point of the curation stage: `curate(cfg, inputs, out, ...) -> CurateResult`.

    from rexbert import curate
    from rexbert.curate.config import CurateConfig
    from rexbert.sources.documents import DocumentInput

    result = curate(CurateConfig(), [DocumentInput(paths=["my/products.jsonl"], text_fields=["title", "description"],
                                                   id_field="sku", domain="ecommerce")], "curated")
    result.kept, result.report, result.documents_kept

The CLI (`rexbert curate`), the Python API and `rexbert run` all call `curate` (or, for one
stage, `curate(..., stage="distill")`, and `evaluate` for `rexbert curate evaluate`); every
setting, its default, bounds and help text live on `CurateConfig` alone.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rexbert import outputs
from rexbert.curate.config import CurateConfig
from rexbert.errors import UserError
from rexbert.sources.documents import DocumentInput

OUTPUT_KIND = "curate"

log = logging.getLogger(__name__)

__all__ = ["CurateConfig", "CurateResult", "DocumentInput", "curate", "evaluate", "saved_config"]


@dataclass(frozen=True)
class CurateResult:
    """A curation output folder: where everything is, and the key counts of `stats.json`.

    `pending` is True when cluster jobs were queued (Slurm) and the same call must be repeated
    once they have finished; the counts are then those of an unfinished curation (zero).
    """

    out: Path
    pending: bool = False
    ran: tuple[str, ...] = ()  # the stages this call ran (finished ones are skipped)
    counts: dict[str, Any] = field(default_factory=dict, repr=False)  # stats.json as read

    @classmethod
    def at(cls, out: str | Path) -> CurateResult:
        """The curation in `out` as it stands (its counts once stats.json exists)."""
        from rexbert.fileio import read_json

        out = Path(out)
        stats = out / "stats.json"
        return cls(out, counts=read_json(stats) if stats.is_file() else {})

    @property
    def kept(self) -> Path:
        """`kept/<domain>/<rank>.jsonl`: text, id, domain, url and the scores that kept each document."""
        return self.out / "kept"

    @property
    def rejected(self) -> Path:
        """`rejected/<stage>/<rank>.jsonl`: every dropped document with its stage and reason."""
        return self.out / "rejected"

    @property
    def stats(self) -> Path:
        """`stats.json`: counts per domain, stage and reason, skipped stages, warnings."""
        return self.out / "stats.json"

    @property
    def report(self) -> Path:
        """`report.md`, the curation report (its figures beside it)."""
        return self.out / "report.md"

    @property
    def report_html(self) -> Path:
        """The same report as one HTML page."""
        return self.out / "report.html"

    @property
    def config(self) -> Path:
        """`config.yaml`: the config the curation ran with."""
        return self.out / "config.yaml"

    @property
    def evaluation(self) -> Path:
        """`evaluation.json`: quality bars against a truth file (written when one was given)."""
        return self.out / "evaluation.json"

    @property
    def documents_read(self) -> int:
        """Records read (kept + dropped)."""
        return int(self.counts.get("documents_read", 0))

    @property
    def documents_kept(self) -> int:
        """Documents in kept/."""
        return int(self.counts.get("documents_kept", 0))

    @property
    def documents_dropped(self) -> int:
        """Documents in rejected/."""
        return int(self.counts.get("documents_dropped", 0))

    @property
    def tokens_kept(self) -> int:
        """Word-level tokens in kept/ (see stats.json `token_definition`)."""
        return int(self.counts.get("tokens_kept", 0))

    @property
    def kept_by_domain(self) -> dict[str, int]:
        """Kept documents per curated domain."""
        return {d: int(r["documents"]) for d, r in self.counts.get("domains", {}).items()}

    @property
    def skipped_stages(self) -> dict[str, str]:
        """Stage → why it had nothing to do (e.g. no domain needs relevance filtering)."""
        return dict(self.counts.get("skipped_stages", {}))

    @property
    def warnings(self) -> list[str]:
        """What the report warns about: a likely domain typo, empty input files."""
        return list(self.counts.get("warnings", []))


def saved_config(out: str | Path) -> dict[str, Any] | None:
    """The config an earlier curation in `out` ran with (a rerun without a config uses it)."""
    from rexbert.config.base import read_yaml

    path = Path(out) / "config.yaml"
    return read_yaml(path) if path.is_file() and outputs.owner_kind(out) == OUTPUT_KIND else None


def _saved_inputs(out: Path) -> tuple[list[DocumentInput], bool] | None:
    from rexbert.curate.pipeline import Workspace

    saved = Workspace(out).saved_run() if outputs.owner_kind(out) == OUTPUT_KIND else None
    if saved is None:
        return None
    return [DocumentInput.model_validate(spec) for spec in saved["inputs"]], bool(saved["relevance"])


def _hub_input(out: Path, value: str, cfg: CurateConfig) -> str:
    """A hub id (`m-a-p/FineFineWeb`) as a local folder: only the declared domains are fetched."""
    from rexbert.sources.hub import download_hub_folder

    patterns = [f"{d}/*" for d in (*cfg.domains.filter_required, *cfg.domains.directly_selected)]
    return str(download_hub_folder(value, out / "hub_input" / value.replace("/", "--"), patterns))


def _absolute(spec: DocumentInput, out: Path, cfg: CurateConfig) -> DocumentInput:
    """`spec` with absolute paths (NAME= kept), so that every record names its file one way."""
    from rexbert.sources.documents import split_named
    from rexbert.sources.hub import looks_like_hub_id

    paths = []
    for value in spec.paths:
        name, path = split_named(value)
        local = _hub_input(out, str(path), cfg) if looks_like_hub_id(path) else str(path.resolve())
        paths.append(f"{name}={local}" if name else local)
    return spec.model_copy(update={"paths": paths})


def _settings(cfg: CurateConfig, inputs: list[DocumentInput], out: Path, relevance: bool):
    """The run's settings: the inputs given, or those a finished clean stage in `out` used."""
    from rexbert.curate.pipeline import RunSettings

    saved = _saved_inputs(out)
    if not inputs:
        if saved is None:
            return RunSettings(cfg, (), relevance)
        inputs, relevance = saved[0], saved[1] and relevance
    specs = tuple(DocumentInput.model_validate(spec) for spec in inputs)
    return RunSettings(cfg, tuple(_absolute(spec, out, cfg) for spec in specs), relevance)


def _check_local_paths(inputs: list[DocumentInput]) -> None:
    """A missing input file or folder is an error before the output folder is created."""
    from rexbert.sources.documents import list_files, split_named
    from rexbert.sources.hub import looks_like_hub_id

    for spec in map(DocumentInput.model_validate, inputs):
        if not any(looks_like_hub_id(split_named(value)[1]) for value in spec.paths):
            list_files(spec)


def _check_domains(run) -> None:
    from rexbert.curate.pipeline import named_domains

    domains = run.cfg.domains
    if not domains.filter_required and not domains.directly_selected and not named_domains(run.inputs):
        raise UserError("no domain to curate: declare domains.filter_required or domains.directly_selected in the "
                        "config, or name the input's domain with --domain")


def curate(cfg: CurateConfig, inputs: list[DocumentInput], out: str | Path, truth: str | Path | None = None,
           relevance: bool = True, stage: str | None = None, force: bool = False) -> CurateResult:
    """Curate `inputs` into `out` (a new or empty folder, or an earlier curation to continue).

    `inputs` may be empty to continue a curation whose clean stage finished (its input is
    remembered). `relevance=False` keeps cleaning and dedup only. `stage` runs one stage (the
    stages before it must have finished; `force` reruns it and forgets the stages after it).
    `truth` (a demo truth.jsonl) adds the quality bars to the report at the end. Files and
    folders the config names are checked before anything is written.
    """
    from rexbert.curate import pipeline

    if stage is not None and stage not in pipeline.STAGES:
        raise UserError(f"unknown curation stage {stage!r}; use one of {', '.join(pipeline.STAGES)}")
    out = Path(out)
    pipeline.check_config_files(cfg, relevance)
    _check_local_paths(inputs)
    if not inputs and stage in (None, "clean") and _saved_inputs(out) is None:
        raise UserError(f"--out {out}: no earlier curation there has read its input; pass --input with the documents to curate")
    outputs.claim(out, OUTPUT_KIND)
    ws = pipeline.Workspace(out)
    try:
        run = _settings(cfg, list(inputs), out, relevance)
        _check_domains(run)
        if stage is None:
            ran = tuple(s for s, did in pipeline.run_all(ws, run).items() if did)
        else:
            ran = (stage,) if pipeline.run_stage(ws, run, stage, force=force) else ()
    except pipeline.JobsSubmitted:
        log.info("curate: cluster jobs queued; run the same command again when they have finished")
        return CurateResult(out, pending=True)
    finally:
        outputs.seal(out)
    if truth is not None and ws.is_done("stats"):
        evaluate(out, truth)
    return dataclasses.replace(CurateResult.at(out), ran=ran)


def evaluate(out: str | Path, truth: str | Path) -> CurateResult:
    """Measure a finished curation against a truth file and add the section to its report."""
    from rexbert.curate import report
    from rexbert.curate.config import config_from_dict
    from rexbert.curate.pipeline import Workspace

    out = Path(out)
    if outputs.owner_kind(out) != OUTPUT_KIND:
        raise UserError(f"--out {out}: not a curation output folder; pass the --out of a finished `rexbert curate`")
    ws = Workspace(out)
    ws.require("stats", "evaluate")
    cfg = config_from_dict(saved_config(out) or {}, str(out / "config.yaml"))
    outputs.claim(out, OUTPUT_KIND)
    try:
        report.evaluate_against_truth(ws, cfg, truth)
        report.write_stats_and_report(ws, cfg)
    finally:
        outputs.seal(out)
    return CurateResult.at(out)
