"""Building one phase of the curriculum: where its weights, moments and data position come from.

A phase starts in one of four ways, decided by `phase_start`:

* resumed — `--resume` and the phase folder holds an intact checkpoint: weights, optimizer,
  scheduler position, data position and RNGs all come from it (exact continuation);
* fresh — `init_from: null`: new weights seeded by (seed, phase index);
* previous — the previous phase's final checkpoint;
* init_from — any rexbert checkpoint folder (e.g. from `rexbert import-hf`).

With `optimizer.reset: false` the last two also carry the optimizer moments over, read through
the one safe state loader (checksums verified, weights-only load). `build_phase` turns the start
into a `PhaseBundle`: the wrapped model, optimizer, LR schedule, data stream, held-out batches
and counters that the step loop works on.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from rexbert.data.stream import (
    Component,
    PackedBatch,
    TrainStream,
    build_components,
    heldout_packs,
    pack_to_batch,
)
from rexbert.errors import UserError
from rexbert.train import checkpointing as ckpt
from rexbert.train.config import OptimizerSpec, PhaseSpec, PretrainConfig
from rexbert.train.distributed import DistInfo, all_ranks_ok, load_optimizer_state, wrap_model
from rexbert.train.inputs import TrainingInputs, check_compatible, with_rope
from rexbert.train.optim import build_optimizer
from rexbert.train.schedule import steps_for_tokens, wsd_scheduler

log = logging.getLogger(__name__)


def phase_dir_name(index: int, phase: PhaseSpec) -> str:
    """`phase<k>_<name>`, k starting at 1."""
    return f"phase{index + 1}_{phase.name}"


@dataclass
class PhaseState:
    """Counters that a checkpoint restores (with the data position and RNGs)."""

    step: int = 0
    run_tokens: int = 0  # tokens trained since the run started (all phases, all ranks)
    phase_tokens: int = 0  # tokens trained in this phase
    nominal_tokens: int = 0  # budgeted tokens of this phase (drives batch-size warmup)
    nan_steps: int = 0
    elapsed_s: float = 0.0

    def advance(self, tokens: int, nominal_tokens: int) -> None:
        """One optimizer step trained `tokens` tokens of a `nominal_tokens` budget."""
        self.step += 1
        self.run_tokens += tokens
        self.phase_tokens += tokens
        self.nominal_tokens += nominal_tokens

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PhaseState:
        """The counters of a trainer state written by `checkpoint_state`."""
        return cls(**{name: state[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RunContext:
    """What every phase of a run needs: the recipe, the opened inputs, the folder, the ranks."""

    cfg: PretrainConfig
    inputs: TrainingInputs
    run_dir: Path
    dist: DistInfo
    resume: bool


@dataclass(frozen=True)
class PhaseStart:
    """Where a phase begins: its weights folder (None: fresh) and a trainer state to restore."""

    kind: Literal["fresh", "resumed", "previous", "init_from"]
    weights: Path | None = None
    state: dict[str, Any] | None = None  # resumed: everything; previous/init_from: moments only


@dataclass
class PhaseBundle:
    """One phase, ready for the step loop."""

    index: int
    spec: PhaseSpec
    folder: Path
    start: PhaseStart
    model: nn.Module  # wrapped for DDP / FSDP2 when distributed
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    components: list[Component]
    stream: TrainStream
    eval_sets: dict[str, list[PackedBatch]]
    total_steps: int
    state: PhaseState = field(default_factory=PhaseState)

    @property
    def label(self) -> str:
        """`phase<k>_<name>`."""
        return self.folder.name


# ----------------------------------------------------------------------------- where it starts


def planned_steps(cfg: PretrainConfig, phase: PhaseSpec, world_size: int) -> int:
    """Optimizer steps of a phase: its `steps`, or its token budget under the batch schedule,
    capped by `max_steps`."""
    total = phase.steps if phase.steps is not None else steps_for_tokens(
        phase.tokens, phase.batch_tokens, phase.batch_warmup, phase.micro_batch_tokens, world_size)
    return min(total, cfg.max_steps) if cfg.max_steps else total


def previous_final(ctx: RunContext, index: int, phase: PhaseSpec) -> Path:
    """The final checkpoint of the phase before `index` (verified), or a one-line error."""
    prev = ctx.cfg.phases[index - 1]
    prev_dir = ctx.run_dir / phase_dir_name(index - 1, prev)
    source = ckpt.final_checkpoint(prev_dir)
    if source is None:
        raise UserError(f"phase '{phase.name}' starts from phase '{prev.name}', but {prev_dir}/final is "
                        "missing; run that phase first (`rexbert pretrain --resume`) or set init_from "
                        "to a checkpoint")
    return source


def init_from_folder(phase: PhaseSpec) -> Path:
    """An `init_from` checkpoint folder; one with a manifest must match it before any load."""
    source = Path(phase.init_from)
    if (source / ckpt.MANIFEST).is_file():
        problem = ckpt.verify_checkpoint(source)
        if problem is not None:
            raise UserError(f"init_from {source}: damaged checkpoint ({problem}); pass an intact one")
    return source


def carried_moments(source: Path, spec: OptimizerSpec) -> dict[str, Any] | None:
    """The optimizer state to carry into a phase with `reset: false` (None: fresh moments)."""
    if spec.reset:
        return None
    if not (source / ckpt.STATE_FILE).is_file():
        log.warning("%s has no optimizer state (%s); optimizer.reset: false starts from fresh moments",
                    source, ckpt.STATE_FILE)
        return None
    return {"optimizer": ckpt.load_state(source)["optimizer"]}


def resume_checkpoint(ctx: RunContext, folder: Path) -> Path | None:
    """The checkpoint to resume from. Rank 0 decides first (moving damaged ones aside), so every
    rank then finds the same intact checkpoint and a refusal stops every rank."""
    found, problem = None, None
    if ctx.dist.is_main:
        try:
            found = ckpt.resume_point(folder)
        except UserError as err:
            problem = err
    if not all_ranks_ok(problem is None, ctx.dist):
        raise problem or UserError(f"{folder}: no checkpoint of this phase can be resumed (see rank 0)")
    return found if ctx.dist.is_main else ckpt.resume_point(folder, set_aside_damaged=False)


def phase_start(ctx: RunContext, index: int, phase: PhaseSpec, folder: Path) -> PhaseStart | None:
    """How this phase begins; None when `--resume` finds it already finished."""
    if ctx.resume and ckpt.final_checkpoint(folder) is not None:
        return None
    if not ctx.resume and folder.exists() and any(folder.iterdir()):
        raise UserError(f"{folder}: holds checkpoints of an earlier run; pass --resume or use a new --out")
    resumed = resume_checkpoint(ctx, folder) if ctx.resume else None
    if resumed is not None:
        return PhaseStart("resumed", resumed, ckpt.load_state(resumed))
    if phase.init_from is None:
        return PhaseStart("fresh")
    kind = "previous" if phase.init_from == "previous" else "init_from"
    source = previous_final(ctx, index, phase) if kind == "previous" else init_from_folder(phase)
    return PhaseStart(kind, source, carried_moments(source, phase.optimizer))


# ----------------------------------------------------------------------------- the parts


def initial_model(ctx: RunContext, index: int, phase: PhaseSpec, start: PhaseStart) -> nn.Module:
    """The phase's model before wrapping: new, or the weights of `start.weights` (RoPE applied)."""
    from rexbert.model.checkpoint import load_model, read_model_config
    from rexbert.model.modeling import RexBertForMaskedLM

    tok = ctx.inputs.tokenizer
    if start.kind == "fresh":
        torch.manual_seed(ctx.cfg.seed + index)
        return RexBertForMaskedLM(with_rope(ctx.inputs.base_model, phase))
    if start.kind == "resumed":  # the saved config already carries this phase's RoPE
        model = load_model(start.weights)
        check_compatible(model.config, tok, str(start.weights))
        return model
    model_cfg = read_model_config(start.weights)
    check_compatible(model_cfg, tok, f"init_from {start.weights}")
    model = RexBertForMaskedLM(with_rope(model_cfg, phase))
    model.load_state_dict(load_model(start.weights).state_dict())
    return model


