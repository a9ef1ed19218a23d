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
from rexbert.fileio import atomic_write_json, atomic_write_text, read_json, replace_folder
from rexbert.model.checkpoint import (
    TOKENIZER_DIR,
    load_model,
    make_staging_dir,
    save_model,
    write_manifest,
)
from rexbert.model.config import ModelConfig, count_parameters

log = logging.getLogger(__name__)

# Training files that may sit in or above a checkpoint directory (written by the train stage).
TRAINER_STATE = "trainer_state.json"
RESOLVED_CONFIG_NAMES = ("resolved_config.yaml", "config.yaml", "recipe.yaml", "train_config.yaml")
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


def _training_metadata(checkpoint: Path) -> dict[str, Any]:
    """Optional facts for the model card: trainer_state.json and a resolved run config nearby."""
    meta: dict[str, Any] = {}
    for folder in (checkpoint, checkpoint.parent, checkpoint.parent.parent):
        state = folder / TRAINER_STATE
        if "trainer_state" not in meta and state.is_file():
            try:
                data = read_json(state)
            except UserError as err:
                log.warning("model card: skipping %s", err)
                continue
            if isinstance(data, dict):
                meta["trainer_state"] = {
                    k: v for k, v in data.items() if isinstance(v, (int, float, str, bool))
                }
        for name in RESOLVED_CONFIG_NAMES:
            path = folder / name
            if "run_config" not in meta and path.is_file():
                meta["run_config"] = (path.name, path.read_text(encoding="utf-8", errors="replace"))
    return meta


def model_card(cfg: ModelConfig, name: str, meta: dict[str, Any]) -> str:
    """README.md: what the model is, its size, how it was trained, and how to load it."""
    params = count_parameters(cfg)
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: fill-mask",
        "tags: [modernbert, rexbert, fill-mask, sentence-transformers]",
        "---",
        f"# {name}",
        "",
        "A ModernBERT-style encoder built with rexbert (masked-language-model pretraining on "
        "curated domain text). It loads with transformers' `ModernBertForMaskedLM` and with "
        "sentence-transformers (mean pooling).",
        "",
        "## Size",
        "",
        "| | |",
        "|---|---|",
        f"| parameters | {params:,} ({params / 1e6:.1f}M) |",
        f"| layers | {cfg.num_layers} (global attention every {cfg.global_attn_every_n_layers}, "
        f"others a {cfg.local_attention_window}-token sliding window) |",
        f"| hidden / intermediate | {cfg.hidden_size} / {cfg.intermediate_size} |",
        f"| heads | {cfg.num_heads} |",
        f"| vocabulary | {cfg.vocab_size:,} |",
        f"| max positions | {cfg.max_position_embeddings:,} |",
        f"| RoPE θ global / local | {cfg.global_rope_theta:g} / {cfg.local_rope_theta:g}"
        + (f" (NTK factor {cfg.rope_ntk_factor:g})" if cfg.rope_ntk_factor != 1 else "")
        + " |",
        "",
        "## Data and training",
        "",
    ]
    state = meta.get("trainer_state")
    if state:
        lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in sorted(state.items())] + [""]
    run_config = meta.get("run_config")
    if run_config:
        lines += [f"Resolved run configuration (`{run_config[0]}`):", "", "```yaml",
                  run_config[1].rstrip(), "```", ""]
    if not state and not run_config:
        lines += ["No training metadata was found next to the checkpoint.", ""]
    lines += [
        "## Use",
        "",
        "```python",
        "from transformers import pipeline",
        f'fill = pipeline("fill-mask", model="{name}")',
        "",
        "from sentence_transformers import SentenceTransformer",
        f'embeddings = SentenceTransformer("{name}").encode(["a product title"])',
        "```",
        "",
    ]
    return "\n".join(lines)


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


def _publish(staging: Path, out: Path, kind: str) -> None:
    """Checksum, seal and rename a finished staging folder into place."""
    write_manifest(staging)
    outputs.seal(staging)
    replace_folder(staging, out)


def export_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    tokenizer: str | Path | None = None,
    overwrite: bool = False,
    sentence_max_length: int = 512,
) -> Path:
    """Write a transformers + sentence-transformers folder for a rexbert checkpoint."""
    from rexbert.release.hf import write_hf_config, write_hf_weights

    checkpoint, out = Path(checkpoint), Path(out)
    model = load_model(checkpoint)
    cfg = model.config
    tokenizer_dir = _tokenizer_source(checkpoint, tokenizer)
    claim_output(out, EXPORT_KIND, overwrite)
    staging = make_staging_dir(out.parent, f".{out.name}.")
    try:
        outputs.claim(staging, EXPORT_KIND)
        for item in tokenizer_dir.iterdir():
            if item.is_file():
                shutil.copy2(item, staging / item.name)
        _check_tokenizer(staging, cfg)
        write_hf_config(cfg, staging)
        write_hf_weights(model, staging)
        _write_sentence_transformers_files(staging, cfg.hidden_size, sentence_max_length)
        atomic_write_text(staging / "README.md", model_card(cfg, out.name, _training_metadata(checkpoint)))
        _publish(staging, out, EXPORT_KIND)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def import_hf(model_dir: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """Turn a transformers ModernBERT folder into a rexbert checkpoint (weights, config, tokenizer)."""
    from rexbert.release.hf import load_hf_folder

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
        _publish(staging, out, CHECKPOINT_KIND)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _is_tokenizer_file(name: str) -> bool:
    return (
        name.startswith("tokenizer")
        or name in {"special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt", "added_tokens.json"}
    )
