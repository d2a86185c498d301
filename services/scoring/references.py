"""Reference values by policy: best in cohort, a percentile of the cohort, cohort mean, fixed (national
excellent), target, dynamic baseline, or none (rules that need no reference).

Best in cohort and percentile may name a minimum sample for the reference (``reference.min_sample``):
only units with at least that much of the measure in the period count toward the reference, so a unit
with 20 orders cannot set the resolution time everyone else is measured against. The others are still
scored against it (a score never exceeds the points). When no unit qualifies there is no reference, and
the item is not applicable to anyone (``no_reference``; the scheme's ``na_policy`` treats its points).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from services.scoring.scheme import Item, MinSample


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference value and where it came from (``set_by`` names the unit for best-in-cohort)."""

    value: float | None
    policy: str
    set_by: str | None = None
    periods: tuple[str, ...] = ()  # the earlier periods a dynamic baseline was drawn from
    percentile: float | None = None  # the percentile policy's p
    min_sample: MinSample | None = None  # the sample a unit needed to count toward the reference
    qualifying_units: int | None = None  # units whose values it was drawn from (percentile, or a min_sample)


@dataclass(frozen=True, slots=True)
class HistoryPeriod:
    """An earlier period of the same granularity: its label, calendar months and per-unit values."""

    label: str
    months: tuple[int, ...]
    values: Mapping[str, float]  # unit → the indicator's value in that period (applicable units only)


def best_in_cohort(values: Mapping[str, float], item: Item) -> Reference:
    """The best applicable value (max, or min for lower-is-better); a tie goes to the first unit id."""
    if not values:
        return Reference(value=None, policy="best_in_cohort")
    lower = item.direction == "lower_better"
    best_unit = min(sorted(values), key=lambda u: values[u] if lower else -values[u])
    return Reference(value=values[best_unit], policy="best_in_cohort", set_by=best_unit)


def percentile_value(values: Sequence[float], p: float, direction: str) -> float:
    """The value that p % of the units do no better than: numpy's ``percentile`` with its default
    ``linear`` method (Hyndman & Fan's type 7: over the n values sorted ascending, position
    h = (n − 1)·q/100, interpolated linearly between its neighbours), at q = p for higher-is-better
    indicators and q = 100 − p for lower-is-better ones."""
    q = 100 - p if direction == "lower_better" else p
    return float(np.percentile(np.asarray(values, dtype=np.float64), q, method="linear"))


def cohort_percentile(values: Mapping[str, float], item: Item) -> Reference:
    """The cohort's p-th percentile of the applicable values (``percentile_value``); no unit sets it."""
    p = item.reference.percentile
    assert p is not None  # parse_scheme refuses a percentile policy without one
    if not values:
        return Reference(value=None, policy="percentile", percentile=p)
    ordered = [values[u] for u in sorted(values)]
    return Reference(value=percentile_value(ordered, p, item.direction), policy="percentile", percentile=p)


def qualifying(values: Mapping[str, float], samples: Mapping[str, float], sample: MinSample) -> dict[str, float]:
    """The values of the units with at least ``sample.count`` of ``sample.measure`` (``samples``: unit →
    that measure over the period): only they may set the reference."""
    return {u: v for u, v in values.items() if samples.get(u, 0.0) >= sample.count}


def with_qualification(ref: Reference, item: Item, units: int) -> Reference:
    """``ref`` stating who could set it: the reference's minimum sample and how many units' values it
    was drawn from (for a percentile, or under a minimum sample; other references stay as they were)."""
    if item.reference.min_sample is None and item.reference.policy != "percentile":
        return ref
    return replace(ref, min_sample=item.reference.min_sample, qualifying_units=units)


def cohort_mean(values: Mapping[str, float]) -> Reference:
    """The mean of the applicable values (seed 001: a unit's volume against the team average)."""
    if not values:
        return Reference(value=None, policy="cohort_mean")
    return Reference(value=sum(values[u] for u in sorted(values)) / len(values), policy="cohort_mean")


def is_peak(months: Sequence[int], peak_months: Sequence[int]) -> bool:
    """A period is of the peak type (e.g. the tax filing season) when most of its months are peak months."""
    return sum(1 for m in months if m in peak_months) * 2 > len(months)


def _matches(current: Sequence[int], earlier: Sequence[int], item: Item) -> bool:
    match = item.reference.match
    if match == "same_month":
        return tuple(earlier) == tuple(current)
    if match == "season":
        peaks = item.reference.peak_months
        return is_peak(current, peaks) == is_peak(earlier, peaks)
    return True


def dynamic_baseline(current_months: Sequence[int], history: Sequence[HistoryPeriod], item: Item) -> Reference:
    """The cohort's mean value over the latest ``lookback_periods`` earlier periods of the same type
    (same calendar months, or the same season — filing season vs normal months — or any)."""
    matching = [
        p for p in sorted(history, key=lambda p: p.label, reverse=True) if _matches(current_months, p.months, item)
    ]
    chosen = [p for p in matching if p.values][: item.reference.lookback_periods]
    pooled = [p.values[u] for p in chosen for u in sorted(p.values)]
    if not pooled:
        return Reference(value=None, policy="dynamic_baseline")
    return Reference(
        value=sum(pooled) / len(pooled),
        policy="dynamic_baseline",
        periods=tuple(sorted(p.label for p in chosen)),
    )


def resolve_reference(
    item: Item,
    applicable_values: Mapping[str, float],
    *,
    samples: Mapping[str, float] | None = None,
    current_months: Sequence[int] = (),
    history: Sequence[HistoryPeriod] = (),
) -> Reference:
    """The item's reference from the applicable units' values; ``samples`` (unit → the measure of the
    reference's ``min_sample``) decides which units may set it when the policy names a minimum sample."""
    policy = item.reference.policy
    if item.reference.min_sample is not None:
        applicable_values = qualifying(applicable_values, samples or {}, item.reference.min_sample)
    if policy == "best_in_cohort":
        return with_qualification(best_in_cohort(applicable_values, item), item, len(applicable_values))
    if policy == "percentile":
        return with_qualification(cohort_percentile(applicable_values, item), item, len(applicable_values))
    if policy in ("fixed", "target"):
        return Reference(value=item.reference.value, policy=policy)
    if policy == "cohort_mean":
        return cohort_mean(applicable_values)
    if policy == "none":  # threshold, band, deduction and expert rules need no reference
        return Reference(value=None, policy="none")
    if policy == "dynamic_baseline":
        return dynamic_baseline(current_months, history, item)
    raise ValueError(f"unknown reference policy {policy!r}")
