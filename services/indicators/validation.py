"""Validation of a scheme body (评价方案): every problem at once, each with a path, a code and a message.

Pure: the catalog, the template and the cohort's unit kinds come in as plain data. The body format
is the scheme document of docs/contracts.md §5 (items name ``indicator: {code, version}``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Collection, Mapping
from typing import Any

from hotline.domain.scheme_settings import check_result_settings
from services.indicators.problems import Checker, IndicatorFacts, Problem, is_number, one_of
from services.indicators.rules import check_min_sample, check_rule

__all__ = ["IndicatorFacts", "Problem", "validate_scheme"]

KINDS = {"comprehensive": 1, "special": 3}  # kind → minimum months of data (spec 5.1.1.3, 5.1.2.3)
GRANULARITY_MONTHS = {"month": 1, "quarter": 3, "year": 12}
UNIT_KINDS = ("province_body", "city_body", "district", "undertaking_unit", "agent_team", "agent")
NA_POLICIES = ("rescale", "zero")
EXPERT_AGGREGATIONS = ("mean", "trimmed_mean")
DEFAULT_GRADE_BANDS = [
    {"code": "excellent", "name_zh": "优秀", "min": 90},
    {"code": "qualified", "name_zh": "合格", "min": 70},
    {"code": "needs_improvement", "name_zh": "待改进", "min": 0},
]
DEFAULT_APPEAL = {
    "window_days": 7, "max_appeals_per_result": 3, "max_indicators_per_appeal": 5, "escalation_days": 5,
    "decision_days": 15,
}  # fmt: skip
# Optional appeal settings with no value written into documents when absent (documents of schemes that do
# not name them stay as they were): whether a unit whose result another unit's appeal moved may appeal that
# consequence (default yes), and its window in days (default the appeal window).
OPTIONAL_APPEAL = {"peer_appeals": bool, "peer_window_days": int}
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TOP_LEVEL = {
    "code", "name_zh", "name_en", "kind", "template", "cohort", "period", "na_policy", "expert_aggregation",
    "rankings_public", "appeal", "grade_bands", "dimensions", "items", "min_applicable_share", "precision",
}  # fmt: skip


def validate_scheme(
    body: Any,
    *,
    indicators: Mapping[tuple[str, int], IndicatorFacts],
    template_items: Collection | None = None,
    cohort_kinds: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every problem of ``body`` at once (an empty list means the scheme can be published).

    ``template_items``: indicator codes of the scheme's template (a comprehensive scheme needs them
    all). ``cohort_kinds``: kind of each unit named by an explicit cohort (from the unit directory).
    """
    c = Checker()
    if not isinstance(body, Mapping):
        c.add("", "not_a_mapping", "a scheme must be a mapping of fields")
        return c.problems
    for name in sorted(set(body) - TOP_LEVEL):
        c.add(name, "unknown_field", f"unknown field {name!r}")
    code = body.get("code")
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        c.add("code", "invalid", "code must be 1–64 letters, digits, '-', '_' or '.', e.g. GD-12345-2025")
    if not isinstance(body.get("name_zh"), str) or not body["name_zh"].strip():
        c.add("name_zh", "required", "the scheme needs a Chinese name (name_zh)")
    kind = body.get("kind")
    if not one_of(kind, KINDS):
        c.add("kind", "invalid", "kind must be comprehensive (综合评价) or special (专项评价)")
    if kind == "comprehensive" and not body.get("template"):
        c.add("template", "required", "a comprehensive scheme names the template whose indicators it covers")
    cohort_kind = _check_cohort(c, body.get("cohort"), cohort_kinds)
    _check_period(c, body.get("period"), kind)
    _check_choices(c, body)
    for path, problem, message in check_result_settings(body):  # shared with scoring (hotline.domain)
        c.add(path, problem, message)
    _check_grade_bands(c, body.get("grade_bands"))
    _check_appeal(c, body.get("appeal"))
    _check_items(c, body, indicators, cohort_kind, cohort_kinds)
    if kind == "comprehensive" and template_items is not None and isinstance(body.get("items"), list):
        refs = [i.get("indicator") for i in body["items"] if isinstance(i, Mapping)]
        present = {r.get("code") for r in refs if isinstance(r, Mapping) and isinstance(r.get("code"), str)}
        for missing in sorted(set(template_items) - present):
            c.add(
                "items",
                "template_indicator_missing",
                f"a comprehensive scheme must include {missing!r} from its template",
            )
    return c.problems


