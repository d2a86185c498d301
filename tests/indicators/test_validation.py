"""Pure scheme logic, without a database: validation, templates, differences, access."""

from __future__ import annotations

import copy
import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.kit.auth import Principal, Role
from hotline.kit.scope import Scope
from services.indicators.access import UnitInfo, can_manage, can_read_version, cohort_includes
from services.indicators.catalog import builtin_catalog
from services.indicators.documents import diff_bodies, parse_yaml, scheme_body_from_document
from services.indicators.templates import builtin_templates, scheme_body_from_template
from services.indicators.validation import TOP_LEVEL, IndicatorFacts, validate_scheme

CATALOG = builtin_catalog()
FACTS = {
    (i.code, 1): IndicatorFacts(
        i.code, 1, i.dimension, i.method, i.unit, i.direction, i.levels, has_formula=i.formula is not None
    )
    for i in CATALOG.indicators
}
LATEST = {i.code: 1 for i in CATALOG.indicators}
TEMPLATES = {t["code"]: t for t in builtin_templates()}


def body_of(template: str) -> dict:
    return scheme_body_from_template(TEMPLATES[template], 1, LATEST, code="T-1", name_zh="测试方案")


def problems(body: dict, template: str | None = None) -> list[tuple[str, str, str]]:
    items = [i["indicator"] for i in TEMPLATES[template]["items"]] if template else None
    return [(p.path, p.code, p.message) for p in validate_scheme(body, indicators=FACTS, template_items=items)]


def test_every_builtin_template_is_a_valid_scheme_and_keeps_the_seed_weights():
    for code in TEMPLATES:
        assert problems(body_of(code), code) == [], code
    weights = {t: [d["points"] for d in TEMPLATES[t]["dimensions"]] for t in TEMPLATES}
    assert weights["call_centre_kpi"] == [40, 30, 20, 10]
    assert weights["enterprise_service"] == [60, 20, 20]
    provincial = {i["indicator"] for i in TEMPLATES["gb12345_provincial"]["items"]}
    assert provincial == {i.code for i in CATALOG.indicators if i.standard == "gb12345"}


def test_weights_instead_of_points():
    body = body_of("call_centre_kpi")
    for item in body["items"]:
        item["weight"] = item.pop("points") / 100
    assert problems(body) == []
    body["items"][0]["weight"] = 0.5
    assert ("items", "weights_not_1", "the items' weights add up to 1.42, not 1") in problems(body)


def test_many_mistakes_come_back_together():
    body = body_of("call_centre_kpi")
    body.pop("template")
    body.update(kind="comprehensive", period={"granularity": "week"}, na_policy="skip", grade_bands=[
        {"code": "a", "name_zh": "优", "min": 70}, {"code": "b", "name_zh": "良", "min": 80},
    ], appeal={"window_days": 0, "forever": True}, cohort={"kind": "agent", "units": ["X"]})  # fmt: skip
    body["items"][0]["rule"] = {"type": "ratio_to_reference", "target": 85}
    body["items"][1]["reference"] = {"policy": "fixed"}
    body["items"][2]["rule"] = {"type": "deduction", "per_occurrence": -1}
    body["items"][3]["min_sample"] = {"measure": "surveys.nothing", "count": 0}
    body["items"][4]["points"] = 0
    found = {(path, code) for path, code, _ in problems(body)}
    assert {
        ("template", "required"), ("period.granularity", "invalid"), ("na_policy", "invalid"),
        ("grade_bands", "not_descending"), ("grade_bands", "gap"), ("appeal.window_days", "out_of_range"),
        ("appeal.forever", "unknown_parameter"), ("cohort", "invalid"), ("items[0].rule.target", "unknown_parameter"),
        ("items[0].reference", "reference_required"), ("items[1].reference.value", "missing_parameter"),
        ("items[2].rule.per_occurrence", "invalid"), ("items[2].rule", "inconsistent"),
        ("items[3].min_sample.measure", "unknown_measure"), ("items[3].min_sample.count", "invalid"),
        ("items[4].points", "invalid"),
    } <= found  # fmt: skip


def test_expert_only_indicators_and_periods():
    body = body_of("enterprise_service")
    body["items"][4]["rule"] = {"type": "ratio_to_reference"}  # es_service_cost is reported by experts
    body["period"] = {"granularity": "month"}
    messages = {m for _, _, m in problems(body)}
    assert "es_service_cost is reported and expert-scored; its rule is expert" in messages
    assert "a special (spec 5.1.2.3) scheme needs at least 3 continuous month(s) of data, not 1" in messages


def test_an_item_no_run_could_compute_is_refused_at_its_path():
    body = body_of("call_centre_kpi")
    # An indicator version without a formula that is not marked reported (say, stored before the catalog's check):
    # only experts can give it a value, so any other rule could never be computed by a run.
    facts = {**FACTS, ("cc_answer_rate", 1): dataclasses.replace(FACTS[("cc_answer_rate", 1)], has_formula=False)}
    found = [(p.path, p.code, p.message) for p in validate_scheme(body, indicators=facts)]
    message = "cc_answer_rate has no formula over measures, so no run can compute it; its rule is expert"
    assert found == [("items[0].rule", "expert_only", message)]
    body["items"][0].update(rule={"type": "expert"}, reference={"policy": "none"})
    assert validate_scheme(body, indicators=facts) == []


