"""Plain-language explanations of an indicator score, in Chinese and English (the "why" of a score)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.scoring.reference_basis import no_qualifying_unit, reference_basis

NA_REASONS = {
    "division_by_zero": ("分母为零,指标不适用", "the denominator is zero, so the indicator does not apply"),
    "sample_below_minimum": ("样本量低于方案规定的最小样本,指标不适用", "the sample is below the scheme's minimum"),
    "no_expert_score": ("尚无专家评分", "no expert has scored it yet"),
    "no_data": ("数据源中没有该单位的数据", "the data source has no data for this unit"),
    "no_reference": ("无可用参照值(全体单位均不适用)", "there is no reference value (no unit was applicable)"),
}
POLICIES = {
    "best_in_cohort": ("评价范围内最优值", "the best value in the cohort"),
    "percentile": ("评价范围内的百分位值", "a percentile of the cohort's values"),
    "fixed": ("组织单位录入的全国优秀值", "a national-excellent value entered by the organizer"),
    "target": ("目标值", "the target value"),
    "dynamic_baseline": ("同类时期的历史动态基线", "a dynamic baseline from earlier periods of the same type"),
    "cohort_mean": ("评价范围内的平均值", "the mean value in the cohort"),
}
RULES = {
    "ratio_to_reference": ("得分 = 指标值 ÷ 参照值 × 分值", "score = value ÷ reference × points"),
    "threshold": ("达到目标值得满分,否则不得分", "full points when the target is met, otherwise none"),
    "linear_band": ("在下限与目标值之间按线性插值得分", "points scale linearly between the floor and the target"),
    "target_band": (
        "落在目标区间内得满分,超出区间按容差线性扣减",
        "full points inside the target band, falling linearly outside it over the tolerance",
    ),
    "deduction": (
        "每发生一次扣减相应分值(免扣次数除外)",
        "points are deducted per occurrence beyond the free occurrences",
    ),
    "expert": ("由专家评分(取平均或去极值平均)", "scored by experts (mean or trimmed mean)"),
}


def _n(value: Any) -> str:
    if value is None:
        return "—"
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return text or "0"


def explain_indicator(row: Mapping[str, Any]) -> dict[str, str]:
    """Two sentences-worth per language: value (and its parts), reference, rule, score."""
    ref = row["reference"]
    rule = row["rule"]
    params = ", ".join(f"{k}={_n(v)}" for k, v in sorted(rule["params"].items()))
    rule_zh, rule_en = RULES[rule["type"]]
    policy_zh, policy_en = POLICIES.get(ref["policy"], (ref["policy"], ref["policy"]))
    if row["direction"] == "lower_better":
        dir_zh, dir_en = "越低越好", "lower is better"
    elif row["direction"] == "target_band":
        dir_zh, dir_en = "落在区间内为好", "best inside a band"
    else:
        dir_zh, dir_en = "越高越好", "higher is better"
    parts_zh = parts_en = ""
    if row.get("numerator") is not None and row.get("denominator") is not None:
        parts_zh = f"(分子 {_n(row['numerator'])},分母 {_n(row['denominator'])})"
        parts_en = f" (numerator {_n(row['numerator'])}, denominator {_n(row['denominator'])})"
    set_by_zh = f",由 {ref['set_by']} 创造" if ref.get("set_by") else ""
    set_by_en = f", set by {ref['set_by']}" if ref.get("set_by") else ""
    if not row["applicable"]:
        reason_zh, reason_en = no_qualifying_unit(row) or NA_REASONS.get(
            row.get("na_reason") or "", ("不适用", "not applicable")
        )
        return {
            "zh": f"{row['name_zh']}:{reason_zh}。该项分值 {_n(row['points'])} 分按方案的不适用规则处理。",
            "en": f"{row['name_en']}: {reason_en}; its {_n(row['points'])} points are treated by the scheme's "
            "not-applicable policy.",
        }
    if ref["policy"] == "none":  # threshold, band, deduction and expert rules compare with no reference
        reference_zh, reference_en = "不设参照值", "no reference value is used"
    else:
        basis_zh, basis_en = reference_basis(ref)
        reference_zh = f"参照值 {_n(ref['value'])},取{policy_zh}{basis_zh}{set_by_zh}"
        reference_en = f"the reference is {_n(ref['value'])}, {policy_en}{basis_en}{set_by_en}"
    corrected_zh = "(经申诉更正)" if row.get("corrected") else ""
    corrected_en = " (corrected on appeal)" if row.get("corrected") else ""
    return {
        "zh": f"{row['name_zh']}({dir_zh})指标值 {_n(row['value'])}{corrected_zh}{parts_zh};"
        f"{reference_zh};"
        f"规则:{rule_zh}{'(' + params + ')' if params else ''};分值 {_n(row['points'])},得分 {_n(row['score'])}。",
        "en": f"{row['name_en']} ({dir_en}) was {_n(row['value'])}{corrected_en}{parts_en}; "
        f"{reference_en}; "
        f"rule: {rule_en}{' (' + params + ')' if params else ''}; "
        f"{_n(row['score'])} of {_n(row['points'])} points.",
    }
