"""Reference values by policy: best in cohort, cohort mean, fixed (national excellent), target, dynamic
baseline, or none (rules that need no reference)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.scoring.scheme import Item


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference value and where it came from (``set_by`` names the unit for best-in-cohort)."""

    value: float | None
    policy: str
    set_by: str | None = None
    periods: tuple[str, ...] = ()  # the earlier periods a dynamic baseline was drawn from


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
    current_months: Sequence[int] = (),
    history: Sequence[HistoryPeriod] = (),
) -> Reference:
    policy = item.reference.policy
    if policy == "best_in_cohort":
        return best_in_cohort(applicable_values, item)
    if policy in ("fixed", "target"):
        return Reference(value=item.reference.value, policy=policy)
    if policy == "cohort_mean":
        return cohort_mean(applicable_values)
    if policy == "none":  # threshold, band, deduction and expert rules need no reference
        return Reference(value=None, policy="none")
    if policy == "dynamic_baseline":
        return dynamic_baseline(current_months, history, item)
    raise ValueError(f"unknown reference policy {policy!r}")
