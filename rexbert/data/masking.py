"""Span masking and Guided MLM masking as small pure functions of a document and an RNG.

* Span masking: `rate` of a document's maskable tokens are chosen in spans whose lengths follow
  a Poisson distribution with mean `mean_span` (at least 1 token). The count is drawn per
  document (stochastic rounding of rate × maskable tokens), so every packed document gets its
  share and the expected rate is exact even for short documents.
* Guided MLM (RexBERT §4): a guided document spends its masking budget on its mined spans first
  (in random order, whole spans only), then fills the rest with ordinary Poisson spans.
* Replacement 80/10/10: of the chosen positions, 80% become `[MASK]`, 10% a random non-special
  token, 10% stay unchanged; all of them are predicted. Special tokens are never chosen.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from rexbert.config import ConfigModel

IGNORE_INDEX = -100


class MaskingConfig(ConfigModel):
    """How a phase masks: rate, Poisson mean span length, Guided MLM share, 80/10/10 split.

    The recipe's `phases[].masking` and what `pack_to_batch` reads are this one model.
    """

    rate: float = Field(0.3, gt=0, lt=1, description="share of a document's maskable tokens predicted")
    mean_span: float = Field(3.0, gt=0, description="Poisson mean of span lengths")
    guided_share: float = Field(0.0, ge=0, le=1,
                                description="share of documents with mined spans masked guided")
    mask_prob: float = Field(0.8, ge=0, le=1, description="share of chosen positions set to [MASK]")
    random_prob: float = Field(0.1, ge=0, le=1,
                               description="share of chosen positions set to a random token")

    @model_validator(mode="after")
    def _split(self) -> MaskingConfig:
        if self.mask_prob + self.random_prob > 1:
            raise ValueError("mask_prob + random_prob must be at most 1 (the rest stay unchanged)")
        return self


def stochastic_round(value: float, rng: np.random.Generator) -> int:
    """floor(value) plus 1 with probability frac(value): unbiased integer rounding."""
    base = int(np.floor(value))
    return base + int(rng.random() < value - base)


def span_mask(
    maskable: np.ndarray,
    rate: float,
    mean_span: float,
    rng: np.random.Generator,
    guided_spans: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean mask over one document: Poisson spans covering `rate` of the maskable positions.

    `maskable` is a bool array (False for specials). `guided_spans` ([k, 2] start/end positions
    in this document) are masked first, whole, while they fit the budget.
    """
    n = len(maskable)
    mask = np.zeros(n, dtype=bool)
    candidates = np.flatnonzero(maskable)
    if len(candidates) == 0 or rate <= 0:
        return mask
    target = min(len(candidates), stochastic_round(rate * len(candidates), rng))
    masked = 0
    if guided_spans is not None and len(guided_spans):
        for row in rng.permutation(len(guided_spans)):
            start, end = int(guided_spans[row, 0]), int(guided_spans[row, 1])
            positions = np.arange(max(start, 0), min(end, n))
            positions = positions[maskable[positions] & ~mask[positions]]
            if len(positions) == 0 or masked + len(positions) > target:
                continue
            mask[positions] = True
            masked += len(positions)
    while masked < target:
        length = min(max(1, int(rng.poisson(mean_span))), target - masked)
        start = int(candidates[rng.integers(len(candidates))])
        positions = np.arange(start, min(start + length, n))
        positions = positions[maskable[positions] & ~mask[positions]]
        mask[positions] = True
        masked += len(positions)
    return mask


def replace_masked(
    input_ids: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    mask_token_id: int,
    replacement_ids: np.ndarray,
    mask_prob: float = 0.8,
    random_prob: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply 80/10/10 replacement; returns (corrupted ids, labels with -100 where not predicted)."""
    labels = np.full(len(input_ids), IGNORE_INDEX, dtype=np.int64)
    labels[mask] = input_ids[mask]
    corrupted = input_ids.astype(np.int64, copy=True)
    positions = np.flatnonzero(mask)
    draw = rng.random(len(positions))
    to_mask = positions[draw < mask_prob]
    to_random = positions[(draw >= mask_prob) & (draw < mask_prob + random_prob)]
    corrupted[to_mask] = mask_token_id
    corrupted[to_random] = replacement_ids[rng.integers(len(replacement_ids), size=len(to_random))]
    return corrupted, labels


def non_special_ids(vocab_size: int, special_ids: tuple[int, ...] | list[int]) -> np.ndarray:
    """Token ids a random replacement may use: every id except the specials."""
    keep = np.ones(vocab_size, dtype=bool)
    keep[np.asarray(list(special_ids), dtype=np.int64)] = False
    return np.flatnonzero(keep)
