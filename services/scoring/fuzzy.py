"""Fuzzy comprehensive evaluation (模糊综合评价) of a run's stored results — seed 001: "模糊综合评价法:
结合主成分分析确定指标权重,避免主观偏差" — as a view beside the crisp totals. Pure: plain data in and out.

The method, exactly:

1. **Evaluation set** V: the scheme's grade bands, on the total's scale 0…T (T = the scheme's total
   points). With the bands from the lowest (k = 0) to the highest (k = K − 1), band k spans
   [tₖ, tₖ₊₁]: t₀ = 0, t_K = T, and tₖ (k ≥ 1) is band k's minimum (clipped into [0, T]); everything
   below the second band's minimum is the lowest band, as for totals. Its centre cₖ = (tₖ + tₖ₊₁) / 2.
2. **Factor level**: indicator j of a unit enters as xⱼ = T · scoreⱼ / pointsⱼ — its score as a share
   of its points, on the total's scale. Scores, not values: a score already carries the indicator's
   direction, reference and rule, and the bands are drawn on scores. With the scheme's points as
   weights, Σⱼ wⱼxⱼ is the unit's total (under the rescale N/A policy, up to rounding).
3. **Membership** (trapezoidal functions that add up to 1): at each inner boundary tₖ (k = 1…K − 1) a
   linear transition of half-width δₖ = min(wₖ₋₁, wₖ) / 2, wₖ the band widths, so neighbouring
   transitions never overlap. Fₖ(x) = clip((x − tₖ + δₖ) / 2δₖ, 0, 1) is the degree to which x has
   reached band k (a step at tₖ when δₖ = 0), F₀ = 1, F_K = 0, and the membership in band k is
   rₖ(x) = Fₖ(x) − Fₖ₊₁(x): 1 inside the band's core, ½ and ½ exactly at a boundary (with a
   transition), between 0 and 1 in a transition, each row summing to 1. Band k's trapezoid has the
   corners (tₖ − δₖ, tₖ + δₖ, tₖ₊₁ − δₖ₊₁, tₖ₊₁ + δₖ₊₁), with δ₀ = δ_K = 0: centred on the band, its
   flat top the band's core and its half-membership points the band's edges — so the grade of largest
   membership of a single x is x's own band, and the fuzziness lies only near the boundaries.
4. **Weights** W: the chosen method's, restricted to the unit's applicable indicators and renormalised
   to add up to 1 (N/A indicators are left out).
5. **Composite** B = W ∘ R with the weighted-average operator M(·,⊕): bₖ = min(1, Σⱼ wⱼ·rⱼₖ) — the
   plain weighted sum, since W and every row of R add up to 1.
6. **Grade** by the maximum membership principle; a tie (within 1e-9) goes to the higher grade, as a
   total equal to a band's minimum earns that band.
7. **Fuzzy score** Σₖ bₖ·cₖ, on the total's scale (between the lowest and the highest band centre).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.scoring.numbers import rnd
from services.scoring.scheme import GradeBand, Scheme
from services.scoring.suggestions import MethodWeights, method_weights

TIE_TOLERANCE = 1e-9
PLACES = 6  # memberships, weights and composite vectors


class WeightMethod(enum.StrEnum):
    """Where the indicator weights of a fuzzy evaluation come from."""

    POINTS = "points"
    ENTROPY = "entropy"
    CRITIC = "critic"
    PCA = "pca"
    AHP = "ahp"


METHOD_NAMES = {
    "points": ("方案分值", "the scheme's points"),
    "entropy": ("熵权法", "the entropy weight method"),
    "critic": ("CRITIC 法", "the CRITIC method"),
    "pca": ("主成分分析法", "principal component analysis"),
    "ahp": ("层次分析法", "the analytic hierarchy process"),
}
# Why a unit has no fuzzy result.
NO_RESULT = {
    "total_withheld": (
        "该单位总分未给出(无适用指标分值),不作模糊评价",
        "its total is withheld, so it has no fuzzy result",
    ),
    "no_applicable_indicator": (
        "该单位没有参与评价的适用指标,不作模糊评价",
        "none of the indicators taking part applies to it, so it has no fuzzy result",
    ),
    "zero_weight": (
        "该单位适用指标在此权重方法下权重均为 0,不作模糊评价",
        "every indicator that applies to it weighs 0 under this method, so it has no fuzzy result",
    ),
}


@dataclass(frozen=True, slots=True)
class Level:
    """A grade of the evaluation set with its band on the total's scale and its membership function."""

    code: str
    name_zh: str
    lower: float
    upper: float
    centre: float
    corners: tuple[float, float, float, float]  # 0 before a, rising to 1 at b, 1 to c, 0 again at d


