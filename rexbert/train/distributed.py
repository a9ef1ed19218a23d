"""Distribution applied outside the model: process group from torchrun, DDP or FSDP2 wrapping.

`torchrun --nproc_per_node N -m rexbert pretrain …` sets RANK/WORLD_SIZE/LOCAL_RANK; we then join
a process group (NCCL on CUDA, gloo on CPU) and wrap the plain `RexBertForMaskedLM`:
DDP replicates it, FSDP2 (`fully_shard`, per encoder layer then the root) shards parameters,
gradients and optimizer state for models that do not fit one device (the `large` preset).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0 writes files and shows progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether a process group is active."""
        return self.world_size > 1


def init_distributed() -> DistInfo:
    """Join the torchrun process group if there is one; otherwise a single-process job."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if world_size > 1 else 0
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def wrap_model(model: nn.Module, info: DistInfo, strategy: str) -> nn.Module:
    """DDP or FSDP2 around the model (identity on one process). `auto` picks DDP."""
    if not info.enabled:
        return model
    if strategy == "fsdp2":
        from torch.distributed.fsdp import fully_shard

        for layer in model.model.layers:
            fully_shard(layer)
        # The root group (embeddings, head, tied decoder) stays gathered between forward and
        # backward: the MLM output computes its logits lazily from the tied embedding weight.
        fully_shard(model, reshard_after_forward=False)
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [info.local_rank] if info.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def is_fsdp(model: nn.Module) -> bool:
    """Whether `fully_shard` was applied (parameters are DTensors)."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def all_reduce_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a small tensor over ranks (identity on one process)."""
    if info.enabled:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def barrier(info: DistInfo) -> None:
    """Wait for every rank."""
    if info.enabled:
        dist.barrier()


def destroy(info: DistInfo) -> None:
    """Leave the process group."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


# ----------------------------------------------------------------------------- state and sync
# Everything that differs between a plain module, DDP and FSDP2 is answered here, so the
# trainer never asks which wrapper it holds.


def full_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The complete model weights on CPU (FSDP2 gathers the shards; every rank must call it)."""
    if is_fsdp(model):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return plain_module(model).state_dict()


def optimizer_state_dict(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """The complete optimizer state (FSDP2 gathers it; every rank must call it)."""
    if is_fsdp(model):
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_optimizer_state_dict,
        )

        return get_optimizer_state_dict(model, optimizer,
                                        options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return optimizer.state_dict()


def load_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a complete optimizer state written by `optimizer_state_dict` (any world size)."""
    if is_fsdp(model):
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_optimizer_state_dict,
        )

        set_optimizer_state_dict(model, optimizer, optim_state_dict=state,
                                 options=StateDictOptions(full_state_dict=True))
    else:
        optimizer.load_state_dict(state)


def plain_module(model: nn.Module) -> nn.Module:
    """The model without DDP / torch.compile wrappers (its config and parameter names)."""
    from rexbert.model.checkpoint import unwrap_model

    return unwrap_model(model)


def eval_module(model: nn.Module) -> nn.Module:
    """What to call for evaluation: DDP's inner module (no gradient hooks); FSDP2's sharded
    module itself, called on every rank."""
    return model if is_fsdp(model) else plain_module(model)


def no_sync(model: nn.Module, skip: bool):
    """DDP's `no_sync` (no gradient all-reduce) for every micro-batch but the last of a step."""
    context = getattr(model, "no_sync", None)
    return context() if (skip and context is not None) else contextlib.nullcontext()


def clip_grad_norm(model: nn.Module, limit: float | None) -> float:
    """Clip the global gradient norm (inf: measure only); the norm as a float on every rank."""
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, limit if limit is not None else float("inf"))
    if hasattr(norm, "full_tensor"):  # FSDP2: a DTensor
        norm = norm.full_tensor()
    return float(norm)


def all_ranks_ok(ok: bool, info: DistInfo) -> bool:
    """Whether `ok` holds on every rank (so a check made on rank 0 stops every rank, not one)."""
    return int(all_reduce_sum(torch.tensor([0 if ok else 1]), info).item()) == 0
