"""The configuration of `rexbert run`: the inputs, and each stage's own config model embedded.

The stage sections are the stage models themselves (`curate: CurateConfig`, `tokenizer:
TokenizerConfig`, `evaluate: EvaluateConfig`, …), so a setting's name, default and bounds live
once, on the stage that uses it. What only the run decides — which text goes where, whether to
train a control — lives here. A section may also name a YAML file of that stage's config, with overrides:
`curate: configs/curate/openai_vllm.yaml`, or
`pretrain: {recipe: {file: configs/pretrain/demo.yaml, max_steps: 2}}`.

Arms. The annealed model trains the recipe's three phases; every arm of `pretrain.arms` trains
phase 3 again from the same phase-2 weights, with the same tokens and schedule, changing one
thing: `control` anneals on phase 1's general mix (no Guided MLM), `no_guided` on the recipe's
domain mix without Guided MLM, `uncurated` on the web corpus's target-domain folders as they
were before curation (no Guided MLM: spans are mined on the curated corpus). The default
`[control]` is the ordinary run; `configs/run/ablation.yaml` trains all three.

With no `--config` the run reads the packaged `configs/run/demo.yaml`: the embedded default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from rexbert.config import ConfigModel, load_config
from rexbert.config.base import packaged_config, read_yaml, resolve_config_path
from rexbert.config.flags import deep_merge
from rexbert.curate.config import CurateConfig
from rexbert.data.api import ShardsConfig, SpansConfig, TokenizerConfig
from rexbert.evaluate.api import EvaluateConfig, PairsInput
from rexbert.release.api import ExportConfig
from rexbert.sources.api import DemoDataConfig
from rexbert.sources.documents import DocumentInput
from rexbert.train.config import PretrainConfig

DEFAULT_RUN_CONFIG = "run/demo.yaml"
DEFAULT_PRETRAIN_RECIPE = "pretrain/demo.yaml"
Arm = Literal["control", "no_guided", "uncurated"]


def from_file(value: Any, key: str) -> Any:
    """A config section given as a YAML file: `key: FILE`, or `key: {file: FILE, …overrides}`."""
    if isinstance(value, (str, Path)):
        return read_yaml(resolve_config_path(str(value), key))
    if isinstance(value, dict) and "file" in value:
        overrides = {k: v for k, v in value.items() if k != "file"}
        return deep_merge(read_yaml(resolve_config_path(str(value["file"]), f"{key}.file")), overrides)
    return value


class RunData(ConfigModel):
    """The run's inputs. Any part not given falls back to the demo data, and the report says so."""

    run_owned: ClassVar[set[str]] = set()

    demo: DemoDataConfig = Field(default_factory=DemoDataConfig,
                                 description="the demo data generated for the parts not given")
    corpus: DocumentInput | None = Field(
        None, description="web text to curate: a FineFineWeb-layout folder or any input spec "
                          "(paths, text_fields, id_field, domain, domain_field); default: the demo corpus")
    domain_corpus: list[DocumentInput] = Field(
        default_factory=list, description="text that is already on-domain: curation cleans and dedups "
                                          "it but does not relevance-filter it")
    general_corpus: list[DocumentInput] = Field(
        default_factory=list, description="general text for phases 1–2 and the control; default: the "
                                          "corpus's domain folders that curation does not target")
    pairs: PairsInput | None = Field(
        None, description="query–product judgments for the similarity evaluation; default: demo ESCI")
    mlm_eval: DocumentInput | None = Field(
        None, description="held-out product text for masked-token recovery (each text field is "
                          "evaluated on its own); default: the demo ESCI product titles and descriptions")
    glue_dir: str | None = Field(None, description="GLUE TSV folder (SST-2/, QNLI/, …); default: the "
                                                   "demo tasks in the GLUE layouts")
    tokenizer: str | None = Field(None, description="an existing tokenizer folder or hub id to use "
                                                    "instead of training one")

    @field_validator("domain_corpus", "general_corpus", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, (str, dict)):
            return [value]
        return value