def _check_cohort(c: Checker, cohort: Any, kinds: Mapping[str, str] | None) -> set[str]:
    """The unit kinds the cohort consists of (empty when it cannot be told)."""
    if not isinstance(cohort, Mapping) or ("kind" in cohort) == ("units" in cohort):
        c.add(
            "cohort", "invalid", "cohort is either {kind, under} (all units of a kind under a unit) or {units: [...]}"
        )
        return set()
    if "kind" in cohort:
        if not one_of(cohort["kind"], UNIT_KINDS):
            c.add("cohort.kind", "invalid", f"cohort kind must be one of {', '.join(UNIT_KINDS)}")
            return set()
        if cohort.get("under") is not None and not isinstance(cohort["under"], str):
            c.add("cohort.under", "invalid", "cohort.under is a unit id")
        return {cohort["kind"]}
    units = cohort["units"]
    if not isinstance(units, list) or not units or not all(isinstance(u, str) for u in units):
        c.add("cohort.units", "invalid", "cohort.units is a non-empty list of unit ids")
        return set()
    if len(set(units)) != len(units):
        c.add("cohort.units", "duplicate", "a unit is listed twice in the cohort")
    if kinds is None:
        return set()
    for i, unit in enumerate(units):
        if unit not in kinds:
            c.add(f"cohort.units[{i}]", "unknown_unit", f"unit {unit!r} does not exist or is outside your subtree")
    return {kinds[u] for u in units if u in kinds}


def _check_period(c: Checker, period: Any, kind: Any) -> None:
    if not isinstance(period, Mapping) or not one_of(period.get("granularity"), (*GRANULARITY_MONTHS, "custom")):
        c.add("period.granularity", "invalid", "period.granularity must be month, quarter, year or custom")
        return
    if period["granularity"] == "custom":
        months = period.get("months")
        if not isinstance(months, int) or isinstance(months, bool) or months < 1:
            c.add("period.months", "invalid", "a custom period gives its length in whole months (period.months ≥ 1)")
            return
    else:
        months = GRANULARITY_MONTHS[period["granularity"]]
        if period.get("months") not in (None, months):
            c.add("period.months", "inconsistent", f"a {period['granularity']} period is {months} month(s) long")
    minimum = KINDS.get(kind) if one_of(kind, KINDS) else None
    if minimum and months < minimum:
        label = "comprehensive (spec 5.1.1.3)" if kind == "comprehensive" else "special (spec 5.1.2.3)"
        c.add(
            "period",
            "period_too_short",
            f"a {label} scheme needs at least {minimum} continuous month(s) of data, not {months}",
        )


def _check_choices(c: Checker, body: Mapping) -> None:
    if not one_of(body.get("na_policy", "rescale"), NA_POLICIES):
        c.add("na_policy", "invalid", "na_policy is rescale (drop the points and scale the total) or zero")
    if not one_of(body.get("expert_aggregation", "mean"), EXPERT_AGGREGATIONS):
        c.add("expert_aggregation", "invalid", "expert_aggregation is mean or trimmed_mean")
    if not isinstance(body.get("rankings_public", False), bool):
        c.add("rankings_public", "invalid", "rankings_public is true or false")


