"""The pretraining recipe: one YAML declares the model, the data and the phases of the curriculum.

Validated at the edge (unknown keys refused, ranges checked, cross-field rules explained), so a
typo in a recipe fails in the first second with the key and the fix, not after an hour. Rules
that need only the recipe live here as validators; rules that need the tokenizer, the shards or
a checkpoint folder are in `rexbert/train/inputs.py`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from rexbert.config import ConfigModel
from rexbert.data.masking import MaskingConfig

__all__ = [
    "BatchWarmupSpec", "CheckpointSpec", "DataSpec", "EvalSpec", "LoggingSpec", "MaskingConfig",
    "MixtureSpec", "MlflowSpec", "ModelSpec", "OptimizerSpec", "PhaseSpec", "PretrainConfig",
    "RopeSpec", "ScheduleSpec", "WandbSpec",
]

# torch and torch-optimi refuse betas outside [0, 1) with a ValueError deep inside the optimizer.
Beta = Annotated[float, Field(ge=0, lt=1)]


class ModelSpec(ConfigModel):
    """Which architecture: a preset (micro/mini/base/large/nano) plus field overrides."""

    preset: str = Field("nano", description="model size preset: nano, micro, mini, base or large")
    overrides: dict[str, Any] = Field(default_factory=dict, description="ModelConfig fields to change")


class DataSpec(ConfigModel):
    """Where the tokens come from and how mixture components group the shard sources."""

    tokenizer: str = Field(description="tokenizer folder (`rexbert tokenizer train`)")
    shards: str = Field(description="token shard folder (`rexbert shards build`)")
    groups: dict[str, Annotated[list[str], Field(min_length=1)]] | None = Field(
        None, description="mixture components: name → shard sources (default: every source is its "
                          "own component)")
    holdout_documents: int = Field(16, ge=0, description="last N documents of every source are held "
                                                          "out from training (validation sets)")
    lookahead: int = Field(256, ge=1, description="documents in the best-fit packing buffer")


class EvalSpec(ConfigModel):
    """Held-out MLM loss/accuracy on named validation sets every N steps; each set lists mixture
    groups (data.groups) or shard sources."""

    every_steps: int = Field(100, ge=1)
    sets: dict[str, list[str]] = Field(default_factory=dict)
    max_documents: int = Field(32, ge=1, description="held-out documents per source")
    mask_rate: float = Field(0.3, gt=0, lt=1)
    mean_span: float = Field(3.0, gt=0)
    seq_len: int = Field(512, ge=8)

    def masking(self) -> MaskingConfig:
        """The fixed masking of the held-out sets (no Guided MLM: curves compare across phases)."""
        return MaskingConfig(rate=self.mask_rate, mean_span=self.mean_span)


class CheckpointSpec(ConfigModel):
    """Checkpoint frequency and retention."""

    every_steps: int = Field(500, ge=1)
    keep_last: int = Field(2, ge=1)


class WandbSpec(ConfigModel):
    """Send the metrics.csv scalars to Weights & Biases (needs `pip install wandb`)."""

    project: str
    entity: str | None = None
    name: str | None = Field(None, description="run name (default: the run folder's name)")
    mode: Literal["online", "offline", "disabled"] | None = Field(
        None, description="null: wandb's own setting (WANDB_MODE, `wandb login`)")


class MlflowSpec(ConfigModel):
    """Send the metrics.csv scalars to MLflow (needs `pip install mlflow-skinny` or `mlflow`)."""

    tracking_uri: str | None = Field(None, description="null: MLflow's own (MLFLOW_TRACKING_URI)")
    experiment: str = "rexbert"
    run_name: str | None = Field(None, description="default: the run folder's name")


class LoggingSpec(ConfigModel):
    """Metrics frequency, sinks and progress display."""

    every_steps: int = Field(10, ge=1)
    tensorboard: bool = Field(True, description="event files in RUN_DIR/tensorboard")
    wandb: WandbSpec | None = None
    mlflow: MlflowSpec | None = None
    progress_bar: bool = Field(True, description="show progress (a bar on a terminal, else lines)")
    progress_every_s: float = Field(10.0, gt=0, description="seconds between progress lines when the "
                                                             "output is not a terminal")


class OptimizerSpec(ConfigModel):
    """StableAdamW settings of one phase; `reset: false` carries the moments over."""

    lr: float = Field(gt=0)
    betas: tuple[Beta, Beta] = (0.9, 0.98)
    eps: float = Field(1e-6, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    reset: bool = True
    grad_clip: float | None = Field(None, gt=0, description="global norm clip; StableAdamW clips per tensor already")


class ScheduleSpec(ConfigModel):
    """Warmup–stable–decay: warmup and decay as fractions of the phase's steps."""

    warmup_fraction: float = Field(0.0, ge=0, le=1)
    decay_fraction: float = Field(0.0, ge=0, le=1)
    decay_shape: Literal["1-sqrt", "linear", "cosine"] = "1-sqrt"
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="decay floor as a fraction of the peak")

    @model_validator(mode="after")
    def _fits(self) -> ScheduleSpec:
        if self.warmup_fraction + self.decay_fraction > 1:
            raise ValueError("warmup_fraction + decay_fraction must be at most 1")
        return self


