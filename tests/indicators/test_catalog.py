"""The indicator catalog: every sub-item of spec section 6, the KPI sets, versions, immutability."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.indicators.catalog import (
    CatalogError,
    IndicatorDefinition,
    apply_catalog,
    builtin_catalog,
    plan_versions,
    read_catalog,
)
from tests.support import auth, data_of, error_codes, gql

VIEWER = auth("GZ-HOUSING", "unit")

# Spec 002 section 6: every sub-item, with the indicators it must at least produce.
SECTION_6 = {
    "6.1.1": {"answer_rate", "average_answer_wait", "unanswered_wait", "average_ring_time", "average_talk_time"},
    "6.1.2": {"chat_response_time", "chat_service_time"},
    "6.1.3": {"smart_service_response_time", "ivr_navigation_time"},
    "6.1.4": {"mobile_response_timeliness"},
    "6.2.1": {"answer_accuracy"},
    "6.2.2": {"integrated_sent_back_rate"},
    "6.2.3": {"smart_answer_accuracy", "smart_answer_time"},
    "6.2.4": {"dispatch_timeliness", "precise_dispatch_rate"},
    "6.3.1": {"agent_attitude"},
    "6.3.2": {"agent_professionalism"},
    "6.3.3": {"agent_expression", "request_recorded_within_1min"},
    "6.3.4": {"inspection_pass_rate", "average_order_submission_time"},
    "6.4.1": {"average_handle_time"},
    "6.4.2": {"emergency_support"},
    "6.4.3": {"callback_completion_rate"},
    "6.5.1": {"hotline_service_satisfaction"},
    "6.5.2": {"outcome_satisfaction", "first_contact_rate"},
    "6.5.3": {"dissatisfaction_verification_rate", "dissatisfaction_follow_up_rate"},
    "6.6.1": {"direct_handling_rate", "direct_handling_accuracy"},
    "6.6.2": {"on_time_closure_rate", "overall_closure_rate", "supervised_resolution_rate"},
    "6.6.3": {"first_time_closure_rate", "average_resolution_time"},
    "6.6.4": {"requests_per_10k_residents"},
    "6.6.5": {"reply_completeness_rate"},
    "6.6.6": {"returned_for_redo"},
    "6.7.1": {"new_technology"},
    "6.7.2": {"proactive_services"},
    "6.7.3": {"service_variety"},
    "6.7.4": {"resource_linkage"},
    "6.7.5": {"personalised_service"},
}


def test_every_sub_item_of_section_6_is_in_the_catalog():
    by_clause: dict[str, set[str]] = {}
    for indicator in builtin_catalog().indicators:
        if indicator.standard == "gb12345":
            by_clause.setdefault(indicator.clause, set()).add(indicator.code)
    assert set(by_clause) == set(SECTION_6)
    for clause, codes in SECTION_6.items():
        assert codes <= by_clause[clause], clause


def test_the_kpi_sets_of_the_seeds_are_there():
    codes = {i.code: i for i in builtin_catalog().indicators}
    for code in (
        "tax_service_level_15s",
        "tax_repeat_call_rate",
        "tax_knowledge_timeliness",
        "tax_cross_channel_consistency",
    ):
        assert codes[code].standard == "tax12366"
    assert codes["cc_average_handle_time"].direction == "target_band"
    assert codes["cc_average_handle_time"].band == {"low": 60, "high": 180}
    assert {c for c in codes if c.startswith("es_feedback_")} == {
        "es_feedback_superior", "es_feedback_peers", "es_feedback_customers", "es_feedback_self",
    }  # fmt: skip
    # Reported / expert indicators have no formula; every other one has one over known measures.
    assert all((i.formula is None) == (i.method == "reported_expert") for i in codes.values())


def test_a_bad_catalog_document_reports_every_problem():
    doc = {
        "standard": {"code": "x", "name_zh": "x", "name_en": "x", "source": "test"},
        "dimensions": [{"code": "x_dim", "position": 1, "clause": "1", "name_zh": "维", "name_en": "D", "description": "d"}],
        "indicators": [
            {"code": "a", "name_zh": "甲", "name_en": "A", "dimension": "nope", "clause": "1", "method": "system",
             "unit": "percent", "direction": "up", "levels": ["city"], "formula": "calls.answred / 0 +"},
            {"code": "b", "name_zh": "乙", "name_en": "B", "dimension": "x_dim", "clause": "1",
             "method": "reported_expert", "unit": "points", "direction": "higher_better", "levels": ["agent"],
             "formula": "calls.offered"},
        ],
    }  # fmt: skip
    with pytest.raises(CatalogError) as caught:
        read_catalog([("doc", doc)])
    messages = [m for _, m in caught.value.problems]
    assert "direction 'up' is not one of higher_better, lower_better, target_band" in messages
    assert (
        "level 'city' is not a unit kind (province_body, city_body, district, undertaking_unit, agent_team, agent)"
        in messages
    )
    assert "dimension 'nope' is not declared for standard 'x'" in messages
    assert "formula at 0: unknown measure 'calls.answred'" in messages
    assert any(m.startswith("formula at 19: expected a number") for m in messages)
    assert "a reported/expert indicator has no formula (its value is entered by experts)" in messages


def test_versions_are_planned_from_content():
    one = builtin_catalog().indicators[0]
    changed = IndicatorDefinition(**{**one.__dict__, "description": "changed"})
    assert plan_versions([one], {}) == [(one, 1)]
    assert plan_versions([one], {one.code: (1, one.definition_hash)}) == []
    assert plan_versions([changed], {one.code: (3, one.definition_hash)}) == [(changed, 4)]


async def test_loading_is_idempotent_and_a_change_is_a_new_version(db):
    async with db.unit_of_work() as session:
        again = await session.run_sync(lambda s: apply_catalog(s.connection(), builtin_catalog()))
        assert again == []  # the migrations loaded it; loading again changes nothing
        catalog = builtin_catalog()
        target = next(i for i in catalog.indicators if i.code == "answer_rate")
        catalog.indicators = [IndicatorDefinition(**{**target.__dict__, "description": "Revised wording."})]
        created = await session.run_sync(lambda s: apply_catalog(s.connection(), catalog))
        assert created == [("answer_rate", 2)]
        rows = (
            await session.execute(
                text(
                    "SELECT version, description FROM indicators.indicator_version WHERE code = 'answer_rate' ORDER BY version"
                )
            )
        ).all()
        assert [r.version for r in rows] == [1, 2] and rows[1].description == "Revised wording."


async def test_indicator_versions_are_immutable_in_the_database(db):
    async with db.session() as session:
        with pytest.raises(DBAPIError, match="immutable"):
            await session.execute(
                text("UPDATE indicators.indicator_version SET name_en = 'x' WHERE code = 'answer_rate'")
            )
        await session.rollback()
        with pytest.raises(DBAPIError, match="immutable"):
            await session.execute(text("DELETE FROM indicators.indicator_version WHERE code = 'answer_rate'"))


async def test_the_catalog_is_readable_by_any_authenticated_caller(indicators):
    query = """{ indicators(standard: "gb12345") { code version clause method direction formula measures levels
                 dimension { code nameZh } }
               standards { code }
               dimensions(standard: "call_centre") { code indicators { code } } }"""
    data = data_of(await gql(indicators, query, headers=VIEWER))
    answer = next(i for i in data["indicators"] if i["code"] == "answer_rate")
    assert answer == {
        "code": "answer_rate", "version": 1, "clause": "6.1.1", "method": "SYSTEM", "direction": "HIGHER_BETTER",
        "formula": "calls.answered / calls.offered * 100", "measures": ["calls.answered", "calls.offered"],
        "levels": ["province_body", "city_body", "agent_team", "agent"],
        "dimension": {"code": "service_response", "nameZh": "服务响应"},
    }  # fmt: skip
    assert {s["code"] for s in data["standards"]} == {"gb12345", "call_centre", "tax12366", "enterprise_service"}
    assert [d["code"] for d in data["dimensions"]] == ["cc_quality", "cc_efficiency", "cc_ability", "cc_experience"]
    assert all(d["indicators"] for d in data["dimensions"])


async def test_catalog_export_and_import(indicators):
    exported = data_of(await gql(indicators, "{ exportCatalog }", headers=VIEWER))["exportCatalog"]
    documents = list(yaml.safe_load_all(exported))
    assert sum(len(d["indicators"]) for d in documents) == len(builtin_catalog().indicators)
    mutation = "mutation($y: String!) { importCatalog(yaml: $y) { ok created { code version } problems { path code message } } }"
    # Re-importing the export changes nothing; an edited indicator becomes a new version.
    same = data_of(await gql(indicators, mutation, {"y": exported}, headers=auth("GD", "admin")))["importCatalog"]
    assert same == {"ok": True, "created": [], "problems": []}
    edited = exported.replace("Calls answered by an agent as a share of calls offered to agents.", "Edited.")
    result = data_of(await gql(indicators, mutation, {"y": edited}, headers=auth("GD", "admin")))["importCatalog"]
    assert result["created"] == [{"code": "answer_rate", "version": 2}]
    bad = data_of(await gql(indicators, mutation, {"y": "standard: [unclosed"}, headers=auth("GD", "admin")))
    assert bad["importCatalog"]["problems"][0]["code"] == "yaml_syntax"
    assert "line 1" in bad["importCatalog"]["problems"][0]["message"]
    refused = data_of(await gql(indicators, mutation, {"y": exported}, headers=auth("GD", "organizer")))
    assert refused["importCatalog"]["problems"][0]["code"] == "forbidden"


ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on IndicatorVersion { code version nameZh unit direction dimension { code } } } }"""