def _check_grade_bands(c: Checker, bands: Any) -> None:
    if bands is None:
        return
    if not isinstance(bands, list) or not bands:
        c.add("grade_bands", "invalid", "grade_bands is a list of {code, name_zh, min}, best first")
        return
    mins, codes = [], set()
    for i, band in enumerate(bands):
        if (
            not isinstance(band, Mapping)
            or not band.get("code")
            or not band.get("name_zh")
            or not is_number(band.get("min"))
        ):
            c.add(f"grade_bands[{i}]", "invalid", "a grade band needs code, name_zh and a numeric min")
            continue
        if not isinstance(band["code"], str):
            c.add(f"grade_bands[{i}].code", "invalid", "a grade band's code is text")
            continue
        if band["code"] in codes:
            c.add(f"grade_bands[{i}].code", "duplicate", f"grade band {band['code']!r} appears twice")
        codes.add(band["code"])
        if not 0 <= band["min"] <= 100:
            c.add(f"grade_bands[{i}].min", "out_of_range", "a grade band's min is between 0 and 100")
        mins.append(band["min"])
    if any(a <= b for a, b in itertools.pairwise(mins)):
        c.add("grade_bands", "not_descending", "grade bands go from best to worst with strictly decreasing min")
    if mins and mins[-1] != 0:
        c.add("grade_bands", "gap", "the last grade band must start at 0 so that every total has a grade")


def _check_appeal(c: Checker, appeal: Any) -> None:
    if appeal is None:
        return
    if not isinstance(appeal, Mapping):
        c.add(
            "appeal",
            "invalid",
            "appeal is {window_days, max_appeals_per_result, max_indicators_per_appeal, escalation_days, decision_days,"
            " peer_appeals, peer_window_days}",
        )
        return
    for name in sorted(set(appeal) - set(DEFAULT_APPEAL) - set(OPTIONAL_APPEAL)):
        c.add(f"appeal.{name}", "unknown_parameter", f"appeal has no parameter {name!r}")
    if "peer_appeals" in appeal and not isinstance(appeal["peer_appeals"], bool):
        c.add("appeal.peer_appeals", "invalid", "appeal.peer_appeals is true or false")
    peer_days = appeal.get("peer_window_days", 1)
    if not isinstance(peer_days, int) or isinstance(peer_days, bool) or not 1 <= peer_days <= 90:
        c.add("appeal.peer_window_days", "out_of_range", "appeal.peer_window_days is a whole number from 1 to 90")
    for name, (low, high) in {
        "window_days": (1, 90), "max_appeals_per_result": (1, 50),
        "max_indicators_per_appeal": (1, 200), "escalation_days": (0, 90), "decision_days": (1, 90),
    }.items():  # fmt: skip
        value = appeal.get(name, DEFAULT_APPEAL[name])
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            c.add(f"appeal.{name}", "out_of_range", f"appeal.{name} is a whole number from {low} to {high}")


def _check_items(
    c: Checker,
    body: Mapping,
    indicators: Mapping[tuple[str, int], IndicatorFacts],
    cohort_kind: set[str],
    cohort_kinds: Mapping[str, str] | None,
) -> None:
    items = body.get("items")
    if not isinstance(items, list) or not items:
        c.add("items", "required", "a scheme scores at least one indicator")
        return
    seen: set[str] = set()
    by_points, by_weight, dimension_points = [], [], {}
    for i, item in enumerate(items):
        path = f"items[{i}]"
        if not isinstance(item, Mapping):
            c.add(path, "invalid", "an item is {indicator: {code, version}, points | weight, rule, reference}")
            continue
        for name in sorted(set(item) - {"indicator", "points", "weight", "rule", "reference", "min_sample"}):
            c.add(f"{path}.{name}", "unknown_field", f"an item has no field {name!r}")
        facts = _check_indicator_ref(c, path, item.get("indicator"), indicators, seen)
        share = _check_share(c, path, item, by_points, by_weight)
        if facts is not None:
            dimension_points[facts.dimension] = dimension_points.get(facts.dimension, 0) + (share or 0)
            for kind in sorted(cohort_kind - set(facts.levels)):
                c.add(
                    f"{path}.indicator",
                    "level_mismatch",
                    f"{facts.code} applies to {', '.join(facts.levels)}, not to the cohort's {kind} units",
                )
        check_rule(c, path, item.get("rule"), item.get("reference"), facts)
        check_min_sample(c, path, item.get("min_sample"))
    if by_points and by_weight:
        c.add("items", "mixed_points_and_weights", "give every item points, or every item a weight — not a mix")
    elif by_points and not math.isclose(sum(by_points), 100, abs_tol=1e-6):
        c.add("items", "points_not_100", f"the items' points add up to {sum(by_points):g}, not 100")
    elif by_weight and not math.isclose(sum(by_weight), 1, abs_tol=1e-6):
        c.add("items", "weights_not_1", f"the items' weights add up to {sum(by_weight):g}, not 1")
    _check_dimension_groups(c, body.get("dimensions"), dimension_points, bool(by_weight) and not by_points)


