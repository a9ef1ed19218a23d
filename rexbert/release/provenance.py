"""Where an exported model came from, read from the files the other stages wrote.

`trace(checkpoint)` follows a rexbert checkpoint back through its training:

    RUN/phase<k>_<name>/checkpoint-<step>      the checkpoint; RUN/config.yaml is the recipe,
                                               RUN/metrics.csv its losses
    phases[j].init_from: previous              → phase j−1 of the same run
    phases[j].init_from: <folder>              → another run's checkpoint (followed in turn), or
                                                 an `import-hf` checkpoint (the base model)
    phases[j].init_from: null                  → trained from scratch

and collects, per phase, the steps, tokens and sequence lengths actually trained and the last
losses; the data sources the phases drew from (the shard index's sources, their input paths, and
hub ids where a path lies in the hub cache or the data came through `rexbert curate` from one);
and the base model's hub id. Nothing here is required: a checkpoint without a run around it (or
whose run folder moved) simply has fewer facts, and the card says what is unknown.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rexbert.errors import UserError
from rexbert.fileio import read_json

log = logging.getLogger(__name__)

IMPORTED_KEY = "imported_from"  # checkpoint.json of an `import-hf` folder: {"hub_id", "path"}
MAX_RUNS = 8  # runs followed through init_from (a chain longer than this is a loop)
_HUB_CACHE_DIR = re.compile(r"^(models|datasets)--([^/]+?)--(.+)$")
DEMO_KIND, CURATE_KIND = "demo-data", "curate"


@dataclass(frozen=True)
class PhaseFacts:
    """One training phase as it ran."""

    run: Path
    name: str
    steps: int
    total_steps: int
    tokens: int
    seq_len: int  # the packing length of the recipe
    longest: int | None  # the longest sequence it attended (longest document + [CLS]/[SEP], capped)
    batch_tokens: int
    lr: float
    masking_rate: float
    guided_share: float
    mixture: dict[str, float]
    end_mixture: dict[str, float] | None
    train_loss: float | None
    held_out: dict[str, tuple[float, float]]  # set → (loss, top-1 accuracy)

    @property
    def trained_length(self) -> int:
        """The longest sequence this phase trained on (its seq_len when the data is unknown)."""
        return self.longest if self.longest is not None else self.seq_len


@dataclass(frozen=True)
class SourceFacts:
    """A shard source the phases drew from: its size and where its documents came from."""

    name: str
    documents: int
    tokens: int
    inputs: tuple[str, ...]
    hub_ids: tuple[str, ...] = ()
    generated: bool = False  # written by `rexbert demo-data`
    curated: bool = False  # came through `rexbert curate`


@dataclass
class Provenance:
    """Everything known about how a checkpoint was trained."""

    phases: list[PhaseFacts] = field(default_factory=list)  # earliest first
    sources: list[SourceFacts] = field(default_factory=list)
    base_model: str | None = None  # hub id of the imported checkpoint it started from
    base_model_path: Path | None = None
    from_scratch: bool = False
    notes: list[str] = field(default_factory=list)  # facts that could not be read, one line each

    @property
    def trained_phases(self) -> list[PhaseFacts]:
        return [phase for phase in self.phases if phase.steps > 0]

    @property
    def max_trained_length(self) -> int | None:
        """The longest sequence any phase trained on."""
        lengths = [phase.trained_length for phase in self.trained_phases]
        return max(lengths) if lengths else None

    @property
    def hub_datasets(self) -> list[str]:
        return sorted({hub for source in self.sources for hub in source.hub_ids})


# ----------------------------------------------------------------------------- paths


def hub_id_from_path(path: str | Path) -> str | None:
    """`owner/name` when `path` lies in a hub cache folder (`models--owner--name/…`)."""
    for part in Path(path).parts:
        match = _HUB_CACHE_DIR.match(part)
        if match:
            return f"{match.group(2)}/{match.group(3)}"
    return None


def _owned_by(path: Path, kind: str) -> Path | None:
    """The rexbert output folder of `kind` holding `path`, if any."""
    from rexbert import outputs

    for folder in (path, *path.parents):
        try:
            if folder.is_dir() and outputs.owner_kind(folder) == kind:
                return folder
        except (UserError, OSError):
            return None
    return None


def imported_source(folder: Path) -> tuple[str | None, Path] | None:
    """(hub id, source folder) of an `import-hf` checkpoint, or None for any other folder."""
    from rexbert.model.checkpoint import MANIFEST

    manifest = folder / MANIFEST
    if not manifest.is_file():
        return None
    try:
        entry = read_json(manifest).get(IMPORTED_KEY)
    except (UserError, AttributeError):
        return None
    if not isinstance(entry, dict):
        return None
    source = Path(str(entry.get("path", "")))
    return entry.get("hub_id") or hub_id_from_path(source), source


# ----------------------------------------------------------------------------- runs


def _run_of(checkpoint: Path):
    """(run folder, recipe, phase index) of a training checkpoint, or None."""
    from rexbert.config import load_config
    from rexbert.train.config import PretrainConfig
    from rexbert.train.phase import phase_dir_name

    resolved = checkpoint.resolve()
    phase_dir, run_dir = resolved.parent, resolved.parent.parent
    if not (run_dir / "config.yaml").is_file():
        return None
    try:
        cfg = load_config(PretrainConfig, run_dir / "config.yaml")
    except UserError as err:
        log.warning("model card: %s", err)
        return None
    for index, phase in enumerate(cfg.phases):
        if phase_dir_name(index, phase) == phase_dir.name:
            return run_dir, cfg, index
    return None


def _init_folder(value: str, run_dir: Path) -> Path | None:
    """An `init_from` folder as the run saw it: relative to where it ran, or to the run."""
    for candidate in (Path(value), run_dir.parent / value, run_dir / value):
        if candidate.is_dir():
            return candidate
    return None


def trace(checkpoint: str | Path) -> Provenance:
    """What is known about how `checkpoint` was trained (see the module docstring)."""
    found = Provenance()
    current: Path | None = Path(checkpoint)
    for _ in range(MAX_RUNS):
        if current is None:
            break
        imported = imported_source(current)
        if imported is not None:
            found.base_model, found.base_model_path = imported
            break
        located = _run_of(current)
        if located is None:
            found.notes.append(f"{current} is not inside a `rexbert pretrain` run folder; its training is unknown")
            break
        run_dir, cfg, index = located
        phases, start = _lineage(cfg, index)
        found.phases[:0] = [_phase_facts(run_dir, cfg, j, current if j == index else None) for j in phases]
        _add_sources(found, run_dir, cfg, phases)
        if start is None:
            found.from_scratch = True
            break
        current = _init_folder(start, run_dir)
        if current is None:
            found.notes.append(f"the checkpoint phase {cfg.phases[phases[0]].name} started from ({start}) is gone")
    return found


def _lineage(cfg, index: int) -> tuple[list[int], str | None]:
    """Phase indexes from the one that started from elsewhere to `index`, and its init_from."""
    chain = [index]
    while cfg.phases[chain[0]].init_from == "previous" and chain[0] > 0:
        chain.insert(0, chain[0] - 1)
    return chain, cfg.phases[chain[0]].init_from


# ----------------------------------------------------------------------------- phases


def _metrics_rows(run_dir: Path) -> list[dict]:
    from rexbert.train.logger import read_metrics

    path = run_dir / "metrics.csv"
    try:
        return read_metrics(path) if path.is_file() else []
    except (OSError, ValueError) as err:
        log.warning("model card: cannot read %s (%s)", path, err)
        return []


def _counters(run_dir: Path, cfg, index: int, checkpoint: Path | None) -> dict[str, Any]:
    """trainer_state.json of the exported checkpoint, else of the phase's last one."""
    from rexbert.train import checkpointing as ckpt
    from rexbert.train.phase import phase_dir_name

    folder = run_dir / phase_dir_name(index, cfg.phases[index])
    latest = checkpoint
    if latest is None:
        listed = ckpt.list_checkpoints(folder) if folder.is_dir() else []
        latest = ckpt.final_pointer(folder) or (listed[-1][1] if listed else None)
    state = latest / ckpt.STATE_JSON if latest is not None else None
    if state is None or not state.is_file():
        return {}
    try:
        data = read_json(state)
    except UserError as err:
        log.warning("model card: %s", err)
        return {}
    return data if isinstance(data, dict) else {}


