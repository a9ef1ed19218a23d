"""RexBertForMaskedLM against transformers' ModernBertForMaskedLM, and its own invariants."""

import math

import pytest
import torch
import torch.nn.functional as F

from rexbert.config import parse_config
from rexbert.errors import UserError
from rexbert.model.attention import resolve_backend
from rexbert.model.config import PRESETS, ModelConfig, count_parameters
from rexbert.model.modeling import RexBertForMaskedLM
from rexbert.model.rotary import rope_theta

# (config overrides, document lengths): windows smaller than the documents, odd head counts,
# several layers of each type, NTK-scaled RoPE, and the real 128-token window.
CASES = [
    (dict(), [37, 5, 20, 1, 13]),
    (dict(hidden_size=40, num_heads=5, num_layers=6, global_attn_every_n_layers=3,
          local_attention_window=16), [50, 9, 33]),
    (dict(hidden_size=16, num_heads=1, num_layers=4, local_attention_window=4,
          rope_ntk_factor=2.0), [11, 3, 26, 2]),
    (dict(hidden_size=32, num_heads=2, num_layers=4, global_attn_every_n_layers=3,
          local_attention_window=128, local_rope_theta=5000.0), [300, 70, 140]),
]


def _hf_padded_logits(hf, ids, cu, lengths):
    """Run transformers on the documents as a right-padded batch; return logits per document."""
    batch = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    mask = torch.zeros_like(batch)
    for row, length in enumerate(lengths):
        batch[row, :length] = ids[cu[row]: cu[row] + length]
        mask[row, :length] = 1
    with torch.no_grad():
        out = hf(input_ids=batch, attention_mask=mask)
    return [out.logits[row, :length] for row, length in enumerate(lengths)]


@pytest.mark.parametrize("overrides,lengths", CASES)
def test_rexbert_weights_in_transformers_give_same_logits(overrides, lengths, make_config, make_packed, perturb, hf_twin):
    torch.manual_seed(0)
    model = RexBertForMaskedLM(make_config(**overrides)).eval()
    perturb(model)
    hf = hf_twin(model)
    ids, cu, max_len = make_packed(lengths, model.config.vocab_size)
    with torch.no_grad():
        ours = model(ids, cu, max_len).logits
    reference = _hf_padded_logits(hf, ids, cu, lengths)
    for doc, ref in enumerate(reference):
        assert (ours[cu[doc]: cu[doc + 1]] - ref).abs().max() <= 1e-4


def test_transformers_weights_in_rexbert_give_same_logits(make_packed):
    from transformers import ModernBertConfig, ModernBertForMaskedLM

    from rexbert.release.hf import from_hf_state_dict, model_config_from_hf

    torch.manual_seed(1)
    hf_cfg = ModernBertConfig(
        vocab_size=89, hidden_size=36, intermediate_size=28, num_hidden_layers=4, num_attention_heads=3,
        layer_types=["full_attention", "sliding_attention", "full_attention", "sliding_attention"],
        rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 20000.0},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 500.0}},
        local_attention=6, pad_token_id=0, cls_token_id=1, sep_token_id=2, bos_token_id=1, eos_token_id=2,
    )
    hf_cfg._attn_implementation = "sdpa"
    hf = ModernBertForMaskedLM(hf_cfg).eval()
    with torch.no_grad():
        for name, param in hf.named_parameters():
            if "norm" in name or "bias" in name:
                param.add_(torch.randn_like(param) * 0.2)
    cfg = model_config_from_hf(hf_cfg.to_dict(), "test", mask_token_id=3)
    assert (cfg.global_attn_every_n_layers, cfg.local_attention_window) == (2, 6)
    assert (cfg.global_rope_theta, cfg.local_rope_theta) == (20000.0, 500.0)
    model = RexBertForMaskedLM(cfg).eval()
    model.load_state_dict(from_hf_state_dict(hf.state_dict(), "test"))
    lengths = [25, 4, 17]
    ids, cu, max_len = make_packed(lengths, cfg.vocab_size, seed=3)
    with torch.no_grad():
        ours = model(ids, cu, max_len).logits
    for doc, ref in enumerate(_hf_padded_logits(hf, ids, cu, lengths)):
        assert (ours[cu[doc]: cu[doc + 1]] - ref).abs().max() <= 1e-4


@pytest.mark.parametrize("lengths", [[30, 30], [30, 12, 45, 3]])
def test_gradients_match_transformers_sparse_prediction(lengths, make_config, make_packed, perturb, hf_twin):
    torch.manual_seed(2)
    model = RexBertForMaskedLM(make_config())
    perturb(model)
    hf = hf_twin(model).train()
    hf.config.sparse_prediction = True
    hf.sparse_prediction = True
    ids, cu, max_len = make_packed(lengths, model.config.vocab_size, seed=5)
    labels = torch.full_like(ids, -100)
    labels[::3] = ids[::3]
    model(ids, cu, max_len, labels=labels).loss.backward()
    batch = torch.zeros(len(lengths), max_len, dtype=torch.long)
    batch_labels = torch.full_like(batch, -100)
    mask = torch.zeros_like(batch)
    for row, length in enumerate(lengths):
        batch[row, :length] = ids[cu[row]: cu[row + 1]]
        batch_labels[row, :length] = labels[cu[row]: cu[row + 1]]
        mask[row, :length] = 1
    hf(input_ids=batch, attention_mask=mask, labels=batch_labels).loss.backward()
    hf_params = dict(hf.named_parameters())
    for name, param in model.named_parameters():
        hf_name = "decoder.bias" if name == "decoder_bias" else name
        assert torch.allclose(param.grad, hf_params[hf_name].grad, atol=1e-6, rtol=1e-4), name


