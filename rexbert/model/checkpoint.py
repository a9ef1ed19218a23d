"""rexbert checkpoint directories: model.safetensors + rexbert_config.json (+ tokenizer/).

Weights are only ever read from safetensors (no pickles), every file is written atomically,
and loading checks names and shapes so that a wrong or damaged file is a one-line `UserError`
instead of a half-initialised model.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from rexbert.errors import UserError
from rexbert.fileio import atomic_write_bytes, atomic_write_json, read_json, replace_folder
from rexbert.model.config import ModelConfig

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "rexbert_config.json"
TOKENIZER_DIR = "tokenizer"


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain model inside DDP (`.module`) or torch.compile (`._orig_mod`) wrappers."""
    while True:
        inner = getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            inner = getattr(model, "module", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def write_safetensors(state: dict[str, torch.Tensor], path: Path) -> None:
    """Write tensors (contiguous CPU copies) to a safetensors file, atomically."""
    from safetensors.torch import save

    tensors = {name: t.detach().to("cpu").contiguous() for name, t in state.items()}
    atomic_write_bytes(path, save(tensors, metadata={"format": "pt"}))


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file; a missing or damaged file is a `UserError`."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise UserError(f"{path}: weights file not found")
    try:
        return load_file(str(path), device="cpu")
    except Exception as err:  # SafetensorError, OSError, or a header that is not JSON
        raise UserError(
            f"{path}: not a readable safetensors file ({err}); the file is corrupt or truncated — "
            "re-export or re-download it"
        ) from err


def load_state_into(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy `state` into `model`, requiring exactly its parameter names and shapes."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise UserError(
            f"{source}: weights do not match the model config "
            f"(missing {missing[:5]}{'…' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'…' if len(unexpected) > 5 else ''})"
        )
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise UserError(
                f"{source}: weight {name} has shape {tuple(tensor.shape)}, the config needs "
                f"{tuple(expected[name].shape)}; the config and weights come from different models"
            )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)


def copy_tokenizer(tokenizer_dir: str | Path, target: Path) -> None:
    """Replace `target` with a copy of `tokenizer_dir` (copied aside first, then renamed)."""
    tokenizer_dir = Path(tokenizer_dir)
    if not tokenizer_dir.is_dir():
        raise UserError(f"{tokenizer_dir}: tokenizer folder not found")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for item in tokenizer_dir.iterdir():
            if item.is_file():
                shutil.copy2(item, staging / item.name)
        replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def save_model(model: nn.Module, directory: str | Path, tokenizer_dir: str | Path | None = None) -> None:
    """Write a rexbert checkpoint directory.

    model.safetensors holds rexbert parameter names (the decoder is tied to the embeddings, so
    it is stored once); rexbert_config.json is the `ModelConfig`; the tokenizer folder, when
    given, is copied to `directory/tokenizer/`. Each file is replaced atomically.
    """
    model = unwrap_model(model)
    cfg = getattr(model, "config", None)
    if not isinstance(cfg, ModelConfig):
        raise TypeError("save_model expects a RexBertForMaskedLM (a model with a ModelConfig .config)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_safetensors(model.state_dict(), directory / WEIGHTS_FILE)
    atomic_write_json(directory / CONFIG_FILE, cfg.model_dump(mode="json"))
    if tokenizer_dir is not None and Path(tokenizer_dir).resolve() != (directory / TOKENIZER_DIR).resolve():
        copy_tokenizer(tokenizer_dir, directory / TOKENIZER_DIR)


def read_model_config(directory: str | Path) -> ModelConfig:
    """The validated `ModelConfig` of a checkpoint directory."""
    from rexbert.config import parse_config

    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise UserError(
            f"{directory}: not a rexbert checkpoint (no {CONFIG_FILE}); pass a directory written "
            "by training or `rexbert import-hf`"
        )
    return parse_config(ModelConfig, read_json(path), source=str(path))


def load_model(directory: str | Path, device: str | torch.device = "cpu"):
    """Load a `RexBertForMaskedLM` from a rexbert checkpoint directory (safetensors only)."""
    from rexbert.model.modeling import RexBertForMaskedLM

    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: checkpoint directory not found")
    cfg = read_model_config(directory)
    state = read_safetensors(directory / WEIGHTS_FILE)
    model = RexBertForMaskedLM(cfg)
    load_state_into(model, state, str(directory / WEIGHTS_FILE))
    return model.to(device)
