"""SDPA attention over packed documents (buckets and chunked streams) against a dense reference."""

import pytest
import torch

from rexbert.model.attention import (
    CPU_BF16_ATTENTION_MIN_KEYS,
    Bucket,
    ChunkedStream,
    PackedLayout,
    attend,
)
from rexbert.model.rotary import rope_inverse_frequencies

W = 4  # window half: documents > 3W = 12 tokens go through chunks on local layers

LAYOUTS = {
    "equal lengths": [9, 9, 9],
    "one long document": [31],
    "short, medium and long": [3, 30, 1, 7, 12, 2, 19, 5, 16, 2],
    # Ten documents of 12 and one of 5 share a bucket: padding queries of the short one lie
    # further than W from its last token: their softmax rows must not be empty (some SDPA
    # kernels return NaN for those).
    "short one in a long bucket": [12] * 10 + [5],
}


def _reference(q, k, v, lengths, is_global):
    """Per-document dense softmax attention in float64, window |i - j| <= W on local layers."""
    outputs, start = [], 0
    for length in lengths:
        rows = slice(start, start + length)
        qd, kd, vd = (x[rows].double().transpose(0, 1) for x in (q, k, v))  # [heads, L, d]
        scores = qd @ kd.transpose(1, 2) / q.shape[-1] ** 0.5
        if not is_global:
            pos = torch.arange(length)
            scores = scores.masked_fill((pos[:, None] - pos[None, :]).abs() > W, float("-inf"))
        outputs.append((scores.softmax(-1) @ vd).transpose(0, 1))
        start += length
    return torch.cat(outputs)


@pytest.mark.parametrize("name", LAYOUTS)
@pytest.mark.parametrize("is_global", [True, False])
def test_sdpa_attention_and_gradients_match_dense_reference(name, is_global):
    lengths = LAYOUTS[name]
    torch.manual_seed(0)
    total = sum(lengths)
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    inv_freq = rope_inverse_frequencies(10_000.0, 8)
    layout = PackedLayout.build(cu, max(lengths), W, "sdpa", inv_freq, inv_freq)
    q, k, v = (torch.randn(total, 2, 8, requires_grad=True) for _ in range(3))
    upstream = torch.randn(total, 2, 8)

    out = attend(q, k, v, layout, is_global)
    out.backward(upstream)
    grads = [x.grad.clone() for x in (q, k, v)]
    q64, k64, v64 = (x.detach().double().requires_grad_() for x in (q, k, v))
    expected = _reference(q64, k64, v64, lengths, is_global)
    expected.backward(upstream.double())

    assert (out.double() - expected).abs().max() < 1e-5
    for got, ref in zip(grads, (q64.grad, k64.grad, v64.grad), strict=True):
        assert torch.isfinite(got).all()
        assert (got.double() - ref).abs().max() < 1e-5


def test_local_layers_stream_only_long_documents():
    lengths = LAYOUTS["short, medium and long"]
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    inv_freq = rope_inverse_frequencies(10_000.0, 8)
    layout = PackedLayout.build(cu, max(lengths), W, "sdpa", inv_freq, inv_freq)
    local = layout.grouping(is_global=False).segments
    streamed = [s for s in local if isinstance(s, ChunkedStream)]
    assert len(streamed) == 1 and streamed[0].size == 30 + 19 + 16  # the documents > 3W
    assert all(s.length <= 3 * W for s in local if isinstance(s, Bucket))
    assert all(isinstance(s, Bucket) for s in layout.grouping(is_global=True).segments)
    # Every token has exactly one slot in both groupings.
    for is_global in (True, False):
        grouping = layout.grouping(is_global)
        assert sorted(grouping.slot_index[grouping.token_slot].tolist()) == list(range(sum(lengths)))


@pytest.mark.parametrize("lengths", [[40, 9, 1, 25, 9, 3], [64], [16, 16, 16]])
def test_last_layer_on_labelled_rows_equals_the_full_pass(lengths, make_config, make_packed, perturb):
    """With labels the global last layer runs its queries only on labelled rows; loss and every
    gradient must equal the full encoder followed by selecting those rows."""
    import torch.nn.functional as F

    from rexbert.model.modeling import RexBertForMaskedLM

    torch.manual_seed(6)
    model = RexBertForMaskedLM(make_config())  # 5 layers, global every 2nd: the last is global
    assert model.config.is_global_layer(model.config.num_layers - 1)
    perturb(model)
    ids, cu, max_len = make_packed(lengths, model.config.vocab_size, seed=7)
    labels = torch.full_like(ids, -100)
    labels[::3] = ids[::3]
    if len(lengths) > 1:
        labels[cu[1]: cu[2]] = -100  # a document without a single label
    out = model(ids, cu, max_len, labels=labels)
    out.loss.backward()
    fast = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()

    selected = (labels != -100).nonzero().squeeze(1)
    hidden = model.model(ids, cu, max_len).index_select(0, selected)
    assert (out.hidden_states - hidden).abs().max() < 1e-5
    full = F.cross_entropy(model.decode(hidden), labels[selected])
    full.backward()
    assert abs(out.loss.item() - full.item()) < 1e-5
    for name, param in model.named_parameters():
        assert torch.allclose(fast[name], param.grad, atol=1e-6, rtol=1e-4), name


@pytest.mark.parametrize("is_global", [True, False])
def test_cpu_autocast_attention_stays_close_to_the_reference(is_global, monkeypatch):
    # A 520-token document reaches CPU_BF16_ATTENTION_MIN_KEYS on global layers (bf16 SDPA);
    # the short ones, and local chunks, take the fp32 route. Both come back in bf16.
    lengths = [520, 5, 9, 2]
    torch.manual_seed(1)
    total = sum(lengths)
    cu = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    inv_freq = rope_inverse_frequencies(10_000.0, 8)
    layout = PackedLayout.build(cu, max(lengths), W, "sdpa", inv_freq, inv_freq)
    q, k, v = (torch.randn(total, 2, 8) for _ in range(3))
    calls = []  # (keys, dtype) of every SDPA call
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def spy(query, key, value, **kwargs):
        calls.append((key.shape[-2], query.dtype))
        return sdpa(query, key, value, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = attend(*(x.bfloat16().requires_grad_() for x in (q, k, v)), layout, is_global)
    assert out.dtype == torch.bfloat16
    expected = _reference(q, k, v, lengths, is_global)
    assert (out.double() - expected).abs().max() < 5e-2
    out.float().sum().backward()  # the mixed-precision graph has a backward
    assert calls and all((dtype == torch.float32) == (keys < CPU_BF16_ATTENTION_MIN_KEYS) for keys, dtype in calls)
    assert any(keys >= CPU_BF16_ATTENTION_MIN_KEYS for keys, _ in calls) == is_global
