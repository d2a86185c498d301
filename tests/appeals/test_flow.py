"""The appeal flow through the appeals subgraph, with scoring faked per contracts §6."""

from __future__ import annotations

from tests.appeals.conftest import (
    DECIDE,
    ESCALATE,
    GIVE_INFO,
    PARENT_REVIEWER,
    REQUEST_INFO,
    REVIEWER,
    TAKE,
    UNIT,
    call,
    file_appeal,
    problem_codes,
)


async def test_file_review_and_partly_uphold_makes_a_revision_with_before_and_after(appeals, scoring, clock):
    filed = await file_appeal(appeals)
    assert filed["ok"], filed["problems"]
    appeal = filed["appeal"]
    assert appeal["status"] == "SUBMITTED" and appeal["unitId"] == "GZ-HOUSING" and appeal["organizerId"] == "GD-GZ"
    assert appeal["windowClosesAt"].startswith("2026-03-09T00:00:00")
    clock.advance(hours=2)
    taken = await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER)
    assert taken["ok"] and taken["appeal"]["status"] == "IN_REVIEW" and taken["appeal"]["assignedTo"] == "reviewer-li"
    asked = await call(
        appeals,
        REQUEST_INFO,
        {"id": appeal["id"], "v": taken["appeal"]["version"], "m": "send the closure logs"},
        REVIEWER,
    )
    assert asked["appeal"]["status"] == "INFORMATION_REQUESTED"
    assert asked["appeal"]["informationDueAt"].startswith("2026-03-06T02:00:00")
    assert asked["appeal"]["decisionDueAt"].startswith("2026-03-13T00:00:00")
    clock.advance(hours=2)
    given = await call(
        appeals,
        GIVE_INFO,
        {
            "id": appeal["id"],
            "v": asked["appeal"]["version"],
            "m": "logs attached",
            "ev": [{"source": "gz-orders", "recordId": "WO-1002"}],
        },
        UNIT,
    )
    assert given["ok"] and given["appeal"]["status"] == "IN_REVIEW"
    # Submitted on 3 March with 10 days to decide; the 2 h spent waiting for the unit move the due time.
    assert given["appeal"]["decisionDueAt"].startswith("2026-03-13T02:00:00")
    assert given["appeal"]["events"][-1]["data"]["late"] is False
    assert len(given["appeal"]["evidenceRecords"]) == 2
    clock.advance(hours=22)
    decided = await call(
        appeals,
        DECIDE,
        {
            "id": appeal["id"],
            "v": given["appeal"]["version"],
            "o": "PARTLY_UPHELD",
            "reason": "WO-1001 and WO-1002 were closed on time",
            "up": ["on_time_closure_rate"],
        },
        REVIEWER,
    )
    assert decided["ok"], decided["problems"]
    result = decided["appeal"]
    assert result["status"] == "DECIDED" and result["outcome"] == "PARTLY_UPHELD"
    assert result["upheldIndicators"] == ["on_time_closure_rate"]
    # Only the upheld indicator's ask went to scoring, acting for the organizer.
    [revision] = scoring.revisions
    assert revision["acting"] == "GD-GZ" and revision["run_id"] == "RUN-GZ"
    assert revision["adjustments"] == [
        {
            "kind": "exclude_records",
            "unit": "GZ-HOUSING",
            "indicator": "on_time_closure_rate",
            "records": [
                {"source": "gz-orders", "record_id": "WO-1001"},
                {"source": "gz-orders", "record_id": "WO-1002"},
            ],
        }
    ]
    assert revision["reason"] == "WO-1001 and WO-1002 were closed on time"
    [decision] = result["decisions"]
    assert decision["totalBefore"] == 80.0 and decision["totalAfter"] == 81.5 and decision["newRevision"] == 2
    assert decision["indicatorChanges"] == [
        {"indicator": "on_time_closure_rate", "scoreBefore": 6.0, "scoreAfter": 7.5}
    ]
    assert not decision["late"]
    kinds = [e["kind"] for e in result["events"]]
    assert kinds == [
        "filed",
        "submitted",
        "assigned",
        "information_requested",
        "information_given",
        "decided",
        "revision_applied",
    ]
    assert result["events"][2]["actorSubject"] == "reviewer-li"
    assert result["events"][-1]["data"]["total_after"] == 81.5


async def test_a_rejection_needs_a_reason_and_changes_no_score(appeals, scoring):
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    variables = {"id": appeal["id"], "v": taken["version"], "o": "REJECTED", "reason": "  ", "up": []}
    refused = await call(appeals, DECIDE, variables, REVIEWER)
    assert problem_codes(refused) == ["NO_REASON"] and refused["appeal"]["status"] == "IN_REVIEW"
    decided = await call(appeals, DECIDE, {**variables, "reason": "the orders were late"}, REVIEWER)
    assert decided["ok"] and scoring.revisions == []
    [decision] = decided["appeal"]["decisions"]
    assert decision["totalBefore"] == decision["totalAfter"] == 80.0 and decision["newRevision"] is None


async def test_partly_upheld_must_name_some_but_not_all_indicators(appeals):
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    base = {"id": appeal["id"], "v": taken["version"], "o": "PARTLY_UPHELD", "reason": "partly right"}
    for up in ([], ["on_time_closure_rate", "answer_rate"]):
        assert problem_codes(await call(appeals, DECIDE, {**base, "up": up}, REVIEWER)) == ["BAD_PARTIAL"]
    assert problem_codes(await call(appeals, DECIDE, {**base, "up": ["innovation"]}, REVIEWER)) == [
        "UNKNOWN_INDICATOR",
        "BAD_PARTIAL",
    ]


