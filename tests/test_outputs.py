"""The ownership rule: rexbert writes into and removes only folders and files it created."""

from __future__ import annotations

import os
import time

import pytest

from rexbert import outputs
from rexbert.errors import UserError


def test_claim_refuses_a_folder_with_foreign_files_and_another_kind(tmp_path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "report.md").write_text("mine")
    with pytest.raises(UserError, match="not empty and not written by rexbert"):
        outputs.claim(user, "run")
    assert (user / "report.md").read_text() == "mine"
    ours = outputs.claim(tmp_path / "ours", "run")
    assert outputs.owner_kind(ours) == "run"
    with pytest.raises(UserError, match="holds a rexbert run output, not a model"):
        outputs.claim(ours, "model")
    assert outputs.claim(ours, "run") == ours
    empty = tmp_path / "empty"
    empty.mkdir()
    assert outputs.owner_kind(outputs.claim(empty, "model")) == "model"


def test_remove_deletes_only_what_rexbert_wrote(tmp_path) -> None:
    out = outputs.claim(tmp_path / "out", "run")
    (out / "a").mkdir()
    (out / "a" / "ours.txt").write_text("x")
    nested = outputs.claim(out / "a" / "model", "model")
    (nested / "w.bin").write_bytes(b"1")
    outputs.seal(nested)
    outputs.seal(out)
    assert outputs.foreign_files(out) == []
    old = time.time() - 3600
    mine = nested / "mine.txt"
    mine.write_text("user")
    os.utime(mine, (old, old))
    with pytest.raises(UserError, match="mine.txt: not written by rexbert"):
        outputs.remove(out)
    assert mine.exists() and (out / "a" / "ours.txt").exists()
    mine.unlink()
    outputs.remove(out)
    assert not out.exists()


def test_files_written_while_a_command_has_the_folder_open_are_ours(tmp_path) -> None:
    out = outputs.claim(tmp_path / "out", "curate")
    outputs.seal(out)
    (out / "later_by_user.txt").write_text("u")  # after the seal: not ours
    assert [p.name for p in outputs.foreign_files(out)] == ["later_by_user.txt"]
    (out / "later_by_user.txt").unlink()
    outputs.claim(out, "curate")  # a rexbert command reopens it
    (out / "evaluation.json").write_text("{}")
    assert outputs.foreign_files(out) == []
    with pytest.raises(UserError, match="was not created by rexbert"):
        outputs.remove(tmp_path)


def test_a_folder_or_file_inside_an_owned_folder_is_removed_by_the_owners_rule(tmp_path) -> None:
    out = outputs.claim(tmp_path / "run", "pretrain")
    phase = out / "phase2_context"
    phase.mkdir()
    (phase / "weights").write_text("w")
    (out / "recipe.yaml").write_text("r")
    outputs.seal(out)
    old = time.time() - 3600
    user = phase / "notes.txt"
    user.write_text("mine")
    os.utime(user, (old, old))
    with pytest.raises(UserError, match="notes.txt: not written by rexbert"):
        outputs.remove(phase)
    user.unlink()
    outputs.remove(phase)
    outputs.remove(out / "recipe.yaml")
    assert not phase.exists() and not (out / "recipe.yaml").exists()
    stray = tmp_path / "stray.txt"
    stray.write_text("s")
    with pytest.raises(UserError, match="was not written by rexbert"):
        outputs.remove(stray)
