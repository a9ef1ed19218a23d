"""Warmup–stable–decay against transformers' schedule and its formulas; batch warmup; StableAdamW."""

from __future__ import annotations

import math

import pytest
import torch

from rexbert.model.config import preset
from rexbert.model.modeling import RexBertForMaskedLM
from rexbert.train.config import BatchWarmupSpec, ScheduleSpec
from rexbert.train.optim import build_optimizer, parameter_groups
from rexbert.train.schedule import batch_tokens_at, packs_per_step, steps_for_tokens, wsd_scheduler


def _rates(schedule: ScheduleSpec, total: int, peak: float = 1e-3, start: int = 0) -> list[float]:
    """The lr of every update from `start` on, as the trainer reads them."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    scheduler = wsd_scheduler(optimizer, schedule, total, start_step=start)
    rates = []
    for _ in range(start, total):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return rates


def _transformers_rates(total, warmup, decay, shape, ratio, peak=1e-3) -> list[float]:
    """transformers' own schedule read at λ(s + 1) for update s (see wsd_scheduler)."""
    from transformers import get_wsd_schedule

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    reference = get_wsd_schedule(optimizer, warmup, decay, num_training_steps=total, decay_type=shape,
                                 min_lr_ratio=ratio)
    return [peak * reference.lr_lambdas[0](step + 1) for step in range(total)]


@pytest.mark.parametrize("shape", ["1-sqrt", "linear", "cosine"])
def test_wsd_matches_transformers_schedule(shape):
    schedule = ScheduleSpec(warmup_fraction=0.1, decay_fraction=0.2, decay_shape=shape, min_lr_ratio=0.1)
    assert _rates(schedule, 100) == pytest.approx(_transformers_rates(100, 10, 20, shape, 0.1), rel=1e-12)


def test_wsd_phases_match_formulas():
    peak, floor = 1e-3, 1e-4
    rates = _rates(ScheduleSpec(warmup_fraction=0.1, decay_fraction=0.2, min_lr_ratio=0.1), 100)
    assert rates[0] == pytest.approx(floor + (peak - floor) * 1 / 10)  # warmup starts above the floor
    assert rates[9] == pytest.approx(peak)  # the peak on the last warmup update
    assert rates[50] == peak and rates[79] == peak
    for step in (80, 85, 99):
        p = (step - 80 + 1) / 20
        assert rates[step] == pytest.approx(floor + (peak - floor) * (1 - math.sqrt(p)))
    assert rates[99] == pytest.approx(floor)  # the last update lands on the floor
    linear = _rates(ScheduleSpec(warmup_fraction=0.1, decay_fraction=0.2, decay_shape="linear", min_lr_ratio=0.1), 100)
    cosine = _rates(ScheduleSpec(warmup_fraction=0.1, decay_fraction=0.2, decay_shape="cosine", min_lr_ratio=0.1), 100)
    assert linear[89] == pytest.approx(floor + (peak - floor) * 0.5)
    assert cosine[89] == pytest.approx(floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * 0.5)))
    # 1−√ is below linear everywhere inside the decay: it drops fast first.
    assert all(rates[s] < linear[s] for s in range(80, 99))


def test_wsd_without_decay_stays_at_the_peak_and_resumes_exactly():
    rates = _rates(ScheduleSpec(warmup_fraction=0.375), 8)  # 3 warmup updates
    assert rates == pytest.approx([1e-3 / 3, 2e-3 / 3] + [1e-3] * 6)  # the last update too
    schedule = ScheduleSpec(warmup_fraction=0.2, decay_fraction=0.5)
    full = _rates(schedule, 17)
    for start in (0, 3, 9, 16):
        assert _rates(schedule, 17, start=start) == full[start:]  # bit-identical from any step


def test_batch_warmup_by_tokens():
    warm = BatchWarmupSpec(start_batch_tokens=200, warmup_tokens=800)
    assert batch_tokens_at(0, 1000, warm) == 200
    assert batch_tokens_at(400, 1000, warm) == 600
    assert batch_tokens_at(800, 1000, warm) == 1000
    assert batch_tokens_at(5, 1000, None) == 1000
    assert packs_per_step(1000, 300, 1) == 3 and packs_per_step(1000, 300, 2) == 4
    # Batch 200 (seen 0) → 400 (seen 200) → 800 (seen 600) → 1400 ≥ 1000 tokens after 3 steps.
    assert steps_for_tokens(1000, 1000, warm, 100) == 3
    assert steps_for_tokens(1000, 1000, None, 100) == 1


def _tiny_model():
    cfg = preset("nano").model.model_copy(update=dict(vocab_size=128, num_layers=2, hidden_size=32,
                                                      intermediate_size=64, pad_token_id=0, cls_token_id=1,
                                                      sep_token_id=2, mask_token_id=3))
    return RexBertForMaskedLM(cfg)


def test_no_decay_on_norms_biases_and_embeddings():
    model = _tiny_model()
    decay, no_decay = parameter_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(names[id(p)].endswith("weight") and p.ndim == 2 and "embeddings" not in names[id(p)] for p in decay["params"])
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    assert "model.embeddings.tok_embeddings.weight" in no_decay_names and "decoder_bias" in no_decay_names
    assert any("norm" in n for n in no_decay_names) and no_decay["weight_decay"] == 0.0


def test_stable_adamw_decay_is_fully_decoupled():
    from optimi import StableAdamW

    model = _tiny_model()
    optimizer = build_optimizer(model, lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.001)
    assert isinstance(optimizer, StableAdamW)
    weight = model.model.layers[0].mlp.Wi.weight
    before = weight.detach().clone()
    for group in optimizer.param_groups:
        group["lr"] = 5e-4  # half the peak
    weight.grad = torch.zeros_like(weight)  # a zero gradient leaves only the decay
    optimizer.step()
    # Fully decoupled: w ← w·(1 − wd·lr/max_lr), independent of the learning-rate scale.
    assert torch.allclose(weight.detach(), before * (1 - 0.001 * 0.5), atol=1e-7)
