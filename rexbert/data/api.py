"""The typed entry points of the data stage: tokenizer, token shards, Guided-MLM spans.

    train_tokenizer(inputs, TokenizerConfig(vocab_size=4096), "tok")         -> TokenizerResult
    build_shards(inputs, "tok", ShardsConfig(workers=4), "shards")           -> ShardsResult
    mine_spans("shards", ["ecommerce"], ["general"], SpansConfig())          -> SpansResult

`inputs` is a list of `rexbert.sources.documents.DocumentInput` (files or folders with a field
mapping). The CLI (`rexbert tokenizer train`, `shards build`, `spans mine`), the Python API and
`rexbert run` all call these functions; each setting's name, default, bounds and help text live
on the config models below alone. Output folders follow `rexbert.outputs`: a folder holding files
rexbert did not write is refused.

A record that cannot be read (a lone surrogate, a malformed JSON line, …) never stops a stage: it
is rejected with its reason and counted (shards: `rejects.jsonl` in the shard folder, counted in
`index.json`). A field mapping that matches no record of a file does stop it, with the fields
the file has and the flag to pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from rexbert.config import ConfigModel
from rexbert.data.tokenizer import VOCAB_MULTIPLE

if TYPE_CHECKING:
    from rexbert.data.tokenizer import TokenizerInfo
    from rexbert.sources.documents import DocumentInput

TOKENIZER_KIND = "tokenizer"
SHARDS_KIND = "token-shards"


class TokenizerConfig(ConfigModel):
    """How `rexbert tokenizer train` trains the byte-level BPE."""

    vocab_size: int = Field(50_368, ge=320, description="vocabulary size including the special tokens, a "
                            "multiple of 64 (ModernBERT: 50368); a corpus too small for that many merges "
                            "is padded with [unused] tokens")
    min_frequency: int = Field(2, ge=1, description="minimum count of a pair for a BPE merge")
    max_documents: int | None = Field(None, ge=1, description="train on at most this many documents "
                                                              "(the first ones, in input order)")

    @field_validator("vocab_size")
    @classmethod
    def _multiple_of_64(cls, value: int) -> int:
        if value % VOCAB_MULTIPLE:
            raise ValueError(f"must be a multiple of {VOCAB_MULTIPLE}; use e.g. "
                             f"{-(-value // VOCAB_MULTIPLE) * VOCAB_MULTIPLE}")
        return value


class ShardsConfig(ConfigModel):
    """How `rexbert shards build` tokenises documents into shards."""

    workers: int = Field(1, ge=1, description="parallel processes, one input file each")


class SpansConfig(ConfigModel):
    """Which miners `rexbert spans mine` uses (RexBERT §4, Guided MLM)."""

    patterns: bool = Field(True, description="mine attribute-value pairs, quantities with units and model "
                                             "numbers by regular expression")
    phrases: bool = Field(True, description="mine frequent word n-grams with positive PMI and brand-like "
                                            "names")
    min_count: int = Field(5, ge=1, description="minimum count of a mined phrase")
    max_phrases: int = Field(5000, ge=1, description="size cap of the mined phrase lexicon")
    min_pmi: float = Field(1.0, ge=0, description="minimum pointwise mutual information of an n-gram phrase")
    min_salience: float = Field(2.0, gt=0, description="with reference sources: how many times more frequent "
                                                       "in the domain than in the reference a phrase must be")
    dictionary: str | None = Field(None, description="file of extra phrases, one per line (# comments)")


@dataclass(frozen=True)
class TokenizerResult:
    """A trained tokenizer folder (loads with transformers' AutoTokenizer) and what went into it."""

    out: Path
    info: TokenizerInfo
    documents: int  # non-empty documents the BPE was trained on
    rejected: dict[str, int]  # reason -> records rejected
    rejects: Path | None  # rejects.jsonl in the folder, when any record was rejected

    @property
    def vocab_size(self) -> int:
        return self.info.vocab_size


@dataclass(frozen=True)
class ShardsResult:
    """A token shard folder: `index.json`, one shard per (input file, source), `rejects.jsonl`."""

    out: Path
    index: dict[str, Any]

    @property
    def index_path(self) -> Path:
        return self.out / "index.json"

    @property
    def rejects(self) -> Path:
        return self.out / self.index["rejected"]["file"]

    @property
    def sources(self) -> dict[str, dict[str, Any]]:
        """Source name -> documents, tokens, empty_documents and shard entries."""
        return self.index["sources"]

    @property
    def total_documents(self) -> int:
        return int(self.index["total_documents"])

    @property
    def total_tokens(self) -> int:
        return int(self.index["total_tokens"])

    @property
    def rejected(self) -> dict[str, int]:
        """Reason -> records rejected."""
        return dict(self.index["rejected"]["reasons"])


@dataclass(frozen=True)
class SpansResult:
    """Mined spans: `<shard>.spans.npy` per shard, the lexicon and the summary in the shard folder."""

    shards: Path
    summary: dict[str, Any]
    span_files: tuple[Path, ...]

    @property
    def summary_path(self) -> Path:
        return self.shards / "spans.json"

    @property
    def lexicon(self) -> Path:
        return self.shards / "spans_lexicon.txt"

    @property
    def phrases(self) -> int:
        return int(self.summary["phrases"])

    @property
    def documents(self) -> int:
        return int(self.summary["documents"])

    @property
    def documents_with_spans(self) -> int:
        return int(self.summary["documents_with_spans"])

    @property
    def share_with_spans(self) -> float:
        return float(self.summary["share_with_spans"])


def train_tokenizer(inputs: list[DocumentInput], cfg: TokenizerConfig, out: str | Path,
                    progress: bool = True) -> TokenizerResult:
    """Train a ModernBERT-style byte-level BPE on the documents of `inputs`, into `out`."""
    from rexbert import outputs
    from rexbert.data.tokenizer import read_training_texts, train_bpe
    from rexbert.sources.documents import list_files

    for spec in inputs:
        list_files(spec)  # a missing input stops before the folder is claimed
    out = outputs.claim(out, TOKENIZER_KIND)
    texts = read_training_texts(inputs, cfg.max_documents, out / "rejects.jsonl")
    info = train_bpe(texts, cfg, out, progress=progress)
    outputs.seal(out)
    rejects = texts.rejects.path if texts.rejects.total else None
    return TokenizerResult(out, info, texts.count, dict(texts.rejects.counts), rejects)


def build_shards(inputs: list[DocumentInput], tokenizer: str | Path, cfg: ShardsConfig, out: str | Path,
                 progress: bool = True) -> ShardsResult:
    """Tokenise the documents of `inputs` into memory-mapped shards under `out` (resumable).

    A document's source is its domain (`DocumentInput.domain`, a NAME=PATH input, the domain
    field or the FineFineWeb layout), else the name of its input folder.
    """
    from rexbert import outputs
    from rexbert.data.shards import plan_shards, write_shards

    plan = plan_shards(inputs, tokenizer, out)
    outputs.claim(out, SHARDS_KIND)
    index = write_shards(plan, workers=cfg.workers, progress=progress)
    outputs.seal(out)
    out = plan.out_dir
    return ShardsResult(out, index)


def mine_spans(shards: str | Path, sources: list[str], reference_sources: list[str] | None = None,
               cfg: SpansConfig | None = None, progress: bool = True) -> SpansResult:
    """Mine salient spans of `sources` (against `reference_sources`) and store them by the shards."""
    from rexbert import outputs
    from rexbert.data.shards import ShardSet
    from rexbert.data.spans import mark_spans

    ShardSet(shards)  # a missing or unfinished shard folder is refused before it is claimed
    folder = outputs.claim(shards, SHARDS_KIND, flag="--shards")
    summary, files = mark_spans(folder, sources, reference_sources or [], cfg or SpansConfig(),
                                progress=progress)
    outputs.seal(folder)
    return SpansResult(folder, summary, tuple(files))
