"""Masked-token recovery on product text — the paper's Table 3 protocol.

Each text is tokenized by the model's own tokenizer and truncated to the block size (128, 256,
512 tokens), 15% of its tokens are masked in whole-word spans (see `masking.py`), every masked
position gets the mask token, and accuracy@k counts the masked positions whose original token is
among the model's k most likely tokens. Counts are pooled over all masked tokens of a field
(micro-average), so long descriptions weigh more than short titles, as in token-level accuracy.
"""

from __future__ import annotations

import logging
from typing import Any

from tqdm.auto import tqdm

from rexbert.errors import UserError
from rexbert.evaluate.config import MlmSettings
from rexbert.evaluate.masking import MAX_SPAN_WORDS, SPAN_P, span_mask
from rexbert.evaluate.metrics import topk_hits
from rexbert.evaluate.models import ModelSpec, describe, load_masked_lm, model_window
from rexbert.evaluate.results import ModelInfo
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
        self._cache: dict[int, dict[int, tuple[dict[int, int], int]]] = {}
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
                    hits, total = self._score(
                        model, tokenizer, rows, block, device, f"{spec.name} {name}@{block}"
                    )
                details = {"masked_tokens": total, "texts": len(rows), "skipped": self.skipped[name]}
                for k in self.config.top_k:
                    measurements.append(Measurement(
                        f"top{k}_accuracy", hits[k] / total if total else float("nan"),
                        {"field": name, "block_size": block, "k": k}, details))
        return info, measurements

    def _score(self, model, tokenizer, rows, block, device, label) -> tuple[dict[int, int], int]:
        """Mask, predict and count hits for one field at one block size."""
        texts = [text for _, text in rows]
        encoded = tokenizer(texts, truncation=True, max_length=block)
        examples = []
        for index, (row, _) in enumerate(rows):
            ids = encoded["input_ids"][index]
            word_ids = (
                encoded.word_ids(index) if encoded.is_fast else _special_aware_ids(tokenizer, ids)
            )
            positions = span_mask(word_ids, self.config.mask_ratio, self.config.seed, row)
            if positions:
                examples.append((ids, positions))
        # When no text reaches the block size, a larger block sees exactly the same inputs and
        # masks as a smaller one; reuse those counts instead of recomputing identical numbers.
        signature = hash(tuple((tuple(ids), tuple(pos)) for ids, pos in examples))
        cache = self._cache.setdefault(id(model), {})
        if signature in cache:
            return cache[signature]
        # Length-sorted batches waste little compute on padding.
        examples.sort(key=lambda example: len(example[0]))
        hits = {k: 0 for k in self.config.top_k}
        total = 0
        batch_size = self.config.batch_size
        for start in tqdm(
            range(0, len(examples), batch_size), desc=label, unit="batch", leave=False
        ):
            batch_hits, count = self._score_batch(
                model, tokenizer, examples[start : start + batch_size], device
            )
            for k in hits:
                hits[k] += batch_hits[k]
            total += count
        cache[signature] = (hits, total)
        return hits, total

    def _score_batch(self, model, tokenizer, batch, device) -> tuple[dict[int, int], int]:
        """Top-k hits of one padded batch of (token ids, masked positions)."""
        import torch

        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        rows_index: list[int] = []
        cols_index: list[int] = []
        for i, (ids, positions) in enumerate(batch):
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
        return topk_hits(logits.float(), targets.to(device), self.config.top_k), len(targets)


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
