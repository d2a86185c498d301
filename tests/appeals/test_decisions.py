"""Decisions that mean what they say (issue 17): a value asked for is checked for plausibility and the decision
may accept another one, and says so; only indicators asked about can be upheld; an escalation can be rejected
(the first decision stands) and counts as such; statistics count only real changes; time to decision leaves
out the wait for information; the webhook names the acting person; an appeal shows the current revision."""

from __future__ import annotations

import json

from tests.appeals.conftest import (
    ESCALATE,
    GIVE_INFO,
    PARENT_REVIEWER,
    REQUEST_INFO,
    REVIEWER,
    TAKE,
    UNIT,
    as_user,
    call,
    file_appeal,
    problem_codes,
)
from tests.support import data_of, gql

DECIDE = (
    "mutation($id: ID!, $v: Int!, $o: AppealOutcome!, $reason: String!, $up: [String!], "
    "$acc: [AppealAcceptedValueInput!]) { decideAppeal(id: $id, expectedVersion: $v, outcome: $o, reason: $reason, "
    "upheldIndicators: $up, acceptedValues: $acc) { ok problems { code field } warnings { code } appeal { id "
    "version status outcome upheldIndicators revision currentRevision "
    "decisions { level outcome firstDecisionStands upheldIndicators newRevision totalBefore totalAfter "
    "acceptedValues { indicator asked accepted differs } informationWaitedHours } } } }"
)
ASKS_120 = [{"indicator": "answer_rate", "kind": "CORRECT_VALUE", "value": 120.0}]
FLAGS = "query($id: ID!) { appeal(id: $id) { asks { indicator value flags { code message } } } }"


async def _taken(appeals, **kwargs) -> dict:
    appeal = (await file_appeal(appeals, **kwargs))["appeal"]
    return (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]


async def _decide(appeals, appeal, outcome, up=None, acc=None, headers=REVIEWER, reason="checked"):
    variables = {"id": appeal["id"], "v": appeal["version"], "o": outcome, "reason": reason, "up": up, "acc": acc}
    return await call(appeals, DECIDE, variables, headers)


async def test_an_implausible_value_is_flagged_and_only_a_value_within_range_is_accepted(appeals, scoring):
    taken = await _taken(appeals, indicators=["answer_rate"], asks=ASKS_120)
    flags = data_of(await gql(appeals, FLAGS, {"id": taken["id"]}, headers=REVIEWER))["appeal"]["asks"][0]["flags"]
    assert [f["code"] for f in flags] == ["OUT_OF_RANGE", "BETTER_THAN_OBSERVED"]
    assert "outside what the indicator can take (0–100 percent)" in flags[0]["message"]
    assert "best value observed in the cohort (95, over 2026-02)" in flags[1]["message"]
    # Upheld as asked: refused, nothing sent to scoring.
    refused = await _decide(appeals, taken, "UPHELD")
    assert problem_codes(refused) == ["VALUE_OUT_OF_RANGE"] and scoring.revisions == []
    out_of_range = await _decide(appeals, taken, "UPHELD", acc=[{"indicator": "answer_rate", "value": 101.0}])
    assert problem_codes(out_of_range) == ["VALUE_OUT_OF_RANGE"]
    not_upheld = await _decide(appeals, taken, "REJECTED", acc=[{"indicator": "answer_rate", "value": 90.0}])
    assert problem_codes(not_upheld) == ["NOT_A_VALUE_UPHELD"]
    # Another value accepted: applied as accepted, and the decision says so.
    decided = await _decide(appeals, taken, "UPHELD", acc=[{"indicator": "answer_rate", "value": 97.0}])
    assert decided["ok"], decided
    assert [w["code"] for w in decided["warnings"]] == ["BETTER_THAN_OBSERVED", "VALUE_DIFFERS"]
    assert scoring.revisions[0]["adjustments"] == [
        {"kind": "correct_value", "unit": "GZ-HOUSING", "indicator": "answer_rate", "value": 97.0}
    ]
    [decision] = decided["appeal"]["decisions"]
    assert decision["acceptedValues"] == [
        {"indicator": "answer_rate", "asked": 120.0, "accepted": 97.0, "differs": True}
    ]


