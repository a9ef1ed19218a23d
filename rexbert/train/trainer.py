"""`rexbert pretrain`: the three-phase curriculum, one linear loop per phase.

Reads top to bottom: run folder and config → pre-flight checks → for each phase: model
(fresh, previous phase, or an imported checkpoint; RoPE changes applied) → distribution →
optimizer → data stream → loop (plan packs → mask → forward/backward → step → log → evaluate →
checkpoint) → final checkpoint and pointer.

Run folder::

    RUN_DIR/config.yaml                      the resolved recipe
    RUN_DIR/metrics.csv                      one row per logged step (see metrics.COLUMNS)
    RUN_DIR/loss_curve.png                   training and held-out loss against tokens
    RUN_DIR/tensorboard/                     event files (when tensorboard is installed)
    RUN_DIR/phase<k>_<name>/checkpoint-<step>/   model + tokenizer + trainer state (checkpointing.py)
    RUN_DIR/phase<k>_<name>/final -> checkpoint-<step>   (and final.json) once the phase is done
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rexbert.config import load_config, parse_config
from rexbert.data.pipeline import (
    Component,
    MaskingSpec,
    PackedBatch,
    TokenSpec,
    TrainStream,
    build_components,
    heldout_packs,
    pack_to_batch,
    replacement_ids_for,
)
from rexbert.data.shards import ShardSet
from rexbert.data.tokenizer import TokenizerInfo, load_tokenizer_info
from rexbert.errors import UserError
from rexbert.fileio import atomic_write_text
from rexbert.model.config import ModelConfig, preset
from rexbert.train import checkpointing as ckpt
from rexbert.train.config import PhaseSpec, PretrainConfig
from rexbert.train.distributed import (
    DistInfo,
    all_reduce_sum,
    barrier,
    init_distributed,
    is_fsdp,
    wrap_model,
)
from rexbert.train.metrics import MetricsLog, plot_loss_curve
from rexbert.train.optim import build_optimizer
from rexbert.train.schedule import batch_tokens_at, packs_per_step, steps_for_tokens, wsd_lr

log = logging.getLogger(__name__)


class StopRequested(Exception):
    """SIGTERM/SIGINT arrived: the checkpoint is written, the job exits 0."""


@dataclass
class PhaseState:
    """Counters that a checkpoint restores (with the data position and RNGs)."""

    step: int = 0
    run_tokens: int = 0  # tokens trained since the run started (all phases, all ranks)
    nominal_tokens: int = 0  # budgeted tokens of this phase (drives batch-size warmup)
    nan_steps: int = 0
    elapsed_s: float = 0.0


def phase_dir_name(index: int, phase: PhaseSpec) -> str:
    """`phase<k>_<name>`, k starting at 1."""
    return f"phase{index + 1}_{phase.name}"


# ----------------------------------------------------------------------------- model helpers


def base_model_config(cfg: PretrainConfig, tok: TokenizerInfo, source: str) -> ModelConfig:
    """The preset with overrides, vocabulary and special ids taken from the tokenizer."""
    fields = preset(cfg.model.preset).model.model_dump()
    overrides = dict(cfg.model.overrides)
    vocab = overrides.pop("vocab_size", tok.padded_vocab_size)
    if vocab < tok.vocab_size:
        raise UserError(f"{source}: model.overrides.vocab_size {vocab} is smaller than the tokenizer's "
                        f"{tok.vocab_size} tokens ({tok.path}); remove the override")
    for key in ("pad_token_id", "cls_token_id", "sep_token_id", "mask_token_id"):
        if key in overrides:
            raise UserError(f"{source}: model.overrides.{key} is taken from the tokenizer; remove it")
    fields.update(overrides)
    fields.update(vocab_size=vocab, pad_token_id=tok.pad_token_id, cls_token_id=tok.cls_token_id,
                  sep_token_id=tok.sep_token_id, mask_token_id=tok.mask_token_id)
    return parse_config(ModelConfig, fields, source=f"{source}: model")


def with_rope(model_cfg: ModelConfig, phase: PhaseSpec) -> ModelConfig:
    """The model config with this phase's RoPE / context changes applied."""
    changes = {}
    if phase.rope.global_theta is not None:
        changes["global_rope_theta"] = phase.rope.global_theta
    if phase.rope.local_theta is not None:
        changes["local_rope_theta"] = phase.rope.local_theta
    if phase.rope.ntk_factor is not None:
        changes["rope_ntk_factor"] = phase.rope.ntk_factor
    if phase.rope.max_position_embeddings is not None:
        changes["max_position_embeddings"] = phase.rope.max_position_embeddings
    return model_cfg.model_copy(update=changes) if changes else model_cfg


