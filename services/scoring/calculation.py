"""The calculation behind an applicable indicator score, as a unit redoes it with a calculator: the formula
the rule applied (for its direction), the displayed numbers put into it, and the result.

Every number is taken as displayed (values and references to 4 places, the score as stored), so the
expression evaluated by hand gives the score up to the rounding of those numbers. The engine scores
from the unrounded value; ``rules.py`` is the arithmetic, this module only shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.scoring.numbers import PLACES, rnd

RULE_NAMES = {
    "ratio_to_reference": ("与参照值之比", "ratio to the reference"),
    "threshold": ("达到目标值得满分,否则不得分", "full points when the target is met, otherwise none"),
    "linear_band": ("在下限与目标值之间线性计分", "points scale linearly from the floor to the target"),
    "target_band": (
        "目标区间内得满分,区间外按容差线性扣减",
        "full points inside the band, falling linearly over the tolerance",
    ),
    "deduction": ("按次扣分", "points off per occurrence"),
    "expert": ("专家评分", "scored by experts"),
}


def number(value: Any) -> str:
    """A number as every explanation shows it: up to 6 decimals, trailing zeros dropped (scores are stored
    to the scheme's precision, values to 4 places, so nothing is cut that was kept)."""
    if value is None:
        return "—"
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@dataclass
class Calculation:
    """The rule's calculation in both languages and as data (the numbers the texts show)."""

    zh: str
    en: str
    data: dict[str, Any] = field(default_factory=dict)
    uses_reference: bool = False


def _shown(value: float | None) -> float | None:
    return rnd(value, PLACES)


def _formula(
    calc: dict, name: str, zh: str, en: str, expression: str, raw: float, points: float, score: float
) -> tuple[str, str]:
    """``name: score = formula = expression = result`` with the bound applied when the result leaves [0, points]."""
    bound_zh = bound_en = ""
    result = score
    if raw > points and score == points:
        result, calc["bounded"] = _shown(raw), "points"
        bound_zh, bound_en = f",超过分值,得 {number(points)} 分", f", more than the points, so {number(points)}"
    elif raw < 0 and score == 0:
        result, calc["bounded"] = _shown(raw), "zero"
        bound_zh, bound_en = ",低于 0,得 0 分", ", below 0, so 0"
    calc.update(formula_zh=zh, formula_en=en, expression=expression, result=result)
    name_zh, name_en = RULE_NAMES[name]
    return (
        f"{name_zh},得分 = {zh} = {expression} = {number(result)}{bound_zh}",
        f"{name_en}, score = {en} = {expression} = {number(result)}{bound_en}",
    )


def _ratio(row: Mapping[str, Any], calc: dict) -> tuple[str, str]:
    v, r, p, s = row["value"], _shown(row["reference"]["value"]), row["points"], row["score"]
    calc["reference"] = r
    if row["direction"] == "lower_better":
        if v <= 0:
            return (
                f"与参照值之比,指标值为 {number(v)},越低越好时为最优,得满分 {number(p)} 分",
                f"ratio to the reference; a value of {number(v)} is the best possible, so the full {number(p)} points",
            )
        expression = f"{number(r)} ÷ {number(v)} × {number(p)}"
        return _formula(calc, "ratio_to_reference", "参照值 ÷ 指标值 × 分值", "reference ÷ value × points",
                        expression, r / v * p, p, s)  # fmt: skip
    if r <= 0:
        op = "≥" if v >= r else "<"
        return (
            f"与参照值之比;参照值不大于 0 时,指标值不低于参照值得满分,否则不得分:{number(v)} {op} {number(r)},得 {number(s)} 分",
            f"ratio to the reference; with a reference of 0 or less, full points when the value is at least the "
            f"reference, otherwise none: {number(v)} {op} {number(r)}, so {number(s)} points",
        )
    expression = f"{number(v)} ÷ {number(r)} × {number(p)}"
    return _formula(calc, "ratio_to_reference", "指标值 ÷ 参照值 × 分值", "value ÷ reference × points",
                    expression, v / r * p, p, s)  # fmt: skip


def _threshold(row: Mapping[str, Any], calc: dict) -> tuple[str, str]:
    v, p, s, t = row["value"], row["points"], row["score"], row["rule"]["params"]["target"]
    lower = row["direction"] == "lower_better"
    met = s == p  # as the engine judged the unrounded value
    op = ("≤" if met else ">") if lower else ("≥" if met else "<")
    calc.update(target=t, met=met, comparison=op)
    name_zh, name_en = RULE_NAMES["threshold"]
    return (
        f"{name_zh}:指标值 {number(v)} {op} 目标值 {number(t)},得 {number(s)} 分",
        f"{name_en}: {number(v)} {op} the target {number(t)}, so {number(s)} points",
    )


def _linear_band(row: Mapping[str, Any], calc: dict) -> tuple[str, str]:
    params = row["rule"]["params"]
    v, p, s = row["value"], row["points"], row["score"]
    floor, target = params["floor"], params["target"]
    prefix_zh = prefix_en = ""
    if params.get("relative"):
        r = _shown(row["reference"]["value"])
        calc.update(reference=r, floor_percent=floor, target_percent=target)
        floor_pct, target_pct = floor, target
        floor, target = _shown(r * floor_pct / 100), _shown(r * target_pct / 100)
        calc["steps"] = [
            {"name": "floor", "expression": f"{number(r)} × {number(floor_pct)} ÷ 100", "result": floor},
            {"name": "target", "expression": f"{number(r)} × {number(target_pct)} ÷ 100", "result": target},
        ]
        prefix_zh = (
            f"下限 = 参照值 × {number(floor_pct)} ÷ 100 = {number(r)} × {number(floor_pct)} ÷ 100 = {number(floor)},"
            f"目标值 = 参照值 × {number(target_pct)} ÷ 100 = {number(r)} × {number(target_pct)} ÷ 100 = {number(target)};"
        )
        prefix_en = (
            f"floor = reference × {number(floor_pct)} ÷ 100 = {number(r)} × {number(floor_pct)} ÷ 100 = {number(floor)}, "
            f"target = reference × {number(target_pct)} ÷ 100 = {number(r)} × {number(target_pct)} ÷ 100 = "
            f"{number(target)}; "
        )
    calc.update(floor=floor, target=target)
    if target == floor:  # a band of no width is a threshold
        lower, met = row["direction"] == "lower_better", s == p
        op = ("≤" if met else ">") if lower else ("≥" if met else "<")
        calc.update(met=met, comparison=op)
        return (
            f"{prefix_zh}下限与目标值相同,达到即得满分:指标值 {number(v)} {op} 目标值 {number(target)},得 {number(s)} 分",
            f"{prefix_en}the floor equals the target, so full points when it is met: {number(v)} {op} the target "
            f"{number(target)}, so {number(s)} points",
        )
    expression = f"({number(v)} − {number(floor)}) ÷ ({number(target)} − {number(floor)}) × {number(p)}"
    zh, en = _formula(calc, "linear_band", "(指标值 − 下限) ÷ (目标值 − 下限) × 分值",
                      "(value − floor) ÷ (target − floor) × points", expression,
                      (v - floor) / (target - floor) * p, p, s)  # fmt: skip
    return prefix_zh + zh, prefix_en + en


def _target_band(row: Mapping[str, Any], calc: dict, unit: tuple[str, str]) -> tuple[str, str]:
    params = row["rule"]["params"]
    v, p, s = row["value"], row["points"], row["score"]
    low, high, tolerance = params["low"], params["high"], params.get("tolerance", 0.0)
    calc.update(low=low, high=high, tolerance=tolerance)
    u_zh, u_en = unit
    band_zh = f"目标区间 {number(low)}–{number(high)}{u_zh}"
    band_en = f"the band {number(low)}–{number(high)}{u_en}"
    if low <= v <= high:
        calc["distance"] = 0.0
        return (
            f"{band_zh}内得满分:指标值 {number(v)}{u_zh} 在区间内,得满分 {number(p)} 分",
            f"full points inside {band_en}: {number(v)}{u_en} is inside it, so the full {number(p)} points",
        )
    edge, expression = (low, f"{number(low)} − {number(v)}") if v < low else (high, f"{number(v)} − {number(high)}")
    distance = _shown(abs(v - edge))
    calc["distance"] = distance
    calc["steps"] = [{"name": "distance", "expression": expression, "result": distance}]
    outside_zh = f"{band_zh},指标值 {number(v)}{u_zh} 在区间外,偏离 = {expression} = {number(distance)}{u_zh}"
    outside_en = f"{band_en}; {number(v)}{u_en} is outside it by {expression} = {number(distance)}{u_en}"
    if tolerance <= 0:
        return f"{outside_zh};容差为 0,区间外不得分,得 0 分", f"{outside_en}; with no tolerance, outside means 0 points"
    expression = f"(1 − {number(distance)} ÷ {number(tolerance)}) × {number(p)}"
    zh, en = _formula(calc, "target_band", "(1 − 偏离 ÷ 容差) × 分值", "(1 − distance ÷ tolerance) × points",
                      expression, (1 - distance / tolerance) * p, p, s)  # fmt: skip
    return (
        f"{outside_zh},容差 {number(tolerance)}{u_zh};{zh}",
        f"{outside_en}, tolerance {number(tolerance)}{u_en}; {en}",
    )


def _deduction(row: Mapping[str, Any], calc: dict) -> tuple[str, str]:
    params = row["rule"]["params"]
    v, p, s = row["value"], row["points"], row["score"]
    per, free = params["per_occurrence"], params.get("free_occurrences", 0.0)
    calc.update(occurrences=v, per_occurrence=per, free_occurrences=free)
    free_zh = f",免扣 {number(free)} 次" if free else ""
    free_en = f" beyond {number(free)} free" if free else ""
    if v <= free:
        return (
            f"每次扣 {number(per)} 分{free_zh}:发生 {number(v)} 次,不扣分,得满分 {number(p)} 分",
            f"{number(per)} points off per occurrence{free_en}: {number(v)} occurred, nothing off, so the full "
            f"{number(p)} points",
        )
    if free:
        formula = ("分值 − (次数 − 免扣次数) × 每次扣分", "points − (occurrences − free) × points per occurrence")
        expression, raw = f"{number(p)} − ({number(v)} − {number(free)}) × {number(per)}", p - (v - free) * per
    else:
        formula = ("分值 − 次数 × 每次扣分", "points − occurrences × points per occurrence")
        expression, raw = f"{number(p)} − {number(v)} × {number(per)}", p - v * per
    zh, en = _formula(calc, "deduction", *formula, expression, raw, p, s)
    return (
        f"每次扣 {number(per)} 分{free_zh},发生 {number(v)} 次;{zh}",
        f"{number(per)} points off per occurrence{free_en}, {number(v)} occurred; {en}",
    )


def _expert(row: Mapping[str, Any], calc: dict) -> tuple[str, str]:
    v, p, s = row["value"], row["points"], row["score"]
    scores = sorted(e["score"] for e in row.get("experts") or [])
    aggregation = row.get("aggregation") or "mean"
    calc.update(experts=scores, aggregation=aggregation)
    name_zh, name_en = RULE_NAMES["expert"]
    if row.get("corrected") or not scores:
        head_zh, head_en = f"申诉复核更正的专家评分 {number(v)}", f"the expert score corrected on appeal, {number(v)}"
        expression, raw = number(v), v
    else:
        used = scores[1:-1] if aggregation == "trimmed_mean" and len(scores) >= 3 else scores
        listed = "、".join(number(x) for x in scores)
        head_zh = f"{len(scores)} 位专家评分 {listed}"
        head_en = f"of the {len(scores)} experts' scores {', '.join(number(x) for x in scores)}"
        if used is not scores:
            head_zh += f",去掉最高分 {number(scores[-1])} 与最低分 {number(scores[0])} 后取平均"
            head_en = (
                f"the mean without the highest, {number(scores[-1])}, and the lowest, {number(scores[0])}, {head_en}"
            )
        else:
            head_zh, head_en = head_zh + ",取平均", f"the mean {head_en}"
        expression = f"({' + '.join(number(x) for x in used)}) ÷ {len(used)}" if len(used) > 1 else number(used[0])
        raw = sum(used) / len(used)
        calc["used"] = used
    calc.update(expression=expression, result=_shown(raw))
    tail_zh = tail_en = ""
    if raw > p and s == p:
        calc["bounded"] = "points"
        tail_zh, tail_en = f",超过分值,得 {number(p)} 分", f", more than the points, so {number(p)}"
    return (
        f"{name_zh}:{head_zh} = {expression} = {number(_shown(raw))}{tail_zh}",
        f"{name_en}: {head_en} = {expression} = {number(_shown(raw))}{tail_en}",
    )


def calculate(row: Mapping[str, Any], unit: tuple[str, str] = ("", "")) -> Calculation:
    """The calculation of an applicable row (``unit``: how the value's unit is written in each language)."""
    kind = row["rule"]["type"]
    calc: dict[str, Any] = {
        "applicable": True, "rule": kind, "direction": row["direction"], "value": row["value"],
        "points": row["points"], "score": row["score"], "bounded": None,
    }  # fmt: skip
    if kind == "ratio_to_reference":
        zh, en = _ratio(row, calc)
    elif kind == "threshold":
        zh, en = _threshold(row, calc)
    elif kind == "linear_band":
        zh, en = _linear_band(row, calc)
    elif kind == "target_band":
        zh, en = _target_band(row, calc, unit)
    elif kind == "deduction":
        zh, en = _deduction(row, calc)
    else:
        zh, en = _expert(row, calc)
    uses_reference = "reference" in calc
    return Calculation(zh=zh, en=en, data=calc, uses_reference=uses_reference)
