"""Pure checks of the record formats, the measure rules against the catalog, validation and mappings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.domain.measures import Aggregation, measure_catalog
from services.ingest.mapping import ColumnMapping, MappingError, check_mapping
from services.ingest.records import KINDS, csv_header, json_schema
from services.ingest.rules import RULES, check_rules, flow_measures, needs, needs_of, rules_by_kind
from services.ingest.validation import RowValidator

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_every_catalog_measure_is_produced_and_nothing_else():
    catalog = measure_catalog()
    produced = {r.measure for r in RULES}
    from_records = {c for c, m in catalog.items() if m.aggregation is Aggregation.SUM}
    # both directions: every flow measure of the catalog has a rule, and every rule is a catalog measure
    assert produced == from_records
    assert produced | {"unit.population"} == set(catalog)
    assert len(RULES) == len(produced)  # no measure computed twice
    assert check_rules() == []
    # the daily table holds exactly these columns, in catalog order
    assert flow_measures() == [c for c in catalog if c != "unit.population"]


def test_each_rule_reads_the_record_kind_the_catalog_names():
    for rule in RULES:
        assert measure_catalog()[rule.measure].record == rule.kind


def test_every_record_kind_has_a_format_and_produces_measures():
    assert set(KINDS) == {
        "call", "work_order", "rating", "inspection", "callback", "chat_session", "smart_test",
        "knowledge_update", "reported_item",
    }  # fmt: skip
    for name, kind in KINDS.items():
        schema = json_schema(kind)
        assert {"source", "record_id", "unit_id", kind.day_field} <= set(schema["required"])
        assert all(p.get("description") for p in schema["properties"].values())
        assert csv_header(kind)[:3] == ["source", "record_id", "unit_id"]
        assert name in rules_by_kind()


def test_validation_reads_naive_times_in_the_source_zone_and_checks_time_order():
    validator = RowValidator(KINDS["work_order"], SHANGHAI)
    row = {"source": "s", "record_id": "1", "unit_id": "GD", "received_at": "2025-01-01 23:30:00", "channel": "phone"}
    values, day, problems = validator.check(1, row)
    assert problems == [] and day == date(2025, 1, 1)
    assert values[3] == datetime(2025, 1, 1, 15, 30, tzinfo=UTC)
    # an explicit offset is respected, and the day is the local (Shanghai) date
    values, day, _ = validator.check(1, {**row, "received_at": "2025-01-01T20:00:00+00:00"})
    assert day == date(2025, 1, 2)
    values, day, problems = validator.check(7, {**row, "closed_at": "2025-01-01 08:00:00", "reassignments": "-1"})
    assert values is None
    assert {(p.row, p.field) for p in problems} == {(7, "reassignments")}
    _, _, problems = validator.check(7, {**row, "closed_at": "2025-01-01 08:00:00"})
    assert [(p.field, p.reason) for p in problems] == [("closed_at", "closed_at is before received_at")]


def test_validation_reports_every_bad_field():
    validator = RowValidator(KINDS["rating"], SHANGHAI)
    _, _, problems = validator.check(
        3,
        {"source": "s", "record_id": "", "unit_id": "GD", "rated_at": "yesterday", "target": "food",
         "rating": "6", "reasons": "too_slow;rude", "verified": "maybe"},
    )  # fmt: skip
    assert {p.field for p in problems} == {"record_id", "rated_at", "target", "rating", "reasons", "verified"}
    assert all(p.row == 3 and p.reason for p in problems)
    # values PostgreSQL could not store are refused here, not half-way through the load
    row = {"source": "s", "record_id": "a\x00b", "unit_id": "GD", "received_at": "2025-01-01 08:00",
           "channel": "phone", "returned_for_redo": "99999999999"}  # fmt: skip
    _, _, problems = RowValidator(KINDS["work_order"], SHANGHAI).check(1, row)
    assert {(p.field, p.reason) for p in problems} == {
        ("record_id", "contains a NUL character"), ("returned_for_redo", "integer out of range"),
    }  # fmt: skip


def test_mapping_renames_constants_formats_value_maps_and_unit_lookup():
    mapping = ColumnMapping(
        {
            "kind": "call",
            "null_values": ["", "0:00:00"],
            "fields": {
                "record_id": {"column": "id"},
                "direction": {"value": "inbound"},
                "started_at": {"columns": ["date", "t"], "format": "%y%m%d %H:%M:%S"},
                "outcome": {"column": "o", "map": {"AGENT": "answered", "HANG": "abandoned"}, "strict": True},
                "unit_id": {"column": "server", "map": {"ANN": "GZ-T1-A001"}, "default": "GZ-T1"},
            },
        }
    )
    row = mapping.apply({"id": "7", "date": "990201", "t": "7:03:05", "o": "AGENT", "server": "ANN"})
    assert row == {
        "record_id": "7",
        "direction": "inbound",
        "started_at": datetime(1999, 2, 1, 7, 3, 5),
        "outcome": "answered",
        "unit_id": "GZ-T1-A001",
    }
    assert (
        mapping.apply({"id": "8", "date": "990201", "t": "0:00:00", "o": "HANG", "server": "NO_SERVER"})["unit_id"]
        == "NO_SERVER"
    )  # not strict: passes through (and the loader then rejects the unknown unit)
    with pytest.raises(ValueError, match="value map"):
        mapping.apply({"id": "9", "date": "990201", "t": "7:00:00", "o": "PHANTOM", "server": "ANN"})


def test_a_bad_mapping_lists_every_problem():
    assert check_mapping({"kind": "parcel"}) == ["kind must be one of " + ", ".join(KINDS)]
    problems = check_mapping({"kind": "call", "time_zone": "Mars/Base", "fields": {"colour": {"value": 1}}})
    assert "unknown time zone 'Mars/Base'" in problems
    assert "colour: not a field of call" in problems
    assert any(p.startswith("started_at: required") for p in problems)
    with pytest.raises(MappingError):
        ColumnMapping({"kind": "call", "fields": {}})


# What each rule needs beyond its kind's required fields, read off its expression by hand ("a|b": either; "a+b": both).
# A rule missing here needs nothing: a new rule reading an optional field fails below until its needs are written.
NEEDS = {
    "calls.answered_within_15s": ["queue_seconds"], "calls.answered_within_20s": ["queue_seconds"],
    "calls.answer_wait_seconds": ["queue_seconds"], "calls.abandon_wait_seconds": ["queue_seconds"],
    "calls.queue_seconds": ["queue_seconds"], "calls.ring_seconds": ["ring_seconds"],
    "calls.talk_seconds": ["talk_seconds"], "calls.handle_seconds": ["handle_seconds", "talk_seconds"],
    "calls.ivr_entered": ["ivr_seconds"], "calls.ivr_seconds": ["ivr_seconds"],
    "calls.transferred": ["transferred"], "calls.resolved_first_contact": ["resolved_first_contact"],
    "calls.repeat": ["repeat_caller", "caller_hash"],  # the look-back is computed from the hashed caller
    "calls.complaints": ["complaint"],
    "orders.mobile_responded_on_time": ["first_response_at"], "orders.handled_directly": ["handled_directly"],
    "orders.direct_reopened": ["handled_directly+handling_unit_id+reopened"],
    # handled_directly is read as coalesce(…, false), its documented default: an order with a handling unit
    "orders.dispatched": ["handling_unit_id"], "orders.dispatched_on_time": ["dispatched_at+handling_unit_id"],
    "orders.dispatched_precisely": ["handling_unit_id+reassignments"],
    "orders.sent_back_to_origin": ["sent_back_to_origin"],
    "orders.submission_seconds": ["call_ended_at+submitted_at"], "orders.submitted": ["call_ended_at+submitted_at"],
    # coalesce(dispatched_at, received_at): received_at is required, so dispatched_at is not needed
    "orders.first_contact_on_time": ["first_contact_at"],
    "orders.closed": ["closed_at"], "orders.closed_on_time": ["closed_at+due_at", "closed_at+on_time"],
    "orders.with_due": ["due_at"], "orders.closed_late": ["closed_at+due_at", "closed_at+on_time"],
    "orders.closed_first_time": ["closed_at+reopened+returned_for_redo"], "orders.resolution_hours": ["closed_at"],
    "orders.returned_for_redo": ["returned_for_redo"], "orders.reopened": ["reopened"],
    "orders.supervised": ["supervised"], "orders.supervised_resolved": ["closed_at+supervised"],  # resolved: default
    "orders.replied": ["replied_at"], "orders.reply_complete": ["replied_at+reply_complete"],
    "surveys.dissatisfied_verified": ["verified"], "surveys.dissatisfied_followed_up": ["followed_up"],
    **{f"surveys.reason.{r}": ["reasons"] for r in ("repeated_unhandled", "result_unexpected", "result_mismatch",
                                                     "too_slow", "attitude")},
    "inspections.attitude_points": ["attitude"], "inspections.professionalism_points": ["professionalism"],
    "inspections.expression_points": ["expression"], "inspections.accuracy_points": ["accuracy"],
    "inspections.order_quality_points": ["order_quality"], "inspections.accurate": ["accurate"],
    "inspections.recorded_within_60s": ["recorded_within_60s"], "inspections.knowledge_errors": ["knowledge_error"],
    "inspections.channel_compared": ["channel_compared"],
    "inspections.channel_mismatched": ["channel_compared+channel_mismatch"],
    "callbacks.done": ["done_at"],
    # chats.sessions reads agent_served as coalesce(…, true), its documented default: it needs nothing
    "chats.first_response_seconds": ["first_response_seconds"], "chats.duration_seconds": ["duration_seconds"],
    "smart.response_seconds": ["response_seconds"], "knowledge.updates_within_24h": ["entered_at"],
}  # fmt: skip


def test_every_rule_needs_the_optional_fields_its_expression_reads():
    assert set(NEEDS) <= {r.measure for r in RULES}
    for rule in RULES:
        expected = [frozenset(a.split("+")) for a in NEEDS.get(rule.measure, [])] or [frozenset()]
        assert sorted(map(sorted, needs(rule.measure))) == sorted(map(sorted, expected)), rule.measure
        # nothing it needs is a required field or a field of another kind
        kind = KINDS[rule.kind]
        assert all(not kind.field(f).required for alternative in needs(rule.measure) for f in alternative)


def test_needs_read_alternatives_and_documented_defaults_off_the_expression():
    assert needs_of("coalesce(coalesce(r.handle_seconds, r.talk_seconds), 0)", "call") == (
        frozenset({"handle_seconds"}), frozenset({"talk_seconds"})
    )  # fmt: skip
    # a made-up default is no data; the documented one is
    assert needs_of("coalesce(r.reassignments, 0) = 0", "work_order") == (frozenset({"reassignments"}),)
    assert needs_of("coalesce(r.agent_served, true)", "chat_session") == (frozenset(),)
    assert needs_of("coalesce(r.agent_served, false)", "chat_session") == (frozenset({"agent_served"}),)
    assert needs_of("r.unit_id = 'GD' AND r.rating >= 4", "rating") == (frozenset(),)
    with pytest.raises(ValueError, match=r"r\.colour"):
        needs_of("r.colour = 'red'", "call")