def check_compatible(model_cfg: ModelConfig, tok: TokenizerInfo, where: str) -> None:
    """A checkpoint's vocabulary and special ids must fit the training tokenizer."""
    if model_cfg.vocab_size < tok.vocab_size:
        raise UserError(f"{where}: model vocab_size {model_cfg.vocab_size} is smaller than the tokenizer's "
                        f"{tok.vocab_size} tokens ({tok.path}); tokenizer/model vocab mismatch — use the "
                        "tokenizer the model was trained with")
    for key in ("pad_token_id", "cls_token_id", "sep_token_id", "mask_token_id"):
        if getattr(model_cfg, key) != getattr(tok, key):
            raise UserError(f"{where}: model {key}={getattr(model_cfg, key)} but the tokenizer has "
                            f"{getattr(tok, key)}; tokenizer/model vocab mismatch — use the model's tokenizer")


def load_weights_into(model_cfg: ModelConfig, directory: Path):
    """Build a model with `model_cfg` and the weights of a rexbert checkpoint directory."""
    from rexbert.model.checkpoint import load_model
    from rexbert.model.modeling import RexBertForMaskedLM

    source = load_model(directory)
    model = RexBertForMaskedLM(model_cfg)
    model.load_state_dict(source.state_dict())
    return model


# ----------------------------------------------------------------------------- the pretrainer


