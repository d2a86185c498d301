"""Ranks in a cohort: competition ranking (ties share a rank: 1, 1, 3) and interval-overlap flags."""

from __future__ import annotations

import itertools
from collections.abc import Mapping


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
