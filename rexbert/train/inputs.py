"""Everything a pretraining run reads before any compute, checked in one place.

The recipe's own rules are validators on `PretrainConfig`; the rules here need the files: the
tokenizer, the token shards (which sources exist), and the checkpoint folders that phases start
from (their vocabulary and maximum length). Each failure is one line that names the key and
the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rexbert.config import parse_config
from rexbert.data.shards import ShardSet
from rexbert.data.stream import TokenSpec, replacement_ids_for
from rexbert.data.tokenizer import TokenizerInfo, load_tokenizer_info
from rexbert.errors import UserError
from rexbert.model.config import ModelConfig, preset
from rexbert.train.config import PhaseSpec, PretrainConfig

SPECIAL_IDS = ("pad_token_id", "cls_token_id", "sep_token_id", "mask_token_id")


@dataclass(frozen=True)
class TrainingInputs:
    """The opened data of a run: tokenizer, shards, mixture components and the fresh model."""

    tokenizer: TokenizerInfo
    shards: ShardSet
    groups: dict[str, list[str]]  # mixture component → shard sources
    base_model: ModelConfig  # preset + overrides + the tokenizer's vocabulary and special ids
    tokens: TokenSpec
    replacement_ids: np.ndarray  # ids a random 10% replacement may draw

    def members(self, names: list[str]) -> list[str]:
        """Shard sources of eval-set entries, each a mixture component or a source itself."""
        return [source for name in names for source in self.groups.get(name, [name])]


def open_inputs(cfg: PretrainConfig, source: str) -> TrainingInputs:
    """Open and check the tokenizer, shards, groups, eval sets and every phase's model."""
    tok = load_tokenizer_info(cfg.data.tokenizer)
    shards = ShardSet(cfg.data.shards)
    shards.check_tokenizer(tok)
    groups = mixture_groups(cfg, shards, source)
    check_eval_sets(cfg, groups, shards, source)
    base = base_model_config(cfg, tok, source)
    check_phase_models(cfg, base, tok, source)
    spec = TokenSpec.of(tok)
    return TrainingInputs(tok, shards, groups, base, spec, replacement_ids_for(spec))


def mixture_groups(cfg: PretrainConfig, shards: ShardSet, source: str) -> dict[str, list[str]]:
    """data.groups (every source it names must exist), or one component per shard source."""
    present = shards.source_names
    if cfg.data.groups is not None:
        for group, members in cfg.data.groups.items():
            for member in members:
                if member not in present:
                    raise UserError(f"{source}: data.groups.{group} names source '{member}', which the "
                                    f"shards in {shards.root} do not have (sources: {', '.join(present)})")
        return {group: list(members) for group, members in cfg.data.groups.items()}
    wanted = sorted(set().union(*(phase.mixture.names() for phase in cfg.phases)))
    unknown = [name for name in wanted if name not in present]
    if unknown:
        example = ", ".join(f"{name}: [SOURCE, …]" for name in unknown)
        raise UserError(f"{source}: the mixture names components {unknown} but the shards in {shards.root} "
                        f"have sources {', '.join(present)}, and data.groups (which maps mixture "
                        f"components to shard sources) is not set; add data.groups: {{{example}}} "
                        "with those sources, or rename the mixture components")
    return {name: [name] for name in present}


def check_eval_sets(cfg: PretrainConfig, groups: dict[str, list[str]], shards: ShardSet, source: str) -> None:
    """Every eval-set entry is a mixture component or a shard source."""
    for name, entries in cfg.eval.sets.items():
        for entry in entries:
            if entry not in groups and entry not in shards.source_names:
                raise UserError(f"{source}: eval.sets.{name} names '{entry}', which is neither a mixture "
                                f"component ({', '.join(groups)}) nor a shard source "
                                f"({', '.join(shards.source_names)}); use one of those")


def base_model_config(cfg: PretrainConfig, tok: TokenizerInfo, source: str) -> ModelConfig:
    """The preset with overrides, vocabulary and special ids taken from the tokenizer."""
    fields = preset(cfg.model.preset).model.model_dump()
    overrides = dict(cfg.model.overrides)
    vocab = overrides.pop("vocab_size", tok.padded_vocab_size)
    if vocab < tok.vocab_size:
        raise UserError(f"{source}: model.overrides.vocab_size {vocab} is smaller than the tokenizer's "
                        f"{tok.vocab_size} tokens ({tok.path}); remove the override")
    for key in SPECIAL_IDS:
        if key in overrides:
            raise UserError(f"{source}: model.overrides.{key} is taken from the tokenizer; remove it")
    fields.update(overrides)
    fields.update(vocab_size=vocab, **{key: getattr(tok, key) for key in SPECIAL_IDS})
    return parse_config(ModelConfig, fields, source=f"{source}: model")


def with_rope(model_cfg: ModelConfig, phase: PhaseSpec) -> ModelConfig:
    """The model config with this phase's RoPE / context changes applied."""
    changes = phase.rope.changes()
    return model_cfg.model_copy(update=changes) if changes else model_cfg


def check_compatible(model_cfg: ModelConfig, tok: TokenizerInfo, where: str) -> None:
    """A checkpoint's vocabulary and special ids must fit the training tokenizer."""
    if model_cfg.vocab_size < tok.vocab_size:
        raise UserError(f"{where}: model vocab_size {model_cfg.vocab_size} is smaller than the tokenizer's "
                        f"{tok.vocab_size} tokens ({tok.path}); tokenizer/model vocab mismatch — use the "
                        "tokenizer the model was trained with")
    for key in SPECIAL_IDS:
        if getattr(model_cfg, key) != getattr(tok, key):
            raise UserError(f"{where}: model {key}={getattr(model_cfg, key)} but the tokenizer has "
                            f"{getattr(tok, key)}; tokenizer/model vocab mismatch — use the model's tokenizer")


def check_phase_models(cfg: PretrainConfig, base: ModelConfig, tok: TokenizerInfo, source: str) -> None:
    """Walk the curriculum's model configs: checkpoints fit the tokenizer, lengths fit the model."""
    from rexbert.model.checkpoint import read_model_config

    model_cfg = base
    for index, phase in enumerate(cfg.phases):
        where = f"{source}: phases[{index}] '{phase.name}'"
        if phase.init_from is None:
            model_cfg = base
        elif phase.init_from != "previous":
            model_cfg = read_model_config(Path(phase.init_from))
            check_compatible(model_cfg, tok, f"{where}: init_from {phase.init_from}")
        model_cfg = with_rope(model_cfg, phase)
        if phase.seq_len > model_cfg.max_position_embeddings:
            raise UserError(f"{where}: seq_len {phase.seq_len} is above the model's maximum "
                            f"{model_cfg.max_position_embeddings}; lower seq_len or raise "
                            "rope.max_position_embeddings")
        if cfg.eval.sets and cfg.eval.seq_len > model_cfg.max_position_embeddings:
            raise UserError(f"{source}: eval.seq_len {cfg.eval.seq_len} is above the maximum "
                            f"{model_cfg.max_position_embeddings} of phase '{phase.name}'s model; lower it")