class Pretrainer:
    """Runs the phases of a `PretrainConfig` into a run folder (one per process under torchrun)."""

    def __init__(self, cfg: PretrainConfig, run_dir: Path, max_steps: int | None = None,
                 resume: bool = False, phases: list[str] | None = None,
                 dist: DistInfo | None = None, config_source: str = "config") -> None:
        self.cfg = cfg
        self.run_dir = run_dir
        self.max_steps = max_steps
        self.resume = resume
        self.only_phases = phases
        self.dist = dist or DistInfo()
        self.source = config_source
        self.stop_requested = False
        self.phase_order = {p.name: i for i, p in enumerate(cfg.phases)}

    # -- setup ---------------------------------------------------------------------------------
    def _prepare_run_dir(self) -> None:
        config_path = self.run_dir / "config.yaml"
        text = self.cfg.to_yaml()
        # Every rank looks before any rank writes: otherwise a slow rank would find the main
        # rank's fresh config.yaml and take the new run for an old one.
        exists = config_path.is_file()
        barrier(self.dist)
        if exists:
            if not self.resume:
                raise UserError(f"{self.run_dir}: already holds a run; pass --resume to continue it "
                                "or choose a new --out")
            if config_path.read_text(encoding="utf-8") != text:
                raise UserError(f"{self.run_dir}: {self.source} differs from the run's config.yaml; "
                                "resume with the config the run started with (or use a new --out)")
        elif self.dist.is_main:
            atomic_write_text(config_path, text)
        barrier(self.dist)

    def _preflight(self) -> None:
        """Every check that can fail before any compute: data, tokenizer, names, lengths."""
        cfg = self.cfg
        self.tok = load_tokenizer_info(cfg.data.tokenizer)
        self.shards = ShardSet(cfg.data.shards)
        self.shards.check_tokenizer(self.tok)
        groups = cfg.data.groups or {name: [name] for name in self.shards.source_names}
        for group, sources in groups.items():
            for source in sources:
                if source not in self.shards.index["sources"]:
                    raise UserError(f"{self.source}: data.groups.{group} names source '{source}', which the "
                                    f"shards do not have (sources: {', '.join(self.shards.source_names)})")
        self.groups = groups
        for name, sources in cfg.eval.sets.items():
            for source in sources:
                for member in groups.get(source, [source]):
                    self.shards.source(member)
            if cfg.data.holdout_documents == 0:
                raise UserError(f"{self.source}: eval.sets.{name} needs held-out documents; set "
                                "data.holdout_documents above 0")
        if cfg.eval.max_documents > cfg.data.holdout_documents and cfg.eval.sets:
            raise UserError(f"{self.source}: eval.max_documents {cfg.eval.max_documents} exceeds "
                            f"data.holdout_documents {cfg.data.holdout_documents}; lower it")
        self.base_cfg = base_model_config(cfg, self.tok, self.source)
        model_cfg = self.base_cfg
        for index, phase in enumerate(cfg.phases):
            where = f"{self.source}: phases[{index}] '{phase.name}'"
            for table in (phase.mixture.weights, phase.mixture.end_weights or {}):
                unknown = sorted(set(table) - set(groups))
                if unknown:
                    raise UserError(f"{where}: mixture names {unknown} are not components "
                                    f"({', '.join(groups)}); define them under data.groups")
            if phase.init_from not in (None, "previous"):
                path = Path(phase.init_from)
                from rexbert.model.checkpoint import read_model_config

                model_cfg = read_model_config(path)
                check_compatible(model_cfg, self.tok, f"{where}: init_from {path}")
            elif phase.init_from is None:
                model_cfg = self.base_cfg
            model_cfg = with_rope(model_cfg, phase)
            if phase.seq_len > model_cfg.max_position_embeddings:
                raise UserError(f"{where}: seq_len {phase.seq_len} is above the model's maximum "
                                f"{model_cfg.max_position_embeddings}; lower seq_len or raise "
                                "rope.max_position_embeddings")
            if cfg.eval.sets and cfg.eval.seq_len > model_cfg.max_position_embeddings:
                raise UserError(f"{self.source}: eval.seq_len {cfg.eval.seq_len} is above the model's "
                                f"maximum {model_cfg.max_position_embeddings}")
        self.token_spec = TokenSpec(
            cls_token_id=self.tok.cls_token_id, sep_token_id=self.tok.sep_token_id,
            mask_token_id=self.tok.mask_token_id, special_ids=self.tok.special_ids,
            vocab_size=self.tok.vocab_size,
        )
        self.replacement_ids = replacement_ids_for(self.token_spec)

    # -- entry -----------------------------------------------------------------------------------
    def run(self) -> int:
        """Run (or resume) every phase; returns the process exit status."""
        self._prepare_run_dir()
        self._preflight()
        self.metrics = MetricsLog(self.run_dir, list(self.cfg.eval.sets),
                                  self.cfg.logging.tensorboard, self.dist.is_main)
        previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            run_tokens = 0
            for index, phase in enumerate(self.cfg.phases):
                if self.only_phases and phase.name not in self.only_phases:
                    continue
                run_tokens = self._run_phase(index, phase, run_tokens)
        except StopRequested:
            log.info("stopped by signal after writing a checkpoint; continue with --resume")
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])
            self.metrics.close()
            if self.dist.is_main and self.metrics.path.is_file():
                plot_loss_curve(self.metrics.path, self.run_dir / "loss_curve.png")
        return 0

    def _on_signal(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        log.warning("received signal %d: checkpointing at the end of this step", signum)
        self.stop_requested = True

    # -- one phase -------------------------------------------------------------------------------
    def _initial_model(self, index: int, phase: PhaseSpec):
        from rexbert.model.modeling import RexBertForMaskedLM

        if phase.init_from is None:
            torch.manual_seed(self.cfg.seed + index)
            return RexBertForMaskedLM(with_rope(self.base_cfg, phase)), None
        if phase.init_from == "previous":
            prev = self.cfg.phases[index - 1]
            prev_dir = self.run_dir / phase_dir_name(index - 1, prev)
            source = ckpt.final_checkpoint(prev_dir)
            if source is None:
                raise UserError(f"phase '{phase.name}' starts from phase '{prev.name}', but "
                                f"{prev_dir}/final is missing; run that phase first "
                                f"(`rexbert pretrain --resume`) or set init_from to a checkpoint")
        else:
            source = Path(phase.init_from)
        from rexbert.model.checkpoint import read_model_config

        model_cfg = read_model_config(source)
        check_compatible(model_cfg, self.tok, f"init_from {source}")
        return load_weights_into(with_rope(model_cfg, phase), source), source

    def _total_steps(self, phase: PhaseSpec) -> int:
        if phase.steps is not None:
            total = phase.steps
        else:
            warm = phase.batch_warmup
            total = steps_for_tokens(phase.tokens, phase.batch_tokens,
                                     warm.start_batch_tokens if warm else None,
                                     warm.warmup_tokens if warm else 0,
                                     phase.micro_batch_tokens, self.dist.world_size)
        return min(total, self.max_steps) if self.max_steps else total

    def _run_phase(self, index: int, phase: PhaseSpec, run_tokens: int) -> int:
        cfg, dist = self.cfg, self.dist
        phase_dir = self.run_dir / phase_dir_name(index, phase)
        done = ckpt.final_checkpoint(phase_dir) if self.resume else None
        if done is not None:
            state = ckpt.load_trainer_state(done)
            log.info("phase %s already complete (%s); skipping", phase.name, done)
            return int(state["run_tokens"])
        if phase_dir.exists() and not self.resume and any(phase_dir.iterdir()):
            raise UserError(f"{phase_dir}: holds checkpoints of an earlier run; pass --resume or use a new --out")
        resume_from = ckpt.latest_valid_checkpoint(phase_dir) if self.resume else None
        total_steps = self._total_steps(phase)
        state = PhaseState(run_tokens=run_tokens)
        trainer_state = None
        init_source: Path | None = None
        if resume_from is not None:
            from rexbert.model.checkpoint import load_model

            model = load_model(resume_from)
            check_compatible(model.config, self.tok, str(resume_from))
            trainer_state = ckpt.load_trainer_state(resume_from)
            state = PhaseState(step=trainer_state["step"], run_tokens=trainer_state["run_tokens"],
                               nominal_tokens=trainer_state["nominal_tokens"],
                               nan_steps=trainer_state["nan_steps"], elapsed_s=trainer_state["elapsed_s"])
            total_steps = trainer_state["total_steps"]
            log.info("resuming phase %s from %s (step %d)", phase.name, resume_from, state.step)
        else:
            model, init_source = self._initial_model(index, phase)
        if dist.is_main:
            phase_dir.mkdir(parents=True, exist_ok=True)
            self.metrics.truncate_after(self.phase_order, phase.name, state.step if resume_from else -1)
        model.to(dist.device)
        model = wrap_model(model, dist, cfg.distributed)
        opt = phase.optimizer
        optimizer = build_optimizer(model, opt.lr, tuple(opt.betas), opt.eps, opt.weight_decay)
        if trainer_state is not None:
            self._load_optimizer(model, optimizer, trainer_state["optimizer"])
        elif not opt.reset and init_source is not None and (init_source / ckpt.STATE_FILE).is_file():
            carried = ckpt.load_trainer_state(init_source)["optimizer"]
            self._load_optimizer(model, optimizer, carried)
            for group in optimizer.param_groups:
                group["max_lr"] = opt.lr

        components = build_components(self.shards, self.groups, cfg.data.holdout_documents)
        names = list(self.groups)
        weights = [phase.mixture.weights.get(n, 0.0) for n in names]
        end = phase.mixture.end_weights
        end_weights = None if end is None else [end.get(n, 0.0) for n in names]
        stream = TrainStream(components, weights, end_weights, phase.mixture.schedule,
                             phase.mixture.temperature, phase.seq_len, phase.micro_batch_tokens,
                             seed=cfg.seed * 1000 + index, lookahead=cfg.data.lookahead)
        if trainer_state is not None:
            stream.load_state_dict(trainer_state["data"])
            ckpt.set_rng_state(trainer_state["rng"])
        masking = MaskingSpec(phase.masking.rate, phase.masking.mean_span, phase.masking.guided_share,
                              phase.masking.mask_prob, phase.masking.random_prob)
        eval_sets = self._eval_batches(phase)

        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, initial=state.step, desc=phase_dir_name(index, phase), unit="step",
                   disable=not (dist.is_main and cfg.logging.progress_bar), dynamic_ncols=True)
        window_tokens, window_start = 0, time.perf_counter()
        phase_start = time.perf_counter() - state.elapsed_s
        last_saved = state.step if resume_from is not None else -1
        warm = phase.batch_warmup
        sched = phase.schedule
        warmup_steps = int(round(sched.warmup_fraction * total_steps))
        decay_steps = int(round(sched.decay_fraction * total_steps))
        while state.step < total_steps:
            step = state.step
            lr = wsd_lr(step, total_steps, opt.lr, warmup_steps, decay_steps,
                        floor=opt.lr * sched.min_lr_ratio, shape=sched.decay_shape)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch_tokens = batch_tokens_at(state.nominal_tokens, phase.batch_tokens,
                                           warm.start_batch_tokens if warm else None,
                                           warm.warmup_tokens if warm else 0)
            n_packs = packs_per_step(batch_tokens, phase.micro_batch_tokens, dist.world_size)
            packs = stream.next_packs(n_packs, step / total_steps)
            mine = [
                pack_to_batch(items, components, self.token_spec, masking,
                              np.random.default_rng([cfg.seed, index, step, pack_index]), self.replacement_ids)
                for pack_index, items in enumerate(packs) if pack_index % dist.world_size == dist.rank
            ]
            logging_step = (step + 1) % cfg.logging.every_steps == 0 or step + 1 == total_steps
            stats, grad_norm = self._train_step(model, optimizer, mine, opt.grad_clip, logging_step)
            loss_sum, correct, labels, tokens, docs, guided, stop = stats.tolist()
            loss = loss_sum / max(labels, 1.0)
            if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                state.nan_steps += 1
                log.warning("phase %s step %d: loss %s / grad norm %s is not finite; step skipped (%d so far)",
                            phase.name, step, loss, grad_norm, state.nan_steps)
                if state.nan_steps > cfg.max_nan_steps:
                    raise UserError(
                        f"phase '{phase.name}' step {step}: {state.nan_steps} steps had a NaN/Inf loss or "
                        f"gradient (max_nan_steps={cfg.max_nan_steps}); training diverged — lower "
                        f"optimizer.lr or raise schedule.warmup_fraction, then resume from {phase_dir}"
                    )
            state.step += 1
            state.run_tokens += int(tokens)
            state.nominal_tokens += n_packs * phase.micro_batch_tokens
            window_tokens += int(tokens)
            bar.update()
            bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}")
            row = None
            if state.step % cfg.logging.every_steps == 0 or state.step == total_steps:
                now = time.perf_counter()
                row = {
                    "phase": phase.name, "step": state.step, "tokens": state.run_tokens, "loss": loss,
                    "mlm_accuracy": correct / max(labels, 1.0), "lr": lr, "grad_norm": grad_norm,
                    "tokens_per_s": round(window_tokens / max(now - window_start, 1e-9), 1),
                    "batch_tokens": int(tokens),
                    "packing_efficiency": round(tokens / (n_packs * phase.micro_batch_tokens), 4),
                    "guided_share": round(guided / max(docs, 1.0), 4), "nan_steps": state.nan_steps,
                    "elapsed_s": round(now - phase_start, 2),
                }
                window_tokens, window_start = 0, now
            if eval_sets and (state.step % cfg.eval.every_steps == 0 or state.step == total_steps):
                row = row or {"phase": phase.name, "step": state.step, "tokens": state.run_tokens,
                              "nan_steps": state.nan_steps}
                row.update(self._evaluate(model, eval_sets))
            if row is not None:
                self.metrics.write(row, global_step=state.run_tokens)
            stopping = self.stop_requested or stop > 0
            if state.step % cfg.checkpoint.every_steps == 0 or state.step == total_steps or stopping:
                state.elapsed_s = time.perf_counter() - phase_start
                path = self._save(phase_dir, model, optimizer, stream, state, total_steps, phase, index)
                last_saved = state.step
                if state.step == total_steps and dist.is_main:
                    ckpt.point_final(phase_dir, path)
            if stopping:
                bar.close()
                raise StopRequested
        bar.close()
        if last_saved != state.step:  # resumed at the very end: make sure the pointer exists
            state.elapsed_s = time.perf_counter() - phase_start
            path = self._save(phase_dir, model, optimizer, stream, state, total_steps, phase, index)
            if dist.is_main:
                ckpt.point_final(phase_dir, path)
        elif dist.is_main and not (phase_dir / "final.json").is_file():
            ckpt.point_final(phase_dir, phase_dir / f"checkpoint-{state.step}")
        barrier(dist)
        if dist.is_main:
            plot_loss_curve(self.metrics.path, self.run_dir / "loss_curve.png")
        return state.run_tokens

    # -- step ----------------------------------------------------------------------------------
    def _train_step(self, model, optimizer, batches: list[PackedBatch], grad_clip: float | None,
                    with_accuracy: bool = True):
        """Forward/backward over this rank's packs, then one optimizer step (unless non-finite).

        Every pack's mean loss is weighted by its share of the *global* labelled tokens, so the
        gradient equals that of one big batch whatever the number of ranks or packs (DDP
        averages over ranks, hence the × world_size). Accuracy needs the full logits, which the
        fused CPU loss never materialises, so it is computed only on logging steps.
        """
        dist, device = self.dist, self.dist.device
        local_labels = float(sum(b.num_labels for b in batches))
        global_labels = float(all_reduce_sum(torch.tensor([local_labels]), dist).item())
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = 0
        for position, batch in enumerate(batches):
            sync = position == len(batches) - 1
            no_sync = getattr(model, "no_sync", None)
            context = no_sync() if (no_sync is not None and not sync) else contextlib.nullcontext()
            ids = torch.from_numpy(batch.input_ids).to(device)
            labels = torch.from_numpy(batch.labels).to(device)
            cu = torch.from_numpy(batch.cu_seqlens).to(device)
            with context:
                out = model(ids, cu, batch.max_seqlen, labels=labels)
                if with_accuracy:  # before backward: FSDP2 reshards the tied weight after it
                    with torch.no_grad():
                        correct += int((out.logits.argmax(-1) == labels[labels != -100]).sum())
                weight = batch.num_labels / max(global_labels, 1.0) * dist.world_size
                (out.loss * weight).backward()
            loss_sum += out.loss.detach().double().cpu() * batch.num_labels
        params = [p for p in model.parameters() if p.grad is not None]
        limit = grad_clip if grad_clip is not None else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(params, limit)
        if hasattr(grad_norm, "full_tensor"):
            grad_norm = grad_norm.full_tensor()
        grad_norm = float(grad_norm)
        stats = torch.tensor([
            float(loss_sum), correct, local_labels, sum(b.num_tokens for b in batches),
            sum(b.num_docs for b in batches), sum(b.guided_docs for b in batches), float(self.stop_requested),
        ], dtype=torch.float64)
        stats = all_reduce_sum(stats, dist)
        loss_ok = math.isfinite(float(stats[0])) and math.isfinite(grad_norm)
        if loss_ok:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return stats, grad_norm

    # -- evaluation ------------------------------------------------------------------------------
    def _eval_batches(self, phase: PhaseSpec) -> dict[str, tuple[list[Component], list[PackedBatch]]]:
        cfg = self.cfg
        result = {}
        spec = MaskingSpec(cfg.eval.mask_rate, cfg.eval.mean_span)
        pack_tokens = max(phase.micro_batch_tokens, cfg.eval.seq_len)
        for set_index, (name, sources) in enumerate(cfg.eval.sets.items()):
            # An entry may name a mixture group (data.groups) or a shard source directly.
            members = [member for s in sources for member in self.groups.get(s, [s])]
            components = [Component(name, [self.shards.source(s) for s in members], holdout=0)]
            packs = heldout_packs(components, cfg.data.holdout_documents, cfg.eval.seq_len, pack_tokens,
                                  cfg.eval.max_documents)
            # Same seed in every phase: the held-out masks are identical, so curves compare.
            batches = [pack_to_batch(items, components, self.token_spec, spec,
                                     np.random.default_rng([cfg.seed, 99, set_index, i]), self.replacement_ids)
                       for i, items in enumerate(packs)]
            result[name] = (components, batches)
        return result

    @torch.no_grad()
    def _evaluate(self, model, eval_sets) -> dict[str, float]:
        from rexbert.model.checkpoint import unwrap_model

        # DDP: the plain module (no gradient hooks); FSDP2: the sharded module itself, on every rank.
        net = model if is_fsdp(model) else unwrap_model(model)
        was_training = net.training
        net.eval()
        row = {}
        for name, (_, batches) in eval_sets.items():
            loss_sum, correct, labels = 0.0, 0, 0
            for batch in batches:
                ids = torch.from_numpy(batch.input_ids).to(self.dist.device)
                target = torch.from_numpy(batch.labels).to(self.dist.device)
                out = net(ids, torch.from_numpy(batch.cu_seqlens).to(self.dist.device), batch.max_seqlen,
                          labels=target)
                loss_sum += float(out.loss) * batch.num_labels
                correct += int((out.logits.argmax(-1) == target[target != -100]).sum())
                labels += batch.num_labels
            row[f"eval_{name}_loss"] = loss_sum / max(labels, 1)
            row[f"eval_{name}_accuracy"] = correct / max(labels, 1)
        net.train(was_training)
        return row

    # -- checkpoints -------------------------------------------------------------------------------
    def _load_optimizer(self, model, optimizer, state: dict) -> None:
        if is_fsdp(model):
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                set_optimizer_state_dict,
            )

            set_optimizer_state_dict(model, optimizer, optim_state_dict=state,
                                     options=StateDictOptions(full_state_dict=True))
        else:
            optimizer.load_state_dict(state)

    def _save(self, phase_dir: Path, model, optimizer, stream: TrainStream, state: PhaseState,
              total_steps: int, phase: PhaseSpec, index: int) -> Path:
        from rexbert.fileio import atomic_write_json
        from rexbert.model.checkpoint import (
            CONFIG_FILE,
            WEIGHTS_FILE,
            copy_tokenizer,
            save_model,
            unwrap_model,
            write_safetensors,
        )

        if is_fsdp(model):
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                get_model_state_dict,
                get_optimizer_state_dict,
            )

            options = StateDictOptions(full_state_dict=True, cpu_offload=True)
            weights = get_model_state_dict(model, options=options)
            optim_state = get_optimizer_state_dict(model, optimizer, options=options)

            def write_model(directory: Path) -> None:
                write_safetensors(weights, directory / WEIGHTS_FILE)
                atomic_write_json(directory / CONFIG_FILE, unwrap_model(model).config.model_dump(mode="json"))
                copy_tokenizer(self.tok.path, directory / "tokenizer")
        else:
            optim_state = optimizer.state_dict()

            def write_model(directory: Path) -> None:
                save_model(unwrap_model(model), directory, tokenizer_dir=self.tok.path)

        path = phase_dir / f"checkpoint-{state.step}"
        if self.dist.is_main:
            trainer_state = {
                "optimizer": optim_state, "data": stream.state_dict(), "rng": ckpt.rng_state(),
                "step": state.step, "total_steps": total_steps, "run_tokens": state.run_tokens,
                "nominal_tokens": state.nominal_tokens, "nan_steps": state.nan_steps,
                "elapsed_s": state.elapsed_s, "phase": phase.name, "phase_index": index,
                "world_size": self.dist.world_size,
            }
            summary = {k: v for k, v in trainer_state.items() if k not in ("optimizer", "data", "rng")}
            summary["tokenizer_fingerprint"] = self.tok.fingerprint
            path = ckpt.write_checkpoint(phase_dir, state.step, write_model, trainer_state, summary,
                                         self.cfg.checkpoint.keep_last)
        barrier(self.dist)
        return path


def run_pretrain(config: str | Path, out: str | Path, max_steps: int | None = None, resume: bool = False,
                 phases: list[str] | None = None, tokenizer: str | None = None,
                 shards: str | None = None) -> int:
    """Load the recipe, join torchrun's process group if any, and run the curriculum.

    `tokenizer`/`shards` replace the recipe's data paths (the packaged recipes carry placeholders).
    """
    cfg = load_config(PretrainConfig, config)
    if tokenizer is not None:
        cfg.data.tokenizer = tokenizer
    if shards is not None:
        cfg.data.shards = shards
    if phases:
        unknown = sorted(set(phases) - {p.name for p in cfg.phases})
        if unknown:
            raise UserError(f"--phases {' '.join(unknown)}: not phases of {config} "
                            f"({', '.join(p.name for p in cfg.phases)})")
    if max_steps is not None and max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    dist = init_distributed()
    torch.manual_seed(cfg.seed)
    trainer = Pretrainer(cfg, Path(out), max_steps=max_steps, resume=resume, phases=phases, dist=dist,
                         config_source=str(config))
    try:
        return trainer.run()
    finally:
        from rexbert.train.distributed import destroy

        destroy(dist)
