"""Plain-language explanations of an indicator score, in Chinese and English, that a unit can check with a
calculator: the value with its unit, the reference named by its policy (and who set it), the formula the
rule actually applied with the numbers put in ("10 ÷ 20 × 20 = 10"), and, for a not-applicable row, why —
the uncovered measures, or the minimum-sample measure with the count found and the count needed.

``explain_indicator`` gives ``{"zh", "en", "calculation"}``: the two texts and the calculation as data
(``calculation.py``); every number in the calculation appears in both texts exactly as shown there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hotline.domain.measures import measure_catalog
from services.scoring.calculation import Calculation, calculate, number
from services.scoring.reference_basis import no_qualifying_unit, reference_basis

NA_REASONS = {
    "division_by_zero": ("分母为零,指标不适用", "the denominator is zero, so the indicator does not apply"),
    "sample_below_minimum": ("样本量低于方案规定的最小样本,指标不适用", "the sample is below the scheme's minimum"),
    "no_expert_score": ("待专家评分(尚无专家评分)", "awaiting expert scores (no expert has scored it yet)"),
    "no_data": ("数据源中没有该单位的数据", "the data source has no data for this unit"),
    "no_reference": ("无可用参照值(全体单位均不适用)", "there is no reference value (no unit was applicable)"),
}
# Units of an indicator's value (catalog ``unit``): what follows a number in each language.
UNITS = {
    "percent": ("%", "%"),
    "seconds": (" 秒", " s"),
    "hours": (" 小时", " h"),
    "count": (" 件", " (count)"),
    "per_10k": (" 件/万人", " per 10,000 residents"),
    "points": (" 分", " points"),
}
DIRECTIONS = {
    "lower_better": ("越低越好", "lower is better"),
    "target_band": ("落在区间内为好", "best inside a band"),
    "higher_better": ("越高越好", "higher is better"),
}
FIXED_LABEL = ("组织单位设定的固定值", "a fixed value set by the organizer")
TARGET_LABEL = ("方案设定的目标值", "the target value set by the scheme")
# How each reference policy is named (a fixed or target value: unless the scheme gives its own label).
POLICIES = {
    "best_in_cohort": ("评价范围内最优值", "the best value in the cohort"),
    "percentile": ("评价范围内的百分位值", "a percentile of the cohort's values"),
    "cohort_mean": ("评价范围内适用单位的平均值", "the mean value of the cohort's applicable units"),
    "fixed": FIXED_LABEL,
    "target": TARGET_LABEL,
    "dynamic_baseline": ("同类时期的历史动态基线", "a dynamic baseline from earlier periods of the same type"),
}


def with_unit(value: Any, unit: str) -> tuple[str, str]:
    """A number with its unit in Chinese and in English."""
    zh, en = UNITS.get(unit, ("", f" {unit}" if unit else ""))
    return f"{number(value)}{zh}", f"{number(value)}{en}"


def _measure(code: str) -> tuple[str, str]:
    known = measure_catalog().get(code)
    return (f"{known.name_zh}({code})", f"{known.name_en} ({code})") if known else (code, code)


def _reference(row: Mapping[str, Any]) -> tuple[str, str]:
    """The reference by its policy: what it is, where it came from, and who set it."""
    ref, unit = row["reference"], row["unit"]
    zh_value, en_value = with_unit(ref["value"], unit)
    policy, label = ref["policy"], row.get("reference_label") or {}
    basis_zh, basis_en = reference_basis(ref)  # the percentile taken, who could set it
    if policy == "best_in_cohort":
        by_zh = f",由 {ref['set_by']} 创造" if ref.get("set_by") else ""
        by_en = f", set by {ref['set_by']}" if ref.get("set_by") else ""
        return (
            f"参照值 {zh_value},为评价范围内最优值{basis_zh}{by_zh}",
            f"the reference is {en_value}, the best value in the cohort{basis_en}{by_en}",
        )
    if policy == "percentile":
        return (
            f"参照值 {zh_value},为评价范围内的百分位值{basis_zh}",
            f"the reference is {en_value}, a percentile of the cohort's values{basis_en}",
        )
    if policy == "cohort_mean":
        return (
            f"参照值 {zh_value},为评价范围内适用单位的平均值",
            f"the reference is {en_value}, the mean value of the cohort's applicable units",
        )
    if policy in ("fixed", "target"):
        default_zh, default_en = FIXED_LABEL if policy == "fixed" else TARGET_LABEL
        return (
            f"参照值 {zh_value},为{label.get('zh') or default_zh}",
            f"the reference is {en_value}, {label.get('en') or default_en}",
        )
    if policy == "dynamic_baseline":
        periods = "、".join(ref.get("periods") or [])
        return (
            f"参照值 {zh_value},为同类时期 {periods} 的历史动态基线(各期适用单位指标值的平均)",
            f"the reference is {en_value}, a dynamic baseline: the mean value of the applicable units in the "
            f"earlier periods of the same type {', '.join(ref.get('periods') or [])}",
        )
    return f"参照值 {zh_value}", f"the reference is {en_value}"


def _not_applicable(row: Mapping[str, Any]) -> dict[str, Any]:
    reason = row.get("na_reason") or ""
    zh, en = no_qualifying_unit(row) or NA_REASONS.get(reason, ("不适用", "not applicable"))
    detail: dict[str, Any] = {"reason": reason}
    if reason == "no_data" and row.get("uncovered"):
        names = [_measure(code) for code in row["uncovered"]]
        zh = f"数据源未覆盖该单位在本期的 {'、'.join(n[0] for n in names)},缺失的数据不按 0 计,指标不适用"
        en = (
            f"no source covered {', '.join(n[1] for n in names)} for this unit over the period; absent data is not "
            "a zero, so the indicator does not apply"
        )
        detail["uncovered"] = list(row["uncovered"])
    elif reason == "sample_below_minimum" and row.get("min_sample"):
        code, needed = row["min_sample"]["measure"], row["min_sample"]["count"]
        found = row["measures"].get(code)
        name_zh, name_en = _measure(code)
        zh = f"样本量不足:{name_zh} 为 {number(found)},低于方案规定的最小样本 {number(needed)},指标不适用"
        en = (
            f"the sample is too small: {name_en} was {number(found)}, below the scheme's minimum sample of "
            f"{number(needed)}, so it does not apply"
        )
        detail.update(measure=code, found=found, needed=needed)
    points = number(row["points"])
    return {
        "zh": f"{row['name_zh']}:{zh}。该项分值 {points} 分按方案的不适用规则处理。",
        "en": f"{row['name_en']}: {en}; its {points} points are treated by the scheme's not-applicable policy.",
        "calculation": {"applicable": False, **detail, "points": row["points"]},
    }


def explain_indicator(row: Mapping[str, Any]) -> dict[str, Any]:
    """The explanation of one indicator row (an engine row with its scheme-derived fields)."""
    if not row["applicable"]:
        return _not_applicable(row)
    zh_unit, en_unit = UNITS.get(row["unit"], ("", ""))
    calc: Calculation = calculate(row, (zh_unit, en_unit))
    dir_zh, dir_en = DIRECTIONS.get(row["direction"], DIRECTIONS["higher_better"])
    value_zh, value_en = with_unit(row["value"], row["unit"])
    parts_zh = parts_en = ""
    if row.get("numerator") is not None and row.get("denominator") is not None:
        parts_zh = f"(分子 {number(row['numerator'])},分母 {number(row['denominator'])})"
        parts_en = f" (numerator {number(row['numerator'])}, denominator {number(row['denominator'])})"
    corrected_zh = "(经申诉更正)" if row.get("corrected") else ""
    corrected_en = " (corrected on appeal)" if row.get("corrected") else ""
    if calc.uses_reference:
        reference_zh, reference_en = _reference(row)
    else:  # threshold, band, deduction and expert rules compare with no reference
        reference_zh, reference_en = "不设参照值", "no reference value is used"
    points, score = number(row["points"]), number(row["score"])
    return {
        "zh": f"{row['name_zh']}({dir_zh})指标值 {value_zh}{corrected_zh}{parts_zh};{reference_zh};"
        f"规则:{calc.zh};分值 {points},得分 {score}。",
        "en": f"{row['name_en']} ({dir_en}) was {value_en}{corrected_en}{parts_en}; {reference_en}; "
        f"rule: {calc.en}; {score} of {points} points.",
        "calculation": calc.data,
    }


def explain_withheld(head: Mapping[str, Any]) -> dict[str, Any] | None:
    """Why a unit's total, grade and rank are withheld (outcome format 3, ``totals``); None when they are not."""
    reason = head.get("withheld")
    if reason is None:
        return None
    share, minimum = head.get("applicable_share") or 0.0, head.get("min_applicable_share") or 0.0
    if reason == "nothing_applicable":
        zh, en = "本期没有适用于该单位的指标", "no indicator applies to this unit in this period"
    elif reason == "no_applicable_data":
        zh = "该单位没有适用的数据类指标(数据缺失或不适用,专家评分不能单独构成总分)"
        en = "no data-driven indicator applies to this unit (data absent or not applicable; expert scores alone make no total)"
    else:
        zh = (
            f"适用指标的分值占方案总分值的 {number(share * 100)}%,低于方案规定的最低比例 {number(minimum * 100)}%,"
            "缺失部分过多,不能按适用分值折算"
        )
        en = (
            f"its applicable indicators carry {number(share * 100)}% of the scheme's points, less than the scheme's "
            f"minimum of {number(minimum * 100)}%: too much is missing to scale the total up"
        )
    return {
        "zh": f"{zh},不计总分、等级和排名。",
        "en": f"{en}, so it has no total, grade or rank.",
        "calculation": {"reason": reason, "applicable_share": share, "min_applicable_share": minimum},
    }
