"""Unit totals of outcome format 3: exact sums rounded once, a total only when enough of it is measured,
ranks decided on the exact figures, and ties at the displayed precision that are not exact ties flagged.

Item scores come in unrounded. Earned points, subtotals, totals and their intervals are summed from them
(item by item in scheme order) and rounded once, to the scheme's ``precision``: totals, intervals and
dimension subtotals to ``total`` places (default 2); earned and applicable points to the item-score
places (default 4), since they are sums of item scores from which the total is re-derived.

A unit's total (and with it its grade and rank) is **withheld** when
- ``nothing_applicable``: no indicator applies to it at all;
- ``no_applicable_data``: the scheme has data-driven indicators (any rule but expert) and none applies —
  expert scores alone never make a total of a scheme that measures data;
- ``below_min_applicable_share``: the points of its applicable indicators are less than the scheme's
  ``min_applicable_share`` of all points (default 0.5).
Pending expert items (no expert score yet) are not applicable. A withheld unit takes no part in ranks,
rank overlaps or the cohort's totals: under ``rescale`` a unit can then never outrank its peers on
not-applicable items alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from services.scoring.numbers import rnd, round_array
from services.scoring.ranking import cohort_ranks, overlap_indices
from services.scoring.scheme import Scheme

# "Exact" figures are compared at 9 decimals: far below any displayed precision (at most 6), far above the
# float64 noise of adding the same scores in another order (UB's and UD's 69.3333… in the tests' example).
EXACT_PLACES = 9
SHARE_PLACES = 4
FACTOR_PLACES = 6
WITHHELD_REASONS = ("nothing_applicable", "no_applicable_data", "below_min_applicable_share")


def comparable(values: np.ndarray) -> np.ndarray:
    """Figures as ranks and ties compare them (see ``EXACT_PLACES``)."""
    return round_array(values, EXACT_PLACES)


def grade(scheme: Scheme, total: float | None) -> dict | None:
    """The grade band of a (displayed) total: a total shown as 90.00 is 优秀 whatever its third decimal."""
    if total is None:
        return None
    band = next((b for b in scheme.grade_bands if total >= b.min), scheme.grade_bands[-1])
    return {"code": band.code, "name_zh": band.name_zh}


def _withheld(scheme: Scheme, applicable_points: np.ndarray, data_applicable: np.ndarray) -> list[str | None]:
    """Each unit's reason for having no total (``WITHHELD_REASONS``), or None when its total is given."""
    total_points = scheme.total_points
    share = applicable_points / total_points if total_points > 0 else np.zeros(len(applicable_points))
    short = comparable(share) < round(scheme.min_applicable_share, EXACT_PLACES)
    measures_data = any(item.rule.type != "expert" for item in scheme.items)
    reasons: list[str | None] = []
    for points, has_data, below in zip(
        applicable_points.tolist(), data_applicable.tolist(), short.tolist(), strict=True
    ):
        if points == 0:
            reasons.append("nothing_applicable")
        elif measures_data and not has_data:
            reasons.append("no_applicable_data")
        elif below:
            reasons.append("below_min_applicable_share")
        else:
            reasons.append(None)
    return reasons


def display_ties(units: Sequence[str], shown: np.ndarray, exact: np.ndarray, given: np.ndarray) -> dict[int, list[str]]:
    """Unit index → the units whose total is displayed the same but whose exact total differs (so their ranks
    differ though the totals look equal); only units that have some."""
    idx = np.flatnonzero(given)
    order = idx[np.argsort(shown[idx], kind="stable")]
    values = shown[order]
    found: dict[int, list[str]] = {}
    if len(order) < 2 or not (values[1:] == values[:-1]).any():
        return found
    for group in np.split(order, np.flatnonzero(values[1:] != values[:-1]) + 1):
        if len(group) < 2 or (exact[group] == exact[group[0]]).all():
            continue
        for i in group.tolist():
            others = sorted(units[j] for j in group.tolist() if exact[j] != exact[i])
            if others:
                found[i] = others
    return found


