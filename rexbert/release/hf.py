"""Conversion between rexbert checkpoints and transformers' ModernBERT folders.

The module tree of `RexBertForMaskedLM` mirrors `ModernBertForMaskedLM`, so weights map one to
one; the only renames are the decoder (rexbert keeps only its bias, `decoder_bias`, and reuses
the token embeddings as the weight; transformers calls them `decoder.bias` / `decoder.weight`).

config.json is written for both transformers generations: the v5 keys (`layer_types`,
`rope_parameters`) and the 4.x keys (`global_attn_every_n_layers`, `global_rope_theta`,
`local_rope_theta`, `local_attention`) describe the same model. NTK-scaled RoPE bases are
exported already scaled, so transformers' default RoPE reproduces them exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from rexbert.errors import UserError
from rexbert.model.config import ModelConfig
from rexbert.model.rotary import rope_theta

HF_WEIGHTS = "model.safetensors"
HF_SHARD_INDEX = "model.safetensors.index.json"
HF_TORCH_WEIGHTS = "pytorch_model.bin"
DECODER_BIAS = ("decoder_bias", "decoder.bias")
HF_DECODER_WEIGHT = "decoder.weight"
EMBEDDINGS = "model.embeddings.tok_embeddings.weight"

# Settings of transformers' ModernBertConfig that rexbert's architecture fixes; a folder that
# differs would load into a different function, so import refuses it instead of guessing.
FIXED_HF_SETTINGS: dict[str, Any] = {
    "hidden_activation": "gelu",
    "classifier_activation": "gelu",
    "norm_bias": False,
    "attention_bias": False,
    "mlp_bias": False,
    "classifier_bias": False,
    "decoder_bias": True,
    "tie_word_embeddings": True,
}


def hf_config(cfg: ModelConfig) -> dict[str, Any]:
    """config.json content for transformers' `ModernBertForMaskedLM` equal to `cfg`."""
    import transformers

    global_theta = rope_theta(cfg, is_global=True)
    local_theta = rope_theta(cfg, is_global=False)
    layer_types = [
        "full_attention" if cfg.is_global_layer(i) else "sliding_attention"
        for i in range(cfg.num_layers)
    ]
    return {
        "architectures": ["ModernBertForMaskedLM"],
        "model_type": "modernbert",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "max_position_embeddings": cfg.max_position_embeddings,
        "hidden_activation": "gelu",
        "initializer_range": cfg.initializer_range,
        "initializer_cutoff_factor": cfg.initializer_cutoff_factor,
        "norm_eps": cfg.norm_eps,
        "norm_bias": False,
        "pad_token_id": cfg.pad_token_id,
        "bos_token_id": cfg.cls_token_id,
        "eos_token_id": cfg.sep_token_id,
        "cls_token_id": cfg.cls_token_id,
        "sep_token_id": cfg.sep_token_id,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "embedding_dropout": 0.0,
        "mlp_bias": False,
        "mlp_dropout": 0.0,
        "decoder_bias": True,
        "classifier_pooling": "mean",
        "classifier_dropout": 0.0,
        "classifier_bias": False,
        "classifier_activation": "gelu",
        "deterministic_flash_attn": False,
        "sparse_prediction": False,
        "sparse_pred_ignore_index": -100,
        "tie_word_embeddings": True,
        # transformers ≥ 5
        "layer_types": layer_types,
        "rope_parameters": {
            "full_attention": {"rope_type": "default", "rope_theta": global_theta},
            "sliding_attention": {"rope_type": "default", "rope_theta": local_theta},
        },
        # transformers 4.x
        "local_attention": cfg.local_attention_window,
        "global_attn_every_n_layers": cfg.global_attn_every_n_layers,
        "global_rope_theta": global_theta,
        "local_rope_theta": local_theta,
        "torch_dtype": "float32",
        "transformers_version": transformers.__version__,
    }


