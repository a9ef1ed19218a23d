"""Masked-token recovery on product text — the paper's Table 3 protocol.

Each text is tokenized by the model's own tokenizer and truncated to the block size (128, 256,
512 tokens), 15% of its tokens are masked in whole-word spans (see `masking.py`), every masked
position gets the mask token, and accuracy@k counts the masked positions whose original token is
among the model's k most likely tokens. Counts are pooled over all masked tokens of a field
(micro-average), so long descriptions weigh more than short titles, as in token-level accuracy.
The counts of every text are kept as well (`OUT/examples/`, see results.py), for the paired
bootstrap intervals of the reports.

The frequency baseline (`FrequencyBaseline`) goes through the same protocol — the same texts,
tokenization and masks — but predicts the k most frequent tokens of the domain training text at
every masked position: a model that beats it has learned more than unigram statistics.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from rexbert.errors import UserError
from rexbert.evaluate.config import FrequencyInput, MlmSettings
from rexbert.evaluate.masking import MAX_SPAN_WORDS, SPAN_P, span_mask
from rexbert.evaluate.models import (
    ModelSpec,
    describe,
    load_masked_lm,
    load_tokenizer,
    model_window,
    tokenizer_fingerprint,
)
from rexbert.evaluate.results import ExamplePart, ModelInfo
from rexbert.evaluate.task import EvalTask, Measurement
from rexbert.sources.documents import BadRecord, DocumentInput, iter_documents

log = logging.getLogger(__name__)

# Records without usable text are left out of the evaluation (and counted in a warning and in
# each record's details); a malformed file is still an error naming file:line.
SKIPPED_REASONS = ("missing_text", "bad_text")


def read_texts(data: DocumentInput, field: str, limit: int | None) -> tuple[list[tuple[int, str]], int]:
    """(record index, text) of the non-empty values of `field`, and how many were skipped.

    The record index (the record's position in the input, skipped ones included) seeds its mask,
    so `max_examples` or a skipped record never reshuffles the masks of the others.
    """
    rows: list[tuple[int, str]] = []
    skipped = 0
    spec = data.model_copy(update={"text_fields": [field]})
    for index, item in enumerate(iter_documents(spec, on_error="skip")):
        if isinstance(item, BadRecord):
            if item.reason not in SKIPPED_REASONS:
                raise item.user_error()
            skipped += 1
            continue
        if not item.text.strip():
            skipped += 1
            continue
        rows.append((index, item.text))
        if limit is not None and len(rows) >= limit:
            break
    return rows, skipped


@dataclass
class TextHits:
    """Per-text counts of one field at one block size: what a cell of Table 3 is the ratio of."""

    ids: np.ndarray  # int64 record index of each text (its mask seed)
    masked: np.ndarray  # int32 masked tokens per text
    hits: dict[int, np.ndarray]  # k → int32 masked tokens recovered within the top k, per text

    def measurements(self, field: str, block: int, skipped: int) -> list[Measurement]:
        """One top-k accuracy per k, sharing this per-text data."""
        total = int(self.masked.sum())
        part = ExamplePart({"field": field, "block_size": block},
                           {"ids": self.ids, "masked": self.masked,
                            **{f"hits@{k}": hits for k, hits in self.hits.items()}})
        details = {"masked_tokens": total, "texts": len(self.ids), "skipped": skipped}
        return [Measurement(f"top{k}_accuracy", int(hits.sum()) / total if total else float("nan"),
                            {"field": field, "block_size": block, "k": k}, details, part)
                for k, hits in self.hits.items()]


class MaskedTokenRecovery(EvalTask):
    """Top-k recovery of span-masked tokens, per text field and block size."""

    task = "mlm"

    def __init__(self, data: DocumentInput, settings: MlmSettings):
        self.data = data
        self.config = settings
        self.texts: dict[str, list[tuple[int, str]]] = {}
        self.skipped: dict[str, int] = {}
        where = ", ".join(data.paths)
        for name in data.text_fields:
            rows, skipped = read_texts(data, name, settings.max_examples)
            if not rows:
                raise UserError(f"{where}: field '{name}' has no non-empty text to evaluate; "
                                "check --text-field")
            if skipped:
                log.warning("%s: %d record(s) without text in '%s' skipped", where, skipped, name)
            self.texts[name], self.skipped[name] = rows, skipped
        self._cache: dict[int, dict[int, TextHits]] = {}
        self._gather_ok: dict[int, bool | None] = {}

    def settings(self) -> dict[str, Any]:
        """The protocol's settings (stored with each record)."""
        config = self.config
        return {
            "data": list(self.data.paths),
            "text_fields": list(self.data.text_fields),
            "block_sizes": list(config.block_sizes),
            "top_k": list(config.top_k),
            "mask_ratio": config.mask_ratio,
            "mask": f"whole-word spans, geometric p={SPAN_P}, max {MAX_SPAN_WORDS} words",
            "seed": config.seed,
            "max_examples": config.max_examples,
        }

    def evaluate(self, spec: ModelSpec) -> tuple[ModelInfo, list[Measurement]]:
        """Score one masked-LM folder on every field and block size."""
        import torch

        from rexbert.evaluate.models import pick_device

        device = pick_device(self.config.device)
        model, tokenizer = load_masked_lm(spec, device)
        # Per-model state: reset so that a later model never sees an earlier model's entries.
        self._cache, self._gather_ok = {}, {}
        info = describe(spec, model.base_model, tokenizer)
        window = model_window(model.config)
        measurements: list[Measurement] = []
        for name, rows in self.texts.items():
            for block in self.config.block_sizes:
                if window is not None and block > window:
                    log.warning(
                        "%s: block size %d exceeds the model's %d positions; skipped",
                        spec.name,
                        block,
                        window,
                    )
                    continue
                with torch.inference_mode():
                    hits = self._score(
                        model, tokenizer, rows, block, device, f"{spec.name} {name}@{block}"
                    )
                measurements += hits.measurements(name, block, self.skipped[name])
        return info, measurements

    def masked_examples(self, tokenizer, rows, block) -> list[tuple[int, list[int], list[int]]]:
        """(position in `rows`, token ids, masked positions) of each text truncated to `block`."""
        texts = [text for _, text in rows]
        encoded = tokenizer(texts, truncation=True, max_length=block)
        examples = []
        for index, (row, _) in enumerate(rows):
            ids = encoded["input_ids"][index]
            word_ids = (
                encoded.word_ids(index) if encoded.is_fast else _special_aware_ids(tokenizer, ids)
            )
            examples.append((index, ids, span_mask(word_ids, self.config.mask_ratio, self.config.seed, row)))
        return examples

    def _score(self, model, tokenizer, rows, block, device, label) -> TextHits:
        """Mask, predict and count hits of every text of one field at one block size."""
        examples = [e for e in self.masked_examples(tokenizer, rows, block) if e[2]]
        # When no text reaches the block size, a larger block sees exactly the same inputs and
        # masks as a smaller one; reuse those counts instead of recomputing identical numbers.
        signature = hash(tuple((tuple(ids), tuple(pos)) for _, ids, pos in examples))
        cache = self._cache.setdefault(id(model), {})
        if signature in cache:
            return cache[signature]
        # Length-sorted batches waste little compute on padding.
        examples.sort(key=lambda example: len(example[1]))
        found = text_hits(rows, self.config.top_k)
        batch_size = self.config.batch_size
        for start in tqdm(
            range(0, len(examples), batch_size), desc=label, unit="batch", leave=False
        ):
            batch = examples[start : start + batch_size]
            per_text = self._score_batch(model, tokenizer, batch, device)
            for (index, _, positions), counts in zip(batch, per_text, strict=True):
                found.masked[index] = len(positions)
                for k, hits in zip(self.config.top_k, counts, strict=True):
                    found.hits[k][index] = hits
        cache[signature] = found
        return found

    def _score_batch(self, model, tokenizer, batch, device) -> list[list[int]]:
        """Top-k hits of each text of one padded batch of (index, token ids, masked positions):
        one list per text, one count per k of `top_k`."""
        import torch

        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        width = max(len(ids) for _, ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        rows_index: list[int] = []
        cols_index: list[int] = []
        for i, (_, ids, positions) in enumerate(batch):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            attention[i, : len(ids)] = 1
            rows_index += [i] * len(positions)
            cols_index += positions
        rows_t, cols_t = torch.tensor(rows_index), torch.tensor(cols_index)
        targets = input_ids[rows_t, cols_t].clone()
        input_ids[rows_t, cols_t] = tokenizer.mask_token_id
        inputs = {"input_ids": input_ids.to(device), "attention_mask": attention.to(device)}
        logits = masked_logits(model, inputs, rows_t.to(device), cols_t.to(device), self._gather_ok)
        if self._gather_ok.get(id(model)) is None:
            # Check once per model that predicting only the masked positions gives the same
            # logits as the full head; heads that look across positions fall back to full logits.
            full = model(**inputs).logits[rows_t.to(device), cols_t.to(device)]
            same = torch.allclose(full.float(), logits.float(), atol=1e-4, rtol=1e-4)
            self._gather_ok[id(model)] = bool(same)
            if not same:
                logits = full
        ks = self.config.top_k
        top = torch.topk(logits.float(), min(max(ks), logits.shape[-1]), dim=-1).indices.cpu()
        found = top == targets.unsqueeze(-1)  # [M, max k], at most one True per row
        per_text = torch.zeros((len(batch), len(ks)), dtype=torch.long)
        for column, k in enumerate(ks):
            per_text[:, column].index_add_(0, rows_t, found[:, :k].any(dim=-1).long())
        return per_text.tolist()


def text_hits(rows: list[tuple[int, str]], ks: list[int]) -> TextHits:
    """Zeroed per-text counts for `rows` (texts with nothing masked keep zeros)."""
    return TextHits(np.asarray([row for row, _ in rows], dtype=np.int64),
                    np.zeros(len(rows), dtype=np.int32),
                    {k: np.zeros(len(rows), dtype=np.int32) for k in ks})


def masked_logits(model, inputs, rows, cols, gather_ok: dict[int, bool | None]):
    """Logits [M, V] at the masked positions only.

    The vocabulary head dominates the cost of small encoders (a 50k-row matmul per token), and
    only the ~15% masked positions are scored, so a forward hook hands the head just those
    hidden states: [B, L, H] → [1, M, H]. Models whose check failed get the full logits.
    """
    import torch

    if gather_ok.get(id(model)) is False:
        return model(**inputs).logits[rows, cols]

    def pick(_module, _args, output):
        if isinstance(output, tuple):
            return (output[0][rows, cols].unsqueeze(0), *output[1:])
        output.last_hidden_state = output.last_hidden_state[rows, cols].unsqueeze(0)
        return output

    handle = model.base_model.register_forward_hook(pick)
    try:
        with torch.inference_mode():
            logits = model(**inputs).logits
    finally:
        handle.remove()
    if logits.dim() != 3 or logits.shape[:2] != (1, rows.numel()):
        gather_ok[id(model)] = False
        return model(**inputs).logits[rows, cols]
    return logits[0]


def _special_aware_ids(tokenizer, ids: list[int]) -> list[int | None]:
    """Word ids for slow tokenizers: each non-special token is its own word."""
    special = set(tokenizer.all_special_ids)
    return [None if token in special else position for position, token in enumerate(ids)]


# ---- the frequency baseline -----------------------------------------------------------------
COUNT_CHUNK = 4096  # documents per bincount


@dataclass(frozen=True)
class TokenCounts:
    """How often each token id occurs in the counted text, in the tokenizer it was counted with."""

    counts: np.ndarray  # int64 [vocabulary]
    tokenizer: Any
    counted: str  # what was counted, in words (the models table's source column)
    identity: str  # digest of what was counted: the baseline's fingerprint in results.json


def _digest(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _load_tokenizer_dir(path: Path, what: str) -> Any:
    from transformers import AutoTokenizer

    from rexbert.evaluate.models import quiet_transformers

    try:
        with quiet_transformers():
            return AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, TypeError) as err:
        raise UserError(f"{path}: cannot load {what} ({str(err).splitlines()[0]}); rebuild the shards "
                        "or count text instead (--frequency-text)") from err


def shard_token_counts(frequency: FrequencyInput) -> TokenCounts:
    """Token counts of one shard source, its last `holdout_documents` documents left out (the
    held-out documents pretraining validates on are not training text)."""
    from rexbert.data.shards import ShardSet

    shards = ShardSet(frequency.shards)
    documents = shards.source(frequency.source)
    keep = documents.num_documents - frequency.holdout_documents
    if keep <= 0:
        raise UserError(f"{frequency.shards}: source '{frequency.source}' has {documents.num_documents} "
                        f"documents, all inside the {frequency.holdout_documents} held out; lower "
                        "--frequency-holdout-documents")
    recorded = shards.index["tokenizer"]
    vocabulary = int(recorded["vocab_size"])
    counts = np.zeros(vocabulary, dtype=np.int64)
    for start in range(0, keep, COUNT_CHUNK):
        chunk = np.concatenate([documents.document(i) for i in range(start, min(keep, start + COUNT_CHUNK))])
        counts += np.bincount(chunk.astype(np.int64), minlength=vocabulary)[:vocabulary]
    tokenizer = _load_tokenizer_dir(Path(recorded["path"]), "the tokenizer the shards were built with")
    counted = (f"'{frequency.source}' tokens of {frequency.shards} ({int(counts.sum()):,} tokens of "
               f"{keep:,} documents, the last {frequency.holdout_documents} held out)")
    identity = _digest(["shards", recorded["fingerprint"], frequency.source, keep,
                        shards.index["sources"][frequency.source]["tokens"]])
    return TokenCounts(counts, tokenizer, counted, identity)


def text_token_counts(frequency: FrequencyInput, tokenizer_of: ModelSpec) -> TokenCounts:
    """Token counts of the text files of `frequency.text`, in the tokenizer of `tokenizer_of`."""
    from rexbert.sources.documents import list_files

    spec = DocumentInput(paths=list(frequency.text), text_fields=list(frequency.text_fields))
    tokenizer = load_tokenizer(tokenizer_of.path)
    counts = np.zeros(len(tokenizer), dtype=np.int64)
    batch: list[str] = []
    documents = 0
    for item in [*iter_documents(spec, on_error="skip"), None]:
        if isinstance(item, BadRecord) and item.reason not in SKIPPED_REASONS:
            raise item.user_error()
        if item is not None and not isinstance(item, BadRecord) and item.text.strip():
            batch.append(item.text)
            documents += 1
        if batch and (item is None or len(batch) >= 512):
            for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
                counts += np.bincount(np.asarray(ids, dtype=np.int64), minlength=len(counts))[:len(counts)]
            batch = []
    if not counts.any():
        raise UserError(f"{', '.join(frequency.text)}: no text to count in field(s) "
                        f"{', '.join(frequency.text_fields)}; check --frequency-text-fields")
    files = [(str(path), path.stat().st_size, path.stat().st_mtime_ns) for path, _ in list_files(spec)]
    counted = f"{', '.join(frequency.text)} ({int(counts.sum()):,} tokens of {documents:,} texts)"
    identity = _digest(["text", files, list(frequency.text_fields), tokenizer_fingerprint(tokenizer)])
    return TokenCounts(counts, tokenizer, counted, identity)


class FrequencyBaseline:
    """Predicts the same ranking — the most frequent tokens of the counted text — at every masked
    position. Special tokens and tokens that are only whitespace are left out of the ranking:
    the evaluation masks words, and neither is ever a word (a listing page's line breaks would
    otherwise be its most frequent token)."""

    name = "frequency"

    def __init__(self, counts: TokenCounts):
        self.counts = counts
        tokenizer = counts.tokenizer
        usable = counts.counts.copy()
        blank = [i for i in np.flatnonzero(usable) if not tokenizer.decode([int(i)]).strip()]
        excluded = [i for i in [*tokenizer.all_special_ids, *blank] if 0 <= i < len(usable)]
        usable[excluded] = 0
        self.ranking = np.argsort(-usable, kind="stable")

    @classmethod
    def from_input(cls, frequency: FrequencyInput, first_model: ModelSpec) -> FrequencyBaseline:
        """Count the text `frequency` names (shards: their tokenizer; text: the first model's)."""
        counts = shard_token_counts(frequency) if frequency.shards else text_token_counts(frequency, first_model)
        return cls(counts)

    def top_tokens(self, count: int) -> list[str]:
        """The `count` most frequent tokens, as text."""
        return [self.counts.tokenizer.decode([int(i)]) for i in self.ranking[:count]]

    def evaluate(self, task: MaskedTokenRecovery) -> tuple[ModelInfo, list[Measurement]]:
        """Score the ranking on `task`'s texts, masks and block sizes."""
        tokenizer, ks = self.counts.tokenizer, task.config.top_k
        measurements: list[Measurement] = []
        for name, rows in task.texts.items():
            for block in task.config.block_sizes:
                found = text_hits(rows, ks)
                for index, ids, positions in task.masked_examples(tokenizer, rows, block):
                    targets = np.asarray(ids, dtype=np.int64)[positions]
                    found.masked[index] = len(positions)
                    for k in ks:
                        found.hits[k][index] = int(np.isin(targets, self.ranking[:k]).sum())
                measurements += found.measurements(name, block, task.skipped[name])
        info = ModelInfo(path=self.counts.counted, source=self.counts.counted,
                         architecture=f"unigram frequency (top-k of the {len(self.ranking):,} tokens)",
                         parameters=0, fingerprint=self.counts.identity,
                         tokenizer=tokenizer_fingerprint(tokenizer))
        return info, measurements

    def settings(self) -> dict[str, Any]:
        """What the baseline's numbers depend on besides the protocol (stored with each record)."""
        return {"counted": self.counts.counted, "top_tokens": self.top_tokens(5),
                "baseline": "most frequent tokens of the counted text, at every masked position"}


def run_frequency_baseline(baseline: FrequencyBaseline, task: MaskedTokenRecovery, out: Path,
                           results: Any, overwrite: bool) -> Any:
    """Score the baseline into OUT/results.json beside the models (skipped when already there)."""
    from rexbert.evaluate.results import unit_key
    from rexbert.evaluate.task import store_unit, unit_complete

    settings = task.settings()
    unit = unit_key(task.task, baseline.counts.identity, settings)
    if overwrite or not unit_complete(results, unit, baseline.name):
        info, measurements = baseline.evaluate(task)
        store_unit(results, out, baseline.name, task.task, unit, {**settings, **baseline.settings()},
                   info, measurements)
    return results
