"""Statistics beyond the seeds: rate parts of a formula, Wilson intervals, trends, summaries."""

from __future__ import annotations

import math
import statistics as pystats
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hotline.domain.formula import BinaryOp, Formula, Number

Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class RateParts:
    """A formula ``numerator / denominator × scale`` (e.g. ``a / b * 100`` → scale 100)."""

    numerator: Formula
    denominator: Formula
    scale: float


def rate_parts(formula: Formula) -> RateParts | None:
    """Split a ratio formula, allowing a constant scale on either side (``a / b * 100``, ``100 * a / b``)."""
    root = formula.root
    scale = 1.0
    if isinstance(root, BinaryOp) and root.op == "*":
        if isinstance(root.right, Number):
            scale, root = root.right.value, root.left
        elif isinstance(root.left, Number):
            scale, root = root.left.value, root.right
    if isinstance(root, BinaryOp) and root.op == "/":
        left = root.left
        if isinstance(left, BinaryOp) and left.op == "*" and isinstance(left.right, Number):
            scale, left = scale * left.right.value, left.left
        return RateParts(Formula(left), Formula(root.right), scale)
    return None


def wilson_interval(successes: float, trials: float, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion; None when it is not a proportion (no trials, or
    successes outside ``[0, trials]``)."""
    if trials <= 0 or successes < 0 or successes > trials:
        return None
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def trend(series: Sequence[tuple[str, float | None]], direction: str) -> dict:
    """Least-squares slope per period of a month-by-month series and whether it improves.

    ``stable`` when the slope moves less than 1 % of the series' mean magnitude per period.
    """
    points = [(i, v) for i, (_, v) in enumerate(series) if v is not None]
    if len(points) < 2:
        return {"slope": None, "direction": "insufficient_data"}
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    if abs(slope) < 0.01 * max(abs(my), 1e-9):
        verdict = "stable"
    else:
        better = slope < 0 if direction == "lower_better" else slope > 0
        verdict = "improving" if better else "worsening"
    return {"slope": slope, "direction": verdict}


def summary(values: Mapping[str, float]) -> dict:
    """Count, mean, median, min, max and population standard deviation of a cohort's values."""
    return summary_of([values[k] for k in sorted(values)])


def summary_of(data: list[float]) -> dict:
    """``summary`` of values already in unit-id order (the order ``summary`` sorts them into)."""
    if not data:
        return {"count": 0, "mean": None, "median": None, "min": None, "max": None, "stdev": None}
    mean = math.fsum(data) / len(data)
    return {
        "count": len(data),
        "mean": mean,
        "median": pystats.median(data),
        "min": min(data),
        "max": max(data),
        # Plain floating point (fsum keeps it order-independent); statistics.pstdev's exact
        # fractions cost seconds on a province's 3,000 units × 40 indicators.
        "stdev": math.sqrt(math.fsum([(x - mean) ** 2 for x in data]) / len(data)),
    }


def rounded_summary_of(data: list[float]) -> dict:
    """``rounded_summary`` of values already in unit-id order."""
    from services.scoring.numbers import rnd

    return {k: v if k == "count" else rnd(v) for k, v in summary_of(data).items()}


def rounded_summary(values: Mapping[str, float]) -> dict:
    """``summary`` with every statistic but the count rounded by the service's one rule."""
    from services.scoring.numbers import rnd

    return {k: v if k == "count" else rnd(v) for k, v in summary(values).items()}