def unit_results(
    scheme: Scheme,
    units: list[str],
    applicable: list[np.ndarray],
    scores: list[np.ndarray],
    lows: list[np.ndarray],
    highs: list[np.ndarray],
    previous: Mapping[str, Mapping[str, Any]],
) -> list[dict]:
    """Each unit's head (its result but the indicator rows) from its exact item scores (see the module)."""
    n = len(units)
    zero = np.zeros(n)
    applicable_points, earned, low, high = zero, zero, zero, zero
    data_applicable = np.zeros(n, dtype=bool)
    dimensions: dict[str, list[np.ndarray]] = {}  # dimension → [score, points, max_points]
    for item, ok, score, lo, hi in zip(scheme.items, applicable, scores, lows, highs, strict=True):
        points = float(item.points)
        applicable_points = applicable_points + np.where(ok, points, 0.0)
        earned = earned + np.where(ok, score, 0.0)
        low = low + np.where(ok, lo, 0.0)
        high = high + np.where(ok, hi, 0.0)
        if item.rule.type != "expert":
            data_applicable = data_applicable | ok
        d = dimensions.setdefault(item.dimension, [zero, zero, zero])
        d[0] = d[0] + np.where(ok, score, 0.0)
        d[1] = d[1] + np.where(ok, points, 0.0)
        d[2] = d[2] + points
    reasons = _withheld(scheme, applicable_points, data_applicable)
    given = np.array([r is None for r in reasons], dtype=bool)
    with np.errstate(all="ignore"):
        if scheme.na_policy == "rescale":
            factor = np.where(given, scheme.total_points / np.where(given, applicable_points, 1.0), 0.0)
        else:
            factor = np.ones(n)
        exact_total = earned * factor
        share = applicable_points / scheme.total_points if scheme.total_points > 0 else zero
    places, score_places = scheme.total_places, scheme.score_places
    shown = np.where(given, round_array(exact_total, places), np.nan)
    comparable_total = np.where(given, comparable(exact_total), np.nan)
    ranks, order = cohort_ranks(comparable_total, given)
    overlaps = overlap_indices(order, low * factor, high * factor, given, n)
    ties = display_ties(units, shown, comparable_total, given)
    interval_low = round_array(low * factor, places).tolist()
    interval_high = round_array(high * factor, places).tolist()
    factors = round_array(factor, FACTOR_PLACES).tolist()
    earned_r = round_array(earned, score_places).tolist()
    applicable_r = round_array(applicable_points, score_places).tolist()
    shares = round_array(share, SHARE_PLACES).tolist()
    dims = [
        (name, round_array(s, places).tolist(), round_array(p, places).tolist(), round_array(m, places).tolist())
        for name, (s, p, m) in dimensions.items()
    ]
    shown_list, ranks_list = shown.tolist(), ranks.tolist()
    results = []
    for i, unit in enumerate(units):
        total = shown_list[i] if reasons[i] is None else None
        rank = ranks_list[i] or None
        result = {
            "unit": unit,
            "total": total,
            "total_interval": None if total is None else [interval_low[i], interval_high[i]],
            "earned_points": earned_r[i],
            "applicable_points": applicable_r[i],
            "scale_factor": None if total is None else factors[i],
            "grade": grade(scheme, total),
            "dimensions": [
                {"dimension": name, "score": s[i], "points": p[i], "max_points": m[i]} for name, s, p, m in dims
            ],
            "rank": rank,
            "rank_overlaps": [units[j] for j in overlaps.get(i, [])],
            "previous": None,
            "change": None,
            "rank_change": None,
            "applicable_share": shares[i],
            "min_applicable_share": scheme.min_applicable_share,
            "withheld": reasons[i],
            "display_tie_with": ties.get(i, []),
        }
        before = previous.get(unit) if previous else None
        if before is not None and before.get("total") is not None and total is not None:
            result["previous"] = {k: before.get(k) for k in ("run_id", "total", "rank")}
            # The change of the displayed totals: what a reader computes from the two results.
            result["change"] = rnd(total - float(before["total"]), places)
            if before.get("rank") is not None:
                result["rank_change"] = int(before["rank"]) - rank
        results.append(result)
    return results
