"""docs/own-data.md as a user runs it: their own products, general text and relevance judgments
(JSONL, CSV and parquet), through `rexbert run` and through the stage commands, to a report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .user_data import write_user_folder

PAGE = Path(__file__).resolve().parents[2] / "docs" / "own-data.md"
# The page trains 20 steps per phase; the test 2, which proves the commands, not the model.
FEWER_STEPS = (("max_steps: 20", "max_steps: 2"), ("--max-steps 20", "--max-steps 2"))


def _block(language: str, index: int = 0) -> str:
    text = re.findall(rf"^```{language}\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.S | re.M)[index]
    for old, new in FEWER_STEPS:
        text = text.replace(old, new)
    return text


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=env,
                          capture_output=True, text=True)


@pytest.mark.slow
def test_rexbert_run_on_the_users_files(tmp_path):
    write_user_folder(tmp_path)
    (tmp_path / "own_data.yaml").write_text(_block("yaml"))
    done = _shell(_block("bash", 0), tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "runs" / "own"
    report = (out / "report.md").read_text()
    assert "Every input is the user's own data" in report and "## Did domain annealing help?" in report
    assert not (out / "data").exists()  # nothing fell back to the demo data
    records = json.loads((out / "eval" / "results.json").read_text())["records"]
    fields = {r["axes"].get("field") for r in records if r["task"] == "mlm"}
    assert fields == {"title", "description"}
    # the packaged all-MiniLM-L6-v2 joins the similarity table as a baseline
    assert {r["model"] for r in records if r["task"] == "similarity"} == {"annealed", "control", "all-MiniLM-L6-v2"}
    stats = json.loads((out / "curated" / "stats.json").read_text())
    assert stats["domains"]["ecommerce"]["documents"] > 0
    assert set(stats["drop_reasons"]) <= {"near_duplicate"}  # cleaning keeps catalogue text
    assert "filter-required domains" in stats["skipped_stages"]["label"]  # nothing to label: said


@pytest.mark.slow
def test_the_stage_commands_on_the_users_files(tmp_path):
    write_user_folder(tmp_path)
    done = _shell(_block("bash", 1), tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "model" / "model.safetensors").is_file()
    records = json.loads((tmp_path / "eval" / "results.json").read_text())["records"]
    assert {r["task"].split("/")[0] for r in records} == {"mlm", "similarity"}
    assert "annealed" in (tmp_path / "eval" / "report.md").read_text()


def test_a_csv_copy_of_the_products_curates_to_the_same_documents(tmp_path):
    from rexbert import curate
    from rexbert.curate.config import CurateConfig
    from rexbert.sources.documents import DocumentInput

    my = write_user_folder(tmp_path)
    kept = {}
    for name in ("products.jsonl", "products.csv"):
        spec = DocumentInput(paths=[str(my / name)], text_fields=["title", "description"],
                             id_field="sku", domain="ecommerce")
        result = curate(CurateConfig(), [spec], tmp_path / name, relevance=False)
        kept[name] = sorted((row["id"], row["text"]) for path in sorted(result.kept.rglob("*.jsonl"))
                            for row in map(json.loads, path.read_text().splitlines()))
    assert kept["products.jsonl"] == kept["products.csv"] and len(kept["products.csv"]) > 50