def _check_indicator_ref(
    c: Checker, path: str, ref: Any, indicators: Mapping[tuple[str, int], IndicatorFacts], seen: set[str]
) -> IndicatorFacts | None:
    if not isinstance(ref, Mapping) or not isinstance(ref.get("code"), str):
        c.add(f"{path}.indicator", "invalid", "an item names its indicator as {code, version}")
        return None
    code, version = ref["code"], ref.get("version")
    if ref["code"] in seen:
        c.add(f"{path}.indicator", "duplicate", f"indicator {code!r} is scored twice")
    seen.add(code)
    if not isinstance(version, int) or isinstance(version, bool):
        c.add(f"{path}.indicator.version", "required", f"pin a version of {code!r} (runs reproduce pinned versions)")
        return None
    facts = indicators.get((code, version))
    if facts is None:
        known = sorted(v for (k, v) in indicators if k == code)
        hint = f"; known versions: {', '.join(map(str, known))}" if known else ""
        c.add(
            f"{path}.indicator", "unknown_indicator_version", f"there is no indicator {code!r} version {version}{hint}"
        )
    return facts


def _check_share(c: Checker, path: str, item: Mapping, by_points: list, by_weight: list) -> float | None:
    points, weight = item.get("points"), item.get("weight")
    if (points is None) == (weight is None):
        c.add(path, "points_or_weight", "give the item either points or a weight")
        return None
    if points is not None:
        if not is_number(points) or points <= 0:
            c.add(f"{path}.points", "invalid", "points are a number above 0")
            return None
        by_points.append(points)
        return points
    if not is_number(weight) or not 0 < weight <= 1:
        c.add(f"{path}.weight", "invalid", "a weight is a number above 0 and at most 1")
        return None
    by_weight.append(weight)
    return weight * 100


def _check_dimension_groups(c: Checker, groups: Any, dimension_points: dict[str, float], weights: bool) -> None:
    if groups is None:
        return
    if not isinstance(groups, list) or not all(isinstance(g, Mapping) and g.get("code") for g in groups):
        c.add("dimensions", "invalid", "dimensions is a list of {code, points}")
        return
    declared = {}
    for i, group in enumerate(groups):
        if not is_number(group.get("points")) or group["points"] <= 0:
            c.add(f"dimensions[{i}].points", "invalid", "a dimension's points are a number above 0")
            continue
        declared[group["code"]] = group["points"]
    if declared and not math.isclose(sum(declared.values()), 100, abs_tol=1e-6):
        c.add("dimensions", "points_not_100", f"the dimensions' points add up to {sum(declared.values()):g}, not 100")
    for code, points in sorted(dimension_points.items()):
        if code not in declared:
            c.add(
                "dimensions",
                "undeclared_dimension",
                f"items score dimension {code!r}, which the scheme does not declare",
            )
        elif not math.isclose(points, declared[code], abs_tol=1e-6):
            unit = "weight × 100" if weights else "points"
            c.add(
                "dimensions",
                "dimension_points_mismatch",
                f"dimension {code!r} has {declared[code]:g} points but its items' {unit} add up to {points:g}",
            )
    for code in sorted(set(declared) - set(dimension_points)):
        c.add("dimensions", "empty_dimension", f"dimension {code!r} has points but no items")
