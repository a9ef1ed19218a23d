"""One optimizer step over a rank's packs, and the held-out evaluation.

Every pack's mean loss is weighted by its share of the *global* labelled tokens, so the gradient
equals that of one big batch whatever the number of ranks or packs (DDP averages over ranks,
hence the × world_size). Held-out loss and accuracy are token-weighted in the same way: the sum
of per-token losses over every labelled position divided by their count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from rexbert.data.stream import PackedBatch
from rexbert.train.distributed import DistInfo, all_reduce_sum, clip_grad_norm, eval_module, no_sync


@dataclass(frozen=True)
class StepStats:
    """What one step measured, summed over ranks."""

    loss: float  # mean over the step's labelled tokens
    accuracy: float  # top-1 on labelled tokens (0 on steps that skip it)
    grad_norm: float
    tokens: int
    documents: int
    guided_documents: int
    stop: bool  # some rank received SIGTERM/SIGINT

    @property
    def finite(self) -> bool:
        """Whether the step's loss and gradient are finite (a non-finite step is skipped)."""
        return math.isfinite(self.loss) and math.isfinite(self.grad_norm)


def _tensors(batch: PackedBatch, device: torch.device):
    return (torch.from_numpy(batch.input_ids).to(device), torch.from_numpy(batch.cu_seqlens).to(device),
            torch.from_numpy(batch.labels).to(device))


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, batches: list[PackedBatch],
               dist: DistInfo, grad_clip: float | None, with_accuracy: bool, stop: bool) -> StepStats:
    """Forward/backward over this rank's packs, then one optimizer step unless non-finite.

    Accuracy needs the full logits, which the fused CPU loss never materialises, so callers ask
    for it only on logging steps.
    """
    local_labels = float(sum(b.num_labels for b in batches))
    global_labels = float(all_reduce_sum(torch.tensor([local_labels]), dist).item())
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = 0
    for position, batch in enumerate(batches):
        ids, cu, labels = _tensors(batch, dist.device)
        with no_sync(model, skip=position < len(batches) - 1):
            out = model(ids, cu, batch.max_seqlen, labels=labels)
            if with_accuracy:  # before backward: FSDP2 reshards the tied weight after it
                with torch.no_grad():
                    correct += int((out.logits.argmax(-1) == labels[labels != -100]).sum())
            (out.loss * (batch.num_labels / max(global_labels, 1.0) * dist.world_size)).backward()
        loss_sum += out.loss.detach().double().cpu() * batch.num_labels
    grad_norm = clip_grad_norm(model, grad_clip)
    totals = all_reduce_sum(torch.tensor([
        float(loss_sum), correct, local_labels, sum(b.num_tokens for b in batches),
        sum(b.num_docs for b in batches), sum(b.guided_docs for b in batches), float(stop),
    ], dtype=torch.float64), dist).tolist()
    loss_total, correct_total, labels_total, tokens, docs, guided, stops = totals
    stats = StepStats(loss=loss_total / max(labels_total, 1.0), accuracy=correct_total / max(labels_total, 1.0),
                      grad_norm=grad_norm, tokens=int(tokens), documents=int(docs),
                      guided_documents=int(guided), stop=stops > 0)
    if stats.finite:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return stats


@torch.no_grad()
def evaluate(model: nn.Module, eval_sets: dict[str, list[PackedBatch]], device: torch.device) -> dict[str, float]:
    """Token-weighted held-out MLM loss and top-1 accuracy per set: `eval_<set>_loss/_accuracy`."""
    net = eval_module(model)
    was_training = net.training
    net.eval()
    row = {}
    for name, batches in eval_sets.items():
        loss_sum, correct, labels = 0.0, 0, 0
        for batch in batches:
            ids, cu, target = _tensors(batch, device)
            out = net(ids, cu, batch.max_seqlen, labels=target)
            loss_sum += float(out.loss) * batch.num_labels  # the batch's mean × its token count
            correct += int((out.logits.argmax(-1) == target[target != -100]).sum())
            labels += batch.num_labels
        row[f"eval_{name}_loss"] = loss_sum / max(labels, 1)
        row[f"eval_{name}_accuracy"] = correct / max(labels, 1)
    net.train(was_training)
    return row