async def test_upholding_an_indicator_the_appeal_asks_nothing_for_is_refused(appeals, scoring):
    asks = [{"indicator": "answer_rate", "kind": "CORRECT_VALUE", "value": 93.0}]
    taken = await _taken(appeals, asks=asks)  # disputes on_time_closure_rate and answer_rate, asks for one
    for outcome, up in (("UPHELD", None), ("PARTLY_UPHELD", ["on_time_closure_rate"])):
        refused = await _decide(appeals, taken, outcome, up=up)
        assert problem_codes(refused) == ["NOTHING_ASKED"], outcome
        assert refused["problems"][0]["field"] == "upheld_indicators"
    assert scoring.revisions == []
    ok = await _decide(appeals, taken, "PARTLY_UPHELD", up=["answer_rate"])
    assert ok["ok"] and len(scoring.revisions) == 1


STATS = """query { appealStatistics(runId: "RUN-GZ") { decided escalationsDecided escalationsRejected
  overturnByIndicator { key decided overturned } overturnByReviewer { key decided overturned }
  reversedOnEscalationByReviewer { key decided overturned } meanHoursToDecision meanHoursWaitingForInformation } }"""
PROVINCE_REVIEWER = as_user("GD", "reviewer-zhao", "reviewer")


async def test_an_escalation_answered_rejected_lets_the_first_decision_stand_and_counts_as_such(appeals, scoring):
    taken = await _taken(appeals)
    first = await _decide(appeals, taken, "PARTLY_UPHELD", up=["answer_rate"])
    assert first["ok"] and len(scoring.revisions) == 1
    escalated = (await call(appeals, ESCALATE, {"id": taken["id"], "v": first["appeal"]["version"]}, UNIT))["appeal"]
    retaken = (await call(appeals, TAKE, {"id": taken["id"], "v": escalated["version"]}, PROVINCE_REVIEWER))["appeal"]
    rejected = await _decide(
        appeals, retaken, "REJECTED", headers=PROVINCE_REVIEWER, reason="the first decision is right"
    )
    assert rejected["ok"], rejected
    a = rejected["appeal"]
    # The first decision stands: its outcome and its upheld indicator, and no new revision.
    assert (a["status"], a["outcome"], a["upheldIndicators"]) == ("DECIDED", "PARTLY_UPHELD", ["answer_rate"])
    assert len(scoring.revisions) == 1
    second = a["decisions"][1]
    assert (second["level"], second["outcome"], second["firstDecisionStands"], second["newRevision"]) == (
        1, "REJECTED", True, None,
    )  # fmt: skip
    assert second["totalBefore"] == second["totalAfter"] == 81.5
    stats = data_of(await gql(appeals, STATS, headers=PARENT_REVIEWER))["appealStatistics"]
    assert (stats["decided"], stats["escalationsDecided"], stats["escalationsRejected"]) == (1, 1, 1)
    assert stats["overturnByReviewer"] == [
        {"key": "reviewer-li", "decided": 1, "overturned": 1},  # the first decision upheld answer_rate
        {"key": "reviewer-zhao", "decided": 1, "overturned": 0},  # rejecting the escalation changed nothing
    ]
    assert stats["reversedOnEscalationByReviewer"] == [{"key": "reviewer-li", "decided": 1, "overturned": 0}]
    assert stats["overturnByIndicator"] == [
        {"key": "answer_rate", "decided": 1, "overturned": 1},
        {"key": "on_time_closure_rate", "decided": 1, "overturned": 0},
    ]


