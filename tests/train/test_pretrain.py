"""`rexbert pretrain` end to end on a tiny model: layout, curriculum, resume, signals, faults."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from rexbert.cli.main import main
from rexbert.errors import UserError

TINY = {"num_layers": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2}


def phase(name, init_from="previous", steps=4, seq_len=64, **extra):
    spec = {
        "name": name, "init_from": init_from, "seq_len": seq_len, "steps": steps,
        "batch_tokens": 512, "micro_batch_tokens": 256,
        "optimizer": {"lr": 3e-3, "weight_decay": 3e-4},
        "schedule": {"warmup_fraction": 0.25},
        "masking": {"rate": 0.3},
        "mixture": {"weights": {"general": 1.0}},
    }
    spec.update(extra)
    return spec


def recipe(tokenizer_dir, shards_dir, phases=None, **extra):
    cfg = {
        "seed": 0,
        "model": {"preset": "nano", "overrides": dict(TINY)},
        "data": {"tokenizer": str(tokenizer_dir), "shards": str(shards_dir), "holdout_documents": 4, "lookahead": 16},
        "eval": {"every_steps": 3, "sets": {"general": ["general"], "domain": ["ecommerce"]},
                 "max_documents": 4, "seq_len": 64},
        "checkpoint": {"every_steps": 2, "keep_last": 2},
        "logging": {"every_steps": 1, "tensorboard": False, "progress_bar": False},
        "phases": phases or [
            phase("general", init_from=None, steps=5),
            phase("context", steps=3, seq_len=128, rope={"global_theta": 320000.0}),
            phase("anneal", steps=4, schedule={"decay_fraction": 1.0},
                  masking={"rate": 0.15, "guided_share": 1.0},
                  mixture={"weights": {"general": 1.0, "ecommerce": 0.0},
                           "end_weights": {"general": 0.0, "ecommerce": 1.0}, "schedule": "linear"}),
        ],
    }
    cfg.update(extra)
    return cfg


def write(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def rows(run: Path) -> list[dict]:
    with (run / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def mined_shards(shards_dir):
    from rexbert.data.api import SpansConfig, mine_spans

    mine_spans(shards_dir, ["ecommerce"], ["general"], SpansConfig(min_count=3), progress=False)
    return shards_dir


@pytest.fixture(scope="module")
def full_run(tokenizer_dir, mined_shards, tmp_path_factory):
    root = tmp_path_factory.mktemp("full")
    cfg = write(root / "recipe.yaml", recipe(tokenizer_dir, mined_shards))
    assert main(["pretrain", "--config", str(cfg), "--out", str(root / "run")]) == 0
    return root / "run"


def test_run_layout_and_curriculum(full_run):
    from transformers import AutoTokenizer

    from rexbert.model.checkpoint import load_model

    assert (full_run / "config.yaml").is_file() and (full_run / "loss_curve.png").stat().st_size > 1000
    data = rows(full_run)
    for column in ("phase", "step", "tokens", "loss", "mlm_accuracy", "lr", "grad_norm", "tokens_per_s",
                   "eval_general_loss", "eval_domain_accuracy", "packing_efficiency", "guided_share"):
        assert column in data[0]
    assert [(r["phase"], int(r["step"])) for r in data][:6] == [("general", i) for i in range(1, 6)] + [("context", 1)]
    tokens = [int(r["tokens"]) for r in data]
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)
    assert float(data[-1]["lr"]) == pytest.approx(0.0)  # 1−√ decay to the floor
    anneal = [r for r in data if r["phase"] == "anneal"]
    assert max(float(r["guided_share"]) for r in anneal) > 0  # domain documents masked guided
    totals = {"general": 5, "context": 3, "anneal": 4}
    for name, total in totals.items():  # eval every 3 steps and at each phase's end, values in range
        mine = [r for r in data if r["phase"] == name]
        evaluated = {int(r["step"]) for r in mine if r["eval_general_loss"]}
        assert evaluated == {s for s in range(1, total + 1) if s % 3 == 0 or s == total}
        for row in mine:
            for column in ("eval_general", "eval_domain"):
                if int(row["step"]) in evaluated:
                    assert 0 < float(row[f"{column}_loss"]) < 10 and 0 <= float(row[f"{column}_accuracy"]) <= 1
                else:
                    assert row[f"{column}_loss"] == row[f"{column}_accuracy"] == ""
    for k, name in enumerate(("general", "context", "anneal"), start=1):
        phase_dir = full_run / f"phase{k}_{name}"
        final = (phase_dir / "final").resolve()
        assert final.name == f"checkpoint-{ {1: 5, 2: 3, 3: 4}[k] }"
        assert len(list(phase_dir.glob("checkpoint-*"))) <= 2
        model = load_model(phase_dir / "final")
        assert model.config.num_layers == 2
        assert AutoTokenizer.from_pretrained(str(phase_dir / "final" / "tokenizer")).mask_token == "[MASK]"
    assert load_model(full_run / "phase1_general" / "final").config.global_rope_theta == 160000.0
    assert load_model(full_run / "phase2_context" / "final").config.global_rope_theta == 320000.0
    assert load_model(full_run / "phase3_anneal" / "final").config.global_rope_theta == 320000.0


@pytest.mark.parametrize("phase_name", ["general", "context", "anneal"])
def test_held_out_metrics_equal_a_token_weighted_recomputation(full_run, phase_name):
    """metrics.csv's held-out loss and accuracy at a phase's last step, recomputed from that
    phase's final weights: one cross-entropy over every labelled token of the set at once."""
    import torch.nn.functional as F

    from rexbert.config import load_config
    from rexbert.model.checkpoint import load_model
    from rexbert.train.config import PretrainConfig
    from rexbert.train.distributed import DistInfo
    from rexbert.train.inputs import open_inputs
    from rexbert.train.phase import RunContext, eval_batches

    cfg = load_config(PretrainConfig, full_run / "config.yaml")
    index = cfg.phase_names().index(phase_name)
    ctx = RunContext(cfg, open_inputs(cfg, "config"), full_run, DistInfo(), resume=False)
    model = load_model(full_run / f"phase{index + 1}_{phase_name}" / "final").eval()
    logged = [r for r in rows(full_run) if r["phase"] == phase_name][-1]
    for name, batches in eval_batches(ctx, cfg.phases[index]).items():
        assert len(batches) > 1 and len({b.num_labels for b in batches}) > 1  # weighting matters
        logits, targets = [], []
        with torch.no_grad():
            for b in batches:
                labels = torch.from_numpy(b.labels)
                out = model(torch.from_numpy(b.input_ids), torch.from_numpy(b.cu_seqlens), b.max_seqlen,
                            labels=labels)
                logits.append(out.logits.float())
                targets.append(labels[labels != -100])
        logits, targets = torch.cat(logits), torch.cat(targets)
        assert float(logged[f"eval_{name}_loss"]) == pytest.approx(F.cross_entropy(logits, targets).item(), rel=1e-5)
        accuracy = (logits.argmax(-1) == targets).double().mean().item()
        assert float(logged[f"eval_{name}_accuracy"]) == pytest.approx(accuracy, abs=1e-12)


