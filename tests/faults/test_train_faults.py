"""Faults of `rexbert pretrain`: signals, crafted state files, bad optimizer values, damaged
checkpoints. Each test reproduces the fault and asserts the promised behaviour."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from rexbert.cli.main import main

TINY = {"num_layers": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2}


def tiny_recipe(tokenizer_dir, shards_dir, general_steps=6, anneal_steps=4) -> dict:
    """Two phases (fresh, then from the previous one with its moments), eval on one set."""
    def phase(name, init_from, steps, **extra):
        return {"name": name, "init_from": init_from, "seq_len": 64, "steps": steps, "batch_tokens": 512,
                "micro_batch_tokens": 256, "optimizer": {"lr": 3e-3, "weight_decay": 3e-4, "reset": False},
                "schedule": {"warmup_fraction": 0.25}, "mixture": {"weights": {"general": 1.0}}, **extra}

    return {
        "seed": 0, "model": {"preset": "nano", "overrides": dict(TINY)},
        "data": {"tokenizer": str(tokenizer_dir), "shards": str(shards_dir), "holdout_documents": 4,
                 "lookahead": 16},
        "eval": {"every_steps": 3, "sets": {"general": ["general"]}, "max_documents": 4, "seq_len": 64},
        "checkpoint": {"every_steps": 2, "keep_last": 2},
        "logging": {"every_steps": 1, "tensorboard": False, "progress_bar": False},
        "phases": [phase("general", None, general_steps),
                   phase("anneal", "previous", anneal_steps, schedule={"decay_fraction": 1.0},
                         mixture={"weights": {"general": 0.5, "ecommerce": 0.5}})],
    }


def write(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def losses(run: Path) -> list[tuple]:
    """Every metrics.csv cell that does not depend on wall-clock time."""
    from rexbert.train.logger import read_metrics

    timed = ("tokens_per_s", "elapsed_s")
    return [tuple(v for k, v in row.items() if k not in timed) for row in read_metrics(run / "metrics.csv")]


def final_weights(run: Path) -> dict[str, bytes]:
    return {p.parent.name: (p / "model.safetensors").read_bytes() for p in sorted(run.glob("phase*/final"))}


@pytest.fixture
def kill_at_forward(monkeypatch):
    """Send `signum` to this process during the n-th training forward (a deterministic SIGTERM)."""
    from rexbert.model import modeling

    original = modeling.RexBertForMaskedLM.forward

    def arm(n: int, signum: int = signal.SIGTERM):
        calls = {"n": 0}

        def forward(self, *args, **kwargs):
            if self.training:
                calls["n"] += 1
                if calls["n"] == n:
                    os.kill(os.getpid(), signum)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(modeling.RexBertForMaskedLM, "forward", forward)

    return arm


@pytest.fixture(scope="module")
def reference(tokenizer_dir, shards_dir, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("reference")
    cfg = write(root / "r.yaml", tiny_recipe(tokenizer_dir, shards_dir))
    assert main(["pretrain", "--config", str(cfg), "--out", str(root / "run")]) == 0
    return cfg, root / "run"


@pytest.fixture(scope="module")
def stopped_run(reference, tmp_path_factory) -> Path:
    """A run stopped by SIGTERM at phase 1 step 3 (checkpoint-2 and checkpoint-3, no final)."""
    from rexbert.config import load_config
    from rexbert.model import modeling
    from rexbert.train.api import pretrain, read_pretrain_result
    from rexbert.train.config import PretrainConfig

    cfg, _ = reference
    run = tmp_path_factory.mktemp("stopped") / "run"
    original = modeling.RexBertForMaskedLM.forward
    calls = {"n": 0}

    def forward(self, *args, **kwargs):
        calls["n"] += self.training
        if self.training and calls["n"] == 5:  # step 3's first pack (two packs a step)
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, *args, **kwargs)

    modeling.RexBertForMaskedLM.forward = forward
    try:
        result = pretrain(load_config(PretrainConfig, cfg), run)
    finally:
        modeling.RexBertForMaskedLM.forward = original
    assert not result.finished and result.signum == signal.SIGTERM and result.exit_code == 143
    assert result.resume_from == run / "phase1_general" / "checkpoint-3"
    general = result.phases["general"]
    assert general.checkpoint is None and general.steps == 3 and general.total_steps == 6
    assert result.phases["anneal"].steps == 0 and not result.phases["anneal"].finished
    again = read_pretrain_result(run)  # the same standing, read back from the files alone
    assert again.phases == result.phases and not again.finished and again.final_checkpoint("general") is None
    return run


# ----------------------------------------------------------------------------- signals


def test_sigterm_checkpoints_exits_143_and_resume_is_bit_identical(reference, tmp_path, capsys, kill_at_forward):
    cfg, ref_run = reference
    run = tmp_path / "run"
    kill_at_forward(9)  # phase 1 has 6 steps of 2 packs: step 5
    assert main(["pretrain", "--config", str(cfg), "--out", str(run)]) == 143
    line = one_error_line(capsys)
    assert "stopped by SIGTERM" in line and "--resume" in line
    assert str(run / "phase1_general" / "checkpoint-5") in line
    assert (run / "phase1_general" / "checkpoint-5" / "checkpoint.json").is_file()
    assert not (run / "phase1_general" / "final.json").exists()  # not taken for a finished phase
    kill_at_forward(10**9)  # disarmed
    assert main(["pretrain", "--config", str(cfg), "--out", str(run), "--resume"]) == 0
    assert "pretraining finished" in capsys.readouterr().out
    assert final_weights(run) == final_weights(ref_run) and len(final_weights(run)) == 2
    from rexbert.train.api import read_pretrain_result

    result = read_pretrain_result(run)
    assert result.finished and result.exit_code == 0
    assert result.last_checkpoint() == run / "phase2_anneal" / "checkpoint-4"
    assert losses(run) == losses(ref_run)


def test_sigterm_in_the_second_phase_resumes_to_the_same_weights(reference, tmp_path, capsys, kill_at_forward):
    cfg, ref_run = reference
    run = tmp_path / "run"
    kill_at_forward(12 + 3)  # phase 2, step 2
    assert main(["pretrain", "--config", str(cfg), "--out", str(run)]) == 143
    assert "phase2_anneal/checkpoint-2" in one_error_line(capsys)
    kill_at_forward(10**9)
    assert main(["pretrain", "--config", str(cfg), "--out", str(run), "--resume"]) == 0
    assert final_weights(run) == final_weights(ref_run)


def test_sigint_exits_130_from_a_real_process(tokenizer_dir, shards_dir, tmp_path):
    cfg = tiny_recipe(tokenizer_dir, shards_dir, general_steps=400)
    cfg["eval"]["sets"] = {}
    path = write(tmp_path / "r.yaml", cfg)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rexbert", "--log-level", "WARNING", "pretrain",
                             "--config", str(path), "--out", str(run)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "metrics.csv").is_file():
        assert proc.poll() is None and time.time() < deadline, "training never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "stopped by SIGINT" in err and "--resume" in err and "Traceback" not in err
    assert list((run / "phase1_general").glob("checkpoint-*/checkpoint.json"))
    assert not (run / "phase1_general" / "final.json").exists()


# ----------------------------------------------------------------------------- state files


class _CreatesFile:
    """Unpickling this opens (creates) a file: what a crafted trainer_state.pt would do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def plant_pickle(checkpoint: Path, marker: Path, rewrite_manifest: bool = True) -> None:
    """Replace trainer_state.pt with a crafted pickle; whoever can do that can rewrite the manifest."""
    state = checkpoint / "trainer_state.pt"
    torch.save({"step": 1, "optimizer": _CreatesFile(marker)}, state)
    if rewrite_manifest:
        manifest = json.loads((checkpoint / "checkpoint.json").read_text())
        manifest["files"]["trainer_state.pt"] = {"size": state.stat().st_size,
                                                 "sha256": hashlib.sha256(state.read_bytes()).hexdigest()}
        (checkpoint / "checkpoint.json").write_text(json.dumps(manifest))