def _last_number(rows: list[dict], column: str) -> float | None:
    values = [row[column] for row in rows if row.get(column)]
    return float(values[-1]) if values else None


def _phase_facts(run_dir: Path, cfg, index: int, checkpoint: Path | None) -> PhaseFacts:
    phase = cfg.phases[index]
    counters = _counters(run_dir, cfg, index, checkpoint)
    steps = int(counters.get("step", 0))
    rows = [row for row in _metrics_rows(run_dir)
            if row.get("phase") == phase.name and int(row.get("step") or 0) <= steps]
    held_out = {}
    for name in cfg.eval.sets:
        loss, accuracy = _last_number(rows, f"eval_{name}_loss"), _last_number(rows, f"eval_{name}_accuracy")
        if loss is not None and accuracy is not None:
            held_out[name] = (loss, accuracy)
    return PhaseFacts(
        run=run_dir, name=phase.name, steps=steps, total_steps=int(counters.get("total_steps", 0)),
        tokens=int(counters.get("phase_tokens", 0)), seq_len=phase.seq_len,
        longest=_longest_sequence(cfg, phase), batch_tokens=phase.batch_tokens, lr=phase.optimizer.lr,
        masking_rate=phase.masking.rate, guided_share=phase.masking.guided_share,
        mixture=dict(phase.mixture.weights), end_mixture=phase.mixture.end_weights,
        train_loss=_last_number(rows, "loss"), held_out=held_out)


