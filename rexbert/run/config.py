"""The configuration of `rexbert run`: the inputs, and each stage's own config model embedded.

The stage sections are the stage models themselves (`curate: CurateConfig`, `tokenizer:
TokenizerConfig`, `evaluate: EvaluateConfig`, …), so a setting's name, default and bounds live
once, on the stage that uses it. What only the run decides — which text goes where, whether to
train a control — lives here. A section may also name a YAML file of that stage's config, with overrides:
`curate: configs/curate/openai_vllm.yaml`, or
`pretrain: {recipe: {file: configs/pretrain/demo.yaml, max_steps: 2}}`.

With no `--config` the run reads the packaged `configs/run/demo.yaml`: the embedded default.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from rexbert.config import ConfigModel, load_config
from rexbert.config.base import read_yaml
from rexbert.config.flags import deep_merge
from rexbert.curate.config import CurateConfig
from rexbert.data.api import ShardsConfig, SpansConfig, TokenizerConfig
from rexbert.errors import UserError
from rexbert.evaluate.api import EvaluateConfig, PairsInput
from rexbert.release.api import ExportConfig
from rexbert.sources.api import DemoDataConfig
from rexbert.sources.documents import DocumentInput
from rexbert.train.config import PretrainConfig

DEFAULT_RUN_CONFIG = "run/demo.yaml"
DEFAULT_PRETRAIN_RECIPE = "pretrain/demo.yaml"


def packaged_config(relative: str) -> Path:
    """Path of a config shipped inside the package (`rexbert/configs/…`)."""
    path = Path(str(resources.files("rexbert") / "configs" / relative))
    if not path.is_file():
        raise UserError(f"packaged config {relative} is missing from this install; reinstall rexbert")
    return path


def resolve_config_path(value: str, key: str) -> Path:
    """A config file named in a run config: an existing path, or one of the packaged configs.

    `configs/pretrain/micro.yaml` (or `pretrain/micro.yaml`) names the file shipped with rexbert,
    so the example run configs work from any directory and from a non-editable install.
    """
    if Path(value).is_file():
        return Path(value)
    packaged = Path(str(resources.files("rexbert") / "configs" / value.removeprefix("configs/")))
    if packaged.is_file():
        return packaged
    raise UserError(f"{key}: {value} is neither a file nor a packaged config (see configs/)")


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
    control: bool = Field(True, description="also train a control: phase 3 from the same phase-2 "
                                            "weights on the general mix, same tokens")
    nproc_per_node: int = Field(1, ge=1, description=">1: launch pretraining with torchrun (DDP/FSDP2)")

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

    seed: int = Field(0, ge=0, description="seed of every stage (data, sampling, masks, training)")
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


def stage_models() -> tuple[type[ConfigModel], ...]:
    """The stage config models a run config embeds (what the declared-once test checks)."""
    return (DemoDataConfig, CurateConfig, TokenizerConfig, ShardsConfig, SpansConfig, PretrainConfig,
            ExportConfig, EvaluateConfig, DocumentInput, PairsInput)


def read_run_config(path: str | Path | None) -> RunConfig:
    """The run config in `path`, or the embedded default (`configs/run/demo.yaml`)."""
    return load_config(RunConfig, path if path is not None else packaged_config(DEFAULT_RUN_CONFIG))