async def test_escalation_once_to_the_organizers_parent_within_the_time(appeals, scoring, clock):
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    decided = await call(
        appeals,
        DECIDE,
        {"id": appeal["id"], "v": taken["version"], "o": "REJECTED", "reason": "late orders", "up": []},
        REVIEWER,
    )
    clock.advance(days=2)
    escalated = await call(appeals, ESCALATE, {"id": appeal["id"], "v": decided["appeal"]["version"]}, UNIT)
    assert escalated["ok"], escalated["problems"]
    e = escalated["appeal"]
    assert e["status"] == "ESCALATED" and e["escalatedTo"] == "GD" and e["decidingUnitId"] == "GD"
    # The city's reviewers no longer decide it; the province's do.
    assert problem_codes(await call(appeals, TAKE, {"id": e["id"], "v": e["version"]}, REVIEWER)) == [
        "NOT_DECIDING_UNIT"
    ]
    retaken = (await call(appeals, TAKE, {"id": e["id"], "v": e["version"]}, PARENT_REVIEWER))["appeal"]
    redecided = await call(
        appeals,
        DECIDE,
        {"id": e["id"], "v": retaken["version"], "o": "UPHELD", "reason": "the logs prove it", "up": []},
        PARENT_REVIEWER,
    )
    assert redecided["ok"], redecided["problems"]
    final = redecided["appeal"]
    assert [d["level"] for d in final["decisions"]] == [0, 1]
    assert final["decisions"][1]["totalAfter"] == 83.0  # both asks applied: +1.5 each
    assert scoring.revisions[0]["acting"] == "GD" and len(scoring.revisions[0]["adjustments"]) == 2
    again = await call(appeals, ESCALATE, {"id": e["id"], "v": final["version"]}, UNIT)
    assert problem_codes(again) == ["ALREADY_ESCALATED"]


async def test_escalation_after_the_set_time_is_refused(appeals, clock):
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    decided = await call(
        appeals,
        DECIDE,
        {"id": appeal["id"], "v": taken["version"], "o": "REJECTED", "reason": "late orders", "up": []},
        REVIEWER,
    )
    clock.advance(days=5)
    late = await call(appeals, ESCALATE, {"id": appeal["id"], "v": decided["appeal"]["version"]}, UNIT)
    assert problem_codes(late) == ["ESCALATION_CLOSED"] and late["appeal"]["status"] == "DECIDED"


async def test_a_scoring_outage_rolls_the_decision_back(appeals, scoring):
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    scoring.fail_revisions = True
    from tests.support import error_codes, gql

    result = await gql(
        appeals,
        DECIDE,
        {"id": appeal["id"], "v": taken["version"], "o": "UPHELD", "reason": "ok", "up": []},
        headers=REVIEWER,
    )
    assert error_codes(result) == ["SERVICE_UNAVAILABLE"]
    still = await gql(
        appeals,
        "query($id: ID!) { appeal(id: $id) { status version events { kind } } }",
        {"id": appeal["id"]},
        headers=REVIEWER,
    )
    assert still["data"]["appeal"]["status"] == "IN_REVIEW" and still["data"]["appeal"]["version"] == taken["version"]
    assert "decided" not in [e["kind"] for e in still["data"]["appeal"]["events"]]


async def test_the_revised_result_still_carries_the_appeal_and_a_second_decision_starts_from_it(appeals, clock):
    # Scoring keeps a result's id across revisions (contracts §6): the revised result is the disputed one.
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    decided = await call(
        appeals,
        DECIDE,
        {"id": appeal["id"], "v": taken["version"], "o": "PARTLY_UPHELD", "reason": "partly", "up": ["answer_rate"]},
        REVIEWER,
    )
    query = (
        """query($reps: [_Any!]!) { _entities(representations: $reps) { ... on UnitResult { id appeals { id } } } }"""
    )
    assert decided["appeal"]["decisions"][0]["newRevision"] == 2
    reps = [{"__typename": "UnitResult", "id": i} for i in ("R-HOUSING", "R-WATER")]
    from tests.support import data_of, gql

    entities = data_of(await gql(appeals, query, {"reps": reps}, headers=UNIT))["_entities"]
    assert [[a["id"] for a in e["appeals"]] for e in entities] == [[appeal["id"]], []]
    escalated = (await call(appeals, ESCALATE, {"id": appeal["id"], "v": decided["appeal"]["version"]}, UNIT))["appeal"]
    retaken = (await call(appeals, TAKE, {"id": appeal["id"], "v": escalated["version"]}, PARENT_REVIEWER))["appeal"]
    confirmed = await call(
        appeals,
        DECIDE,
        {
            "id": appeal["id"],
            "v": retaken["version"],
            "o": "PARTLY_UPHELD",
            "reason": "confirmed",
            "up": ["answer_rate"],
        },
        PARENT_REVIEWER,
    )
    first, second = confirmed["appeal"]["decisions"]
    assert (first["totalBefore"], first["totalAfter"]) == (80.0, 81.5)
    # Nothing new upheld: no new revision, and the totals are those the first decision left.
    assert (second["totalBefore"], second["totalAfter"], second["newRevision"]) == (81.5, 81.5, None)
