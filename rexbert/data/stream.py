"""The training data stream: mixture sampling → chunking → best-fit packing → masking.

Everything that decides *which* tokens go into a step (mixture draws, per-component shuffled
document order, the packing buffer) is a small explicit state (`state_dict`), replicated on
every rank, so a checkpoint can record the exact data position and a resumed run continues with
the very same batches. Masking of pack `p` at step `s` uses its own RNG seeded by
(seed, phase, s, p), so each rank masks only its own packs and needs no masking state at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rexbert.data.masking import MaskingConfig, non_special_ids, replace_masked, span_mask
from rexbert.data.mixture import mixture_probabilities
from rexbert.data.packing import best_fit_take, chunk_lengths, cu_seqlens_from_lengths
from rexbert.data.shards import ShardSet, SourceDocuments
from rexbert.errors import UserError

# Item = (component, document, chunk start, chunk length) — a chunk of one document.
Item = tuple[int, int, int, int]


@dataclass(frozen=True)
class TokenSpec:
    """Token ids the stream needs: specials to add, never mask, or never sample as replacements."""

    cls_token_id: int
    sep_token_id: int
    mask_token_id: int
    special_ids: tuple[int, ...]
    vocab_size: int

    @classmethod
    def of(cls, tokenizer) -> TokenSpec:
        """The ids of a `rexbert.data.tokenizer.TokenizerInfo`."""
        return cls(cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
                   mask_token_id=tokenizer.mask_token_id, special_ids=tokenizer.special_ids,
                   vocab_size=tokenizer.vocab_size)


@dataclass
class PackedBatch:
    """One model call's worth of packed, masked documents (numpy; the trainer makes tensors)."""

    input_ids: np.ndarray  # int64 [total_tokens]
    labels: np.ndarray  # int64 [total_tokens], -100 where not predicted
    cu_seqlens: np.ndarray  # int32 [num_docs + 1]
    max_seqlen: int
    num_docs: int
    guided_docs: int

    @property
    def num_tokens(self) -> int:
        """Tokens in the pack, specials included."""
        return int(len(self.input_ids))

    @property
    def num_labels(self) -> int:
        """Positions the loss is computed on."""
        return int((self.labels != -100).sum())


class Component:
    """A named mixture component: the training documents of one or more shard sources."""

    def __init__(self, name: str, sources: list[SourceDocuments], holdout: int) -> None:
        self.name = name
        self.sources = sources
        counts = []
        for source in sources:
            if source.num_documents <= holdout:
                raise UserError(
                    f"source '{source.name}' has {source.num_documents} documents, not more than "
                    f"data.holdout_documents={holdout}; lower the hold-out or add data"
                )
            counts.append(source.num_documents - holdout)
        self.starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.num_documents = int(self.starts[-1])

    def locate(self, index: int) -> tuple[SourceDocuments, int]:
        """The source and its document number for component document `index`."""
        which = int(np.searchsorted(self.starts, index, side="right") - 1)
        return self.sources[which], index - int(self.starts[which])


def build_components(shards: ShardSet, groups: dict[str, list[str]], holdout: int) -> list[Component]:
    """Open the shard sources named by each mixture component."""
    return [Component(name, [shards.source(s) for s in sources], holdout) for name, sources in groups.items()]


def pack_to_batch(
    items: list[Item],
    components: list[Component],
    tokens: TokenSpec,
    masking: MaskingConfig,
    rng: np.random.Generator,
    replacement_ids: np.ndarray,
) -> PackedBatch:
    """Materialise one pack: add [CLS]/[SEP] per chunk, mask each document, concatenate."""
    specials = np.asarray(tokens.special_ids, dtype=np.int64)
    pieces_ids, pieces_labels, lengths = [], [], []
    guided_docs = 0
    for component, document, start, length in items:
        source, local = components[component].locate(document)
        content = np.asarray(source.document(local)[start:start + length], dtype=np.int64)
        ids = np.concatenate([[tokens.cls_token_id], content, [tokens.sep_token_id]])
        maskable = ~np.isin(ids, specials)
        guided = None
        if masking.guided_share > 0 and source.has_spans:
            spans = source.spans(local) - start + 1  # +1: the [CLS] in front
            spans = spans[(spans[:, 0] >= 1) & (spans[:, 1] <= length + 1)]
            if len(spans) and rng.random() < masking.guided_share:
                guided = spans
                guided_docs += 1
        mask = span_mask(maskable, masking.rate, masking.mean_span, rng, guided)
        corrupted, labels = replace_masked(ids, mask, rng, tokens.mask_token_id, replacement_ids,
                                           masking.mask_prob, masking.random_prob)
        pieces_ids.append(corrupted)
        pieces_labels.append(labels)
        lengths.append(len(ids))
    return PackedBatch(
        input_ids=np.concatenate(pieces_ids),
        labels=np.concatenate(pieces_labels),
        cu_seqlens=cu_seqlens_from_lengths(lengths),
        max_seqlen=int(max(lengths)),
        num_docs=len(items),
        guided_docs=guided_docs,
    )


