"""Sentence embeddings with rexbert's packed encoder: mean pooling over each text's tokens.

Texts are tokenized without padding, sorted by length and packed end to end into batches of
about `tokens_per_batch` tokens, so no compute is spent on padding; the result equals
sentence-transformers' mean pooling on the exported folder (tests/model/test_embed.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm


def mean_pool_packed(hidden: torch.Tensor, cu_seqlens: torch.Tensor) -> torch.Tensor:
    """[T, H] packed hidden states → [docs, H] mean over each document's tokens."""
    lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).to(torch.long)
    doc_ids = torch.repeat_interleave(torch.arange(lengths.numel(), device=hidden.device), lengths)
    sums = hidden.new_zeros(lengths.numel(), hidden.shape[1]).index_add_(0, doc_ids, hidden)
    return sums / lengths.clamp(min=1).to(hidden.dtype)[:, None]


@torch.inference_mode()
def encode(
    model,
    tokenizer,
    texts: Sequence[str],
    max_length: int = 512,
    tokens_per_batch: int = 16_384,
    progress: bool = False,
) -> torch.Tensor:
    """Mean-pooled final hidden states [len(texts), H] (fp32, CPU), in the order of `texts`."""
    encoder = getattr(model, "model", model)  # RexBertForMaskedLM or RexBertModel
    device = next(encoder.parameters()).device
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = torch.empty(len(ids), encoder.config.hidden_size)
    batch: list[int] = []
    used = 0
    bar = tqdm(total=len(ids), desc="encode", unit="text", disable=not progress)

    def flush() -> None:
        lengths = torch.tensor([len(ids[i]) for i in batch])
        cu = torch.nn.functional.pad(lengths.cumsum(0), (1, 0)).to(torch.int32)
        flat = torch.tensor([t for i in batch for t in ids[i]], device=device)
        hidden = encoder(flat, cu.to(device), int(lengths.max()))
        out[torch.tensor(batch)] = mean_pool_packed(hidden.float(), cu.to(device)).cpu()
        bar.update(len(batch))

    for index in order:
        if batch and used + len(ids[index]) > tokens_per_batch:
            flush()
            batch, used = [], 0
        batch.append(index)
        used += len(ids[index])
    if batch:
        flush()
    bar.close()
    return out