class BatchWarmupSpec(ConfigModel):
    """Linear batch-size warmup by tokens seen (ModernBERT)."""

    start_batch_tokens: int = Field(ge=1)
    warmup_tokens: int = Field(ge=1)


class MixtureSpec(ConfigModel):
    """Mixture weights per component, optional end weights and schedule, temperature."""

    weights: dict[str, float]
    end_weights: dict[str, float] | None = None
    schedule: Literal["constant", "linear", "cosine", "step"] = "constant"
    temperature: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _valid(self) -> MixtureSpec:
        for name, table in (("weights", self.weights), ("end_weights", self.end_weights or {})):
            if any(w < 0 for w in table.values()):
                raise ValueError(f"{name} must be non-negative")
        if sum(self.weights.values()) <= 0:
            raise ValueError("weights must not all be zero")
        if self.end_weights is not None and sum(self.end_weights.values()) <= 0:
            raise ValueError("end_weights must not all be zero")
        return self

    def names(self) -> set[str]:
        """Every component this mixture draws from or anneals to."""
        return set(self.weights) | set(self.end_weights or {})


class RopeSpec(ConfigModel):
    """RoPE changes applied when a phase starts (context extension); null keeps the value."""

    global_theta: float | None = Field(None, gt=0)
    local_theta: float | None = Field(None, gt=0)
    ntk_factor: float | None = Field(None, ge=1)
    max_position_embeddings: int | None = Field(None, ge=16)

    def changes(self) -> dict[str, Any]:
        """The ModelConfig fields this phase sets."""
        fields = {"global_rope_theta": self.global_theta, "local_rope_theta": self.local_theta,
                  "rope_ntk_factor": self.ntk_factor,
                  "max_position_embeddings": self.max_position_embeddings}
        return {key: value for key, value in fields.items() if value is not None}


class PhaseSpec(ConfigModel):
    """One phase of the curriculum."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    # null: fresh weights (first phase); "previous": the previous phase's final checkpoint;
    # any other string: a rexbert checkpoint directory (e.g. from `rexbert import-hf`).
    init_from: str | None = "previous"
    seq_len: int = Field(512, ge=8)
    tokens: int | None = Field(None, ge=1, description="token budget of the phase")
    steps: int | None = Field(None, ge=1, description="optimizer steps (instead of tokens)")
    batch_tokens: int = Field(ge=8, description="global tokens per optimizer step")
    micro_batch_tokens: int = Field(ge=8, description="tokens per model call on one rank")
    batch_warmup: BatchWarmupSpec | None = None
    optimizer: OptimizerSpec
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    masking: MaskingConfig = Field(default_factory=MaskingConfig)
    mixture: MixtureSpec
    rope: RopeSpec = Field(default_factory=RopeSpec)

    @model_validator(mode="after")
    def _budget(self) -> PhaseSpec:
        if (self.tokens is None) == (self.steps is None):
            raise ValueError(f"phase '{self.name}': give exactly one of tokens or steps")
        if self.micro_batch_tokens < self.seq_len:
            raise ValueError(f"phase '{self.name}': micro_batch_tokens must be at least seq_len")
        return self


class PretrainConfig(ConfigModel):
    """The whole `rexbert pretrain` recipe."""

    seed: int = 0
    model: ModelSpec = Field(default_factory=ModelSpec)
    data: DataSpec
    eval: EvalSpec = Field(default_factory=EvalSpec)
    checkpoint: CheckpointSpec = Field(default_factory=CheckpointSpec)
    logging: LoggingSpec = Field(default_factory=LoggingSpec)
    max_nan_steps: int = Field(10, ge=0, description="skipped NaN/Inf steps tolerated before stopping")
    max_steps: int | None = Field(None, ge=1, description="cap every phase at N optimizer steps "
                                                          "(schedules shrink to fit); for smoke runs")
    distributed: Literal["auto", "ddp", "fsdp2"] = "auto"
    phases: list[PhaseSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _phases(self) -> PretrainConfig:
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phase names must be unique, got {names}")
        if self.phases[0].init_from == "previous":
            raise ValueError("the first phase has no previous phase: set its init_from to null "
                             "(fresh weights) or a checkpoint directory")
        return self

    @model_validator(mode="after")
    def _held_out(self) -> PretrainConfig:
        if self.eval.sets and self.data.holdout_documents == 0:
            raise ValueError(f"eval.sets {sorted(self.eval.sets)} need held-out documents; set "
                             "data.holdout_documents above 0")
        if self.eval.sets and self.eval.max_documents > self.data.holdout_documents:
            raise ValueError(f"eval.max_documents {self.eval.max_documents} exceeds "
                             f"data.holdout_documents {self.data.holdout_documents}; lower it")
        return self

    @model_validator(mode="after")
    def _mixtures_name_groups(self) -> PretrainConfig:
        if self.data.groups is None:
            return self  # components are the shard sources: checked against the shards
        for index, phase in enumerate(self.phases):
            unknown = sorted(phase.mixture.names() - set(self.data.groups))
            if unknown:
                raise ValueError(f"phases[{index}] '{phase.name}': mixture names {unknown} are not "
                                 f"components of data.groups ({', '.join(self.data.groups)})")
        return self

    def phase_names(self) -> list[str]:
        """The phases in curriculum order."""
        return [phase.name for phase in self.phases]