def test_documents_do_not_see_each_other(make_config, make_packed):
    torch.manual_seed(3)
    model = RexBertForMaskedLM(make_config()).eval()
    lengths = [23, 40, 17]  # A, B, C
    ids, cu, max_len = make_packed(lengths, model.config.vocab_size)
    changed = ids.clone()
    changed[23:63] = torch.randint(4, model.config.vocab_size, (40,))
    with torch.no_grad():
        before = model(ids, cu, max_len).hidden_states
        after = model(changed, cu, max_len).hidden_states
        # B also changes length: C moves in the stream but must not change.
        shorter = torch.cat([ids[:23], changed[23:40], ids[63:]])
        cu_short = torch.tensor([0, 23, 40, 57], dtype=torch.int32)
        moved = model(shorter, cu_short, max_len).hidden_states
    assert not torch.allclose(before[23:63], after[23:63])
    assert torch.equal(before[:23], after[:23]) or (before[:23] - after[:23]).abs().max() < 1e-6
    assert (before[63:] - after[63:]).abs().max() < 1e-6
    assert (before[:23] - moved[:23]).abs().max() < 1e-5
    assert (before[63:] - moved[40:]).abs().max() < 1e-5


def test_sparse_head_equals_dense_head_on_masked_positions(make_config, make_packed, perturb):
    torch.manual_seed(4)
    model = RexBertForMaskedLM(make_config()).eval()
    perturb(model)
    ids, cu, max_len = make_packed([19, 31], model.config.vocab_size)
    labels = torch.full_like(ids, -100)
    chosen = torch.tensor([0, 5, 18, 19, 40, 49])
    labels[chosen] = ids[chosen]
    with torch.no_grad():
        dense = model(ids, cu, max_len)
        sparse = model(ids, cu, max_len, labels=labels)
    assert dense.logits.shape == (50, model.config.vocab_size)
    assert sparse.logits.shape == (6, model.config.vocab_size)
    assert (sparse.logits - dense.logits[chosen]).abs().max() < 1e-5
    expected_loss = F.cross_entropy(dense.logits, labels, ignore_index=-100)
    assert abs(sparse.loss.item() - expected_loss.item()) < 1e-5


def test_forward_padded_matches_packed(make_config, make_packed):
    torch.manual_seed(5)
    model = RexBertForMaskedLM(make_config()).eval()
    lengths = [12, 30, 7]
    ids, cu, max_len = make_packed(lengths, model.config.vocab_size)
    batch = torch.zeros(3, 30, dtype=torch.long)
    mask = torch.zeros_like(batch)
    for row, length in enumerate(lengths):
        batch[row, :length] = ids[cu[row]: cu[row + 1]]
        mask[row, :length] = 1
    labels = torch.where(mask.bool() & (torch.arange(30) % 4 == 0), batch, -100)
    with torch.no_grad():
        packed = model(ids, cu, max_len).logits
        padded = model.forward_padded(batch, mask, labels=labels)
    assert padded.logits.shape == (3, 30, model.config.vocab_size)
    assert torch.isfinite(padded.logits).all()
    assert (padded.logits[mask.bool()] - packed).abs().max() < 1e-5
    # The loss over labelled non-padded positions equals the packed logits' cross-entropy.
    reference = F.cross_entropy(packed, labels[mask.bool()], ignore_index=-100)
    assert (labels != -100).sum() > 3 and padded.loss.item() == pytest.approx(reference.item(), rel=1e-5)


def test_flex_backend_matches_sdpa_for_inference(make_config, make_packed):
    torch.manual_seed(6)
    sdpa = RexBertForMaskedLM(make_config(attention_backend="sdpa")).eval()
    flex = RexBertForMaskedLM(make_config(attention_backend="flex")).eval()
    flex.load_state_dict(sdpa.state_dict())
    ids, cu, max_len = make_packed([21, 6, 29], sdpa.config.vocab_size)
    with torch.no_grad():
        assert (sdpa(ids, cu, max_len).logits - flex(ids, cu, max_len).logits).abs().max() < 1e-4
    with pytest.raises(UserError, match="cannot train on CPU"):
        flex(ids, cu, max_len)


def test_backend_choice_on_cpu():
    cpu = torch.device("cpu")
    assert resolve_backend("auto", cpu) == "sdpa"
    assert resolve_backend("flex", cpu) == "flex"
    with pytest.raises(UserError, match="flash"):
        resolve_backend("flash", cpu)