def levels_of(bands: Sequence[GradeBand], full_scale: float) -> tuple[Level, ...]:
    """The evaluation set from the scheme's grade bands (best first, as the scheme lists them)."""
    # The scheme's order (highest minimum first; equal minima as listed) turned round, so that of two bands
    # with the same minimum the one a total earns (the first listed) is the one with a width.
    ascending = list(reversed(sorted(bands, key=lambda b: -b.min)))
    edges = [0.0] + [min(max(b.min, 0.0), full_scale) for b in ascending[1:]] + [float(full_scale)]
    widths = [edges[k + 1] - edges[k] for k in range(len(ascending))]
    delta = [0.0] + [min(widths[k - 1], widths[k]) / 2 for k in range(1, len(ascending))] + [0.0]
    levels = [
        Level(
            code=band.code,
            name_zh=band.name_zh,
            lower=float(edges[k]),
            upper=float(edges[k + 1]),
            centre=(edges[k] + edges[k + 1]) / 2,
            corners=(
                edges[k] - delta[k],
                edges[k] + delta[k],
                edges[k + 1] - delta[k + 1],
                edges[k + 1] + delta[k + 1],
            ),
        )
        for k, band in enumerate(ascending)
    ]
    return tuple(reversed(levels))


def _reached(x: float, level: Level) -> float:
    """F: the degree to which ``x`` has reached ``level``'s lower boundary (1 for the lowest level)."""
    a, b = level.corners[0], level.corners[1]
    if b <= a:  # no transition: a step at the boundary (the lowest level's boundary is 0, reached by every x ≥ 0)
        return 1.0 if x >= level.lower else 0.0
    return min(1.0, max(0.0, (x - a) / (b - a)))


def memberships(x: float, levels: Sequence[Level]) -> list[float]:
    """r(x): the membership of ``x`` (on the total's scale, taken at its nearest end outside it) in each
    level, in ``levels`` order (best first)."""
    x = min(max(x, levels[-1].lower), levels[0].upper)
    reached = [_reached(x, level) for level in levels]  # best first: F_{K-1}, …, F_0 = 1
    above = [0.0, *reached[:-1]]  # F_{k+1} of each level; nothing lies above the best
    return [r - a for r, a in zip(reached, above, strict=True)]


def composite(weights: Sequence[float], matrix: Sequence[Sequence[float]]) -> list[float]:
    """B = W ∘ R with M(·,⊕): bₖ = min(1, Σⱼ wⱼ·rⱼₖ)."""
    columns = len(matrix[0]) if matrix else 0
    return [min(1.0, sum(w * row[k] for w, row in zip(weights, matrix, strict=True))) for k in range(columns)]


def maximum_membership(vector: Sequence[float]) -> tuple[int, bool]:
    """The index of the grade with the largest membership (best first: the first of tied ones is the
    higher grade) and whether there was a tie."""
    top = max(vector)
    tied = [k for k, b in enumerate(vector) if top - b <= TIE_TOLERANCE]
    return tied[0], len(tied) > 1


@dataclass(frozen=True, slots=True)
class Factor:
    """One indicator of a unit's stored result, as the fuzzy evaluation reads it."""

    indicator: str
    name_zh: str
    name_en: str
    points: float
    score: float | None  # None: not applicable
    na_reason: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Factor:
        score = row["score"] if row["applicable"] else None
        return cls(row["indicator"], row["name_zh"], row["name_en"], row["points"], score, row.get("na_reason"))


@dataclass(frozen=True, slots=True)
class MembershipRow:
    """One row of a unit's membership matrix R."""

    factor: Factor
    level: float  # x = T · score / points
    weight: float  # renormalised over the unit's applicable indicators
    degrees: tuple[float, ...]  # in the levels' order, best first


