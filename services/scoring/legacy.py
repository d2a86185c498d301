"""Unit totals of outcome formats 1 and 2, kept only to reproduce the revisions stored in them (``inputs.evaluate``
with ``outcome_format`` 1 or 2): item scores rounded to 4 places before they are summed, totals to 2, every unit
with any applicable item ranked. New revisions are format 3 (``totals``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from services.scoring.numbers import rnd, round_array
from services.scoring.ranking import cohort_ranks, overlap_indices
from services.scoring.scheme import Scheme
from services.scoring.totals import grade


def _optional(values: np.ndarray, ok: np.ndarray) -> list[float | None]:
    if ok.all():
        return values.tolist()
    return [v if k else None for v, k in zip(values.tolist(), ok.tolist(), strict=True)]


def unit_results(
    scheme: Scheme,
    units: list[str],
    applicable: list[np.ndarray],
    scores: list[np.ndarray],
    lows: list[np.ndarray],
    highs: list[np.ndarray],
    previous: Mapping[str, Mapping[str, Any]],
) -> list[dict]:
    """Each unit's head, ranked, as formats 1 and 2 computed it."""
    results = _unit_results(scheme, units, applicable, scores, lows, highs)
    _rank_units(units, results, previous)
    return results


def _unit_results(
    scheme: Scheme,
    units: list[str],
    applicable: list[np.ndarray],
    scores: list[np.ndarray],
    lows: list[np.ndarray],
    highs: list[np.ndarray],
) -> list[dict]:
    """Each unit's head (its result but the indicator rows): total, interval, points and dimension subtotals — the sums taken item by item in
    scheme order, as a running sum over the rows would take them (the same additions, the same order)."""
    n = len(units)
    zero = np.zeros(n)
    applicable_points, earned, low, high = zero, zero, zero, zero
    dimensions: dict[str, list[np.ndarray]] = {}  # dimension → [score, points, max_points]
    for item, ok, score, lo, hi in zip(scheme.items, applicable, scores, lows, highs, strict=True):
        points = rnd(item.points)
        applicable_points = applicable_points + np.where(ok, points, 0.0)
        earned = earned + np.where(ok, score, 0.0)
        low = low + np.where(ok, lo, 0.0)
        high = high + np.where(ok, hi, 0.0)
        d = dimensions.setdefault(item.dimension, [zero, zero, zero])
        d[0] = d[0] + np.where(ok, score, 0.0)
        d[1] = d[1] + np.where(ok, points, 0.0)
        d[2] = d[2] + points
    with np.errstate(all="ignore"):
        if scheme.na_policy == "rescale":
            has_factor = applicable_points != 0
            factor = np.where(has_factor, scheme.total_points / np.where(has_factor, applicable_points, 1.0), 0.0)
        else:
            has_factor, factor = np.ones(n, dtype=bool), np.ones(n)
    totals = _optional(round_array(earned * factor, 2), has_factor)
    interval_low = round_array(low * factor, 2).tolist()
    interval_high = round_array(high * factor, 2).tolist()
    factors = _optional(round_array(factor, 6), has_factor)
    earned_r = round_array(earned).tolist()
    applicable_r = round_array(applicable_points).tolist()
    dims = [
        (name, round_array(s).tolist(), round_array(p).tolist(), round_array(m).tolist())
        for name, (s, p, m) in dimensions.items()
    ]
    results = []
    for i, unit in enumerate(units):
        total = totals[i]
        results.append(
            {
                "unit": unit,
                "total": total,
                "total_interval": None if total is None else [interval_low[i], interval_high[i]],
                "earned_points": earned_r[i],
                "applicable_points": applicable_r[i],
                "scale_factor": factors[i],
                "grade": grade(scheme, total),
                "dimensions": [
                    {"dimension": name, "score": s[i], "points": p[i], "max_points": m[i]} for name, s, p, m in dims
                ],
                "rank": None,
                "rank_overlaps": [],
                "previous": None,
                "change": None,
                "rank_change": None,
            }
        )
    return results


def _rank_units(units: list[str], results: list[dict], previous_run: Mapping[str, Mapping[str, Any]]) -> None:
    n = len(units)
    totals = np.array([np.nan if r["total"] is None else r["total"] for r in results], dtype=np.float64)
    ranked = ~np.isnan(totals)
    ranks, order = cohort_ranks(totals, ranked)
    intervals = np.array([r["total_interval"] or (0.0, 0.0) for r in results], dtype=np.float64).reshape(n, 2)
    overlaps = overlap_indices(order, intervals[:, 0], intervals[:, 1], ranked, n)
    ranks_list = ranks.tolist()
    for i, result in enumerate(results):
        result["rank"] = ranks_list[i] or None
        if i in overlaps:
            result["rank_overlaps"] = [units[j] for j in overlaps[i]]
        previous = previous_run.get(result["unit"]) if previous_run else None
        if previous is not None and previous.get("total") is not None and result["total"] is not None:
            result["previous"] = {k: previous.get(k) for k in ("run_id", "total", "rank")}
            result["change"] = rnd(result["total"] - float(previous["total"]), 2)
            if previous.get("rank") is not None and result["rank"] is not None:
                result["rank_change"] = int(previous["rank"]) - result["rank"]
