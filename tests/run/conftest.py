"""The tiny demo run the end-to-end tests share: interrupted by a SIGTERM in phase 1, then resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TINY = """\
data: {demo: {size: tiny}}
tokenizer: {vocab_size: 1024}
curate:
  labelling: {labeller: {backend: lexicon}, auditor: {backend: lexicon}}
pretrain:
  recipe:
    file: {recipe}
    max_steps: 12
    logging: {every_steps: 1}
    eval: {every_steps: 6}
evaluate:
  mlm: {block_sizes: [128], max_examples: 16}
  similarity: {max_train_examples: 32, max_test_examples: 32}
  glue: {tasks: [sst2, stsb], epochs: 1.0, max_train_examples: 16, max_test_examples: 16}
"""


def tiny_config(folder: Path) -> str:
    """TINY over the demo recipe with 2,048-token micro-batches (and no batch warm-up), written
    into `folder`.

    Every batch is then two micro-batches, so one process and two torchrun ranks train on the
    same global batches and their losses can be compared step by step (with one micro-batch per
    step, two ranks would train on twice the tokens; during a batch warm-up, on a rounded size).
    """
    import re

    from rexbert.config.base import packaged_config

    demo = packaged_config("pretrain/demo.yaml").read_text(encoding="utf-8")
    recipe_text, micro = re.subn(r"micro_batch_tokens: 4096", "micro_batch_tokens: 2048", demo)
    recipe_text = re.sub(r"\n\s*batch_warmup: \{[^}]*\}", "", recipe_text)
    assert micro == 3, "the demo recipe changed: update tiny_config"
    recipe = folder / "tiny_recipe.yaml"
    recipe.write_text(recipe_text, encoding="utf-8")
    return TINY.replace("{recipe}", str(recipe))


def rexbert_process(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "rexbert", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def phase1_rows(out: Path) -> int:
    metrics = out / "pretrain" / "annealed" / "metrics.csv"
    return max(0, len(metrics.read_text().splitlines()) - 1) if metrics.is_file() else 0


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    config, out = root / "tiny.yaml", root / "out"
    config.write_text(tiny_config(root))
    first = rexbert_process("run", "--config", str(config), "--out", str(out))
    deadline = time.monotonic() + 900
    while phase1_rows(out) < 1 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    first.send_signal(signal.SIGTERM)  # a preemption in the middle of phase 1
    printed = first.communicate(timeout=300)[0]
    stopped = {"code": first.returncode, "printed": printed,
               "phase1_marked": (out / "stages" / "phase1.json").exists(),
               "checkpoints": sorted(p.name for p in (out / "pretrain" / "annealed").glob("phase1_*/checkpoint-*"))}
    second = rexbert_process("run", "--config", str(config), "--out", str(out))
    resumed = second.communicate(timeout=1800)[0]
    assert second.returncode == 0, resumed[-3000:]
    return {"config": config, "out": out, "stopped": stopped, "resumed": resumed}