@dataclass(frozen=True, slots=True)
class UnitFuzzy:
    """A unit's fuzzy evaluation, or the reason it has none."""

    unit: str
    total: float | None
    rows: tuple[MembershipRow, ...]
    left_out: tuple[Factor, ...]  # N/A, or no points to share
    composite: tuple[float, ...] | None
    grade: Level | None
    tied: bool
    score: float | None
    reason: str | None


def evaluate_unit(
    unit: str,
    total: float | None,
    factors: Sequence[Factor],
    weights: Mapping[str, float],
    levels: Sequence[Level],
    full_scale: float,
) -> UnitFuzzy:
    """Steps 2–7 of the module docstring for one unit. ``weights`` holds the indicators taking part
    (the method's weights); the others are not part of the evaluation at all."""
    taking_part = [f for f in factors if f.indicator in weights]
    applicable = [f for f in taking_part if f.score is not None and f.points > 0]
    left_out = tuple(f for f in taking_part if f not in applicable)
    reason = None
    if total is None:
        reason = "total_withheld"
    elif not applicable:
        reason = "no_applicable_indicator"
    elif sum(weights[f.indicator] for f in applicable) <= 0:
        reason = "zero_weight"
    if reason is not None:
        return UnitFuzzy(unit, total, (), left_out, None, None, False, None, reason)
    weight_sum = sum(weights[f.indicator] for f in applicable)
    unit_weights = [weights[f.indicator] / weight_sum for f in applicable]
    levels_x = [min(full_scale, max(0.0, full_scale * f.score / f.points)) for f in applicable]
    matrix = [memberships(x, levels) for x in levels_x]
    vector = composite(unit_weights, matrix)
    best, tied = maximum_membership(vector)
    score = sum(b * level.centre for b, level in zip(vector, levels, strict=True))
    rows = tuple(
        MembershipRow(f, rnd(x), round(w, PLACES), tuple(_r(d) for d in r))
        for f, x, w, r in zip(applicable, levels_x, unit_weights, matrix, strict=True)
    )
    return UnitFuzzy(unit, total, rows, left_out, tuple(_r(b) for b in vector), levels[best], tied, rnd(score), None)


@dataclass(frozen=True)
class CohortFuzzy:
    """A run's fuzzy evaluation: the method's weights, the evaluation set and the units evaluated."""

    weights: MethodWeights
    levels: tuple[Level, ...]
    full_scale: float
    units: list[UnitFuzzy]


def evaluate_cohort(
    scheme: Scheme,
    details: Sequence[Mapping[str, Any]],
    method: str,
    ahp: tuple[Sequence[str], Sequence[Sequence[float]]] | None = None,
    shown: Collection[str] | None = None,
) -> CohortFuzzy:
    """The method's weights (``suggestions.method_weights``) over the units' stored results ``details``,
    then each unit of ``shown`` (default: all) evaluated, in unit id order. Raises ``WeightError``."""
    weights = method_weights(scheme, method, details, ahp)
    levels = levels_of(scheme.grade_bands, scheme.total_points)
    by_code = weights.by_indicator()
    units = [
        evaluate_unit(
            d["unit"], d.get("total"), [Factor.from_row(r) for r in d["indicators"]], by_code, levels,
            scheme.total_points,
        )
        for d in sorted(details, key=lambda d: d["unit"])
        if shown is None or d["unit"] in shown
    ]  # fmt: skip
    return CohortFuzzy(weights, levels, scheme.total_points, units)


def _r(value: float) -> float:
    rounded = round(value, PLACES)
    return 0.0 if rounded == 0 else rounded


