"""Paired bootstrap intervals for the difference between two models scored on the same examples.

Two statistics cover every evaluation:

* a ratio of sums over units — masked-token recovery (hits / masked tokens, a unit is a text)
  and GLUE accuracy (correct / examples, a unit is an example): `ratio_interval`;
* a correlation over pairs resampled by group — query–product Spearman resamples whole queries
  (the pairs of one query share it, so they are not independent), STS-B each pair on its own:
  `correlation_interval`.

Paired: in every draw both models are scored on the same resampled units, so what varies between
units (some titles are easy for every model) cancels, and the interval is that of the difference
itself. Intervals are percentile intervals over `DRAWS` resamples with a fixed seed, so the same
files always give the same report. Predictions of several fine-tuning seeds (rows of a
[seeds, n] array) are averaged per draw: the interval is that of the seed-averaged score over
resampled examples; the spread over seeds is reported beside it (`seed_spread`).

Why not `scipy.stats.bootstrap` (the tests check these intervals against it): it draws anew for
every statistic, so the cells of one table would each see other resamples, and it resamples
observations, not whole queries. Here a resample is a row of counts (how often each unit was
drawn): one matrix product scores a chunk of draws, the same seed gives every cell and comparison
the same draws, and Spearman in a resample is computed from ranks with multiplicities (as
scipy's rankdata ranks ties) instead of re-sorting each resample.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

DRAWS = 2000  # Monte Carlo error of each 95% bound: about 1.5% of the interval's width
LEVEL = 0.95
SEED = 0
_CHUNK = 256  # draws per matrix product: bounds memory at 256 × units floats
_CACHED_VALUES = 8_000_000  # draws × units kept between calls (32 MB of float32)


@dataclass(frozen=True)
class Interval:
    """A point estimate on all the data and the bootstrap interval around it."""

    value: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the difference is significant at the interval's level."""
        return self.low > 0 or self.high < 0

    def format(self, scale: float = 1.0, digits: int = 2) -> str:
        """`+5.41 [+4.10, +6.80]`, values multiplied by `scale` (100 for points)."""
        v, lo, hi = (scale * x for x in (self.value, self.low, self.high))
        return f"{v:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def _draw_counts(units: int, draws: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap resamples of `units` units as how often each unit was drawn, [chunk, units].

    Every table cell and comparison over the same units asks for the same draws, so small
    enough sets of draws are made once and kept (float32 holds these counts exactly).
    """
    if units * draws <= _CACHED_VALUES:
        yield from _cached_draws(units, draws, seed)
    else:
        yield from _new_draws(units, draws, seed)


def _new_draws(units: int, draws: int, seed: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    for start in range(0, draws, _CHUNK):
        size = min(_CHUNK, draws - start)
        picks = rng.integers(0, units, size=(size, units)) + units * np.arange(size)[:, None]
        yield np.bincount(picks.ravel(), minlength=size * units).reshape(size, units).astype(np.float32)


@functools.lru_cache(maxsize=2)
def _cached_draws(units: int, draws: int, seed: int) -> tuple[np.ndarray, ...]:
    return tuple(_new_draws(units, draws, seed))


def _interval(value: float, draws: np.ndarray, level: float) -> Interval:
    finite = draws[np.isfinite(draws)]
    if not math.isfinite(value) or finite.size == 0:
        return Interval(value, math.nan, math.nan)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(float(value), float(low), float(high))


def _ratio(hits: np.ndarray, counts: np.ndarray) -> float:
    total = float(np.sum(counts))
    return float(np.sum(hits)) / total if total else math.nan


def ratio_interval(hits: np.ndarray, counts: np.ndarray, base_hits: np.ndarray | None = None,
                   base_counts: np.ndarray | None = None, *, draws: int = DRAWS, level: float = LEVEL,
                   seed: int = SEED) -> Interval:
    """sum(hits)/sum(counts) over units — minus the same ratio of a second model on the same
    units (`base_hits`, `base_counts`, aligned unit by unit) when given.

    The counts may differ between the two models (different tokenizers mask different tokens
    of the same text); the units are what is shared and resampled.
    """
    hits, counts = np.asarray(hits, np.float64), np.asarray(counts, np.float64)
    paired = base_hits is not None
    if paired:
        base_hits = np.asarray(base_hits, np.float64)
        base_counts = counts if base_counts is None else np.asarray(base_counts, np.float64)
        if not hits.shape == counts.shape == base_hits.shape == base_counts.shape:
            raise ValueError("paired ratios need the same units for both models")
    value = _ratio(hits, counts) - (_ratio(base_hits, base_counts) if paired else 0.0)
    if hits.size == 0:
        return Interval(value, math.nan, math.nan)
    # float32 sums of counts are exact below 2**24, far above any evaluation's token count.
    columns = np.stack([hits, counts, *([base_hits, base_counts] if paired else [])], axis=1)
    found = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for weights in _draw_counts(hits.size, draws, seed):
            sums = (weights @ columns.astype(np.float32)).astype(np.float64)
            statistic = sums[:, 0] / sums[:, 1]
            found.append(statistic - sums[:, 2] / sums[:, 3] if paired else statistic)
    return _interval(value, np.concatenate(found), level)


class _Ranking:
    """One row of values, sorted once, so that its ranks in any resample — given as how often
    each value was drawn — are a few array operations: tied values (equal values, or one value
    drawn twice) share the average of their ranks, as in scipy's rankdata."""

    def __init__(self, values: np.ndarray):
        self.order = np.argsort(values, kind="stable")
        ordered = values[self.order]
        new_block = np.concatenate([[True], ordered[1:] != ordered[:-1]])
        self.starts = np.flatnonzero(new_block)
        self.block = np.empty(len(values), dtype=np.int64)
        self.block[self.order] = np.cumsum(new_block) - 1

    def ranks(self, weights: np.ndarray) -> np.ndarray:
        """[draws, n] ranks of every value in each resample ([draws, n] multiplicities)."""
        in_block = np.add.reduceat(weights[:, self.order], self.starts, axis=1)
        before = np.cumsum(in_block, axis=1) - in_block
        return (before + (in_block + 1) / 2)[:, self.block]


