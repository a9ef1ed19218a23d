"""Checkpoint files: atomic assembly, keep last k, corrupt/partial detection with fallback."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from rexbert.errors import UserError
from rexbert.train import checkpointing as ckpt


def _write(phase_dir, step, keep=2):
    def model(directory):
        (directory / "model.safetensors").write_bytes(bytes([step]) * 100)

    return ckpt.write_checkpoint(phase_dir, step, model, {"step": step}, {"step": step}, keep_last=keep)


def test_keep_last_and_fallback_on_corruption(tmp_path, caplog):
    for step in (1, 2, 3):
        _write(tmp_path, step)
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [2, 3]
    assert ckpt.resume_point(tmp_path).name == "checkpoint-3"
    weights = tmp_path / "checkpoint-3" / "model.safetensors"
    weights.write_bytes(b"\x00" * 100)  # same size, different bytes
    assert ckpt.resume_point(tmp_path).name == "checkpoint-2"
    assert "corrupt" in caplog.text
    # The damaged one is kept under a name that pruning and rewriting never touch.
    assert (tmp_path / "damaged-checkpoint-3" / "model.safetensors").read_bytes() == b"\x00" * 100
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [2]


def test_every_checkpoint_damaged_stops_and_deletes_nothing(tmp_path):
    for step in (1, 2):
        _write(tmp_path, step)
    (tmp_path / "checkpoint-2" / "checkpoint.json").unlink()  # partial: no manifest
    (tmp_path / "checkpoint-1" / "model.safetensors").write_bytes(b"\x07" * 100)
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    with pytest.raises(UserError, match=r"every checkpoint is damaged \(checkpoint-2: no checkpoint.json "
                                        r"\(partial write\); checkpoint-1: .*corrupt.*nothing was deleted.*aside"):
        ckpt.resume_point(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    assert ckpt.resume_point(tmp_path / "never-trained") is None


def test_truncated_file_and_final_pointer(tmp_path):
    path = _write(tmp_path, 5)
    ckpt.point_final(tmp_path, path)
    assert (tmp_path / "final").resolve() == path.resolve()
    assert ckpt.final_checkpoint(tmp_path) == path
    with (path / "trainer_state.pt").open("r+b") as handle:
        handle.truncate(10)
    assert "truncated" in ckpt.verify_checkpoint(path)
    with pytest.raises(UserError, match="damaged"):
        ckpt.final_checkpoint(tmp_path)


def test_no_temporary_left_and_state_round_trip(tmp_path):
    path = _write(tmp_path, 7)
    assert not list(tmp_path.glob(".checkpoint-*"))
    assert ckpt.load_state(path) == {"step": 7}
    data = bytearray((path / "trainer_state.pt").read_bytes())
    data[-1] ^= 0xFF  # one flipped byte, same size
    (path / "trainer_state.pt").write_bytes(bytes(data))
    with pytest.raises(UserError, match="damaged checkpoint.*trainer_state.pt does not match its checksum"):
        ckpt.load_state(path)


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path):
    torch.save(ckpt.rng_state(), tmp_path / "rng.pt")
    expected = (torch.rand(3), np.random.rand(), np.random.randn(), random.random())
    ckpt.set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = (torch.rand(3), np.random.rand(), np.random.randn(), random.random())
    assert torch.equal(expected[0], again[0]) and expected[1:] == again[1:]