def _every_n_from_layer_types(layer_types: list[str], source: str) -> int:
    for n in range(1, len(layer_types) + 1):
        expected = ["full_attention" if i % n == 0 else "sliding_attention" for i in range(len(layer_types))]
        if layer_types == expected:
            return n
    raise UserError(
        f"{source}: layer_types {layer_types} is not 'full attention every n-th layer from layer 0', "
        "which is the only pattern rexbert builds"
    )


def _theta(data: dict[str, Any], v5_key: str, legacy_key: str, default: float, source: str) -> float:
    params = (data.get("rope_parameters") or {}).get(v5_key)
    if params:
        rope_type = params.get("rope_type", params.get("type", "default"))
        if rope_type != "default":
            raise UserError(
                f"{source}: rope_parameters.{v5_key}.rope_type '{rope_type}' is not supported; "
                "rexbert imports default RoPE (optionally with NTK scaling already folded into rope_theta)"
            )
        if "rope_theta" in params:
            return float(params["rope_theta"])
    scaling = data.get("rope_scaling")
    if scaling and scaling.get("rope_type", scaling.get("type", "default")) != "default":
        raise UserError(f"{source}: rope_scaling {scaling} is not supported; rexbert imports default RoPE")
    return float(data.get(legacy_key, default))


def model_config_from_hf(
    data: dict[str, Any], source: str, mask_token_id: int | None = None
) -> ModelConfig:
    """A `ModelConfig` equal to a transformers ModernBERT config.json (as a dict)."""
    from rexbert.config import parse_config

    model_type = data.get("model_type")
    if model_type != "modernbert":
        raise UserError(
            f"{source}: model_type is '{model_type}', not 'modernbert'; import-hf reads transformers "
            "ModernBERT folders (such as ModernBERT or Ettin checkpoints)"
        )
    for key, expected in FIXED_HF_SETTINGS.items():
        if key in data and data[key] != expected:
            raise UserError(f"{source}: {key} is {data[key]!r}; rexbert's architecture needs {expected!r}")
    layers = int(data.get("num_hidden_layers", 22))
    if data.get("layer_types"):
        if len(data["layer_types"]) != layers:
            raise UserError(f"{source}: layer_types has {len(data['layer_types'])} entries for {layers} layers")
        every_n = _every_n_from_layer_types(list(data["layer_types"]), source)
    else:
        every_n = int(data.get("global_attn_every_n_layers", 3))
    vocab = int(data.get("vocab_size", 50368))
    if mask_token_id is None:
        mask_token_id = data.get("mask_token_id", 50284)
    fields = {
        "vocab_size": vocab,
        "hidden_size": data.get("hidden_size", 768),
        "intermediate_size": data.get("intermediate_size", 1152),
        "num_layers": layers,
        "num_heads": data.get("num_attention_heads", 12),
        "max_position_embeddings": data.get("max_position_embeddings", 8192),
        "global_attn_every_n_layers": every_n,
        "local_attention_window": data.get("local_attention", 128),
        "global_rope_theta": _theta(data, "full_attention", "global_rope_theta", 160_000.0, source),
        "local_rope_theta": _theta(data, "sliding_attention", "local_rope_theta", 10_000.0, source),
        "rope_ntk_factor": 1.0,
        "norm_eps": data.get("norm_eps", 1e-5),
        "initializer_range": data.get("initializer_range", 0.02),
        "initializer_cutoff_factor": data.get("initializer_cutoff_factor", 2.0),
        "pad_token_id": data.get("pad_token_id", 50283),
        "cls_token_id": data.get("cls_token_id", 50281),
        "sep_token_id": data.get("sep_token_id", 50282),
        "mask_token_id": mask_token_id,
    }
    return parse_config(ModelConfig, fields, source=source)


def to_hf_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """rexbert parameter names → transformers' (the tied decoder weight is left to tying)."""
    out = {}
    for name, tensor in state.items():
        out[DECODER_BIAS[1] if name == DECODER_BIAS[0] else name] = tensor
    return out


