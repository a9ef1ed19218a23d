"""`rexbert fill-mask`: rexbert's own model predicts [MASK] tokens.

Output has the shape and values of transformers' fill-mask pipeline (score, token, token_str,
sequence per candidate; one list per mask when a text has several), so the two can be compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rexbert.errors import UserError
from rexbert.model.checkpoint import CONFIG_FILE, TOKENIZER_DIR, load_model


def load_any(model_path: str | Path):
    """(model, tokenizer folder) from a rexbert checkpoint, a transformers ModernBERT folder, or a
    hub id of one (local hub cache first); both kinds are verified on load."""
    from rexbert.model.checkpoint import resolve_model_dir
    from rexbert.release.hf import load_hf_folder

    path = resolve_model_dir(model_path, "--model")
    if (path / CONFIG_FILE).is_file():
        tokenizer_dir = path / TOKENIZER_DIR
        model = load_model(path)
    elif (path / "config.json").is_file():
        tokenizer_dir = path
        model = load_hf_folder(path)  # imported in memory, run by rexbert
    else:
        raise UserError(
            f"--model {path}: neither a rexbert checkpoint ({CONFIG_FILE}) nor a transformers "
            "folder (config.json)"
        )
    return model.eval(), tokenizer_dir


def load_tokenizer(folder: Path):
    """AutoTokenizer from `folder`, with a clear error when it is missing or broken."""
    from transformers import AutoTokenizer

    if not folder.is_dir():
        raise UserError(f"{folder}: no tokenizer folder; fill-mask needs the model's tokenizer")
    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except Exception as err:  # tokenizer loading raises many types for broken files
        raise UserError(f"{folder}: tokenizer cannot be loaded ({err})") from err


@torch.no_grad()
def predict_masks(model, tokenizer, text: str, top_k: int = 5) -> list[dict[str, Any]] | list[list[dict[str, Any]]]:
    """Top-k candidates per [MASK] in `text`, as transformers' fill-mask pipeline returns them."""
    if tokenizer.mask_token_id is None:
        raise UserError("the tokenizer defines no mask token")
    encoded = tokenizer(text, return_tensors="pt")
    input_ids = encoded["input_ids"]
    masked = (input_ids[0] == tokenizer.mask_token_id).nonzero().squeeze(-1)
    if masked.numel() == 0:
        raise UserError(f"no {tokenizer.mask_token} in the text; put {tokenizer.mask_token} where a word should be predicted")
    if input_ids.shape[1] > model.config.max_position_embeddings:
        raise UserError(
            f"text is {input_ids.shape[1]} tokens, longer than the model's "
            f"{model.config.max_position_embeddings}; shorten it"
        )
    attention_mask = encoded.get("attention_mask", torch.ones_like(input_ids))
    logits = model.forward_padded(input_ids, attention_mask).logits[0]
    probs = logits[masked].float().softmax(dim=-1)
    values, predictions = probs.topk(min(top_k, probs.shape[-1]))
    single = masked.numel() == 1
    results = []
    for row, (scores, tokens) in enumerate(zip(values.tolist(), predictions.tolist(), strict=True)):
        candidates = []
        for score, token in zip(scores, tokens, strict=True):
            filled = input_ids[0].clone()
            filled[masked[row]] = token
            filled = filled[filled != tokenizer.pad_token_id]
            candidates.append({
                "score": score,
                "token": token,
                "token_str": tokenizer.decode([token]),
                # As the pipeline: special tokens hidden unless other masks must stay visible.
                "sequence": tokenizer.decode(filled, skip_special_tokens=single),
            })
        results.append(candidates)
    return results[0] if single else results


def format_predictions(predictions, text: str) -> str:
    """Human-readable table: one block per mask, one line per candidate."""
    groups = predictions if predictions and isinstance(predictions[0], list) else [predictions]
    lines = []
    for index, group in enumerate(groups, start=1):
        if len(groups) > 1:
            lines.append(f"mask {index}:")
        for candidate in group:
            lines.append(f"  {candidate['score']:.4f}  {candidate['token_str']!r:<20} {candidate['sequence']}")
    return "\n".join(lines)
