"""StableAdamW (torch-optimi) with decoupled weight decay and ModernBERT's no-decay groups.

ModernBERT trains with StableAdamW (AdamW with Adafactor-style per-tensor update clipping, so no
global gradient clipping is needed) and fully decoupled weight decay: the decay applied is
`weight_decay · lr / max_lr`, independent of the learning-rate magnitude. Norm weights, biases
and embeddings (the decoder is tied to them) are not decayed, as in the reference.
"""

from __future__ import annotations

from torch import nn


def is_no_decay(name: str, parameter: nn.Parameter) -> bool:
    """Norm weights, biases (any 1-D tensor) and embedding tables are never decayed."""
    return parameter.ndim < 2 or "embeddings" in name or name.endswith("bias")


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two optimizer groups: decayed matrices and the rest, in a deterministic order."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if is_no_decay(name, parameter) else decay).append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, lr: float, betas: tuple[float, float], eps: float,
                    weight_decay: float):
    """`optimi.StableAdamW` over `model` with fully decoupled decay (max_lr = peak `lr`)."""
    from optimi import StableAdamW

    return StableAdamW(
        parameter_groups(model, weight_decay), lr=lr, betas=betas, eps=eps,
        weight_decay=weight_decay, decouple_lr=True, max_lr=lr,
    )
