"""Learning-rate and batch-size schedules of a phase, as functions of the step (or of tokens seen).

Warmup–stable–decay (trapezoidal, ModernBERT / RexBERT) is transformers' `get_wsd_schedule`:
linear warmup, a plateau at the peak, then over the last `decay_steps` a decay to
`min_lr_ratio · peak` shaped 1−√ (the paper anneals phase 3 with it), linear or cosine. It is a
`LambdaLR`, so the rate is a closed-form function of the step and a resumed run gets exactly the
rates of an uninterrupted one.

Batch-size warmup (ModernBERT): the global batch grows linearly with the tokens seen, from a
start size to the full size over `warmup_tokens`, because small batches are more
sample-efficient early in training.
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from rexbert.train.config import BatchWarmupSpec, ScheduleSpec


def wsd_steps(schedule: ScheduleSpec, total_steps: int) -> tuple[int, int]:
    """(warmup steps, decay steps) of a `total_steps`-step phase (rounding never overlaps them)."""
    warmup = int(round(schedule.warmup_fraction * total_steps))
    return warmup, min(int(round(schedule.decay_fraction * total_steps)), total_steps - warmup)


def wsd_scheduler(optimizer: Optimizer, schedule: ScheduleSpec, total_steps: int, start_step: int = 0) -> LambdaLR:
    """transformers' WSD schedule over the optimizer's current `lr` (the peak), positioned so that
    the next optimizer update is update `start_step` (0-based) of the phase.

    transformers gives update s the factor λ(s), so the first warmup update would run at lr 0
    and the last decay update one step short of the floor. Here update s runs at λ(s + 1): the
    warmup reaches the peak on its last update and the decay lands on the floor on the phase's
    last update (what the recipes' "decay to zero" means). LambdaLR's own first step during
    construction supplies the +1 when it is built with `last_epoch = start_step`. With no decay,
    the plateau is one step longer so that λ(total_steps) of the last update stays at the peak.
    """
    from transformers import get_wsd_schedule

    warmup, decay = wsd_steps(schedule, total_steps)
    stable = total_steps - warmup - decay + (1 if decay == 0 else 0)
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]
    return get_wsd_schedule(optimizer, num_warmup_steps=warmup, num_decay_steps=decay,
                            num_stable_steps=stable, warmup_type="linear",
                            decay_type=schedule.decay_shape, min_lr_ratio=schedule.min_lr_ratio,
                            last_epoch=start_step)


def batch_tokens_at(tokens_seen: int, batch_tokens: int, warmup: BatchWarmupSpec | None) -> int:
    """Global batch size in tokens after `tokens_seen` tokens, with linear batch-size warmup."""
    if warmup is None or tokens_seen >= warmup.warmup_tokens:
        return batch_tokens
    fraction = tokens_seen / warmup.warmup_tokens
    return int(round(warmup.start_batch_tokens + (batch_tokens - warmup.start_batch_tokens) * fraction))


def packs_per_step(batch_tokens: int, micro_batch_tokens: int, world_size: int) -> int:
    """Model calls in one optimizer step: the batch in micro-batches, a multiple of the ranks."""
    packs = max(1, round(batch_tokens / micro_batch_tokens))
    return max(world_size, -(-packs // world_size) * world_size)


def steps_for_tokens(token_budget: int, batch_tokens: int, warmup: BatchWarmupSpec | None,
                     micro_batch_tokens: int, world_size: int = 1) -> int:
    """Optimizer steps needed to see `token_budget` nominal tokens under the batch schedule."""
    steps, seen = 0, 0
    while seen < token_budget:
        size = batch_tokens_at(seen, batch_tokens, warmup)
        seen += packs_per_step(size, micro_batch_tokens, world_size) * micro_batch_tokens
        steps += 1
    return max(1, steps)
