"""Experiment tracking and what a person sees: TensorBoard by default, W&B (offline) and MLflow (a
local file store) get exactly metrics.csv's numbers; progress without a terminal is lines, not
carriage returns, and the run ends with a summary."""

from __future__ import annotations

import glob
import importlib.util
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rexbert.cli.main import main

HAS_WANDB = importlib.util.find_spec("wandb") is not None
HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None


def small_recipe(tokenizer_dir, shards_dir, **logging) -> dict:
    """One 4-step phase with held-out evaluation every 2 steps; tracking as given."""
    return {
        "model": {"preset": "nano", "overrides": {"num_layers": 2, "hidden_size": 32, "intermediate_size": 64,
                                                  "num_heads": 2}},
        "data": {"tokenizer": str(tokenizer_dir), "shards": str(shards_dir), "holdout_documents": 4, "lookahead": 16},
        "eval": {"every_steps": 2, "sets": {"general": ["general"]}, "max_documents": 4, "seq_len": 64},
        "logging": {"every_steps": 1, **logging},
        "phases": [{"name": "general", "init_from": None, "seq_len": 64, "steps": 4, "batch_tokens": 256,
                    "micro_batch_tokens": 256, "optimizer": {"lr": 3e-3},
                    "mixture": {"weights": {"general": 1.0}}}],
    }


def expected_scalars(run: Path) -> dict[str, dict[int, float]]:
    """tag → {tokens: value} for every numeric metrics.csv cell, as the trackers must have them."""
    from rexbert.train.logger import read_metrics

    table: dict[str, dict[int, float]] = {}
    for row in read_metrics(run / "metrics.csv"):
        for key, value in row.items():
            if key not in ("phase", "step") and value != "":
                table.setdefault(f"{row['phase']}/{key}", {})[int(row["tokens"])] = float(value)
    return table


@pytest.fixture(scope="module")
def tracked_run(tokenizer_dir, shards_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("tracked")
    logging = {}  # tensorboard is not mentioned: it is on by default
    if HAS_WANDB:
        logging["wandb"] = {"project": "rexbert-test", "mode": "offline"}
    if HAS_MLFLOW:
        logging["mlflow"] = {"tracking_uri": (root / "mlruns").as_uri(), "experiment": "tests"}
    path = root / "r.yaml"
    path.write_text(yaml.safe_dump(small_recipe(tokenizer_dir, shards_dir, **logging)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_CONSOLE", "off")
        patch.setenv("WANDB_SILENT", "true")
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for this to use a local file store
        assert main(["pretrain", "--config", str(path), "--out", str(root / "run")]) == 0
    return root


def test_tensorboard_events_by_default_hold_the_metrics(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tracked_run / "run" / "tensorboard"))
    events.Reload()
    expected = expected_scalars(tracked_run / "run")
    assert "general/eval_general_accuracy" in expected and set(events.Tags()["scalars"]) == set(expected)
    for tag, points in expected.items():
        got = {event.step: event.value for event in events.Scalars(tag)}
        assert got == pytest.approx(points, rel=1e-6), tag


def _wandb_history(path: str) -> list[dict[str, str]]:
    """History records of an offline .wandb file (LevelDB-style log of protobuf records)."""
    from wandb.proto import wandb_internal_pb2

    data, block, position, pending, found = Path(path).read_bytes(), 32768, 7, b"", []
    while position + 7 <= len(data):
        if block - position % block < 7:  # a block's tail too short for a header is padding
            position += block - position % block
            continue
        _, length, kind = struct.unpack("<IHB", data[position:position + 7])
        if length == 0 and kind == 0:
            break
        pending += data[position + 7:position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            if record.WhichOneof("record_type") == "history":
                found.append({item.key or "/".join(item.nested_key): item.value_json
                              for item in record.history.item})
    return found


@pytest.mark.skipif(not HAS_WANDB, reason="wandb is not installed (pip install 'rexbert[tracking]')")
def test_wandb_offline_run_holds_the_metrics(tracked_run):
    files = glob.glob(str(tracked_run / "run" / "wandb" / "offline-run-*" / "run-*.wandb"))
    assert len(files) == 1
    got: dict[str, dict[int, float]] = {}
    for record in _wandb_history(files[0]):
        step = int(record.pop("_step"))
        for tag, value in record.items():
            if not tag.startswith("_"):
                got.setdefault(tag, {})[step] = float(value)
    assert got == expected_scalars(tracked_run / "run")


@pytest.mark.skipif(not HAS_MLFLOW, reason="mlflow is not installed (pip install 'rexbert[tracking]')")
def test_mlflow_file_store_holds_the_metrics(tracked_run, monkeypatch):
    import json

    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = mlflow.MlflowClient(tracking_uri=(tracked_run / "mlruns").as_uri())
    run_id = json.loads((tracked_run / "run" / "tracking.json").read_text())["mlflow"]
    expected = expected_scalars(tracked_run / "run")
    for tag, points in expected.items():
        assert {m.step: m.value for m in client.get_metric_history(run_id, tag)} == points, tag
    assert client.get_run(run_id).info.status == "FINISHED"


def test_a_configured_tracker_that_is_not_installed_is_a_clear_error(tokenizer_dir, shards_dir, tmp_path,
                                                                     monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb now raises ImportError
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(small_recipe(tokenizer_dir, shards_dir, wandb={"project": "p"})))
    assert main(["pretrain", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "logging.wandb is set but wandb is not installed" in err[0]


def test_progress_without_a_terminal_is_lines_with_an_eta_and_a_summary(tokenizer_dir, shards_dir, tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(small_recipe(tokenizer_dir, shards_dir, tensorboard=False,
                                                progress_every_s=0.001)))
    result = subprocess.run([sys.executable, "-m", "rexbert", "pretrain", "--config", str(path),
                             "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "\r" not in result.stderr  # stderr is a pipe: no bar redrawn in place
    progress = [line for line in result.stderr.splitlines() if "ETA all phases" in line]
    assert [line.split(" step ")[1].split()[0] for line in progress] == ["1/4", "2/4", "3/4", "4/4"]
    summary = result.stdout
    assert "pretraining finished" in summary and str(tmp_path / "run" / "metrics.csv") in summary
    assert "phase1_general: 4/4 steps" in summary and "held-out general loss" in summary
    assert str(tmp_path / "run" / "phase1_general" / "checkpoint-4") in summary
