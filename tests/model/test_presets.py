"""Presets match the paper's Table 2, and parameter counts match transformers without weights."""

import pytest
import torch

from rexbert.config import parse_config
from rexbert.errors import UserError
from rexbert.model.config import FULL_VOCAB_SIZE, PRESETS, ModelConfig, count_parameters, preset

TABLE_2 = {
    # name: (layers, hidden, intermediate, heads, lr, weight decay, published size)
    "micro": (7, 256, 384, 4, 3e-3, 3e-4, 17e6),
    "mini": (19, 512, 768, 8, 3e-3, 3e-4, 68e6),
    "base": (22, 768, 1152, 12, 8e-4, 1e-5, 150e6),
    "large": (28, 1024, 2624, 16, 5e-4, 1e-5, 400e6),
}
TRANSFORMERS_COUNTS = {"micro": 16.9e6, "mini": 68.5e6, "base": 149.7e6, "large": 395.9e6}


@pytest.mark.parametrize("name", sorted(TABLE_2))
def test_preset_shapes_and_optimiser_settings(name):
    layers, hidden, inter, heads, lr, wd, published = TABLE_2[name]
    p = PRESETS[name]
    m = p.model
    assert (m.num_layers, m.hidden_size, m.intermediate_size, m.num_heads) == (layers, hidden, inter, heads)
    assert (p.learning_rate, p.weight_decay) == (lr, wd)
    assert m.vocab_size == FULL_VOCAB_SIZE == 50_368
    n = count_parameters(m)
    assert abs(n - published) / published < 0.03
    assert round(n / 1e5) / 10 == TRANSFORMERS_COUNTS[name] / 1e6


@pytest.mark.parametrize("name", ["micro", "mini", "base", "large", "nano"])
def test_count_matches_transformers_on_meta_device(name):
    from transformers import ModernBertConfig, ModernBertForMaskedLM

    m = PRESETS[name].model
    hf_cfg = ModernBertConfig(
        vocab_size=m.vocab_size, hidden_size=m.hidden_size, intermediate_size=m.intermediate_size,
        num_hidden_layers=m.num_layers, num_attention_heads=m.num_heads,
        pad_token_id=m.pad_token_id, cls_token_id=m.cls_token_id, sep_token_id=m.sep_token_id,
        bos_token_id=m.cls_token_id, eos_token_id=m.sep_token_id,
    )
    with torch.device("meta"):  # shapes only: no weight memory is allocated
        hf = ModernBertForMaskedLM(hf_cfg)
    assert sum(p.numel() for p in hf.parameters()) == count_parameters(m)


def test_nano_is_cpu_sized():
    assert count_parameters(PRESETS["nano"].model.model_copy(update={"vocab_size": 4096})) < 2e6


def test_shape_validation_and_unknown_preset():
    with pytest.raises(UserError, match="not divisible by num_heads"):
        parse_config(ModelConfig, {"hidden_size": 100, "num_heads": 3}, source="m.yaml")
    with pytest.raises(UserError, match="choose one of micro, mini, base, large, nano"):
        preset("huge")