def test_diff_between_versions():
    old = body_of("gb12345_provincial")
    new = copy.deepcopy(old)
    new["items"][0]["points"] = 4
    new["items"][1]["points"] = 1
    new["items"] = [i for i in new["items"] if i["indicator"]["code"] != "returned_for_redo"]
    new["appeal"] = {"window_days": 10}
    changes = [(c.path, c.change, c.before, c.after) for c in diff_bodies(old, new)]
    assert ("appeal.window_days", "changed", 7, 10) in changes
    assert ("items[answer_rate].points", "changed", 3, 4) in changes
    assert ("items[average_answer_wait].points", "changed", 2, 1) in changes
    assert any(p == "items[returned_for_redo]" and c == "removed" for p, c, _, _ in changes)
    assert diff_bodies(old, copy.deepcopy(old)) == []


def test_yaml_errors_are_precise():
    _, found = parse_yaml("code: x\nitems: [a, b\n")
    assert found[0].code == "yaml_syntax" and "line 3" in found[0].message
    body, _ = scheme_body_from_document(
        {"id": "x", "status": "published", "items": [{"indicator": {"code": "a", "version": 2, "name_zh": "甲"}}]}
    )
    assert body == {"items": [{"indicator": {"code": "a", "version": 2}}]}


def test_access_rules():
    province = Principal("p", "GD", frozenset({Role.ORGANIZER}))
    viewer = Principal("v", "GD-GZ", frozenset({Role.UNIT}))
    gd, gz = Scope("GD", "GD"), Scope("GD-GZ", "GD/GD-GZ")
    city = UnitInfo("GD-GZ", "city_body", "GD/GD-GZ")
    cohort = {"kind": "city_body", "under": "GD"}
    assert can_manage(province, gd, "GD") and not can_manage(viewer, gz, "GD-GZ")
    assert not can_manage(Principal("o", "GD-GZ", frozenset({Role.ORGANIZER})), gz, "GD")
    assert cohort_includes(cohort, city, "GD") and not cohort_includes(cohort, city, "GD/GD-SZ")
    assert cohort_includes({"units": ["GD-GZ"]}, city, None)
    assert not cohort_includes({"kind": "district"}, city, "GD")
    read = {"organizer_path": "GD", "cohort": cohort, "under_path": "GD"}
    assert can_read_version(viewer, gz, city, status="published", **read)
    assert not can_read_version(viewer, gz, city, status="draft", **read)
    housing = UnitInfo("GZ-HOUSING", "undertaking_unit", "GD/GD-GZ/GZ-HOUSING")
    assert not can_read_version(viewer, Scope("GZ-HOUSING", housing.path), housing, status="published", **read)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
FIELDS = st.sampled_from(sorted(TOP_LEVEL))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(FIELDS, JSON_VALUES, max_size=8))
def test_validation_never_crashes_on_arbitrary_json(body):
    assert isinstance(validate_scheme(body, indicators=FACTS, template_items=["answer_rate"], cohort_kinds={}), list)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=44),
    st.sampled_from(["indicator", "points", "rule", "reference", "min_sample"]),
    JSON_VALUES,
)
def test_validation_never_crashes_on_a_mangled_item(index, field, value):
    body = body_of("gb12345_provincial")
    body["items"][index][field] = value
    assert isinstance(validate_scheme(body, indicators=FACTS), list)


def test_a_service_acting_for_the_organizer_reads_published_versions_only():
    scoring = Principal("service:scoring", "GD", frozenset({Role.SERVICE}), internal=True)
    user_with_role = Principal("u", "GD", frozenset({Role.SERVICE}))
    read = {"organizer_path": "GD", "cohort": {"kind": "city_body"}, "under_path": "GD"}
    assert can_read_version(scoring, Scope("GD", "GD"), None, status="published", **read)
    assert not can_read_version(scoring, Scope("GD", "GD"), None, status="draft", **read)
    assert not can_read_version(scoring, Scope("GD-SZ", "GD/GD-SZ"), None, status="published", **read)
    # The visibility policy (issue 15): any caller whose subtree holds the organizer — a viewer, a reviewer, an
    # expert, a user token claiming the service role — reads the published versions (the runs it sees were
    # scored by them), never a draft; outside that subtree, nothing.
    assert can_read_version(user_with_role, Scope("GD", "GD"), None, status="published", **read)
    viewer = Principal("v", "GD", frozenset({Role.VIEWER}))
    assert can_read_version(viewer, Scope("GD", "GD"), None, status="archived", **read)
    assert not can_read_version(viewer, Scope("GD", "GD"), None, status="draft", **read)
    assert not can_read_version(viewer, Scope("GD-SZ", "GD/GD-SZ"), None, status="published", **read)


