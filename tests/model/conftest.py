"""Tiny model configs and a transformers twin for the model tests."""

import pytest
import torch

from rexbert.model.config import ModelConfig


def tiny_config(**overrides) -> ModelConfig:
    """A few-thousand-parameter config with a small vocabulary; overrides change any field."""
    fields = dict(
        vocab_size=97, hidden_size=48, intermediate_size=40, num_layers=5, num_heads=3,
        local_attention_window=8, global_attn_every_n_layers=2, pad_token_id=0, cls_token_id=1,
        sep_token_id=2, mask_token_id=3, max_position_embeddings=512,
    )
    fields.update(overrides)
    return ModelConfig(**fields)


def perturb_norms(model: torch.nn.Module, seed: int = 0) -> None:
    """Norm weights start at one and the decoder bias at zero; make them random so that a
    swapped or missing norm/bias cannot go unnoticed by an equivalence test."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name or "bias" in name:
                param.add_(torch.randn(param.shape, generator=generator) * 0.2)


def packed_batch(lengths, vocab_size: int, seed: int = 0, low: int = 4):
    """(input_ids [T], cu_seqlens, max_seqlen) of random documents with the given lengths."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(low, vocab_size, (sum(lengths),), generator=generator)
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    return ids, cu, max(lengths)


@pytest.fixture
def hf_twin():
    """Build transformers' ModernBertForMaskedLM with the weights of a rexbert model."""

    def build(model, attn_implementation: str = "sdpa"):
        from transformers import ModernBertConfig, ModernBertForMaskedLM

        from rexbert.release.hf import hf_config, to_hf_state_dict

        hf_cfg = ModernBertConfig(**hf_config(model.config))
        hf_cfg._attn_implementation = attn_implementation
        hf = ModernBertForMaskedLM(hf_cfg).eval()
        missing, unexpected = hf.load_state_dict(to_hf_state_dict(model.state_dict()), strict=False)
        assert missing == ["decoder.weight"] and unexpected == []  # the tied weight only
        hf.tie_weights()
        assert torch.equal(hf.decoder.weight, model.model.embeddings.tok_embeddings.weight)
        return hf

    return build


@pytest.fixture
def make_config():
    """`tiny_config` as a fixture (test modules cannot import conftest in importlib mode)."""
    return tiny_config


@pytest.fixture
def make_packed():
    """`packed_batch` as a fixture."""
    return packed_batch


@pytest.fixture
def perturb():
    """`perturb_norms` as a fixture."""
    return perturb_norms
