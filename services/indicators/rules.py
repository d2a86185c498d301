"""Scoring rules and reference policies of a scheme item, and the checks of their parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hotline.domain.measures import measure_codes
from hotline.domain.scheme_settings import LABELLED_POLICIES, check_reference_labels
from services.indicators.problems import Checker, IndicatorFacts, is_number, one_of

RULE_PARAMS: dict[str, dict[str, bool]] = {  # rule → parameter → required
    "ratio_to_reference": {},
    "threshold": {"target": True},
    "linear_band": {"floor": True, "target": True, "relative": False},
    "target_band": {"low": True, "high": True, "tolerance": True},
    "deduction": {"per_occurrence": True, "free_occurrences": False},
    "expert": {},
}
REFERENCE_PARAMS: dict[str, dict[str, bool]] = {
    "best_in_cohort": {"min_sample": False},
    "percentile": {"percentile": True, "min_sample": False},
    "cohort_mean": {},
    "fixed": {"value": True, "label_zh": False, "label_en": False},  # labels: how explanations name the value
    "target": {"value": True, "label_zh": False, "label_en": False},
    "dynamic_baseline": {"lookback_periods": True, "match": False, "peak_months": False},
    "none": {},
}
# What an earlier period must share with the evaluated one to count toward a dynamic baseline (contracts §5):
# its type — peak (most of its months in ``peak_months``, e.g. 12366's filing season) or normal — and/or the same
# calendar months. Seed 000 also names business types (个税咨询/企业申报); the measure catalog has no measures
# split by business type, so a baseline by business type cannot be computed and is refused.
BASELINE_MATCH = ("period_type", "same_months")


def check_rule(c: Checker, path: str, rule: Any, reference: Any, facts: IndicatorFacts | None) -> None:
    if not isinstance(rule, Mapping) or not one_of(rule.get("type"), RULE_PARAMS):
        c.add(f"{path}.rule.type", "invalid", f"rule.type must be one of {', '.join(RULE_PARAMS)}")
        return
    kind = rule["type"]
    c.params(f"{path}.rule", rule, RULE_PARAMS[kind], f"rule {kind}")
    for name in RULE_PARAMS[kind]:
        if name != "relative" and rule.get(name) is not None and not is_number(rule[name]):
            c.add(f"{path}.rule.{name}", "invalid", f"rule parameter {name!r} is a number")
    numbers = {k: v for k, v in rule.items() if is_number(v)}
    policy = check_reference(c, path, reference)
    if kind == "linear_band" and {"floor", "target"} <= set(numbers):
        lower = facts is not None and facts.direction == "lower_better"
        if numbers["floor"] == numbers["target"] or (numbers["floor"] > numbers["target"]) != lower:
            want = "above" if lower else "below"
            c.add(f"{path}.rule", "inconsistent", f"for this indicator the band's floor must be {want} its target")
    if kind == "target_band" and {"low", "high"} <= set(numbers) and numbers["low"] >= numbers["high"]:
        c.add(f"{path}.rule", "inconsistent", "a target band's low must be below its high")
    if kind == "target_band" and numbers.get("tolerance", 0) < 0:
        c.add(f"{path}.rule.tolerance", "invalid", "tolerance is 0 or more")
    if kind == "deduction" and numbers.get("per_occurrence", 1) <= 0:
        c.add(f"{path}.rule.per_occurrence", "invalid", "a deduction per occurrence is above 0")
    if kind == "deduction" and rule.get("free_occurrences") is not None:
        free = rule["free_occurrences"]
        if not isinstance(free, int) or isinstance(free, bool) or free < 0:
            c.add(f"{path}.rule.free_occurrences", "invalid", "free_occurrences is a whole number, 0 or more")
    needs_reference = kind == "ratio_to_reference" or (kind == "linear_band" and rule.get("relative"))
    if needs_reference and policy == "none":
        c.add(f"{path}.reference", "reference_required", f"rule {kind} compares with a reference; choose a policy")
    if facts is None:
        return
    if facts.method == "reported_expert" and kind != "expert":
        c.add(f"{path}.rule", "expert_only", f"{facts.code} is reported and expert-scored; its rule is expert")
    elif not facts.has_formula and kind != "expert":
        # A run could never give it a value: only experts can (scoring would have no formula to compute).
        c.add(
            f"{path}.rule",
            "expert_only",
            f"{facts.code} has no formula over measures, so no run can compute it; its rule is expert",
        )
    if kind == "target_band" and facts.direction != "target_band":
        c.add(f"{path}.rule", "inconsistent", f"{facts.code} is {facts.direction}; a target band suits band indicators")
    if kind == "deduction" and facts.unit != "count":
        c.add(
            f"{path}.rule", "inconsistent", f"a deduction counts occurrences; {facts.code} is measured in {facts.unit}"
        )


def check_reference(c: Checker, path: str, reference: Any) -> str | None:
    if reference is None:
        return "none"
    if not isinstance(reference, Mapping) or not one_of(reference.get("policy"), REFERENCE_PARAMS):
        c.add(f"{path}.reference.policy", "invalid", f"reference.policy must be one of {', '.join(REFERENCE_PARAMS)}")
        return None
    policy = reference["policy"]
    c.params(f"{path}.reference", reference, REFERENCE_PARAMS[policy], f"reference {policy}")
    if policy in LABELLED_POLICIES:  # other policies' labels are unknown parameters (above)
        for key, problem, message in check_reference_labels(reference):
            c.add(f"{path}.reference.{key}", problem, message)
    if policy in ("fixed", "target") and reference.get("value") is not None and not is_number(reference["value"]):
        c.add(f"{path}.reference.value", "invalid", "the reference value is a number")
    if policy == "fixed" and is_number(reference.get("value")) and reference["value"] == 0:
        c.add(f"{path}.reference.value", "invalid", "a fixed reference of 0 makes every ratio not applicable")
    if policy == "percentile" and reference.get("percentile") is not None:
        p = reference["percentile"]
        if not is_number(p) or not 0 < p <= 100:
            c.add(f"{path}.reference.percentile", "invalid", "percentile is a number above 0 and at most 100, e.g. 90")
    if policy in ("best_in_cohort", "percentile"):  # who may set the reference: units with this sample
        check_min_sample(c, f"{path}.reference", reference.get("min_sample"))
    if policy == "dynamic_baseline":
        lookback = reference.get("lookback_periods")
        if lookback is not None and (not isinstance(lookback, int) or isinstance(lookback, bool) or lookback < 1):
            c.add(f"{path}.reference.lookback_periods", "invalid", "lookback_periods is a whole number, 1 or more")
        match = reference.get("match", [])
        if isinstance(match, list) and "business_type" in match:
            c.add(
                f"{path}.reference.match",
                "unsupported",
                "a baseline by business type needs measures split by "
                "business type, which the measure catalog does not have; match lists period_type, same_months",
            )
        elif not isinstance(match, list) or any(not one_of(m, BASELINE_MATCH) for m in match):
            c.add(f"{path}.reference.match", "invalid", f"match lists any of {', '.join(BASELINE_MATCH)}")
        peaks = reference.get("peak_months")
        if peaks is not None and (
            not isinstance(peaks, list) or not peaks
            or any(not isinstance(m, int) or isinstance(m, bool) or not 1 <= m <= 12 for m in peaks)
        ):  # fmt: skip
            c.add(
                f"{path}.reference.peak_months", "invalid", "peak_months lists calendar months 1–12, e.g. [3, 4, 5, 6]"
            )
        elif isinstance(match, list) and "period_type" in match and not peaks:
            c.add(
                f"{path}.reference.peak_months",
                "required",
                "match by period_type needs the peak months "
                "(e.g. the filing season [3, 4, 5, 6]) to tell a peak period from a normal one",
            )
    return policy


def check_min_sample(c: Checker, path: str, sample: Any) -> None:
    if sample is None:
        return
    if not isinstance(sample, Mapping):
        c.add(f"{path}.min_sample", "invalid", "min_sample is {measure, count}")
        return
    if not one_of(sample.get("measure"), measure_codes()):
        c.add(f"{path}.min_sample.measure", "unknown_measure", f"unknown measure {sample.get('measure')!r}")
    count = sample.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        c.add(f"{path}.min_sample.count", "invalid", "min_sample.count is a whole number, 1 or more")
