"""Training checkpoints: atomic, verified, the last k kept, corrupt ones skipped with a message.

A training checkpoint is a rexbert checkpoint directory (model.safetensors, rexbert_config.json,
tokenizer/) plus

    trainer_state.pt     optimizer, step, tokens, data position, every RNG state (torch.save)
    trainer_state.json   the same counters in readable form
    checkpoint.json      written last: sha256 and size of every file — the completion marker

It is assembled in a temporary sibling folder, every file fsynced, and renamed into place, so a
kill at any moment leaves either the previous checkpoint set or the new complete one. On load,
a checkpoint whose manifest is missing or whose files do not match it is reported and the
previous one is used.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rexbert.errors import UserError
from rexbert.fileio import atomic_write_bytes, atomic_write_json, read_json

log = logging.getLogger(__name__)

MANIFEST = "checkpoint.json"
STATE_FILE = "trainer_state.pt"
STATE_JSON = "trainer_state.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def rng_state() -> dict[str, Any]:
    """Every global RNG the training loop may touch (torch CPU/CUDA, numpy, python)."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` captured."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for folder in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_checkpoint(
    phase_dir: Path,
    step: int,
    write_model: Any,
    trainer_state: dict[str, Any],
    summary: dict[str, Any],
    keep_last: int,
    protect: set[str] | None = None,
) -> Path:
    """Write `phase_dir/checkpoint-<step>` atomically and prune to the last `keep_last`.

    `write_model(directory)` writes the model part (rexbert checkpoint directory); names in
    `protect` (e.g. the phase's final checkpoint) are never pruned.
    """
    final = phase_dir / f"checkpoint-{step}"
    tmp = phase_dir / f".checkpoint-{step}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    write_model(tmp)
    buffer = io.BytesIO()
    torch.save(trainer_state, buffer)
    atomic_write_bytes(tmp / STATE_FILE, buffer.getvalue())
    atomic_write_json(tmp / STATE_JSON, summary)
    files = {}
    for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
        rel = str(path.relative_to(tmp))
        files[rel] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    atomic_write_json(tmp / MANIFEST, {"step": step, "files": files})
    _fsync_tree(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    fd = os.open(phase_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    prune(phase_dir, keep_last, protect or set())
    return final


def list_checkpoints(phase_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of the checkpoint folders in a phase folder, oldest first."""
    if not phase_dir.is_dir():
        return []
    found = []
    for path in phase_dir.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_dir() and not path.is_symlink():
            found.append((int(match.group(1)), path))
    return sorted(found)


def prune(phase_dir: Path, keep_last: int, protect: set[str]) -> None:
    """Delete all but the newest `keep_last` checkpoints (never the protected ones), and stale temps."""
    checkpoints = list_checkpoints(phase_dir)
    for _, path in checkpoints[:-keep_last] if keep_last > 0 else checkpoints:
        if path.name not in protect:
            shutil.rmtree(path, ignore_errors=True)
    for path in phase_dir.glob(".checkpoint-*.tmp-*"):
        if path.is_dir() and not path.name.endswith(f".tmp-{os.getpid()}"):
            shutil.rmtree(path, ignore_errors=True)


def verify_checkpoint(path: Path) -> str | None:
    """None when complete and intact, else the reason it cannot be used."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        return "no checkpoint.json (partial write)"
    try:
        manifest = read_json(manifest_path)
    except UserError as err:
        return str(err)
    for rel, meta in manifest.get("files", {}).items():
        file = path / rel
        if not file.is_file():
            return f"{rel} is missing"
        if file.stat().st_size != meta["size"]:
            return f"{rel} has {file.stat().st_size} bytes, expected {meta['size']} (truncated)"
        if _sha256(file) != meta["sha256"]:
            return f"{rel} does not match its checksum (corrupt)"
    return None


def latest_valid_checkpoint(phase_dir: Path) -> Path | None:
    """The newest intact checkpoint of a phase; damaged newer ones are reported and skipped."""
    for _, path in reversed(list_checkpoints(phase_dir)):
        problem = verify_checkpoint(path)
        if problem is None:
            return path
        log.warning("%s: unusable checkpoint (%s); falling back to the previous one", path, problem)
    return None


def load_trainer_state(path: Path) -> dict[str, Any]:
    """The `trainer_state.pt` of a verified checkpoint."""
    try:
        # weights_only=False: the state holds numpy/python RNG tuples; it is our own file,
        # verified against the manifest's checksum before this call.
        return torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many types for a damaged pickle
        raise UserError(f"{path / STATE_FILE}: cannot read trainer state ({err})") from err


def point_final(phase_dir: Path, checkpoint: Path) -> None:
    """Mark `checkpoint` as the phase's final one: `final` symlink and `final.json`."""
    atomic_write_json(phase_dir / "final.json", {"checkpoint": checkpoint.name})
    link = phase_dir / "final"
    tmp = phase_dir / f".final.tmp-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(checkpoint.name, tmp)
    os.replace(tmp, link)


def final_checkpoint(phase_dir: Path) -> Path | None:
    """The phase's final checkpoint if the phase finished and it is intact, else None."""
    pointer = phase_dir / "final.json"
    if not pointer.is_file():
        return None
    path = phase_dir / read_json(pointer)["checkpoint"]
    problem = verify_checkpoint(path)
    if problem is not None:
        raise UserError(f"{path}: the final checkpoint of this phase is damaged ({problem}); "
                        f"delete {pointer} to retrain the phase from its last checkpoint")
    return path
