"""Ranks in a cohort: competition ranking (ties share a rank: 1, 1, 3) and interval-overlap flags."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np


def competition_ranks(values: Mapping[str, float], *, higher_better: bool = True) -> dict[str, int]:
    """Rank units by value; equal values share the rank and the next rank skips (1, 1, 3)."""
    ordered = sorted(values, key=lambda u: (-values[u] if higher_better else values[u], u))
    ranks: dict[str, int] = {}
    for position, unit in enumerate(ordered, start=1):
        if position > 1 and values[unit] == values[ordered[position - 2]]:
            ranks[unit] = ranks[ordered[position - 2]]
        else:
            ranks[unit] = position
    return ranks


def overlapping_neighbours(
    ranks: Mapping[str, int], intervals: Mapping[str, tuple[float, float]]
) -> dict[str, list[str]]:
    """For each ranked unit, the neighbours in rank order (just above and just below) whose interval
    overlaps its own: their order may be noise, and the rank is flagged."""
    ordered = sorted(ranks, key=lambda u: (ranks[u], u))
    found: dict[str, list[str]] = {u: [] for u in ordered}
    for a, b in itertools.pairwise(ordered):
        if a in intervals and b in intervals:
            (lo_a, hi_a), (lo_b, hi_b) = intervals[a], intervals[b]
            if lo_a <= hi_b and lo_b <= hi_a:
                found[a].append(b)
                found[b].append(a)
    return found


def cohort_ranks(values: np.ndarray, ranked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``competition_ranks`` (higher is better) of the ranked units, units in id order →
    (rank per unit, 0 when unranked; the ranked units' indices in rank order)."""
    idx = np.flatnonzero(ranked)
    order = idx[np.argsort(-values[idx], kind="stable")]  # ties keep id order
    ordered = values[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    positions = np.arange(1, len(order) + 1)
    ranks = np.zeros(len(values), dtype=np.int64)
    ranks[order] = np.maximum.accumulate(np.where(first, positions, 0)) if len(order) else positions
    return ranks, order


def overlap_pairs(order: np.ndarray, low: np.ndarray, high: np.ndarray, has: np.ndarray) -> tuple[np.ndarray, ...]:
    """The neighbouring pairs in rank order whose intervals overlap, as two index arrays."""
    a, b = order[:-1], order[1:]
    hit = has[a] & has[b] & (low[a] <= high[b]) & (low[b] <= high[a])
    return a[hit], b[hit]


def overlap_columns(order, low, high, has, n) -> tuple[np.ndarray, np.ndarray]:
    """``overlapping_neighbours`` as two columns of unit indices (each unit's overlapping
    neighbours, at most two, sorted; NaN where there is none)."""
    a, b = overlap_pairs(order, low, high, has)
    first, second = np.full(n, np.nan), np.full(n, np.nan)
    # Each unit has at most one neighbour above and one below; put each pair's partner in a free slot.
    for x, y in ((a, b), (b, a)):
        free = np.isnan(first[x])
        first[x[free]] = y[free]
        second[x[~free]] = y[~free]
    swap = second < first  # NaN compares False: single neighbours stay first
    first[swap], second[swap] = second[swap], first[swap]
    return first, second


def overlap_indices(
    order: np.ndarray, low: np.ndarray, high: np.ndarray, has: np.ndarray, n: int
) -> dict[int, list[int]]:
    """``overlapping_neighbours`` over indices: each ranked unit's neighbours in rank order whose
    interval overlaps its own, as sorted unit indices (only units that have some)."""
    first, second = overlap_columns(order, low, high, has, n)
    return {
        i: [int(f)] if s != s else [int(f), int(s)]
        for i, (f, s) in enumerate(zip(first.tolist(), second.tolist(), strict=True))
        if f == f
    }