def from_hf_state_dict(
    state: dict[str, torch.Tensor], source: str
) -> dict[str, torch.Tensor]:
    """transformers' ModernBertForMaskedLM names → rexbert's; refuses an untied decoder."""
    out = {}
    for name, tensor in state.items():
        if name == HF_DECODER_WEIGHT:
            embeddings = state.get(EMBEDDINGS)
            if embeddings is not None and not torch.equal(tensor, embeddings):
                raise UserError(
                    f"{source}: decoder.weight differs from the token embeddings; rexbert ties them, "
                    "so this untied model cannot be imported exactly"
                )
            continue
        out[DECODER_BIAS[0] if name == DECODER_BIAS[1] else name] = tensor
    if EMBEDDINGS not in out and "embeddings.tok_embeddings.weight" in out:
        raise UserError(
            f"{source}: holds a bare ModernBertModel (no masked-LM head); import-hf needs a "
            "ModernBertForMaskedLM checkpoint"
        )
    return out


def read_hf_weights(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors of a transformers folder: model.safetensors, its sharded index, or
    pytorch_model.bin loaded with `weights_only=True` (never arbitrary pickles)."""
    from rexbert.model.checkpoint import read_safetensors

    single = folder / HF_WEIGHTS
    if single.is_file():
        return read_safetensors(single)
    index = folder / HF_SHARD_INDEX
    if index.is_file():
        from rexbert.fileio import read_json

        weight_map = read_json(index).get("weight_map")
        if not isinstance(weight_map, dict):
            raise UserError(f"{index}: has no 'weight_map'; re-save the model with save_pretrained")
        state: dict[str, torch.Tensor] = {}
        for shard in sorted(set(weight_map.values())):
            state.update(read_safetensors(folder / shard))
        return state
    legacy = folder / HF_TORCH_WEIGHTS
    if legacy.is_file():
        try:
            return torch.load(legacy, map_location="cpu", weights_only=True)
        except Exception as err:  # unpickling errors have many types
            raise UserError(f"{legacy}: cannot be read as plain tensors ({err}); convert it to safetensors") from err
    raise UserError(f"{folder}: no {HF_WEIGHTS}, {HF_SHARD_INDEX} or {HF_TORCH_WEIGHTS}; is this a transformers model folder?")


def hf_mask_token_id(folder: Path) -> int | None:
    """The tokenizer's mask token id when the folder has a loadable tokenizer."""
    if not ((folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file()):
        return None
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except Exception as err:  # tokenizer loading raises many types for broken files
        raise UserError(f"{folder}: tokenizer files cannot be loaded ({err}); fix or remove them") from err
    return tokenizer.mask_token_id


def load_hf_folder(folder: str | Path, device: str = "cpu"):
    """A transformers ModernBERT folder as a `RexBertForMaskedLM` (in memory, exact weights).

    The folder's checkpoint.json (an export's) is checked when present, and the weights must be
    finite.
    """
    from rexbert.fileio import read_json
    from rexbert.model.checkpoint import check_finite, load_state_into, require_intact
    from rexbert.model.modeling import RexBertForMaskedLM

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: model folder not found")
    require_intact(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise UserError(f"{folder}: no config.json; pass a transformers model folder")
    data = read_json(config_path)
    if not isinstance(data, dict):
        raise UserError(f"{config_path}: expected a JSON object")
    cfg = model_config_from_hf(data, str(config_path), mask_token_id=hf_mask_token_id(folder))
    state = from_hf_state_dict(read_hf_weights(folder), str(folder))
    check_finite(state.items(), str(folder))
    model = RexBertForMaskedLM(cfg)
    load_state_into(model, state, str(folder))
    return model.to(device).eval()


def write_hf_weights(model, folder: Path) -> None:
    """model.safetensors with transformers' names, metadata format=pt (as save_pretrained)."""
    from rexbert.model.checkpoint import unwrap_model, write_safetensors

    state = to_hf_state_dict(unwrap_model(model).state_dict())
    write_safetensors(state, folder / HF_WEIGHTS)


def write_hf_config(cfg: ModelConfig, folder: Path) -> None:
    """config.json (see `hf_config`)."""
    from rexbert.fileio import atomic_write_text

    atomic_write_text(folder / "config.json", json.dumps(hf_config(cfg), indent=2) + "\n")