async def test_restating_the_first_decision_on_escalation_is_no_overturn(appeals, scoring):
    taken = await _taken(appeals)
    first = await _decide(appeals, taken, "PARTLY_UPHELD", up=["answer_rate"])
    escalated = (await call(appeals, ESCALATE, {"id": taken["id"], "v": first["appeal"]["version"]}, UNIT))["appeal"]
    retaken = (await call(appeals, TAKE, {"id": taken["id"], "v": escalated["version"]}, PROVINCE_REVIEWER))["appeal"]
    restated = await _decide(appeals, retaken, "PARTLY_UPHELD", up=["answer_rate"], headers=PROVINCE_REVIEWER)
    assert restated["ok"] and len(scoring.revisions) == 1
    stats = data_of(await gql(appeals, STATS, headers=PARENT_REVIEWER))["appealStatistics"]
    assert {r["key"]: r["overturned"] for r in stats["overturnByReviewer"]} == {"reviewer-li": 1, "reviewer-zhao": 0}
    assert stats["escalationsRejected"] == 0 and stats["reversedOnEscalationByReviewer"][0]["overturned"] == 0


async def test_time_to_decision_leaves_out_the_wait_for_information(appeals, clock):
    appeal = (await file_appeal(appeals))["appeal"]  # submitted now
    clock.advance(hours=2)
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    asked = await call(appeals, REQUEST_INFO, {"id": appeal["id"], "v": taken["version"], "m": "logs?"}, REVIEWER)
    clock.advance(hours=24)  # the unit takes a day to answer
    given = await call(appeals, GIVE_INFO, {"id": appeal["id"], "v": asked["appeal"]["version"], "m": "here", "ev": []},
                       UNIT)  # fmt: skip
    clock.advance(hours=4)
    decided = await _decide(appeals, given["appeal"], "PARTLY_UPHELD", up=["answer_rate"])
    assert decided["appeal"]["decisions"][0]["informationWaitedHours"] == 24.0
    stats = data_of(await gql(appeals, STATS, headers=REVIEWER))["appealStatistics"]
    # 30 hours from submission to decision, 24 of them waiting for the unit: 6 hours of the reviewers'.
    assert (stats["meanHoursToDecision"], stats["meanHoursWaitingForInformation"]) == (6.0, 24.0)


async def test_the_webhook_names_the_acting_person_and_spells_statuses_as_graphql(
    appeals_app, appeals, receiver, clock
):
    register = "mutation($u: String!, $s: String!) { registerAppealWebhook(url: $u, secret: $s) { problems { code } } }"
    hook = {"u": "https://hooks.gd-gz.example/appeals", "s": "s3cret-of-gd-gz-000000001"}
    assert data_of(await gql(appeals, register, hook, headers=REVIEWER))["registerAppealWebhook"]["problems"] == []
    taken = await _taken(appeals)
    await _decide(appeals, taken, "PARTLY_UPHELD", up=["answer_rate"])
    await appeals_app.state.appeals.sender.deliver_due(clock())
    bodies = {json.loads(r.content)["event"]: json.loads(r.content) for r in receiver.requests}
    assert (bodies["assigned"]["actor"], bodies["assigned"]["actor_unit"], bodies["assigned"]["status"]) == (
        "reviewer-li", "GD-GZ", "IN_REVIEW",
    )  # fmt: skip
    decided = bodies["decided"]
    assert (decided["status"], decided["data"]["outcome"], decided["actor"]) == (
        "DECIDED",
        "PARTLY_UPHELD",
        "reviewer-li",
    )


async def test_an_appeal_shows_the_revision_it_was_filed_against_and_the_current_one(appeals):
    taken = await _taken(appeals)
    decided = (await _decide(appeals, taken, "PARTLY_UPHELD", up=["answer_rate"]))["appeal"]
    assert (decided["revision"], decided["currentRevision"]) == (1, 2)
    # Another appeal on the run (GZ-WATER's) sees the run's revision moved too.
    other = (await file_appeal(appeals, result="R-WATER", headers=as_user("GZ-WATER", "w", "unit")))["appeal"]
    query = "query($id: ID!) { appeal(id: $id) { revision currentRevision } }"
    seen = data_of(await gql(appeals, query, {"id": other["id"]}, headers=REVIEWER))["appeal"]
    assert seen == {"revision": 1, "currentRevision": 2}