def test_initialisation_follows_modernbert():
    torch.manual_seed(7)
    cfg = ModelConfig(vocab_size=4096, hidden_size=256, intermediate_size=384, num_layers=8, num_heads=4,
                      pad_token_id=0, cls_token_id=1, sep_token_id=2, mask_token_id=3)
    model = RexBertForMaskedLM(cfg)
    std_in, std_out = 0.02, 0.02 / math.sqrt(16)
    # A normal truncated at ±2σ has standard deviation ≈ 0.880σ.
    truncated = 0.8796
    for weight, std in [
        (model.model.embeddings.tok_embeddings.weight, std_in),
        (model.model.layers[3].attn.Wqkv.weight, std_in),
        (model.model.layers[3].mlp.Wi.weight, std_in),
        (model.model.layers[3].attn.Wo.weight, std_out),
        (model.model.layers[3].mlp.Wo.weight, std_out),
        (model.head.dense.weight, std_out),
    ]:
        assert weight.abs().max() <= 2 * std + 1e-9
        assert abs(weight.std().item() / (std * truncated) - 1) < 0.05
    assert torch.equal(model.decoder_bias, torch.zeros(cfg.vocab_size))
    assert torch.equal(model.model.final_norm.weight, torch.ones(256))
    assert isinstance(model.model.layers[0].attn_norm, torch.nn.Identity)


def test_rope_bases_and_ntk_scaling(make_config):
    cfg = make_config(hidden_size=48, num_heads=3, global_rope_theta=160000.0, local_rope_theta=10000.0)
    assert rope_theta(cfg, True) == 160000.0 and rope_theta(cfg, False) == 10000.0
    scaled = make_config(hidden_size=48, num_heads=3, rope_ntk_factor=4.0)
    d = 16
    assert rope_theta(scaled, True) == pytest.approx(160000.0 * 4.0 ** (d / (d - 2)))
    model = RexBertForMaskedLM(scaled)
    lowest = model.model.global_inv_freq[-1].item()
    assert lowest == pytest.approx(1 / rope_theta(scaled, True) ** ((d - 2) / d), rel=1e-5)


@pytest.mark.parametrize("name", ["nano", "micro"])
def test_presets_build_with_the_counted_parameters(name):
    cfg = PRESETS[name].model
    if name == "nano":
        cfg = cfg.model_copy(update={"vocab_size": 512, "pad_token_id": 0, "cls_token_id": 1,
                                     "sep_token_id": 2, "mask_token_id": 3})
    with torch.device("meta"):
        model = RexBertForMaskedLM(cfg)
    assert sum(p.numel() for p in model.parameters()) == count_parameters(cfg)


def test_hidden_size_not_divisible_by_heads_is_a_clear_error():
    with pytest.raises(UserError, match="not divisible by num_heads"):
        parse_config(ModelConfig, {"hidden_size": 50, "num_heads": 3}, source="model.yaml")


def test_packed_inputs_are_checked(make_config):
    model = RexBertForMaskedLM(make_config())
    with pytest.raises(ValueError, match="forward_padded"):
        model(torch.zeros(2, 5, dtype=torch.long), torch.tensor([0, 5]), 5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_backends_match_cpu(make_config, make_packed):
    torch.manual_seed(8)
    cpu = RexBertForMaskedLM(make_config(hidden_size=64, num_heads=2)).eval()
    ids, cu, max_len = make_packed([300, 40, 129], cpu.config.vocab_size)
    with torch.no_grad():
        expected = cpu(ids, cu, max_len).logits
    for backend in ("sdpa", "flex", "auto"):
        gpu = RexBertForMaskedLM(make_config(hidden_size=64, num_heads=2, attention_backend=backend))
        gpu.load_state_dict(cpu.state_dict())
        gpu = gpu.cuda().eval()
        with torch.no_grad():
            got = gpu(ids.cuda(), cu.cuda(), max_len).logits.float().cpu()
        # bf16 autocast on GPU: compare loosely.
        assert (got - expected).abs().max() < 0.1, backend


def test_cpu_bf16_autocast_trains_close_to_fp32(make_config, make_packed, perturb):
    assert make_config().cpu_bf16_autocast is False  # fp32 unless asked
    torch.manual_seed(5)
    full = RexBertForMaskedLM(make_config(max_position_embeddings=1024))
    perturb(full)
    low = RexBertForMaskedLM(make_config(max_position_embeddings=1024, cpu_bf16_autocast=True))
    low.load_state_dict(full.state_dict())
    ids, cu, max_len = make_packed([600, 40, 7, 3], full.config.vocab_size)
    labels = torch.where(torch.rand(ids.shape) < 0.3, ids, -100)
    losses, grads = [], []
    for model in (full, low):
        loss = model(ids, cu, max_len, labels=labels).loss
        loss.backward()
        losses.append(loss.item())
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert losses[0] != losses[1]  # bf16 did run
    assert abs(losses[0] - losses[1]) < 2e-2 * losses[0]
    assert F.cosine_similarity(grads[0], grads[1], dim=0) > 0.99
