"""The model card (README.md) of an exported folder: what the model is, how it was trained, on
what, how it scored, and how to load it.

The front matter is the metadata model hubs read (`library_name`, `pipeline_tag`, `tags`,
`base_model`, `datasets`, `language`, `license`, `model-index`); the body is for people: size,
a training summary (phases, tokens, sequence lengths actually trained, final losses, held-out
accuracy), the data sources, the evaluation results and usage. `write_card` writes it at export
time from `rexbert.release.provenance`; `update_evaluations` rewrites its `model-index` and its
evaluation section after `rexbert evaluate` (or `rexbert run`) evaluated the folder, from every
results.json that evaluated the folder's current weights. Other sections (the ONNX section, a
paragraph a person added) are kept as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from rexbert.errors import UserError
from rexbert.release.provenance import Provenance

log = logging.getLogger(__name__)

CARD = "README.md"
EVAL_BEGIN, EVAL_END = "<!-- rexbert:evaluation -->", "<!-- /rexbert:evaluation -->"
NOT_EVALUATED = ("Not evaluated yet: `rexbert evaluate … --model THIS_FOLDER` fills this section and "
                 "the card's `model-index`.")
EVALUATIONS_KEY = "evaluations"  # checkpoint.json: the results.json files that evaluated the folder
TAGS = ["modernbert", "rexbert", "fill-mask", "sentence-transformers", "feature-extraction"]
# results.json task → (model-index task type, readable name)
TASK_TYPES = {"mlm": ("fill-mask", "Masked-token recovery"),
              "similarity": ("sentence-similarity", "Query–product similarity")}


# ----------------------------------------------------------------------------- front matter


def split_card(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a card; an unreadable front matter is a UserError."""
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 4)
    if end < 0:
        return {}, text
    try:
        meta = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError as err:
        raise UserError(f"model card front matter is not valid YAML ({err}); fix or delete it") from err
    if not isinstance(meta, dict):
        raise UserError("model card front matter is not a mapping; fix or delete it")
    return meta, text[end + len("\n---\n"):]


def join_card(meta: dict[str, Any], body: str) -> str:
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{front}---\n{body.lstrip(chr(10))}"


def front_matter(found: Provenance, settings, name: str) -> dict[str, Any]:
    """The hub metadata of an export (no `model-index` until the folder is evaluated)."""
    meta: dict[str, Any] = {"library_name": "transformers", "pipeline_tag": "fill-mask",
                            "tags": list(TAGS)}
    if found.base_model:
        meta["base_model"] = found.base_model
    datasets = list(dict.fromkeys([*settings.datasets, *found.hub_datasets]))
    if datasets:
        meta["datasets"] = datasets
    if settings.language:
        meta["language"] = list(settings.language)
    meta["license"] = settings.license
    return meta


# ----------------------------------------------------------------------------- body