def phase_optimizer(model: nn.Module, spec: OptimizerSpec, state: dict[str, Any] | None):
    """StableAdamW with the moments of `state` (if any) and this phase's settings.

    Loading an optimizer state also loads the saved groups' settings; a phase carrying moments
    over from the previous one keeps its own lr, betas, eps and weight decay, so they are put
    back (the moments and optimi's step count stay).
    """
    optimizer = build_optimizer(model, spec.lr, tuple(spec.betas), spec.eps, spec.weight_decay)
    if state is None:
        return optimizer
    # None-valued entries (kahan_sum, foreach, …) are resolved by optimi on its first step.
    settings = [{k: v for k, v in group.items() if k not in ("params", "setup") and v is not None}
                for group in optimizer.param_groups]
    load_optimizer_state(model, optimizer, state["optimizer"])
    for group, own in zip(optimizer.param_groups, settings, strict=True):
        group.pop("initial_lr", None)
        group.update(own)
    return optimizer


def phase_stream(ctx: RunContext, index: int, phase: PhaseSpec, components: list[Component]) -> TrainStream:
    """The phase's deterministic data stream over the mixture components."""
    names = list(ctx.inputs.groups)
    mixture = phase.mixture
    end = None if mixture.end_weights is None else [mixture.end_weights.get(n, 0.0) for n in names]
    return TrainStream(components, [mixture.weights.get(n, 0.0) for n in names], end, mixture.schedule,
                       mixture.temperature, phase.seq_len, phase.micro_batch_tokens,
                       seed=ctx.cfg.seed * 1000 + index, lookahead=ctx.cfg.data.lookahead)


