"""Shared test settings (offline hub) and the tiny corpus, tokenizer and shards that the data and
train tests share (built once per session)."""

import json
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# ---- tiny corpora, a tokenizer and shards for tests/data and tests/train ----

GENERAL = [
    "the river flows through the old town", "history of the empire and its kings",
    "a study of music in the north", "the city council met on tuesday",
]
DOMAIN = [
    "Acme cotton shirt color: navy size 10 pack of 2", "Zenith laptop XPS-13 16 GB RAM 512 GB",
    "Acme running shoes size 9 color: black", "Orbit phone SM-G991B 128 GB 6.5 inch screen",
]


def write_corpus(root: Path, docs_per_file: int = 120, files: int = 2, seed: int = 0) -> Path:
    """FineFineWeb-layout corpus: root/<domain>/<domain>_NNNNNN.jsonl with variable-length docs."""
    rng = random.Random(seed)
    for name, base in (("general", GENERAL), ("ecommerce", DOMAIN)):
        (root / name).mkdir(parents=True, exist_ok=True)
        for f in range(files):
            with (root / name / f"{name}_{f:06d}.jsonl").open("w") as handle:
                for i in range(docs_per_file):
                    text = " ".join(rng.choice(base) for _ in range(rng.randint(1, 40)))
                    handle.write(json.dumps({"text": text, "id": f"{name}-{f}-{i}", "domain": name}) + "\n")
    return root


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def tokenizer_dir(corpus, tmp_path_factory) -> Path:
    from rexbert.data.api import TokenizerConfig, train_tokenizer
    from rexbert.sources.documents import DocumentInput

    out = tmp_path_factory.mktemp("tok")
    train_tokenizer([DocumentInput(paths=[str(corpus)])], TokenizerConfig(vocab_size=384), out, progress=False)
    return out


@pytest.fixture(scope="session")
def shards_dir(corpus, tokenizer_dir, tmp_path_factory) -> Path:
    from rexbert.data.api import ShardsConfig, build_shards
    from rexbert.sources.documents import DocumentInput

    out = tmp_path_factory.mktemp("shards")
    build_shards([DocumentInput(paths=[str(corpus)])], tokenizer_dir, ShardsConfig(), out, progress=False)
    return out