def test_the_planted_pickle_is_live(tmp_path):
    """The payload does create its file when unpickled unsafely, so the tests below can fail."""
    marker = tmp_path / "created"
    torch.save(_CreatesFile(marker), tmp_path / "state.pt")
    torch.load(tmp_path / "state.pt", weights_only=False)
    assert marker.exists()


def test_resume_never_unpickles_a_crafted_state(stopped_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(stopped_run, run, symlinks=True)
    marker = tmp_path / "pwned"
    plant_pickle(run / "phase1_general" / "checkpoint-3", marker)
    assert main(["pretrain", "--config", str(run / "config.yaml"), "--out", str(run), "--resume"]) == 2
    line = one_error_line(capsys)
    assert "trainer_state.pt: holds a reference to" in line and "refusing to load it" in line
    assert not marker.exists()


@pytest.mark.parametrize("tamper", ["rewritten manifest", "stale manifest", "no manifest"])
def test_init_from_with_carried_moments_verifies_before_loading(stopped_run, tokenizer_dir, shards_dir,
                                                                tmp_path, capsys, tamper):
    source = tmp_path / "imported"
    shutil.copytree(stopped_run / "phase1_general" / "checkpoint-3", source)
    marker = tmp_path / "pwned"
    plant_pickle(source, marker, rewrite_manifest=tamper == "rewritten manifest")
    if tamper == "no manifest":
        (source / "checkpoint.json").unlink()
    cfg = tiny_recipe(tokenizer_dir, shards_dir)
    cfg["phases"] = [dict(cfg["phases"][1], init_from=str(source))]  # optimizer.reset: false
    path = write(tmp_path / "r.yaml", cfg)
    assert main(["pretrain", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    line = one_error_line(capsys)
    expected = {"rewritten manifest": "refusing to load it", "stale manifest": "damaged checkpoint (trainer_state.pt",
                "no manifest": "cannot be verified and will not be loaded"}[tamper]
    assert expected in line and str(source) in line
    assert not marker.exists()


def test_every_state_value_loads_weights_only(stopped_run):
    from rexbert.train import checkpointing as ckpt

    state = torch.load(stopped_run / "phase1_general" / "checkpoint-3" / ckpt.STATE_FILE, weights_only=True)
    assert state["step"] == 3 and state["phase"] == "general"
    assert {"optimizer", "data", "rng", "run_tokens", "nominal_tokens"} <= set(state)


# ----------------------------------------------------------------------------- bad values


@pytest.mark.parametrize("change, key, message", [
    ({"betas": [0.9, 1.5]}, "phases.0.optimizer.betas.1", "less than 1"),
    ({"betas": [-0.1, 0.98]}, "phases.0.optimizer.betas.0", "greater than or equal to 0"),
    ({"eps": 0.0}, "phases.0.optimizer.eps", "greater than 0"),
    ({"weight_decay": -0.1}, "phases.0.optimizer.weight_decay", "greater than or equal to 0"),
    ({"lr": 0}, "phases.0.optimizer.lr", "greater than 0"),
])
def test_optimizer_values_torch_rejects_are_config_errors(tokenizer_dir, shards_dir, tmp_path, capsys,
                                                          change, key, message):
    cfg = tiny_recipe(tokenizer_dir, shards_dir)
    cfg["phases"][0]["optimizer"].update(change)
    path = write(tmp_path / "r.yaml", cfg)
    assert main(["pretrain", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    line = one_error_line(capsys)
    assert f"key '{key}'" in line and message in line and str(path) in line
    assert not (tmp_path / "run").exists()  # refused before anything was written


# ----------------------------------------------------------------------------- damaged checkpoints


def test_resume_with_every_checkpoint_corrupt_stops_and_keeps_them(stopped_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(stopped_run, run, symlinks=True)
    for weights in (run / "phase1_general").glob("checkpoint-*/model.safetensors"):
        data = bytearray(weights.read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size, one flipped byte
        weights.write_bytes(bytes(data))
    before = snapshot(run)
    assert main(["pretrain", "--config", str(run / "config.yaml"), "--out", str(run), "--resume"]) == 2
    line = one_error_line(capsys)
    assert "every checkpoint is damaged" in line and "checkpoint-3: model.safetensors does not match" in line
    assert "nothing was deleted" in line and "aside" in line and "--resume" in line
    after = snapshot(run)
    assert {k: v for k, v in after.items() if k != ".rexbert-output.json"} == \
           {k: v for k, v in before.items() if k != ".rexbert-output.json"}  # no restart, nothing removed


def test_a_damaged_newest_checkpoint_is_kept_aside_and_the_previous_one_resumes(stopped_run, reference,
                                                                               tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(stopped_run, run, symlinks=True)
    newest = run / "phase1_general" / "checkpoint-3" / "model.safetensors"
    damaged = bytearray(newest.read_bytes())
    damaged[100] ^= 0xFF
    newest.write_bytes(bytes(damaged))
    assert main(["pretrain", "--config", str(run / "config.yaml"), "--out", str(run), "--resume"]) == 0
    capsys.readouterr()
    kept = run / "phase1_general" / "damaged-checkpoint-3" / "model.safetensors"
    assert kept.read_bytes() == bytes(damaged)
    assert final_weights(run) == final_weights(reference[1])  # resumed from checkpoint-2, exactly