def eval_batches(ctx: RunContext, phase: PhaseSpec) -> dict[str, list[PackedBatch]]:
    """The held-out batches of every eval set, masked identically in every phase."""
    cfg, inputs = ctx.cfg, ctx.inputs
    masking = cfg.eval.masking()
    pack_tokens = max(phase.micro_batch_tokens, cfg.eval.seq_len)
    result = {}
    for set_index, (name, entries) in enumerate(cfg.eval.sets.items()):
        sources = [inputs.shards.source(s) for s in inputs.members(entries)]
        components = [Component(name, sources, holdout=0)]
        packs = heldout_packs(components, cfg.data.holdout_documents, cfg.eval.seq_len, pack_tokens,
                              cfg.eval.max_documents)
        # Same seed in every phase: the held-out masks are identical, so curves compare.
        result[name] = [pack_to_batch(items, components, inputs.tokens, masking,
                                      np.random.default_rng([cfg.seed, 99, set_index, i]), inputs.replacement_ids)
                        for i, items in enumerate(packs)]
    return result


# ----------------------------------------------------------------------------- the bundle


def build_phase(ctx: RunContext, index: int, phase: PhaseSpec, run_tokens: int) -> PhaseBundle | None:
    """Everything the step loop needs for phase `index`; None when it is already finished."""
    folder = ctx.run_dir / phase_dir_name(index, phase)
    start = phase_start(ctx, index, phase, folder)
    if start is None:
        return None
    resumed = start.kind == "resumed"
    state = PhaseState.from_state(start.state) if resumed else PhaseState(run_tokens=run_tokens)
    total_steps = start.state["total_steps"] if resumed else planned_steps(ctx.cfg, phase, ctx.dist.world_size)
    model = initial_model(ctx, index, phase, start).to(ctx.dist.device)
    model = wrap_model(model, ctx.dist, ctx.cfg.distributed)
    optimizer = phase_optimizer(model, phase.optimizer, start.state)
    scheduler = wsd_scheduler(optimizer, phase.schedule, total_steps, start_step=state.step)
    components = build_components(ctx.inputs.shards, ctx.inputs.groups, ctx.cfg.data.holdout_documents)
    stream = phase_stream(ctx, index, phase, components)
    if resumed:
        stream.load_state_dict(start.state["data"])
        ckpt.set_rng_state(start.state["rng"])
        log.info("resuming phase %s from %s (step %d)", phase.name, start.weights, state.step)
    return PhaseBundle(index, phase, folder, start, model, optimizer, scheduler, components, stream,
                       eval_batches(ctx, phase), total_steps, state)


def checkpoint_state(bundle: PhaseBundle, optimizer_state: dict, world_size: int) -> dict[str, Any]:
    """What `trainer_state.pt` holds: the counters, the optimizer, the data position and RNGs."""
    return {
        **asdict(bundle.state), "total_steps": bundle.total_steps, "phase": bundle.spec.name,
        "phase_index": bundle.index, "seq_len": bundle.spec.seq_len, "world_size": world_size,
        "optimizer": optimizer_state, "data": bundle.stream.state_dict(), "rng": ckpt.rng_state(),
    }
