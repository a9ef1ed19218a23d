"""Mixture weights over named sources: temperature and the annealing schedule, as pure functions.

A phase declares `weights` (and, for annealing, `end_weights`): the probabilities of drawing the
next document from each named component move from the start mix to the end mix as the phase
progresses (`schedule`: constant, linear, cosine or step), then a temperature T reshapes them as
p ∝ w^(1/T) (T > 1 flattens towards uniform, T < 1 sharpens).
"""

from __future__ import annotations

import math

import numpy as np

SCHEDULES = ("constant", "linear", "cosine", "step")


def schedule_fraction(progress: float, schedule: str) -> float:
    """How far (0 → 1) the mix has moved from start to end weights at `progress` ∈ [0, 1]."""
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return 0.0
    if schedule == "linear":
        return progress
    if schedule == "cosine":
        return 0.5 * (1.0 - math.cos(math.pi * progress))
    if schedule == "step":
        return 1.0 if progress >= 0.5 else 0.0
    raise ValueError(f"unknown mixture schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")


def apply_temperature(weights: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities p ∝ w^(1/T); zero weights stay zero."""
    weights = np.asarray(weights, dtype=np.float64)
    scaled = np.where(weights > 0, np.power(np.maximum(weights, 1e-300), 1.0 / temperature), 0.0)
    total = scaled.sum()
    if total <= 0:
        raise ValueError("mixture weights are all zero")
    return scaled / total


def mixture_probabilities(
    progress: float,
    start: np.ndarray,
    end: np.ndarray | None,
    schedule: str,
    temperature: float,
) -> np.ndarray:
    """Sampling probabilities over components at `progress` through the phase."""
    start = np.asarray(start, dtype=np.float64) / np.sum(start)
    if end is None:
        mixed = start
    else:
        end = np.asarray(end, dtype=np.float64) / np.sum(end)
        fraction = schedule_fraction(progress, schedule)
        mixed = (1.0 - fraction) * start + fraction * end
    return apply_temperature(mixed, temperature)
