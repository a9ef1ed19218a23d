"""Best-fit packing of documents into fixed token budgets, and chunking of long documents.

A pack is a set of documents laid end to end (unpadded) with `cu_seqlens` marking their
boundaries; attention never crosses a boundary, so nothing is wasted on padding. From a
look-ahead buffer the packer repeatedly takes the longest document that still fits the space
left (best fit), which fills budgets almost completely: the efficiency (tokens / budget) is
reported in the metrics.
"""

from __future__ import annotations

import numpy as np


def chunk_lengths(length: int, max_content: int) -> list[tuple[int, int]]:
    """Split a document of `length` tokens into (start, length) chunks of at most `max_content`."""
    return [(start, min(max_content, length - start)) for start in range(0, length, max_content)]


def best_fit_take(lengths: np.ndarray, budget: int) -> list[int]:
    """Indices of items (by buffer position) packed into one budget, longest-that-fits first.

    Deterministic: ties go to the earliest item. Returns an empty list only when no item fits.
    """
    remaining = budget
    available = np.ones(len(lengths), dtype=bool)
    taken: list[int] = []
    lengths = np.asarray(lengths)
    while True:
        fits = available & (lengths <= remaining)
        if not fits.any():
            return taken
        candidates = np.where(fits, lengths, -1)
        index = int(np.argmax(candidates))  # argmax returns the first of equal maxima
        taken.append(index)
        available[index] = False
        remaining -= int(lengths[index])


def cu_seqlens_from_lengths(lengths: list[int] | np.ndarray) -> np.ndarray:
    """Cumulative boundaries [0, l0, l0+l1, …] as int32, the model's `cu_seqlens`."""
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
