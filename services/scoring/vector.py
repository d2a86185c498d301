"""Whole-cohort arithmetic: a formula, a ratio's Wilson interval and a rule's score over arrays of units.

Each function gives exactly what the scalar code gives unit by unit (``Formula.evaluate``,
``statistics.wilson_interval``, ``rules.score_value``): the same IEEE operations in the same order
on float64, and Python's ``min``/``max`` tie behaviour spelt out with ``np.where``. Where the scalar
code says *not applicable* the array code returns a ``False`` in its mask.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hotline.domain.formula import BinaryOp, Call, Formula, MeasureRef, Negate, Node, Number
from services.scoring.scheme import Item
from services.scoring.statistics import Z_95


def evaluate(formula: Formula, columns: Mapping[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """``formula`` over ``n`` units at once → (values, applicable); like ``Formula.evaluate`` per unit."""
    bad = np.zeros(n, dtype=bool)
    with np.errstate(all="ignore"):
        values = _evaluate(formula.root, columns, n, bad)
    return values, ~bad


def _mark(result: np.ndarray, bad: np.ndarray) -> np.ndarray:
    bad |= ~np.isfinite(result)
    return result


def _evaluate(node: Node, columns: Mapping[str, np.ndarray], n: int, bad: np.ndarray) -> np.ndarray:
    if isinstance(node, Number):
        return np.full(n, float(node.value))
    if isinstance(node, MeasureRef):
        column = columns.get(node.code)
        if column is None:
            bad[:] = True
            return np.zeros(n)
        return _mark(column, bad)
    if isinstance(node, Negate):
        return -_evaluate(node.operand, columns, n, bad)
    if isinstance(node, BinaryOp):
        left = _evaluate(node.left, columns, n, bad)
        right = _evaluate(node.right, columns, n, bad)
        if node.op == "+":
            return _mark(left + right, bad)
        if node.op == "-":
            return _mark(left - right, bad)
        if node.op == "*":
            return _mark(left * right, bad)
        bad |= right == 0
        return _mark(left / right, bad)
    assert isinstance(node, Call)
    args = [_evaluate(arg, columns, n, bad) for arg in node.args]
    if node.name == "min":  # Python's min keeps the first of equals
        current = args[0]
        for a in args[1:]:
            current = np.where(a < current, a, current)
        return current
    if node.name == "max":
        current = args[0]
        for a in args[1:]:
            current = np.where(a > current, a, current)
        return current
    value, low, high = args
    bad |= low > high
    raised = np.where(low > value, low, value)
    return np.where(high < raised, high, raised)


def wilson(successes: np.ndarray, trials: np.ndarray, z: float = Z_95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``statistics.wilson_interval`` over arrays → (low, high, defined)."""
    defined = ~((trials <= 0) | (successes < 0) | (successes > trials))
    with np.errstate(all="ignore"):
        t = np.where(defined, trials, 1.0)
        p = successes / t
        denom = 1 + z * z / t
        centre = (p + z * z / (2 * t)) / denom
        half = z * np.sqrt(p * (1 - p) / t + z * z / (4 * t * t)) / denom
        low, high = centre - half, centre + half
    return np.where(low > 0.0, low, 0.0), np.where(high < 1.0, high, 1.0), defined


def _clamp(score: np.ndarray, points: float) -> np.ndarray:
    """``rules.clamp_points``: ``max(0.0, min(points, score))`` with Python's tie behaviour."""
    capped = np.where(score < points, score, points)
    return np.where(capped > 0.0, capped, 0.0)


def score(item: Item, values: np.ndarray, reference: float | None) -> np.ndarray | None:
    """``rules.score_value`` over an array of values (finite floats); None when the item is not
    scored this way (expert items, or no reference for a ratio rule)."""
    kind, points, lower = item.rule.type, float(item.points), item.direction == "lower_better"
    with np.errstate(all="ignore"):
        if kind == "ratio_to_reference":
            if reference is None:
                return None
            if lower:
                safe = np.where(values <= 0, 1.0, values)
                return np.where(values <= 0, points, _clamp(reference / safe * points, points))
            if reference <= 0:
                return np.where(values >= reference, points, 0.0)
            return _clamp(values / reference * points, points)
        if kind == "threshold":
            target = item.rule.param("target")
            met = values <= target if lower else values >= target
            return np.where(met, points, 0.0)
        if kind == "linear_band":
            floor, target = item.rule.param("floor"), item.rule.param("target")
            if item.rule.param("relative", False):  # floor and target are percentages of the reference
                if reference is None:
                    return None
                floor, target = floor * reference / 100, target * reference / 100
            if target == floor:
                return np.where(values <= target if lower else values >= target, points, 0.0)
            return _clamp((values - floor) / (target - floor) * points, points)
        if kind == "target_band":
            low, high = item.rule.param("low"), item.rule.param("high")
            tolerance = item.rule.param("tolerance", 0.0)
            distance = np.where(values < low, low - values, np.where(values > high, values - high, 0.0))
            if tolerance <= 0:
                return np.where(distance <= 0, points, 0.0)
            return np.where(distance <= 0, points, _clamp((1 - distance / tolerance) * points, points))
        if kind == "deduction":
            per = item.rule.param("per_occurrence")
            free = item.rule.param("free_occurrences", 0.0)
            beyond = values - free
            beyond = np.where(beyond > 0.0, beyond, 0.0)  # max(0.0, occurrences - free)
            return _clamp(points - beyond * per, points)
    return None
