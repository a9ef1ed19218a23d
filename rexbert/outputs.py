"""Output folders rexbert owns, and the one rule for writing into and removing them.

A command writes only into a folder it owns: one that did not exist, was empty, or carries the
marker `.rexbert-output.json` of the same kind of output. A folder holding anything else is
refused with one line: rexbert never deletes or overwrites a file it did not create.

The marker records the kind of output and, when the command that wrote it finishes (`seal`),
every file it wrote. `remove` (and `check_removable`) delete a folder only when every file in it
is rexbert's: listed when the folder was sealed, or written while a rexbert command had it open.
Anything else stops the removal with that file's name. A folder inside an owned folder that has
a marker of its own answers for its own files.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rexbert.errors import UserError
from rexbert.fileio import atomic_write_json

MARKER = ".rexbert-output.json"


def _read_marker(folder: Path) -> dict[str, Any] | None:
    path = folder / MARKER
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{path}: damaged ownership marker; rexbert will not write into {folder} — "
                        "choose a new --out") from None
    if not isinstance(data, dict) or "kind" not in data:
        raise UserError(f"{path}: damaged ownership marker; choose a new --out")
    return data


def owner_kind(folder: str | Path) -> str | None:
    """The kind of rexbert output in `folder`, or None when rexbert did not create it."""
    marker = _read_marker(Path(folder))
    return None if marker is None else str(marker["kind"])


def _listing(folder: Path) -> Iterator[str]:
    """Relative paths of the files and links under `folder`, not descending into nested outputs."""
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        links = [d for d in dirs if (here / d).is_symlink()]
        dirs[:] = sorted(d for d in dirs if d not in links and not (here / d / MARKER).is_file())
        for name in sorted(files + links):
            if not (here == folder and name == MARKER):
                yield str((here / name).relative_to(folder))


def _nested_outputs(folder: Path) -> Iterator[Path]:
    for root, dirs, _ in os.walk(folder):
        here = Path(root)
        for d in list(dirs):
            if (here / d / MARKER).is_file():
                dirs.remove(d)
                yield here / d


def claim(folder: str | Path, kind: str, flag: str = "--out") -> Path:
    """Open `folder` for writing output of `kind`, creating it and its marker if needed.

    Refuses a folder that holds files rexbert did not write, or another kind of rexbert output.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {folder}: exists and is not a folder; choose another {flag}")
    marker = _read_marker(folder) if folder.is_dir() else None
    if marker is not None:
        if marker["kind"] != kind:
            raise UserError(f"{flag} {folder}: holds a rexbert {marker['kind']} output, not a {kind}; "
                            f"choose another {flag}")
        if marker.get("opened_ns") is None:  # sealed: open it again from now on
            marker["opened_ns"] = time.time_ns()
            atomic_write_json(folder / MARKER, marker)
        # else: an earlier command (killed before sealing) still has it open since then, and
        # what it wrote stays rexbert's
        return folder
    if folder.is_dir():
        present = sorted(p.name for p in folder.iterdir())
        if present:
            shown = ", ".join(present[:3]) + (", …" if len(present) > 3 else "")
            raise UserError(f"{flag} {folder}: not empty and not written by rexbert ({shown}); rexbert "
                            f"never overwrites files it did not create — choose a new {flag} or empty it")
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time_ns()
    atomic_write_json(folder / MARKER, {"kind": kind, "claimed_ns": now, "opened_ns": now, "files": None})
    return folder


def seal(folder: str | Path) -> None:
    """Record every file now in `folder` as rexbert's (called when a command finishes writing)."""
    folder = Path(folder)
    marker = _read_marker(folder)
    if marker is None:
        raise UserError(f"{folder}: not a rexbert output folder (no {MARKER})")
    listed = set(marker.get("files") or [])
    marker["files"] = sorted(listed | set(_listing(folder)))
    marker["opened_ns"] = None
    atomic_write_json(folder / MARKER, marker)


def _owner(path: Path) -> Path | None:
    """The nearest folder at or above `path` that carries a marker."""
    for candidate in (path, *path.parents):
        if (candidate / MARKER).is_file():
            return candidate
    return None


def foreign_files(folder: str | Path) -> list[Path]:
    """Files under `folder` that rexbert did not write (empty list: all are ours).

    `folder` is an owned output folder or a folder inside one; its owner's marker decides.
    """
    folder = Path(folder)
    owner = _owner(folder)
    if owner is None:
        return [folder]
    marker = _read_marker(owner) or {}
    listed = set(marker.get("files") or [])
    opened = marker.get("opened_ns")
    foreign = []
    for rel in _listing(folder):
        path = folder / rel
        if str(path.relative_to(owner)) in listed:
            continue
        if opened is not None and path.lstat().st_mtime_ns >= int(opened):
            continue  # written while a rexbert command had the folder open
        foreign.append(path)
    for nested in _nested_outputs(folder):
        foreign += foreign_files(nested)
    return foreign


def check_removable(folder: str | Path, flag: str = "--out") -> None:
    """UserError unless every file under `folder` was written by rexbert."""
    folder = Path(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    if _owner(folder) is None:
        raise UserError(f"{flag} {folder}: was not created by rexbert, so rexbert will not delete or "
                        f"replace it; move it away or choose a new {flag}")
    foreign = foreign_files(folder)
    if foreign:
        raise UserError(f"{foreign[0]}: not written by rexbert, and removing {folder} would delete it; "
                        f"move it out of {folder} first (or choose a new {flag})")


def remove(path: str | Path, flag: str = "--out") -> None:
    """Delete an owned output folder (or a file or folder inside one), refusing if that would
    delete any file rexbert did not write."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and not path.is_symlink():
        check_removable(path, flag)
        shutil.rmtree(path)
        return
    owner = _owner(path.parent)
    if owner is None:
        raise UserError(f"{path}: was not written by rexbert, so rexbert will not delete it")
    marker = _read_marker(owner) or {}
    ours = str(path.relative_to(owner)) in set(marker.get("files") or []) or (
        marker.get("opened_ns") is not None and path.lstat().st_mtime_ns >= int(marker["opened_ns"]))
    if not ours:
        raise UserError(f"{path}: not written by rexbert; move it away (or choose a new {flag})")
    path.unlink()