async def test_indicator_versions_are_entities_resolved_in_one_query(indicators, engine):
    """Scoring's IndicatorScore.definition points here by `code version`: every representation of a request
    is loaded with one SQL statement, whatever their number; unknown keys answer null, malformed ones (a key of
    the wrong type, a key missing) a BAD_REQUEST on their own index (issue 15)."""
    from sqlalchemy import event

    codes = ["answer_rate", "average_answer_wait", "average_handle_time", "first_contact_rate"]
    few = [{"__typename": "IndicatorVersion", "code": c, "version": 1} for c in codes[:1]]
    many = [{"__typename": "IndicatorVersion", "code": c, "version": 1} for c in codes] * 25
    odd = [
        {"__typename": "IndicatorVersion", "code": "answer_rate", "version": 99},
        {"__typename": "IndicatorVersion", "code": "no_such_indicator", "version": 1},
        {"__typename": "IndicatorVersion", "code": "answer_rate", "version": "1"},
        {"__typename": "IndicatorVersion", "code": ["answer_rate"], "version": 1},
        {"__typename": "IndicatorVersion", "code": "answer_rate"},
    ]
    counts = []
    for representations in (few, many + odd):
        statements: list[str] = []

        def record(conn, cursor, statement, *args, into=statements):
            if "indicator_version" in statement:
                into.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            answer = await gql(indicators, ENTITIES, {"r": representations}, headers=VIEWER)
            found = answer["data"]["_entities"]
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
        counts.append(len(statements))
    assert counts == [1, 1]
    assert found[0] == {
        "code": "answer_rate", "version": 1, "nameZh": "接通率", "unit": "percent", "direction": "HIGHER_BETTER",
        "dimension": {"code": "service_response"},
    }  # fmt: skip
    assert [f["code"] for f in found[:4]] == codes and len(found) == 105
    assert found[100:] == [None] * 5
    assert [(e["path"], e["extensions"]["code"]) for e in answer["errors"]] == [
        (["_entities", i], "BAD_REQUEST") for i in (102, 103, 104)
    ]
    # The catalog is for authenticated callers only, entities included.
    anonymous = await gql(indicators, ENTITIES, {"r": few})
    assert error_codes(anonymous) == ["UNAUTHENTICATED"] and not anonymous.get("data")
