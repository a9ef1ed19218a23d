"""Model configuration and the paper's size presets (RexBERT Table 2), plus a CPU-sized `nano`.

Shapes follow ModernBERT: hidden size H, GeGLU intermediate size I (the input projection is
H → 2I), heads of size H / heads, global attention every third layer starting at layer 0 and a
128-token sliding window (±64) elsewhere, RoPE θ 160,000 on global and 10,000 on local layers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rexbert.config import ConfigModel

# ModernBERT's vocabulary: 50,280 BPE tokens + specials, padded to a multiple of 64 so the
# embedding and decoder matmuls tile well on GPUs (the paper keeps 50,368 at every size).
FULL_VOCAB_SIZE = 50_368


class ModelConfig(ConfigModel):
    """Architecture of one rexbert encoder. Everything needed to rebuild the weights' shapes."""

    vocab_size: int = Field(FULL_VOCAB_SIZE, ge=8)
    hidden_size: int = Field(768, ge=8)
    intermediate_size: int = Field(1152, ge=8)
    num_layers: int = Field(22, ge=1)
    num_heads: int = Field(12, ge=1)
    max_position_embeddings: int = Field(8192, ge=16)
    global_attn_every_n_layers: int = Field(3, ge=1)
    local_attention_window: int = Field(128, ge=2, description="total window, ±window/2 tokens")
    global_rope_theta: float = Field(160_000.0, gt=0)
    local_rope_theta: float = Field(10_000.0, gt=0)
    # NTK-aware RoPE scaling for context extension: θ is multiplied by factor^(d/(d-2)).
    rope_ntk_factor: float = Field(1.0, ge=1.0)
    norm_eps: float = Field(1e-5, gt=0)
    initializer_range: float = Field(0.02, gt=0)
    initializer_cutoff_factor: float = Field(2.0, gt=0)
    pad_token_id: int = Field(50283, ge=0)
    cls_token_id: int = Field(50281, ge=0)
    sep_token_id: int = Field(50282, ge=0)
    mask_token_id: int = Field(50284, ge=0)
    attention_backend: Literal["auto", "sdpa", "flex", "flash"] = "auto"
    # Run the encoder under bf16 autocast when it is on a CUDA device (weights stay fp32).
    gpu_bf16_autocast: bool = True
    # The same on CPU. Worth it where the CPU multiplies bf16 natively (AVX512-BF16 or AMX:
    # a micro training step measured 2.2× its fp32 rate on an AMD EPYC); elsewhere bf16 is
    # emulated and slower, hence off by default.
    cpu_bf16_autocast: bool = False

    @model_validator(mode="after")
    def _check_shapes(self) -> ModelConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}; "
                "pick a head count that divides it"
            )
        if (self.hidden_size // self.num_heads) % 2:
            raise ValueError("head size (hidden_size / num_heads) must be even for rotary embeddings")
        for name in ("pad_token_id", "cls_token_id", "sep_token_id", "mask_token_id"):
            if getattr(self, name) >= self.vocab_size:
                raise ValueError(f"{name} {getattr(self, name)} is outside vocab_size {self.vocab_size}")
        return self

    @property
    def head_dim(self) -> int:
        """Size of one attention head."""
        return self.hidden_size // self.num_heads

    def is_global_layer(self, layer_index: int) -> bool:
        """Global attention every n-th layer starting at 0, as ModernBERT; the rest slide."""
        return layer_index % self.global_attn_every_n_layers == 0


class Preset(ConfigModel):
    """A named model size with the optimiser settings the paper trained it with."""

    model: ModelConfig
    learning_rate: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    published_parameters: int | None = None


def _full_size(layers: int, hidden: int, intermediate: int, heads: int) -> ModelConfig:
    return ModelConfig(
        num_layers=layers, hidden_size=hidden, intermediate_size=intermediate, num_heads=heads
    )


# RexBERT paper, Table 2. Published sizes are the rounded counts the paper names; the counts
# of transformers' ModernBertForMaskedLM with these shapes are 16.9M, 68.5M, 149.7M, 395.9M.
PRESETS: dict[str, Preset] = {
    "micro": Preset(model=_full_size(7, 256, 384, 4), learning_rate=3e-3, weight_decay=3e-4,
                    published_parameters=17_000_000),
    "mini": Preset(model=_full_size(19, 512, 768, 8), learning_rate=3e-3, weight_decay=3e-4,
                   published_parameters=68_000_000),
    "base": Preset(model=_full_size(22, 768, 1152, 12), learning_rate=8e-4, weight_decay=1e-5,
                   published_parameters=150_000_000),
    "large": Preset(model=_full_size(28, 1024, 2624, 16), learning_rate=5e-4, weight_decay=1e-5,
                    published_parameters=400_000_000),
    # Not in the paper: small enough to pretrain for minutes on 2 CPU cores (demo and tests).
    # The demo recipe shrinks vocab_size to its own tokenizer's.
    "nano": Preset(
        model=ModelConfig(num_layers=4, hidden_size=128, intermediate_size=256, num_heads=2,
                          max_position_embeddings=8192),
        learning_rate=3e-3, weight_decay=3e-4,
    ),
}


def preset(name: str) -> Preset:
    """Look up a preset by name, with the list of names in the error."""
    from rexbert.errors import UserError

    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(f"unknown model preset '{name}'; choose one of {', '.join(PRESETS)}") from None


def count_parameters(cfg: ModelConfig) -> int:
    """Trainable parameters of the masked-LM model (decoder tied to the embeddings), by formula.

    Needs no weights: embeddings V·H + norm H; per layer Wqkv 3H², Wo H², GeGLU Wi H·2I and
    Wo I·H, two norms (layer 0 has no attention norm); a final norm; the MLM head's dense H²
    and norm H, and the decoder bias V.
    """
    v, h, i, n = cfg.vocab_size, cfg.hidden_size, cfg.intermediate_size, cfg.num_layers
    embeddings = v * h + h
    per_layer = 4 * h * h + 3 * h * i + 2 * h
    layers = n * per_layer - h  # layer 0's attention norm is an identity
    head = h * h + h + v
    return embeddings + layers + h + head