def _weighted_correlations(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair of `x`, `y` ([draws, n]) with multiplicities `weights`."""
    total = weights.sum(axis=1, keepdims=True)
    dx = x - (weights * x).sum(axis=1, keepdims=True) / total
    dy = y - (weights * y).sum(axis=1, keepdims=True) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        return (weights * dx * dy).sum(axis=1) / np.sqrt((weights * dx * dx).sum(axis=1)
                                                         * (weights * dy * dy).sum(axis=1))


class _Correlation:
    """Seed-averaged correlation of prediction rows with the targets, in resamples."""

    def __init__(self, targets: np.ndarray, predictions: np.ndarray, method: str):
        self.method = method
        self.rows = [targets, *predictions]
        self.rankings = [_Ranking(row) for row in self.rows] if method == "spearman" else None

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        if self.rankings is None:
            values = [np.broadcast_to(row, weights.shape) for row in self.rows]
        else:
            values = [ranking.ranks(weights) for ranking in self.rankings]
        return np.mean([_weighted_correlations(row, values[0], weights) for row in values[1:]], axis=0)


def correlation_interval(groups: np.ndarray, targets: np.ndarray, predictions: np.ndarray,
                         base_predictions: np.ndarray | None = None, *, method: str = "spearman",
                         draws: int = DRAWS, level: float = LEVEL, seed: int = SEED) -> Interval:
    """Seed-averaged correlation of `predictions` ([seeds, n] or [n]) with `targets` — minus the
    same of `base_predictions` on the same pairs when given — resampling whole `groups`.

    A draw picks groups with replacement and keeps every pair of each picked group as often as
    the group was picked; tied values (a pair drawn twice) get average ranks, as scipy's
    spearmanr gives them.
    """
    if method not in ("spearman", "pearson"):
        raise ValueError(f"unknown correlation {method!r}")
    targets = np.asarray(targets, np.float64)
    own = _Correlation(targets, np.atleast_2d(np.asarray(predictions, np.float64)), method)
    base = None if base_predictions is None else _Correlation(
        targets, np.atleast_2d(np.asarray(base_predictions, np.float64)), method)
    if len(groups) != len(targets) or any(len(row) != len(targets) for row in own.rows):
        raise ValueError(f"{len(groups)} groups, {len(targets)} targets: one of each per pair")

    def statistic(weights: np.ndarray) -> np.ndarray:
        return own(weights) - (base(weights) if base is not None else 0.0)

    value = float(statistic(np.ones((1, len(targets))))[0])
    _, group_of = np.unique(np.asarray(groups), return_inverse=True)
    count = int(group_of.max()) + 1 if group_of.size else 0
    if count < 2:
        return Interval(value, math.nan, math.nan)
    found = [statistic(chunk[:, group_of]) for chunk in _draw_counts(count, draws, seed)]
    return _interval(value, np.concatenate(found), level)


def seed_spread(values: list[float]) -> float:
    """Standard deviation over fine-tuning seeds (n − 1 in the denominator; 0 for one seed)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
