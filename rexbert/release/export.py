"""`rexbert export` and `rexbert import-hf`: rexbert checkpoints ⇄ transformers folders.

An exported folder is what users of transformers and sentence-transformers expect to find on a
model hub: config.json + model.safetensors (ModernBertForMaskedLM), the tokenizer files, the
sentence-transformers module files (mean pooling), a model card README.md, and checkpoint.json
(sha256 of every file, so that every later load can tell a damaged file).

Both commands write into output folders rexbert owns (`rexbert.outputs`): a folder holding files
rexbert did not write is refused, an earlier output of the same kind is replaced only with
`overwrite`. The new folder is assembled beside the target and renamed into place.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from rexbert import outputs
from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json, atomic_write_text, replace_folder
from rexbert.model.checkpoint import (
    TOKENIZER_DIR,
    load_model,
    make_staging_dir,
    save_model,
    write_manifest,
)
from rexbert.model.config import ModelConfig

log = logging.getLogger(__name__)

EXPORT_KIND = "export"
CHECKPOINT_KIND = "checkpoint"


def _tokenizer_source(checkpoint: Path, tokenizer: str | Path | None) -> Path:
    if tokenizer is not None:
        path = Path(tokenizer)
        if not path.is_dir():
            raise UserError(f"--tokenizer {path}: folder not found")
        return path
    path = checkpoint / TOKENIZER_DIR
    if not path.is_dir():
        raise UserError(
            f"{checkpoint}: has no {TOKENIZER_DIR}/ folder; pass the tokenizer the model was trained "
            "with via --tokenizer DIR"
        )
    return path


def _check_tokenizer(folder: Path, cfg: ModelConfig) -> None:
    """The exported tokenizer must load and agree with the model's vocabulary and special ids."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except Exception as err:  # tokenizer loading raises many types for broken files
        raise UserError(f"{folder}: tokenizer files cannot be loaded by transformers ({err})") from err
    if len(tokenizer) > cfg.vocab_size:
        raise UserError(
            f"{folder}: tokenizer has {len(tokenizer)} tokens but the model's vocab_size is "
            f"{cfg.vocab_size}; export with the tokenizer the model was trained with"
        )
    if tokenizer.mask_token_id is None:
        raise UserError(f"{folder}: tokenizer defines no mask token; rexbert tokenizers use [MASK]")
    if tokenizer.mask_token_id != cfg.mask_token_id:
        raise UserError(
            f"{folder}: tokenizer's mask token id {tokenizer.mask_token_id} differs from the model's "
            f"mask_token_id {cfg.mask_token_id}; pass the matching tokenizer"
        )


def _write_sentence_transformers_files(folder: Path, hidden_size: int, max_length: int) -> None:
    # The classic module names: sentence-transformers 2.x–6.x all load them.
    atomic_write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ])
    atomic_write_json(folder / "sentence_bert_config.json",
                      {"max_seq_length": max_length, "do_lower_case": False})
    atomic_write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": hidden_size,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })


def claim_output(out: Path, kind: str, overwrite: bool) -> None:
    """Open `out` for a new output of `kind`: refuse files rexbert did not write, another kind of
    output, or (without `overwrite`) an earlier output of this kind."""
    earlier = out.is_dir() and any(p.name != outputs.MARKER for p in out.iterdir())
    outputs.claim(out, kind)
    if earlier:
        if not overwrite:
            raise UserError(f"--out {out}: already holds a rexbert {kind}; pass --overwrite to replace "
                            "it, or choose another --out")
        outputs.check_removable(out)


def _publish(staging: Path, out: Path, kind: str, extra: dict[str, Any] | None = None) -> None:
    """Checksum (`extra` goes into checkpoint.json too), seal and rename a finished staging
    folder into place."""
    write_manifest(staging, extra)
    outputs.seal(staging)
    replace_folder(staging, out)


def export_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    tokenizer: str | Path | None = None,
    overwrite: bool = False,
    settings: Any = None,
) -> Path:
    """Write a transformers + sentence-transformers folder for a rexbert checkpoint; `settings`
    (an `ExportConfig`) gives the sentence-transformers length and the card's metadata."""
    from rexbert.release.api import ExportConfig
    from rexbert.release.card import model_card
    from rexbert.release.hf import write_hf_config, write_hf_weights
    from rexbert.release.provenance import trace

    checkpoint, out = Path(checkpoint), Path(out)
    settings = settings or ExportConfig()
    model = load_model(checkpoint)
    cfg = model.config
    tokenizer_dir = _tokenizer_source(checkpoint, tokenizer)
    claim_output(out, EXPORT_KIND, overwrite)
    staging = make_staging_dir(out.parent, f".{out.name}.")
    try:
        outputs.claim(staging, EXPORT_KIND)
        for item in tokenizer_dir.iterdir():
            # not the tokenizer folder's own ownership marker: the export is an output of its own
            if item.is_file() and item.name != outputs.MARKER:
                shutil.copy2(item, staging / item.name)
        _check_tokenizer(staging, cfg)
        write_hf_config(cfg, staging)
        write_hf_weights(model, staging)
        _write_sentence_transformers_files(staging, cfg.hidden_size, settings.sentence_max_length)
        card = model_card(cfg, settings.model_name or out.name, trace(checkpoint), settings,
                          settings.sentence_max_length)
        atomic_write_text(staging / "README.md", card)
        _publish(staging, out, EXPORT_KIND)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def import_hf(model_dir: str | Path, out: str | Path, overwrite: bool = False,
              hub_id: str | None = None) -> Path:
    """Turn a transformers ModernBERT folder into a rexbert checkpoint (weights, config,
    tokenizer); checkpoint.json records where it came from (`hub_id`, else the hub id of a hub
    cache folder), which the card of a model trained from it names as its base model."""
    from rexbert.release.hf import load_hf_folder
    from rexbert.release.provenance import IMPORTED_KEY, hub_id_from_path

    model_dir, out = Path(model_dir), Path(out)
    model = load_hf_folder(model_dir)
    tokenizer_files = [item for item in sorted(model_dir.iterdir())
                       if item.is_file() and _is_tokenizer_file(item.name)]
    if not tokenizer_files:
        log.warning("%s has no tokenizer files; the checkpoint will have no tokenizer/ folder", model_dir)
    claim_output(out, CHECKPOINT_KIND, overwrite)
    staging = make_staging_dir(out.parent, f".{out.name}.")
    try:
        outputs.claim(staging, CHECKPOINT_KIND)
        save_model(model, staging)
        if tokenizer_files:
            # Only the tokenizer's own files: model weights and configs stay behind.
            (staging / TOKENIZER_DIR).mkdir()
            for item in tokenizer_files:
                shutil.copy2(item, staging / TOKENIZER_DIR / item.name)
        source = {"hub_id": hub_id or hub_id_from_path(model_dir.resolve()), "path": str(model_dir.resolve())}
        _publish(staging, out, CHECKPOINT_KIND, {IMPORTED_KEY: source})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _is_tokenizer_file(name: str) -> bool:
    return (
        name.startswith("tokenizer")
        or name in {"special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt", "added_tokens.json"}
    )
