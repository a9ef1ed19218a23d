"""Warmup–stable–decay and batch warmup against their formulas; StableAdamW parameter groups."""

from __future__ import annotations

import math

import pytest
import torch

from rexbert.model.config import preset
from rexbert.model.modeling import RexBertForMaskedLM
from rexbert.train.optim import build_optimizer, parameter_groups
from rexbert.train.schedule import batch_tokens_at, packs_per_step, steps_for_tokens, wsd_lr


def test_wsd_phases_match_formulas():
    peak, floor = 1e-3, 1e-4
    kwargs = dict(total_steps=100, peak=peak, warmup_steps=10, decay_steps=20, floor=floor)
    assert wsd_lr(0, **kwargs) == pytest.approx(peak * 1 / 10)
    assert wsd_lr(9, **kwargs) == pytest.approx(peak)
    assert wsd_lr(50, **kwargs) == peak and wsd_lr(79, **kwargs) == peak
    for step in (80, 85, 99):
        p = (step - 80 + 1) / 20
        assert wsd_lr(step, **kwargs) == pytest.approx(floor + (peak - floor) * (1 - math.sqrt(p)))
    assert wsd_lr(99, **kwargs) == pytest.approx(floor)
    assert wsd_lr(89, **kwargs, shape="linear") == pytest.approx(floor + (peak - floor) * 0.5)
    assert wsd_lr(89, **kwargs, shape="cosine") == pytest.approx(floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * 0.5)))
    # 1−√ is below linear everywhere inside the decay: it drops fast first.
    assert all(wsd_lr(s, **kwargs) < wsd_lr(s, **kwargs, shape="linear") for s in range(80, 99))


def test_batch_warmup_by_tokens():
    assert batch_tokens_at(0, 1000, 200, 800) == 200
    assert batch_tokens_at(400, 1000, 200, 800) == 600
    assert batch_tokens_at(800, 1000, 200, 800) == 1000
    assert batch_tokens_at(5, 1000, None, 0) == 1000
    assert packs_per_step(1000, 300, 1) == 3 and packs_per_step(1000, 300, 2) == 4
    # Batch 200 (seen 0) → 400 (seen 200) → 800 (seen 600) → 1400 ≥ 1000 tokens after 3 steps.
    assert steps_for_tokens(1000, 1000, 200, 800, 100) == 3
    assert steps_for_tokens(1000, 1000, None, 0, 100) == 1


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