def _n(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _vector(values: Sequence[float]) -> str:
    return "[" + ", ".join(_n(v) for v in values) + "]"


def explain_method(
    method: str, levels: Sequence[Level], full_scale: float, weights: Sequence[tuple[str, str, str, float]]
) -> dict[str, str]:
    """The whole evaluation in a paragraph per language: grades, membership functions, weights, operator.
    ``weights`` are (indicator, Chinese name, English name, weight)."""
    method_zh, method_en = METHOD_NAMES[method]
    grades_zh = "、".join(f"{lv.name_zh}({_n(lv.lower)}–{_n(lv.upper)},中点 {_n(lv.centre)})" for lv in levels)
    grades_en = ", ".join(f"{lv.code} ({_n(lv.lower)}–{_n(lv.upper)}, centre {_n(lv.centre)})" for lv in levels)
    corners_zh = ";".join(f"{lv.name_zh} {_vector(lv.corners)}" for lv in levels)
    corners_en = "; ".join(f"{lv.code} {_vector(lv.corners)}" for lv in levels)
    weights_zh = "、".join(f"{zh} {_n(w)}" for _, zh, _, w in weights)
    weights_en = ", ".join(f"{en} {_n(w)}" for _, _, en, w in weights)
    return {
        "zh": f"模糊综合评价:评语集为方案等级 {grades_zh}(总分刻度 0–{_n(full_scale)});"
        f"各指标按 x = 得分 ÷ 分值 × {_n(full_scale)} 换算到总分刻度,以梯形隶属函数求其对各等级的隶属度"
        f"(拐点 {corners_zh};等级分界处各为 0.5,每行之和为 1);"
        f"权重取{method_zh}:{weights_zh}(不适用指标剔除后按单位重新归一);"
        "合成算子 M(·,⊕):B = W·R;按最大隶属度原则定级(并列时取较高等级);模糊得分 = Σ bₖ·cₖ(cₖ 为等级中点)。",
        "en": f"Fuzzy comprehensive evaluation: the evaluation set is the scheme's grades {grades_en} "
        f"(on the total's scale 0–{_n(full_scale)}); each indicator enters as x = score ÷ points × {_n(full_scale)} "
        f"and its membership in each grade comes from trapezoidal functions (corners {corners_en}; 0.5 and 0.5 at a "
        f"band boundary, each row adding up to 1); weights from {method_en}: {weights_en} (renormalised per unit "
        "over its applicable indicators); operator M(·,⊕): B = W·R; grade by maximum membership (a tie goes to "
        "the higher grade); fuzzy score = Σ bₖ·cₖ (cₖ the grade's centre).",
    }


def explain_unit(result: UnitFuzzy, method: str, levels: Sequence[Level]) -> dict[str, str]:
    """A unit's fuzzy evaluation in a paragraph per language: weights, membership matrix, B, grade, score."""
    method_zh, method_en = METHOD_NAMES[method]
    if result.reason is not None:
        zh, en = NO_RESULT[result.reason]
        return {"zh": f"{result.unit}:{zh}。", "en": f"{result.unit}: {en}."}
    names_zh = "/".join(lv.name_zh for lv in levels)
    names_en = "/".join(lv.code for lv in levels)
    rows_zh = ";".join(
        f"{r.factor.name_zh} x={_n(r.level)} 权重 {_n(r.weight)} {_vector(r.degrees)}" for r in result.rows
    )
    rows_en = "; ".join(
        f"{r.factor.name_en} x={_n(r.level)} weight {_n(r.weight)} {_vector(r.degrees)}" for r in result.rows
    )
    left_zh = left_en = ""
    if result.left_out:
        left_zh = "(不适用而剔除:" + "、".join(f.name_zh for f in result.left_out) + ")"
        left_en = " (left out as not applicable: " + ", ".join(f.name_en for f in result.left_out) + ")"
    if result.grade is None or result.composite is None:  # a reason is given whenever there is no result
        raise ValueError(f"{result.unit}: a fuzzy result without a grade and without a reason")
    tie_zh = "(并列,取较高等级)" if result.tied else ""
    tie_en = " (a tie, so the higher grade)" if result.tied else ""
    top = max(result.composite)
    sum_zh = " + ".join(f"{_n(b)}×{_n(lv.centre)}" for b, lv in zip(result.composite, levels, strict=True))
    return {
        "zh": f"{result.unit}:权重方法 {method_zh}{left_zh};隶属度矩阵 R(行为指标,列为 {names_zh}):{rows_zh};"
        f"B = W·R = {_vector(result.composite)};最大隶属度 {_n(top)} → {result.grade.name_zh}{tie_zh};"
        f"模糊得分 = {sum_zh} = {_n(result.score)}。",
        "en": f"{result.unit}: weights by {method_en}{left_en}; membership matrix R (rows: indicators; columns: "
        f"{names_en}): {rows_en}; B = W·R = {_vector(result.composite)}; largest membership {_n(top)} → "
        f"{result.grade.code}{tie_en}; fuzzy score = {sum_zh.replace('×', ' × ')} = {_n(result.score)}.",
    }
