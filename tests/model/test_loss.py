"""The fused chunked decoder + cross-entropy against F.linear + F.cross_entropy."""

import pytest
import torch
import torch.nn.functional as F

from rexbert.model.loss import linear_cross_entropy


# 48 and 16 leave a remainder of 50 rows: the chunks are evened out (2 × 25, 4 × 13 …).
@pytest.mark.parametrize("rows_per_chunk", [7, 16, 48, 1024])
def test_fused_loss_and_gradients_equal_the_plain_path(rows_per_chunk):
    torch.manual_seed(0)
    hidden = torch.randn(50, 16, requires_grad=True)
    weight = torch.randn(300, 16, requires_grad=True)
    bias = torch.randn(300, requires_grad=True)
    targets = torch.randint(0, 300, (50,))
    fused = linear_cross_entropy(hidden, weight, bias, targets, rows_per_chunk=rows_per_chunk)
    (fused * 3.0).backward()  # a scaled loss must scale the gradients
    got = [t.grad.clone() for t in (hidden, weight, bias)]
    for t in (hidden, weight, bias):
        t.grad = None
    plain = F.cross_entropy(F.linear(hidden, weight, bias), targets)
    (plain * 3.0).backward()
    assert abs(fused.item() - plain.item()) < 1e-5
    for mine, tensor in zip(got, (hidden, weight, bias), strict=True):
        assert torch.allclose(mine, tensor.grad, atol=1e-6)


def test_fused_loss_under_cpu_bf16_autocast_stays_close():
    torch.manual_seed(1)
    hidden, weight, bias = torch.randn(40, 32), torch.randn(500, 32) * 0.1, torch.zeros(500)
    targets = torch.randint(0, 500, (40,))
    plain = F.cross_entropy(F.linear(hidden, weight, bias), targets).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = linear_cross_entropy(hidden, weight, bias, targets)
    assert low.dtype == torch.float32 and abs(low.item() - plain) < 2e-2


def test_no_targets_gives_zero_loss_with_gradients():
    hidden = torch.randn(0, 8, requires_grad=True)
    weight = torch.randn(20, 8, requires_grad=True)
    loss = linear_cross_entropy(hidden, weight, torch.zeros(20, requires_grad=True), torch.zeros(0, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(weight.grad, torch.zeros(20, 8))


def test_fused_loss_bf16_over_several_chunks_matches_the_fp32_path():
    torch.manual_seed(2)
    hidden = torch.randn(50, 32, requires_grad=True)
    weight = (torch.randn(500, 32) * 0.1).requires_grad_()
    bias = (torch.randn(500) * 0.1).requires_grad_()
    targets = torch.randint(0, 500, (50,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = linear_cross_entropy(hidden, weight, bias, targets, rows_per_chunk=16)  # 4 chunks
    low.backward()
    got = [t.grad.clone() for t in (hidden, weight, bias)]
    for t in (hidden, weight, bias):
        t.grad = None
    plain = F.cross_entropy(F.linear(hidden, weight, bias), targets)
    plain.backward()
    assert abs(low.item() - plain.item()) < 2e-2
    for mine, tensor in zip(got, (hidden, weight, bias), strict=True):
        assert mine.dtype == torch.float32
        scale = tensor.grad.abs().max()
        assert (mine - tensor.grad).abs().max() < 3e-2 * scale
