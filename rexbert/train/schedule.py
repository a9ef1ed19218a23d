"""Learning-rate and batch-size schedules as pure functions of the step (or of tokens seen).

Warmup–stable–decay (trapezoidal, ModernBERT / RexBERT): linear warmup to the peak over
`warmup_steps`, constant, then over the last `decay_steps` a decay to `floor` shaped

    1−√:    lr = floor + (peak − floor) · (1 − √p)        p = progress through the decay ∈ [0, 1]
    linear: lr = floor + (peak − floor) · (1 − p)
    cosine: lr = floor + (peak − floor) · ½(1 + cos πp)

1−√ decays fast at first and slowly at the end; the paper anneals phase 3 with it.

Batch-size warmup (ModernBERT): the global batch grows linearly with the tokens seen, from a
start size to the full size over `warmup_tokens`, because small batches are more
sample-efficient early in training.
"""

from __future__ import annotations

import math

DECAY_SHAPES = ("1-sqrt", "linear", "cosine")


def wsd_lr(step: int, total_steps: int, peak: float, warmup_steps: int, decay_steps: int,
           floor: float = 0.0, shape: str = "1-sqrt") -> float:
    """Learning rate at optimizer step `step` (0-based) of a `total_steps`-step phase."""
    if warmup_steps > 0 and step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    decay_start = total_steps - decay_steps
    if decay_steps <= 0 or step < decay_start:
        return peak
    progress = min(1.0, (step - decay_start + 1) / decay_steps)
    if shape == "1-sqrt":
        factor = 1.0 - math.sqrt(progress)
    elif shape == "linear":
        factor = 1.0 - progress
    elif shape == "cosine":
        factor = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        raise ValueError(f"unknown decay shape {shape!r}; choose one of {', '.join(DECAY_SHAPES)}")
    return floor + (peak - floor) * factor


def batch_tokens_at(tokens_seen: int, batch_tokens: int, start_batch_tokens: int | None,
                    warmup_tokens: int) -> int:
    """Global batch size in tokens after `tokens_seen` tokens, with linear batch-size warmup."""
    if not start_batch_tokens or warmup_tokens <= 0 or tokens_seen >= warmup_tokens:
        return batch_tokens
    fraction = tokens_seen / warmup_tokens
    return int(round(start_batch_tokens + (batch_tokens - start_batch_tokens) * fraction))


def packs_per_step(batch_tokens: int, micro_batch_tokens: int, world_size: int) -> int:
    """Model calls in one optimizer step: the batch in micro-batches, a multiple of the ranks."""
    packs = max(1, round(batch_tokens / micro_batch_tokens))
    return max(world_size, -(-packs // world_size) * world_size)


def steps_for_tokens(token_budget: int, batch_tokens: int, start_batch_tokens: int | None,
                     warmup_tokens: int, micro_batch_tokens: int, world_size: int = 1) -> int:
    """Optimizer steps needed to see `token_budget` nominal tokens under the batch schedule."""
    steps, seen = 0, 0
    while seen < token_budget:
        size = batch_tokens_at(seen, batch_tokens, start_batch_tokens, warmup_tokens)
        seen += packs_per_step(size, micro_batch_tokens, world_size) * micro_batch_tokens
        steps += 1
    return max(1, steps)
