"""Scoring rules (spec appendix A; seeds 000, 001): a value (and a reference) become points.

Every rule returns a score in ``[0, points]`` — never above the indicator's points, never below 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.scoring.scheme import Item


def clamp_points(score: float, points: float) -> float:
    return max(0.0, min(points, score))


def ratio_to_reference(value: float, reference: float | None, item: Item) -> float | None:
    """``value / reference × points``; ``reference / value × points`` for lower-is-better indicators.

    None (not applicable) without a reference. A lower-is-better value of 0 is the best possible.
    """
    if reference is None:
        return None
    if item.direction == "lower_better":
        if value <= 0:
            return item.points
        return clamp_points(reference / value * item.points, item.points)
    if reference <= 0:
        return item.points if value >= reference else 0.0
    return clamp_points(value / reference * item.points, item.points)


def threshold(value: float, item: Item) -> float:
    """Full points at or beyond the target (at or below it for lower-is-better), else 0."""
    target = item.rule.param("target")
    met = value <= target if item.direction == "lower_better" else value >= target
    return item.points if met else 0.0


def linear_band(value: float, item: Item, reference: float | None = None) -> float | None:
    """0 at the floor, full points at the target, linear between (works in either direction:
    for lower-is-better the floor is the larger number). With ``relative: true`` floor and target are
    percentages of the reference (seed 001: 80 % → 120 % of the team average); no reference → N/A."""
    floor, target = item.rule.param("floor"), item.rule.param("target")
    if item.rule.param("relative", False):
        if reference is None:
            return None
        floor, target = floor * reference / 100, target * reference / 100
    if target == floor:
        return item.points if (value <= target if item.direction == "lower_better" else value >= target) else 0.0
    fraction = (value - floor) / (target - floor)
    return clamp_points(fraction * item.points, item.points)


def target_band(value: float, item: Item) -> float:
    """Full points inside ``[low, high]`` (e.g. AHT 60–180 s); outside, the score falls linearly to 0
    over ``tolerance`` — too short ("hasty hang-ups") is as bad as too long."""
    low, high = item.rule.param("low"), item.rule.param("high")
    tolerance = item.rule.param("tolerance", 0.0)
    distance = low - value if value < low else value - high if value > high else 0.0
    if distance <= 0:
        return item.points
    if tolerance <= 0:
        return 0.0
    return clamp_points((1 - distance / tolerance) * item.points, item.points)


def deduction(occurrences: float, item: Item) -> float:
    """Points minus ``per_occurrence`` for each occurrence beyond ``free_occurrences`` (e.g. timeouts > 3)."""
    per = item.rule.param("per_occurrence")
    free = item.rule.param("free_occurrences", 0.0)
    return clamp_points(item.points - max(0.0, occurrences - free) * per, item.points)


def aggregate_expert_scores(scores: Sequence[float], method: str) -> float | None:
    """Mean of the experts' scores, or the trimmed mean (the highest and the lowest dropped once there
    are at least three). None when no expert has scored."""
    if not scores:
        return None
    ordered = sorted(scores)
    if method == "trimmed_mean" and len(ordered) >= 3:
        ordered = ordered[1:-1]
    return sum(ordered) / len(ordered)


def score_value(value: float, reference: float | None, item: Item) -> float | None:
    """The item's score by its rule (expert items are scored by ``aggregate_expert_scores``)."""
    kind = item.rule.type
    if kind == "ratio_to_reference":
        return ratio_to_reference(value, reference, item)
    if kind == "threshold":
        return threshold(value, item)
    if kind == "linear_band":
        return linear_band(value, item, reference)
    if kind == "target_band":
        return target_band(value, item)
    if kind == "deduction":
        return deduction(value, item)
    if kind == "expert":
        return clamp_points(value, item.points)
    raise ValueError(f"unknown rule {kind!r}")
