"""Training checkpoints: atomic, verified, the last k kept, damaged ones reported and kept.

A training checkpoint is a rexbert checkpoint directory (model.safetensors, rexbert_config.json,
tokenizer/) plus

    trainer_state.pt     optimizer, step, tokens, data position, every RNG state (torch.save of
                         tensors, numbers, strings, lists and dicts only)
    trainer_state.json   the same counters in readable form
    checkpoint.json      written last: sha256 and size of every file — the completion marker

It is assembled in a temporary sibling folder, every file fsynced, and renamed into place, so a
kill at any moment leaves either the previous checkpoint set or the new complete one.

`load_state` is the one way a state file is read: the checkpoint's checksums are verified first,
then the file is loaded with `torch.load(weights_only=True)`, which refuses anything but
tensors and plain values — a pickle that would run code is a one-line error, never executed.
On `--resume`, a damaged checkpoint is reported and moved aside to `damaged-checkpoint-<step>`
(never deleted, never overwritten) and the previous intact one is used; when none is intact the
run stops and says what to do.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
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
    """Every global RNG the training loop may touch (torch CPU/CUDA, numpy, python), as tensors,
    numbers and lists only, so that the state file loads with `weights_only=True`."""
    legacy = np.random.get_state(legacy=False)
    version, internal, gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"bit_generator": legacy["bit_generator"], "key": legacy["state"]["key"].tolist(),
                  "pos": int(legacy["state"]["pos"]), "has_gauss": int(legacy["has_gauss"]),
                  "gauss": float(legacy["gauss"])},
        "python": [version, list(internal), gauss],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` captured."""
    torch.set_rng_state(state["torch"])
    numpy = state["numpy"]
    np.random.set_state({"bit_generator": numpy["bit_generator"],
                         "state": {"key": np.asarray(numpy["key"], dtype=np.uint32), "pos": numpy["pos"]},
                         "has_gauss": numpy["has_gauss"], "gauss": numpy["gauss"]})
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
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


DAMAGED_PREFIX = "damaged-"


def set_aside(path: Path, problem: str) -> Path:
    """Move a damaged checkpoint to `damaged-<name>` (a name pruning and rewriting never touch)."""
    target = path.with_name(DAMAGED_PREFIX + path.name)
    suffix = 1
    while target.exists():
        suffix += 1
        target = path.with_name(f"{DAMAGED_PREFIX}{path.name}.{suffix}")
    os.replace(path, target)
    log.warning("%s: unusable checkpoint (%s); kept as %s, continuing from the previous one",
                path, problem, target.name)
    return target


def resume_point(phase_dir: Path, set_aside_damaged: bool = True) -> Path | None:
    """The newest intact checkpoint of a phase (None when the phase has none at all).

    Damaged newer ones are moved aside with a warning (by one process only: the others pass
    `set_aside_damaged=False`). When every checkpoint is damaged the run stops: restarting the
    phase from step 1 silently would throw the user's compute away.
    """
    checkpoints = list_checkpoints(phase_dir)
    problems = []
    for _, path in reversed(checkpoints):
        problem = verify_checkpoint(path)
        if problem is None:
            for damaged, why in problems if set_aside_damaged else ():
                set_aside(damaged, why)
            return path
        problems.append((path, problem))
    if problems:
        shown = "; ".join(f"{path.name}: {why}" for path, why in problems)
        raise UserError(f"{phase_dir}: every checkpoint is damaged ({shown}); nothing was deleted. "
                        f"To retrain this phase from its start, move {phase_dir} aside "
                        f"(e.g. to {phase_dir.name}.damaged) and rerun with --resume")
    return None


def load_state(path: Path) -> dict[str, Any]:
    """The `trainer_state.pt` of a checkpoint: checksums verified, then loaded weights-only.

    The one reader of state files: resume, the previous phase's optimizer moments, and
    `init_from` folders all come through here.
    """
    if not (path / STATE_FILE).is_file():
        raise UserError(f"{path}: no {STATE_FILE} (optimizer state); pass a checkpoint written by "
                        "`rexbert pretrain`, or set optimizer.reset: true")
    if not (path / MANIFEST).is_file():
        raise UserError(f"{path}: no {MANIFEST}, so {STATE_FILE} cannot be verified and will not be "
                        "loaded; pass a checkpoint written by `rexbert pretrain`, or set "
                        "optimizer.reset: true")
    problem = verify_checkpoint(path)
    if problem is not None:
        raise UserError(f"{path}: damaged checkpoint ({problem}); its trainer state will not be loaded")
    try:
        return torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL (\S+)", str(err))
        what = f"a reference to {found.group(1)}" if found else "objects"
        raise UserError(f"{path / STATE_FILE}: holds {what}, not only tensors and plain values; "
                        "refusing to load it (rexbert never writes such a state file)") from err
    except Exception as err:  # torch raises many types for a damaged file
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


def final_pointer(phase_dir: Path) -> Path | None:
    """Where `final.json` points (not verified), or None when the phase has not finished."""
    pointer = phase_dir / "final.json"
    return phase_dir / read_json(pointer)["checkpoint"] if pointer.is_file() else None


def final_checkpoint(phase_dir: Path) -> Path | None:
    """The phase's final checkpoint if the phase finished and it is intact, else None."""
    path = final_pointer(phase_dir)
    if path is None:
        return None
    pointer = phase_dir / "final.json"
    problem = verify_checkpoint(path)
    if problem is not None:
        raise UserError(f"{path}: the final checkpoint of this phase is damaged ({problem}); "
                        f"delete {pointer} to retrain the phase from its last checkpoint")
    return path