def _number(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _mixture(weights: dict[str, float], end: dict[str, float] | None) -> str:
    start = ", ".join(f"{k} {v:g}" for k, v in weights.items() if v > 0)
    return start if not end else f"{start} → " + ", ".join(f"{k} {v:g}" for k, v in end.items() if v > 0)


def training_section(found: Provenance, max_positions: int) -> list[str]:
    """Phases, tokens, lengths, losses — or what is unknown about them."""
    lines = ["## Training", ""]
    if found.base_model or found.base_model_path:
        lines += [f"Continued from `{found.base_model or found.base_model_path}` (imported with "
                  "`rexbert import-hf`).", ""]
    elif found.from_scratch:
        lines += ["Trained from scratch (random initialisation).", ""]
    trained = found.trained_phases
    if trained:
        tokens = sum(phase.tokens for phase in trained)
        longest = found.max_trained_length
        lines += [f"{len(trained)} phase{'s' if len(trained) > 1 else ''}, {tokens:,} tokens in all, sequences of up to {longest:,} "
                  f"tokens (the architecture has {max_positions:,} positions; lengths above "
                  f"{longest:,} were never trained).", "",
                  "| phase | steps | tokens | packed / longest sequence | peak lr | masking | mixture "
                  "| final train loss | held-out loss / top-1 |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for phase in trained:
            held = "; ".join(f"{name} {loss:.3f} / {accuracy:.1%}" for name, (loss, accuracy)
                             in phase.held_out.items()) or "n/a"
            guided = f", Guided MLM {phase.guided_share:.0%}" if phase.guided_share else ""
            lines.append(f"| {phase.name} (`{phase.run.name}`) | {phase.steps:,}/{phase.total_steps:,} | "
                         f"{phase.tokens:,} | {phase.seq_len:,} / {phase.trained_length:,} | {phase.lr:g} | "
                         f"{phase.masking_rate:.0%}{guided} | {_mixture(phase.mixture, phase.end_mixture)} | "
                         f"{_number(phase.train_loss)} | {held} |")
        lines.append("")
    lines += [f"Note: {note}." for note in found.notes] + ([""] if found.notes else [])
    return lines + data_section(found)


def data_section(found: Provenance) -> list[str]:
    if not found.sources:
        return []
    lines = ["### Data", "", "| source | documents | tokens | from |", "|---|---|---|---|"]
    for source in found.sources:
        origin = ", ".join(f"`{path}`" for path in source.inputs[:3]) + (" …" if len(source.inputs) > 3 else "")
        kinds = [k for k, on in (("generated by `rexbert demo-data`", source.generated),
                                 ("curated with `rexbert curate`", source.curated)) if on]
        hub = f" (hub: {', '.join(source.hub_ids)})" if source.hub_ids else ""
        lines.append(f"| {source.name} | {source.documents:,} | {source.tokens:,} | {origin}{hub}"
                     f"{' — ' + '; '.join(kinds) if kinds else ''} |")
    if any(source.generated for source in found.sources):
        lines += ["", "Some of this text was generated for the demo: it exercises the pipeline and "
                      "says nothing about quality on real data."]
    return lines + [""]


def size_rows(cfg, params: int, found: Provenance) -> list[str]:
    longest = found.max_trained_length
    trained = (f"{longest:,} tokens (of {cfg.max_position_embeddings:,} positions)" if longest
               else f"unknown (the architecture has {cfg.max_position_embeddings:,} positions)")
    ntk = f" (NTK factor {cfg.rope_ntk_factor:g})" if cfg.rope_ntk_factor != 1 else ""
    return [
        "| | |", "|---|---|",
        f"| parameters | {params:,}" + (f" ({params / 1e6:.1f}M)" if params >= 1e6 else "") + " |",
        f"| layers | {cfg.num_layers} (global attention every {cfg.global_attn_every_n_layers}, "
        f"others a {cfg.local_attention_window}-token sliding window) |",
        f"| hidden / intermediate | {cfg.hidden_size} / {cfg.intermediate_size} |",
        f"| heads | {cfg.num_heads} |",
        f"| vocabulary | {cfg.vocab_size:,} |",
        f"| max trained length | {trained} |",
        f"| RoPE θ global / local | {cfg.global_rope_theta:g} / {cfg.local_rope_theta:g}{ntk} |",
        "",
    ]


def model_card(cfg, name: str, found: Provenance, settings, sentence_max_length: int) -> str:
    """README.md of a fresh export (its evaluation section is filled in by `update_evaluations`)."""
    from rexbert.model.config import count_parameters

    params = count_parameters(cfg)
    domains = sorted({s.name for s in found.sources} - {"general"})
    about = f" for {', '.join(domains)} text" if domains else ""
    curated = " on text curated with `rexbert curate`" if any(s.curated for s in found.sources) else ""
    size = f"{params / 1e6:.1f}M" if params >= 1e6 else f"{params:,}"
    lines = [f"# {name}", "",
             f"A {size}-parameter ModernBERT-style encoder{about}, built with rexbert "
             f"(masked-language-model pretraining{curated}). It loads with transformers' "
             "`ModernBertForMaskedLM` / `AutoModel` and with sentence-transformers (mean pooling, "
             f"max_seq_length {sentence_max_length}).", "",
             "## Size", "", *size_rows(cfg, params, found), *training_section(found, cfg.max_position_embeddings),
             evaluation_section([], []), "",
             "## Use", "", "```python", "from transformers import pipeline",
             f'fill = pipeline("fill-mask", model="{name}")', "",
             "from sentence_transformers import SentenceTransformer",
             f'embeddings = SentenceTransformer("{name}").encode(["a product title"])', "```", ""]
    return join_card(front_matter(found, settings, name), "\n".join(lines))


# ----------------------------------------------------------------------------- evaluation


def _metric_name(record) -> str:
    parts = [record.metric.replace("_", " ")]
    parts += [f"{key.replace('_', ' ')} {value}" for key, value in sorted(record.axes.items()) if key != "k"]
    return ", ".join(parts)


def _dataset(record) -> dict[str, str]:
    """Which data a record was measured on, as the model-index names it."""
    from rexbert.release.provenance import hub_id_from_path

    settings = record.settings
    if record.task.startswith("glue/"):
        task = record.task.split("/", 1)[1]
        source = str(settings.get("source", ""))
        hub = source[4:] if source.startswith("hub:") else None
        return {"name": f"GLUE {task}" if hub else f"{task} ({source})", "type": hub or Path(source).name or task,
                **({"config": task} if hub else {})}
    pairs = settings.get("input") or {}  # similarity: a PairsInput, whose data is one of these
    paths = settings.get("data") or [pairs[key] for key in ("esci", "pairs", "train", "test")
                                      if isinstance(pairs.get(key), str)][:1]
    paths = [str(p) for p in paths] if isinstance(paths, list) else [str(paths)]
    hubs = [hub for hub in (hub_id_from_path(p) for p in paths) if hub]
    name = ", ".join(Path(p).name for p in paths) or record.task
    return {"name": name, "type": hubs[0] if hubs else (Path(paths[0]).stem if paths else record.task)}


def model_index(name: str, records: Iterable) -> list[dict[str, Any]]:
    """Hub `model-index` entries: one result per (task, dataset), a metric per record."""
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        if record.value is None:  # undefined (e.g. a correlation of constant scores): not a number
            continue
        kind, title = TASK_TYPES.get(record.task, ("text-classification", f"GLUE {record.task[5:]}")
                                     if record.task.startswith("glue/") else (record.task, record.task))
        dataset = _dataset(record)
        entry = results.setdefault((record.task, dataset["name"]), {
            "task": {"type": kind, "name": title}, "dataset": dataset, "metrics": []})
        entry["metrics"].append({"type": record.metric, "value": round(float(record.value), 6),
                                 "name": _metric_name(record)})
    return [{"name": name, "results": list(results.values())}] if results else []


def evaluation_section(records: list, sources: list[Path]) -> str:
    if not records:
        return "\n".join([EVAL_BEGIN, "## Evaluation", "", NOT_EVALUATED, EVAL_END])
    lines = [EVAL_BEGIN, "## Evaluation", "", f"From {', '.join(f'`{p}`' for p in sources)} "
             "(`rexbert evaluate`; the same numbers are in this card's `model-index`):", "",
             "| task | data | metric | value |", "|---|---|---|---|"]
    for record in records:
        value = "n/a (undefined)" if record.value is None else f"{record.value:.4f}"
        lines.append(f"| {record.task} | {_dataset(record)['name']} | {_metric_name(record)} | {value} |")
    return "\n".join([*lines, "", EVAL_END])


def _with_section(body: str, section: str) -> str:
    begin, end = body.find(EVAL_BEGIN), body.find(EVAL_END)
    if begin >= 0 and end > begin:
        return body[:begin] + section + body[end + len(EVAL_END):]
    use = body.find("\n## Use")
    return body[:use] + "\n" + section + "\n" + body[use:] if use >= 0 else body.rstrip("\n") + "\n\n" + section + "\n"


def folder_records(folder: Path, results_files: list[Path]) -> tuple[list, list[Path]]:
    """Records of every results.json that evaluated `folder` with its current weights, and
    those files (an entry whose weights fingerprint differs was measured on older weights)."""
    from rexbert.evaluate.models import fingerprint
    from rexbert.evaluate.results import load_results

    current, records, used = fingerprint(folder), [], []
    for path in results_files:
        try:
            results = load_results(path)
        except UserError as err:
            log.warning("model card of %s: skipping %s", folder, err)
            continue
        names = {name for name, info in results.models.items()
                 if Path(info.path).resolve() == folder.resolve() and info.fingerprint == current}
        found = [record for record in results.records if record.model in names]
        if found:
            records += found
            used.append(path)
    return records, used


def card_name(meta: dict[str, Any], body: str, folder: Path) -> str:
    """The model's name: its model-index name, else the card's title, else the folder's name."""
    entries = meta.get("model-index")
    if isinstance(entries, list) and entries and isinstance(entries[0], dict) and entries[0].get("name"):
        return str(entries[0]["name"])
    title = next((line[2:].strip() for line in body.splitlines() if line.startswith("# ")), "")
    return title or folder.name


def update_evaluations(folder: str | Path, results_json: str | Path) -> bool:
    """Put the results of `results_json` (and of earlier evaluations of the same weights) into
    the card of `folder`, a rexbert export; False (nothing touched) for any other folder."""
    from rexbert import outputs
    from rexbert.fileio import atomic_write_text, read_json
    from rexbert.model.checkpoint import MANIFEST

    folder = Path(folder)
    if not (folder / CARD).is_file() or outputs.owner_kind(folder) != "export":
        return False
    manifest = read_json(folder / MANIFEST) if (folder / MANIFEST).is_file() else {}
    listed = [Path(p) for p in manifest.get(EVALUATIONS_KEY, [])] + [Path(results_json).resolve()]
    records, used = folder_records(folder, list(dict.fromkeys(p for p in listed if p.is_file())))
    meta, body = split_card((folder / CARD).read_text(encoding="utf-8"))
    index = model_index(card_name(meta, body, folder), records)
    meta.pop("model-index", None)
    meta.update({"model-index": index} if index else {})
    outputs.claim(folder, "export")
    atomic_write_text(folder / CARD, join_card(meta, _with_section(body, evaluation_section(records, used))))
    if manifest:
        _record_card(folder, manifest, used)
    outputs.seal(folder)
    return True


def _record_card(folder: Path, manifest: dict[str, Any], used: list[Path]) -> None:
    """checkpoint.json with the new card's size and sha256 and the results files behind it.
    Only the card's entry is recomputed: rehashing every file would bless one damaged since."""
    from rexbert.fileio import atomic_write_json
    from rexbert.model.checkpoint import MANIFEST, sha256_file

    files = dict(manifest.get("files") or {})
    files[CARD] = {"size": (folder / CARD).stat().st_size, "sha256": sha256_file(folder / CARD)}
    atomic_write_json(folder / MANIFEST, {**manifest, EVALUATIONS_KEY: [str(p) for p in used], "files": files})