class TrainStream:
    """Deterministic, resumable stream of packs for one phase (see the module docstring)."""

    def __init__(
        self,
        components: list[Component],
        start_weights: list[float],
        end_weights: list[float] | None,
        schedule: str,
        temperature: float,
        seq_len: int,
        pack_tokens: int,
        seed: int,
        lookahead: int = 256,
    ) -> None:
        if seq_len > pack_tokens:
            raise UserError(f"micro_batch_tokens {pack_tokens} is smaller than seq_len {seq_len}; raise it")
        self.components = components
        self.start_weights = np.asarray(start_weights, dtype=np.float64)
        self.end_weights = None if end_weights is None else np.asarray(end_weights, dtype=np.float64)
        self.schedule = schedule
        self.temperature = temperature
        self.seq_len = seq_len
        self.pack_tokens = pack_tokens
        self.seed = seed
        self.lookahead = lookahead
        self.rng = np.random.default_rng([seed, 1])
        self.streams = [[0, 0] for _ in components]  # (epoch, position) per component
        self.buffer: list[Item] = []
        self._orders: dict[int, tuple[int, np.ndarray]] = {}

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """JSON-serialisable data position: RNG, per-component cursors, packing buffer."""
        return {
            "rng": self.rng.bit_generator.state,
            "streams": [list(s) for s in self.streams],
            "buffer": [list(item) for item in self.buffer],
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a position saved by `state_dict`."""
        if len(state["streams"]) != len(self.components):
            raise UserError("checkpoint data position has a different number of mixture components "
                            "than the config; resume with the config the run started with")
        self.rng.bit_generator.state = state["rng"]
        self.streams = [list(s) for s in state["streams"]]
        self.buffer = [tuple(item) for item in state["buffer"]]

    # -- sampling --------------------------------------------------------------------------
    def _order(self, component: int, epoch: int) -> np.ndarray:
        cached = self._orders.get(component)
        if cached is None or cached[0] != epoch:
            count = self.components[component].num_documents
            order = np.random.default_rng([self.seed, 2, component, epoch]).permutation(count)
            self._orders[component] = (epoch, order)
            cached = self._orders[component]
        return cached[1]

    def _next_document(self, component: int) -> int:
        epoch, position = self.streams[component]
        order = self._order(component, epoch)
        document = int(order[position])
        position += 1
        if position == len(order):
            epoch, position = epoch + 1, 0
        self.streams[component] = [epoch, position]
        return document

    def _refill(self, progress: float) -> None:
        probabilities = mixture_probabilities(progress, self.start_weights, self.end_weights,
                                              self.schedule, self.temperature)
        max_content = self.seq_len - 2
        while len(self.buffer) < self.lookahead:
            component = int(self.rng.choice(len(self.components), p=probabilities))
            document = self._next_document(component)
            source, local = self.components[component].locate(document)
            length = int(source.lengths[local])
            for start, chunk in chunk_lengths(length, max_content):
                self.buffer.append((component, document, start, chunk))

    def next_packs(self, count: int, progress: float) -> list[list[Item]]:
        """Plan the next `count` packs (advances the state); `progress` ∈ [0, 1] drives the mix."""
        packs = []
        for _ in range(count):
            self._refill(progress)
            lengths = np.asarray([item[3] + 2 for item in self.buffer])
            taken = best_fit_take(lengths, self.pack_tokens)
            chosen = set(taken)
            packs.append([self.buffer[i] for i in sorted(taken)])
            self.buffer = [item for i, item in enumerate(self.buffer) if i not in chosen]
        return packs


def heldout_packs(
    components: list[Component], holdout: int, seq_len: int, pack_tokens: int, max_documents: int
) -> list[list[Item]]:
    """Packs of the held-out documents (the last `holdout` of every source), in order.

    Returned items address documents past each component's training range, so `pack_to_batch`
    reads them through a component built with holdout=0 over the same sources.
    """
    items: list[Item] = []
    for component_index, component in enumerate(components):
        offset = 0
        for source in component.sources:
            first = source.num_documents - holdout
            for local in range(first, source.num_documents)[:max_documents]:
                for start, length in chunk_lengths(int(source.lengths[local]), seq_len - 2):
                    items.append((component_index, offset + local, start, length))
            offset += source.num_documents
    packs, current, used = [], [], 0
    for item in items:
        if used + item[3] + 2 > pack_tokens and current:
            packs.append(current)
            current, used = [], 0
        current.append(item)
        used += item[3] + 2
    if current:
        packs.append(current)
    return packs


def replacement_ids_for(tokens: TokenSpec) -> np.ndarray:
    """Ids a random 10% replacement may draw (never a special token)."""
    return non_special_ids(tokens.vocab_size, tokens.special_ids)