def test_decision_days_is_an_optional_appeal_setting_from_1_to_90():
    body = body_of("call_centre_kpi")
    assert not {p for p in problems(body) if p[0].startswith("appeal")}
    body["appeal"] = {"window_days": 7, "decision_days": 10}
    assert not {p for p in problems(body) if p[0].startswith("appeal")}
    body["appeal"] = {"decision_days": 0}
    assert ("appeal.decision_days", "out_of_range") in {(path, code) for path, code, _ in problems(body)}
    body["appeal"] = {"decision_days": 91}
    assert ("appeal.decision_days", "out_of_range") in {(path, code) for path, code, _ in problems(body)}


def test_robust_references_are_accepted_and_their_bad_parameters_refused_at_their_path():
    body = body_of("gb12345_provincial")
    rate = next(i for i, item in enumerate(body["items"]) if item["rule"]["type"] == "ratio_to_reference")
    body["items"][rate]["reference"] = {"policy": "best_in_cohort",
                                        "min_sample": {"measure": "calls.offered", "count": 100}}  # fmt: skip
    assert problems(body) == []
    body["items"][rate]["reference"] = {"policy": "percentile", "percentile": 90}
    assert problems(body) == []
    body["items"][rate]["reference"] = {"policy": "percentile", "percentile": 92.5,
                                        "min_sample": {"measure": "calls.offered", "count": 50}}  # fmt: skip
    assert problems(body) == []
    where = f"items[{rate}].reference"
    for reference, expected in [
        ({"policy": "percentile"}, (f"{where}.percentile", "missing_parameter")),
        ({"policy": "percentile", "percentile": 0}, (f"{where}.percentile", "invalid")),
        ({"policy": "percentile", "percentile": 101}, (f"{where}.percentile", "invalid")),
        ({"policy": "percentile", "percentile": "90"}, (f"{where}.percentile", "invalid")),
        ({"policy": "best_in_cohort", "min_sample": {"measure": "calls.nothing", "count": 100}},
         (f"{where}.min_sample.measure", "unknown_measure")),
        ({"policy": "best_in_cohort", "min_sample": {"measure": "calls.offered", "count": 0}},
         (f"{where}.min_sample.count", "invalid")),
        ({"policy": "percentile", "percentile": 90, "min_sample": 100}, (f"{where}.min_sample", "invalid")),
        ({"policy": "cohort_mean", "min_sample": {"measure": "calls.offered", "count": 100}},
         (f"{where}.min_sample", "unknown_parameter")),
        ({"policy": "best_in_cohort", "percentile": 90}, (f"{where}.percentile", "unknown_parameter")),
    ]:  # fmt: skip
        body["items"][rate]["reference"] = reference
        found = [(path, code) for path, code, _ in problems(body)]
        assert found == [expected], (reference, found)


def test_a_dynamic_baseline_matches_what_scoring_can_compute():
    """`match` lists period_type and/or same_months; period_type needs the peak months; business_type is refused
    (no measures are split by business type), each problem at its path."""
    body = body_of("tax_12366")
    index, item = next((i, it) for i, it in enumerate(body["items"]) if it["reference"]["policy"] == "dynamic_baseline")
    assert item["reference"] == {"policy": "dynamic_baseline", "lookback_periods": 12, "match": ["period_type"],
                                 "peak_months": [3, 4, 5, 6]}  # fmt: skip
    path = f"items[{index}].reference"
    cases = [
        ({"match": ["period_type", "business_type"]}, (f"{path}.match", "unsupported")),
        ({"match": ["season"]}, (f"{path}.match", "invalid")),
        ({"peak_months": None}, (f"{path}.peak_months", "required")),
        ({"peak_months": [0, 13]}, (f"{path}.peak_months", "invalid")),
    ]
    for change, expected in cases:
        changed = copy.deepcopy(body)
        reference = changed["items"][index]["reference"]
        reference.update(change)
        if change.get("peak_months", 1) is None:
            del reference["peak_months"]
        assert [(p, c) for p, c, _ in problems(changed)] == [expected], change
    for match in ([], ["same_months"], ["period_type", "same_months"]):
        fine = copy.deepcopy(body)
        fine["items"][index]["reference"]["match"] = match
        assert problems(fine) == [], match


def test_peer_appeal_settings_are_optional_a_flag_and_a_window_of_1_to_90_days():
    body = body_of("call_centre_kpi")
    body["appeal"] = {"window_days": 7, "peer_appeals": False, "peer_window_days": 10}
    assert not {p for p in problems(body) if p[0].startswith("appeal")}
    body["appeal"] = {"peer_appeals": "yes", "peer_window_days": 0}
    assert {(path, code) for path, code, _ in problems(body) if path.startswith("appeal")} == {
        ("appeal.peer_appeals", "invalid"),
        ("appeal.peer_window_days", "out_of_range"),
    }
    body["appeal"] = {"peer_window_days": 91}
    assert ("appeal.peer_window_days", "out_of_range") in {(path, code) for path, code, _ in problems(body)}