def _component_sources(cfg, names: set[str]) -> list[str]:
    """Shard sources behind mixture components (data.groups, else a component is a source)."""
    groups = cfg.data.groups or {}
    return sorted({source for name in names for source in groups.get(name, [name])})


def _active(mixture) -> set[str]:
    """Components a mixture draws from at its start or its end."""
    tables = (mixture.weights, mixture.end_weights or {})
    return {name for table in tables for name, weight in table.items() if weight > 0}


def _longest_sequence(cfg, phase) -> int | None:
    """Attention never crosses a document boundary, so a phase attends at most its longest
    document (+ [CLS] and [SEP]), chunked at seq_len: the length the model really saw."""
    from rexbert.data.shards import ShardSet

    try:
        shards = ShardSet(cfg.data.shards)
        longest = max((int(shards.source(s).lengths.max(initial=0))
                       for s in _component_sources(cfg, _active(phase.mixture))
                       if s in shards.source_names), default=None)
    except (UserError, OSError, ValueError):
        return None
    return None if longest is None else min(phase.seq_len, longest + 2)


# ----------------------------------------------------------------------------- data


def _add_sources(found: Provenance, run_dir: Path, cfg, phases: list[int]) -> None:
    """The shard sources these phases drew from, each once."""
    shards = Path(cfg.data.shards)
    index_path = shards / "index.json"
    if not index_path.is_file():
        found.notes.append(f"the token shards {shards} of {run_dir.name} are gone; its data is unknown")
        return
    try:
        index = read_json(index_path)
    except UserError as err:
        found.notes.append(str(err))
        return
    names = set().union(*(_active(cfg.phases[j].mixture) for j in phases))
    known = {source.name for source in found.sources}
    for name in _component_sources(cfg, names):
        entry = index.get("sources", {}).get(name)
        if entry is not None and name not in known:
            found.sources.append(_source_facts(name, entry))


def _source_facts(name: str, entry: dict[str, Any]) -> SourceFacts:
    paths: list[str] = []
    for shard in entry.get("shards", []):
        for path in (shard.get("reader", {}).get("spec", {}).get("paths") or [shard.get("input", "")]):
            if path and path not in paths:
                paths.append(str(path))
    hub_ids, generated, curated = set(), False, False
    for path in paths:
        origins, made_up, through_curate = _origins(Path(path))
        hub_ids |= origins
        generated, curated = generated or made_up, curated or through_curate
    return SourceFacts(name, int(entry.get("documents", 0)), int(entry.get("tokens", 0)), tuple(paths),
                       tuple(sorted(hub_ids)), generated, curated)


def _origins(path: Path) -> tuple[set[str], bool, bool]:
    """(hub ids, generated by demo-data, curated) of one input path; a `rexbert curate` output
    is followed to the inputs it curated (work/input.json)."""
    from rexbert.sources.hub import looks_like_hub_id

    hub = hub_id_from_path(path)
    hub_ids = {hub} if hub else set()
    if _owned_by(path, DEMO_KIND) is not None:
        return hub_ids, True, False
    curated = _owned_by(path, CURATE_KIND)
    if curated is None or not (curated / "work" / "input.json").is_file():
        return hub_ids, False, False
    generated = False
    try:
        inputs = read_json(curated / "work" / "input.json").get("inputs", [])
    except (UserError, AttributeError):
        return hub_ids, False, True
    for spec in inputs:
        for value in spec.get("paths", []):
            source = Path(str(value).split("=", 1)[-1])
            hub = str(source) if looks_like_hub_id(source) else hub_id_from_path(source)
            hub_ids |= {hub} if hub else set()
            generated = generated or _owned_by(source, DEMO_KIND) is not None
    return hub_ids, generated, True