def test_rerun_without_resume_is_refused(full_run, tmp_path, capsys):
    assert main(["pretrain", "--config", str(full_run / "config.yaml"), "--out", str(full_run)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["pretrain", "--config", str(full_run / "config.yaml"), "--out", str(full_run), "--resume",
                 "--max-steps", "2"]) == 2
    assert "differs from the run's config.yaml at max_steps (run: None, now: 2)" in capsys.readouterr().err
    assert main(["pretrain", "--config", str(full_run / "config.yaml"), "--out", str(full_run),
                 "--max-steps", "0"]) == 2
    assert "--max-steps: Input should be greater than or equal to 1 (got 0)" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not rexbert's")
    assert main(["pretrain", "--config", str(full_run / "config.yaml"), "--out", str(foreign)]) == 2
    assert "never overwrites files it did not create" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_resume_of_finished_run_skips_phases(full_run):
    before = (full_run / "metrics.csv").read_text()
    assert main(["pretrain", "--config", str(full_run / "config.yaml"), "--out", str(full_run), "--resume"]) == 0
    assert (full_run / "metrics.csv").read_text() == before


def test_phase3_from_imported_checkpoint(full_run, tokenizer_dir, mined_shards, tmp_path):
    source = full_run / "phase2_context" / "final"  # a rexbert checkpoint directory, as import-hf writes
    cfg = recipe(tokenizer_dir, mined_shards, phases=[
        phase("anneal", init_from=str(source), steps=2, masking={"rate": 0.15, "guided_share": 0.05})])
    cfg["model"]["overrides"] = {}  # architecture comes from the checkpoint, not the preset
    assert main(["pretrain", "--config", str(write(tmp_path / "r.yaml", cfg)), "--out", str(tmp_path / "run")]) == 0
    from rexbert.model.checkpoint import load_model

    assert load_model(tmp_path / "run" / "phase1_anneal" / "final").config.num_layers == 2


def _assert_error(argv, capsys, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err


def test_clear_errors(tokenizer_dir, mined_shards, tmp_path, capsys, full_run):
    cfg = recipe(tokenizer_dir, mined_shards)
    cfg["phases"][0]["optimiser"] = {}
    _assert_error(["pretrain", "--config", str(write(tmp_path / "a.yaml", cfg)), "--out", str(tmp_path / "a")],
                  capsys, "unknown key 'phases.0.optimiser'")
    cfg = recipe(tokenizer_dir, mined_shards)
    cfg["model"]["overrides"]["max_position_embeddings"] = 96
    _assert_error(["pretrain", "--config", str(write(tmp_path / "b.yaml", cfg)), "--out", str(tmp_path / "b")],
                  capsys, "seq_len 128 is above the model's maximum 96")
    cfg = recipe(tokenizer_dir, mined_shards)
    _assert_error(["pretrain", "--config", str(write(tmp_path / "c.yaml", cfg)), "--out", str(tmp_path / "c"),
                   "--phases", "context"], capsys, "phase1_general/final is missing")
    # A checkpoint whose vocabulary does not fit the tokenizer.
    from rexbert.model.checkpoint import load_model, save_model
    from rexbert.model.modeling import RexBertForMaskedLM

    small = load_model(full_run / "phase1_general" / "final").config.model_copy(update={"vocab_size": 128})
    save_model(RexBertForMaskedLM(small), tmp_path / "small")
    cfg = recipe(tokenizer_dir, mined_shards, phases=[phase("anneal", init_from=str(tmp_path / "small"))])
    _assert_error(["pretrain", "--config", str(write(tmp_path / "d.yaml", cfg)), "--out", str(tmp_path / "d")],
                  capsys, "vocab mismatch")
    cfg = recipe(tokenizer_dir, mined_shards)
    cfg["phases"][0]["mixture"] = {"weights": {"shoes": 1.0}}
    _assert_error(["pretrain", "--config", str(write(tmp_path / "e.yaml", cfg)), "--out", str(tmp_path / "e")],
                  capsys, "components ['shoes']", "sources ecommerce, general", "data.groups (which maps")
    cfg["data"]["groups"] = {"general": ["general"]}
    _assert_error(["pretrain", "--config", str(write(tmp_path / "f.yaml", cfg)), "--out", str(tmp_path / "f")],
                  capsys, "mixture names ['shoes'] are not components of data.groups (general)")


def test_nan_steps_are_skipped_counted_and_stop(tokenizer_dir, mined_shards, tmp_path, monkeypatch):
    from rexbert.model import modeling

    original = modeling.RexBertForMaskedLM.forward
    calls = {"n": 0}

    def poisoned(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        calls["n"] += 1
        if self.training and calls["n"] in (3, 4):  # step 2's two packs
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(modeling.RexBertForMaskedLM, "forward", poisoned)
    cfg = recipe(tokenizer_dir, mined_shards, phases=[phase("general", init_from=None, steps=4)], max_nan_steps=1)
    cfg["eval"]["sets"] = {}
    assert main(["pretrain", "--config", str(write(tmp_path / "r.yaml", cfg)), "--out", str(tmp_path / "ok")]) == 0
    data = rows(tmp_path / "ok")
    assert [r["nan_steps"] for r in data] == ["0", "1", "1", "1"]
    assert all(torch.isfinite(p).all() for p in _final_params(tmp_path / "ok" / "phase1_general"))
    calls["n"] = 0
    cfg["max_nan_steps"] = 0
    with pytest.raises(UserError, match="max_nan_steps=0"):
        from rexbert.train.trainer import run_pretrain

        run_pretrain(write(tmp_path / "s.yaml", cfg), tmp_path / "stop")


def test_cpu_bf16_autocast_recipe_trains(tokenizer_dir, mined_shards, tmp_path):
    cfg = recipe(tokenizer_dir, mined_shards, phases=[phase("general", init_from=None, steps=3)])
    cfg["model"]["overrides"]["cpu_bf16_autocast"] = True
    assert main(["pretrain", "--config", str(write(tmp_path / "r.yaml", cfg)), "--out", str(tmp_path / "run")]) == 0
    losses = [float(row["loss"]) for row in rows(tmp_path / "run") if row["loss"]]
    assert len(losses) == 3 and all(0 < loss < 20 for loss in losses)
    from rexbert.model.checkpoint import load_model

    model = load_model(tmp_path / "run" / "phase1_general" / "final")
    assert model.config.cpu_bf16_autocast  # saved with the checkpoint
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32


def _final_params(phase_dir):
    from rexbert.model.checkpoint import load_model

    return list(load_model(phase_dir / "final").parameters())


# ----------------------------------------------------------------------------- subprocess runs

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0"}
LOSS_COLUMNS = ("phase", "step", "tokens", "loss", "mlm_accuracy", "lr", "grad_norm",
                "eval_general_loss", "eval_domain_loss")


def _cli(*args):
    return [sys.executable, "-m", "rexbert", "--log-level", "WARNING", "pretrain", *args]


def _wait_for_step(run: Path, proc: subprocess.Popen, phase: str, step: int, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "training ended before the kill"
        if (run / "metrics.csv").is_file():
            if any(r["phase"] == phase and int(r["step"]) >= step for r in rows(run)):
                return
        time.sleep(0.05)
    raise AssertionError("training did not reach the step in time")


def _losses(run):
    return [tuple(r[c] for c in LOSS_COLUMNS) for r in rows(run)]


@pytest.fixture(scope="module")
def reference(tokenizer_dir, mined_shards, tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    cfg = write(root / "r.yaml", recipe(tokenizer_dir, mined_shards))
    subprocess.run(_cli("--config", str(cfg), "--out", str(root / "run")), check=True, env=ENV,
                   capture_output=True)
    return cfg, root / "run"


def test_resume_after_sigkill_is_bit_identical(reference, tmp_path):
    cfg, ref_run = reference
    run = tmp_path / "run"
    proc = subprocess.Popen(_cli("--config", str(cfg), "--out", str(run)), env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_step(run, proc, "context", 2)  # between checkpoints (every 2 steps), mid-curriculum
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    result = subprocess.run(_cli("--config", str(cfg), "--out", str(run), "--resume"), env=ENV,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert _losses(run) == _losses(ref_run)


@pytest.mark.parametrize("strategy", ["ddp", "fsdp2"])
def test_two_processes_match_one(tokenizer_dir, mined_shards, tmp_path, strategy):
    cfg = recipe(tokenizer_dir, mined_shards, phases=[phase("general", init_from=None, steps=3)],
                 distributed=strategy)
    cfg["eval"]["sets"] = {"general": ["general"]}
    path = write(tmp_path / "r.yaml", cfg)
    subprocess.run(_cli("--config", str(path), "--out", str(tmp_path / "one")), check=True, env=ENV,
                   capture_output=True)
    port = {"ddp": "29517", "fsdp2": "29518"}[strategy]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
                "-m", "rexbert", "--log-level", "WARNING", "pretrain", "--config", str(path),
                "--out", str(tmp_path / "two")]
    result = subprocess.run(torchrun, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    one, two = rows(tmp_path / "one"), rows(tmp_path / "two")
    assert [r["tokens"] for r in one] == [r["tokens"] for r in two]
    for a, b in zip(one, two, strict=True):
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-4)
        assert float(a["grad_norm"]) == pytest.approx(float(b["grad_norm"]), rel=1e-3)
        assert a["eval_general_loss"] == "" or float(a["eval_general_loss"]) == pytest.approx(
            float(b["eval_general_loss"]), rel=1e-4)
    # Checkpoints written by the distributed run are ordinary rexbert checkpoint directories.
    from rexbert.model.checkpoint import load_model

    one_model = load_model(tmp_path / "one" / "phase1_general" / "final")
    two_model = load_model(tmp_path / "two" / "phase1_general" / "final")
    for (name, p), q in zip(one_model.named_parameters(), two_model.parameters(), strict=True):
        assert torch.allclose(p, q, rtol=1e-3, atol=1e-5), name
