"""Rotary position embeddings (RoPE) with a per-layer-type base and NTK-aware scaling."""

from __future__ import annotations

import torch

from rexbert.model.config import ModelConfig


def rope_theta(cfg: ModelConfig, is_global: bool) -> float:
    """The RoPE base of a layer type, with NTK-aware scaling applied.

    NTK-aware scaling (bloc97, 2023) stretches the base so that the lowest frequency covers
    `factor` times more positions while the highest stays put: θ' = θ · factor^(d / (d − 2)).
    With factor 1 this is the plain base (160,000 global, 10,000 local in ModernBERT).
    """
    base = cfg.global_rope_theta if is_global else cfg.local_rope_theta
    d = cfg.head_dim
    return base * cfg.rope_ntk_factor ** (d / (d - 2))


def rope_inverse_frequencies(theta: float, head_dim: int) -> torch.Tensor:
    """[head_dim/2] inverse frequencies 1 / θ^(2i/d), in fp32 as the reference computes them."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim))


def rotary_cos_sin(
    inv_freq: torch.Tensor, position_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and signed sin tables [T, 1, 1, head_dim] (fp32) for per-token positions [T].

    The sin table carries rotate-half's sign (−sin on the first half), so that applying RoPE is
    `x·cos + roll(x, d/2)·sin` (see `apply_rotary`): one copy instead of a negate and a concat.
    """
    freqs = position_ids.float()[:, None] * inv_freq.to(position_ids.device)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)[:, None, None, :]  # broadcast over (q|k, heads)
    sin = emb.sin()
    half = sin.shape[-1] // 2
    sin[..., :half].neg_()
    return emb.cos(), sin


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate [T, ..., heads, d] by position, in fp32 as transformers does, back to x's dtype.

    Same values as transformers' `x·cos + rotate_half(x)·sin` with rotate_half(x) = [−x₂, x₁]:
    roll(x, d/2) = [x₂, x₁] and the sign lives in the sin table.
    """
    xf = x.float()
    rotated = xf.roll(xf.shape[-1] // 2, dims=-1)
    return (xf * cos + rotated * sin).to(x.dtype)