class RunPretrain(ConfigModel):
    """The pretraining recipe and the arms trained from it."""

    run_owned: ClassVar[set[str]] = {"recipe"}

    recipe: PretrainConfig = Field(None, validate_default=True, description="three-phase pretrain recipe: a YAML path (packaged "
                                               "ones as configs/pretrain/NAME.yaml), {file: PATH, "
                                               "…overrides}, or the mapping itself; default: the demo recipe")
    general_source: str = Field("general", description="mixture component of the general text")
    domain_source: str = Field("ecommerce", description="mixture component and shard source of the "
                                                        "domain text")
    arms: list[Arm] = Field(default_factory=lambda: ["control"], description=(
        "phase-3 arms trained beside the annealed model (the recipe's phase 3: the curated domain "
        "mix with Guided MLM), each from the same phase-2 weights with the same tokens: control "
        "(the general mix), no_guided (the domain mix without Guided MLM), uncurated (the web "
        "corpus's target-domain folders before curation)"))
    nproc_per_node: int = Field(1, ge=1, description=">1: launch pretraining with torchrun (DDP/FSDP2)")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "control" in data:
            raise ValueError("pretrain.control is now pretrain.arms: `arms: [control]` trains the "
                             "control (the default), `arms: []` trains none")
        return data

    @field_validator("arms")
    @classmethod
    def _once_each(cls, arms: list[str]) -> list[str]:
        if len(set(arms)) != len(arms):
            raise ValueError(f"each arm once, got {arms}")
        return arms

    @field_validator("recipe", mode="before")
    @classmethod
    def _recipe_file(cls, value: Any) -> Any:
        data = from_file(DEFAULT_PRETRAIN_RECIPE if value is None else value, "pretrain.recipe")
        if isinstance(data, dict):
            # The run decides where the tokens come from; placeholders satisfy the recipe model.
            data.setdefault("data", {})
            data["data"].setdefault("tokenizer", "tokenizer")
            data["data"].setdefault("shards", "shards")
        return data

    @model_validator(mode="after")
    def _three_phases(self) -> RunPretrain:
        names = [p.name for p in self.recipe.phases]
        if len(names) != 3:
            raise ValueError(f"`rexbert run` trains three phases (general, context, anneal); the "
                             f"recipe has {names}")
        return self


class RunConfig(ConfigModel):
    """Everything `rexbert run` needs."""

    seed: int = Field(0, ge=0, description="seed of every stage (demo data, sampling, masks, "
                                         "training, evaluation); it replaces the stages' own seed settings")
    data: RunData = Field(default_factory=RunData)
    curate: CurateConfig = Field(default_factory=CurateConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    shards: ShardsConfig = Field(default_factory=ShardsConfig)
    spans: SpansConfig = Field(default_factory=SpansConfig)
    pretrain: RunPretrain = Field(default_factory=RunPretrain)
    export: ExportConfig = Field(default_factory=ExportConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)

    @field_validator("curate", mode="before")
    @classmethod
    def _curate_file(cls, value: Any) -> Any:
        return from_file(value, "curate")

    @model_validator(mode="after")
    def _uncurated_needs_a_web_corpus(self) -> RunConfig:
        if "uncurated" in self.pretrain.arms and self.data.corpus is None and self.data.domain_corpus:
            raise ValueError("pretrain.arms: 'uncurated' anneals on the web corpus's target-domain "
                             "folders before curation, and data.corpus is not set (data.domain_corpus "
                             "is already on-domain); set data.corpus or drop 'uncurated'")
        return self


def stage_models() -> tuple[type[ConfigModel], ...]:
    """The stage config models a run config embeds (what the declared-once test checks)."""
    return (DemoDataConfig, CurateConfig, TokenizerConfig, ShardsConfig, SpansConfig, PretrainConfig,
            ExportConfig, EvaluateConfig, DocumentInput, PairsInput)


def read_run_config(path: str | Path | None) -> RunConfig:
    """The run config in `path`, or the embedded default (`configs/run/demo.yaml`)."""
    return load_config(RunConfig, path if path is not None else packaged_config(DEFAULT_RUN_CONFIG))
