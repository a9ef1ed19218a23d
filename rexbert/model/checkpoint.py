"""rexbert checkpoint directories: model.safetensors + rexbert_config.json (+ tokenizer/), and
the checks every loader of weights shares.

Weights are only ever read from safetensors (no pickles), every file is written atomically,
and loading checks names and shapes so that a wrong or damaged file is a one-line `UserError`
instead of a half-initialised model.

Verification is in one place, used by every loader (export, fill-mask, evaluate, training's
`init_from`): a folder that carries a `checkpoint.json` manifest (sha256 and size of its files;
written by training checkpoints, `import-hf` and `export`) must match it, so a same-size
bit-rotted file is refused; and weights must be finite, so NaN/Inf tensors are refused even
where no manifest exists. `resolve_model_dir` turns a hub id into a folder of the local hub
cache (or downloads it when the network is allowed).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from rexbert.errors import UserError
from rexbert.fileio import atomic_write_bytes, atomic_write_json, read_json, replace_folder
from rexbert.model.config import ModelConfig

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "rexbert_config.json"
TOKENIZER_DIR = "tokenizer"
MANIFEST = "checkpoint.json"
OWNERSHIP_MARKER = ".rexbert-output.json"  # rexbert.outputs' marker: rewritten on every claim
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


# ---- verification: checksums, finite weights ----

def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: str | Path, extra: dict | None = None) -> Path:
    """Write `directory/checkpoint.json`: size and sha256 of every file under it (written last)."""
    directory = Path(directory)
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if rel in (MANIFEST, OWNERSHIP_MARKER):
            continue
        files[rel] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    atomic_write_json(directory / MANIFEST, {**(extra or {}), "files": files})
    return directory / MANIFEST


def verify_checkpoint(path: str | Path, files: Callable[[str], bool] | None = None) -> str | None:
    """None when the folder matches its checkpoint.json, else the reason it cannot be used.

    `files` limits the check to the listed files a loader reads (None: every listed file). A
    folder without checkpoint.json is reported as such; see `require_intact` for loaders that
    accept folders without a manifest.
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        return f"no {MANIFEST} (partial write)"
    try:
        manifest = read_json(manifest_path)
        listed = manifest["files"]
        entries = [(rel, int(meta["size"]), str(meta["sha256"])) for rel, meta in listed.items()]
    except UserError as err:
        return str(err)
    except (KeyError, TypeError, ValueError, AttributeError):
        return f"{MANIFEST} is damaged (no files with size and sha256)"
    for rel, size, digest in entries:
        if files is not None and not files(rel):
            continue
        file = path / rel
        if not file.is_file():
            return f"{rel} is missing"
        if file.stat().st_size != size:
            return f"{rel} has {file.stat().st_size} bytes, expected {size} (truncated)"
        if sha256_file(file) != digest:
            return f"{rel} does not match its checksum (corrupt)"
    return None


def _not_docs(rel: str) -> bool:
    return not rel.lower().endswith(".md")  # a model card edited by hand is not damage


def require_intact(path: str | Path, files: Callable[[str], bool] | None = None) -> None:
    """UserError when `path` has a checkpoint.json that its files do not match.

    `files` limits the check to what the caller loads (default: every listed file except
    Markdown, so an edited model card does not block loading).
    """
    path = Path(path)
    if not (path / MANIFEST).is_file():
        return
    problem = verify_checkpoint(path, files or _not_docs)
    if problem is not None:
        raise UserError(f"{path}: {problem} according to {MANIFEST}; the files were damaged after "
                        "they were written — restore them from a backup or use another checkpoint")


def check_finite(tensors: Iterable[tuple[str, torch.Tensor]], source: str) -> None:
    """UserError naming the first floating-point tensor holding NaN or Inf, and how many."""
    for name, tensor in tensors:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise UserError(f"{source}: weight {name} holds {bad:,} NaN/Inf value(s); the weights are "
                            "corrupt — re-export, re-download or use another checkpoint")


def _model_files(rel: str) -> bool:
    return rel in (WEIGHTS_FILE, CONFIG_FILE) or rel.startswith(f"{TOKENIZER_DIR}/")


# ---- hub ids ----

def looks_like_hub_id(value: str | Path) -> bool:
    """True when `value` is no existing path but has the `owner/name` shape of a hub id."""
    text = str(value)
    return not Path(text).exists() and bool(_HUB_ID.match(text))


def _hub_offline() -> bool:
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return flag in ("1", "true", "yes", "on") or bool(constants.HF_HUB_OFFLINE)


def _hub_cache() -> str | None:
    """The hub cache folder as the environment says now (huggingface_hub reads it at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return None


def resolve_model_dir(value: str | Path, flag: str = "--model") -> Path:
    """A local model folder for `value`: the folder itself, or a hub id's snapshot.

    A hub id (`answerdotai/ModernBERT-base`) is looked up in the local hub cache first, and
    downloaded only when the network is allowed (HF_HUB_OFFLINE unset). Offline and not cached:
    a one-line error that says how to get it.
    """
    path = Path(value)
    if path.exists() or not looks_like_hub_id(value):
        if not path.is_dir():
            raise UserError(f"{flag} {value}: model folder not found")
        return path
    from huggingface_hub import snapshot_download

    hub_id, cache = str(value), _hub_cache()
    try:
        return Path(snapshot_download(hub_id, cache_dir=cache, local_files_only=True))
    except Exception:  # not in the cache (the hub client raises several types for that)
        pass
    get = (f"download it on a machine with network access (`hf download {hub_id}`, into the hub "
           "cache or with --local-dir DIR) and pass the folder or keep it in the cache")
    if _hub_offline():
        raise UserError(f"{flag} {hub_id}: not a local folder and not in the local hub cache "
                        f"({cache or 'default cache'}), and HF_HUB_OFFLINE is set; {get}")
    try:
        return Path(snapshot_download(hub_id, cache_dir=cache))
    except Exception as err:  # network, authentication, unknown repository: one line with the fix
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{flag} {hub_id}: could not download from the hub ({first}); {get}") from err


# ---- folders ----

def make_staging_dir(parent: Path, prefix: str) -> Path:
    """A new hidden folder in `parent` with a plain folder's permissions.

    `tempfile.mkdtemp` creates 0700 folders; renamed into place they would lock other users
    (and group-shared jobs) out of a published model.
    """
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    return staging


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
    staging = make_staging_dir(target.parent, f".{target.name}.")
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
    save_weights(model.state_dict(), cfg, directory, tokenizer_dir)


def save_weights(state: dict[str, torch.Tensor], cfg: ModelConfig, directory: str | Path,
                 tokenizer_dir: str | Path | None = None) -> None:
    """`save_model` from a state dict (e.g. one gathered from FSDP2 shards) and its config."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_safetensors(state, directory / WEIGHTS_FILE)
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
    """Load a `RexBertForMaskedLM` from a rexbert checkpoint directory (safetensors only).

    The files it reads are checked against the folder's checkpoint.json when there is one, and
    the weights must be finite.
    """
    from rexbert.model.modeling import RexBertForMaskedLM

    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: checkpoint directory not found")
    require_intact(directory, _model_files)
    cfg = read_model_config(directory)
    state = read_safetensors(directory / WEIGHTS_FILE)
    check_finite(state.items(), str(directory / WEIGHTS_FILE))
    model = RexBertForMaskedLM(cfg)
    load_state_into(model, state, str(directory / WEIGHTS_FILE))
    return model.to(device)
