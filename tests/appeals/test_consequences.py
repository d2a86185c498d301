"""Consequences for peers: a decision whose revision moves another unit's score, rank or grade tells that
unit — an inbox entry and a webhook with the figures before and after and the cause (which appeal, which
indicator, which reference moved). The first test was written before the fix (issue 17): the peer got nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from services.appeals.settlement import sweep
from tests.appeals.conftest import (
    DECIDE,
    PAYLOAD,
    PUBLISHED_AT,
    REVIEWER,
    TAKE,
    UNIT,
    call,
    file_appeal,
    problem_codes,
)
from tests.support import auth, data_of, gql

WATER = auth("GZ-WATER", "unit")
WATER_HOOK = "https://hooks.gz-water.example/appeals"
SECRET = "s3cret-of-gz-water-000001"
REGISTER = "mutation($u: String!, $s: String!) { registerAppealWebhook(url: $u, secret: $s) { problems { code } } }"

# GZ-HOUSING's corrected answer rate becomes the best in the cohort: the reference moves 95 → 97 and GZ-WATER,
# which had set it, loses half a point on the indicator and its rank.
ANSWER_RATE_MOVES_THE_REFERENCE = {
    "answer_rate": {
        "reference": {"before": 95.0, "after": 97.0, "set_by_before": "GZ-WATER", "set_by_after": "GZ-HOUSING"},
        "peers": {"GZ-WATER": -0.5},
        "rank": {"GZ-WATER": 3},
    }
}


async def _decided_with_a_peer_effect(appeals, scoring, clock) -> dict:
    scoring.peer_effects = ANSWER_RATE_MOVES_THE_REFERENCE
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    clock.advance(hours=3)
    decided = await call(
        appeals,
        DECIDE,
        {"id": appeal["id"], "v": taken["version"], "o": "PARTLY_UPHELD", "reason": "the rate was mis-measured",
         "up": ["answer_rate"]},
        REVIEWER,
    )  # fmt: skip
    assert decided["ok"], decided
    return decided["appeal"]


async def test_a_peer_whose_score_a_decision_moves_is_told_with_the_figures_and_the_cause(
    appeals_app, appeals, scoring, receiver, clock
):
    assert data_of(await gql(appeals, REGISTER, {"u": WATER_HOOK, "s": SECRET}, headers=WATER))[
        "registerAppealWebhook"
    ] == {"problems": []}
    appeal = await _decided_with_a_peer_effect(appeals, scoring, clock)

    inbox = data_of(await gql(appeals, "{ appealInbox { kind appealId } }", headers=WATER))["appealInbox"]
    assert inbox == [{"kind": "peer_result_changed", "appealId": appeal["id"]}]

    await appeals_app.state.appeals.sender.deliver_due(clock())
    [delivery] = [r for r in receiver.requests if str(r.url) == WATER_HOOK]
    assert delivery.headers["x-hotline-event"] == "peer_result_changed"
    body = json.loads(delivery.content)
    assert (body["unit"], body["appeal_id"], body["result_id"]) == ("GZ-WATER", appeal["id"], "R-WATER")
    assert (body["actor_unit"], body["actor"]) == ("GD-GZ", "reviewer-li")
    data = body["data"]
    assert (data["total_before"], data["total_after"], data["rank_before"], data["rank_after"]) == (80.0, 79.5, 2, 3)
    assert data["indicators"] == [
        {"indicator": "answer_rate", "value_before": 90.0, "value_after": 90.0, "score_before": 4.0, "score_after": 3.5}
    ]
    assert data["references"] == [
        {"indicator": "answer_rate", "policy": "best_in_cohort", "before": 95.0, "after": 97.0,
         "set_by_before": "GZ-WATER", "set_by_after": "GZ-HOUSING"}
    ]  # fmt: skip
    assert data["cause"] == {"appeal_id": appeal["id"], "level": 0, "indicators": ["answer_rate"]}


CONSEQUENCE = """id unitId resultId revision causeAppealId causeLevel correctedIndicators decidedBy totalBefore totalAfter
  rankBefore rankAfter indicatorChanges { indicator valueBefore valueAfter scoreBefore scoreAfter }
  referenceMoves { indicator policy before after setByBefore setByAfter }
  appealable appealableIndicators appealableUntil explanation { zh en }"""
MINE = "{ appealConsequences { totalCount edges { node { " + CONSEQUENCE + " } } } }"
DECISION_CONSEQUENCES = "query($id: ID!) { appeal(id: $id) { decisions { consequences { unitId totalAfter } } } }"


async def test_the_peer_and_the_deciding_side_see_the_consequence_the_appellant_does_not(appeals, scoring, clock):
    appeal = await _decided_with_a_peer_effect(appeals, scoring, clock)
    [edge] = data_of(await gql(appeals, MINE, headers=WATER))["appealConsequences"]["edges"]
    c = edge["node"]
    assert (c["unitId"], c["resultId"], c["revision"], c["causeAppealId"], c["causeLevel"]) == (
        "GZ-WATER", "R-WATER", 2, appeal["id"], 0,
    )  # fmt: skip
    assert (c["totalBefore"], c["totalAfter"], c["rankBefore"], c["rankAfter"]) == (80.0, 79.5, 2, 3)
    assert c["correctedIndicators"] == ["answer_rate"] and c["decidedBy"] == "reviewer-li"
    assert c["referenceMoves"] == [{"indicator": "answer_rate", "policy": "best_in_cohort", "before": 95.0,
                                    "after": 97.0, "setByBefore": "GZ-WATER", "setByAfter": "GZ-HOUSING"}]  # fmt: skip
    # The scheme lets it appeal (the default) within a window of its own (the scheme's 5 days), on what moved it.
    assert c["appealable"] and c["appealableIndicators"] == ["answer_rate"]
    assert c["appealableUntil"].startswith((clock() + timedelta(days=5)).isoformat()[:19])
    assert "moved from 95 to 97" in c["explanation"]["en"] and appeal["id"] in c["explanation"]["en"]
    assert "参照值由 95 变为 97" in c["explanation"]["zh"]
    inbox = data_of(await gql(appeals, "{ appealInbox { kind consequence { id totalAfter } } }", headers=WATER))
    assert inbox["appealInbox"] == [{"kind": "peer_result_changed", "consequence": {"id": c["id"], "totalAfter": 79.5}}]
    # The deciding side sees whom its decision moved; the appellant does not see its peers' figures.
    organizer = data_of(await gql(appeals, DECISION_CONSEQUENCES, {"id": appeal["id"]}, headers=REVIEWER))
    assert organizer["appeal"]["decisions"][0]["consequences"] == [{"unitId": "GZ-WATER", "totalAfter": 79.5}]
    appellant = data_of(await gql(appeals, DECISION_CONSEQUENCES, {"id": appeal["id"]}, headers=UNIT))
    assert appellant["appeal"]["decisions"][0]["consequences"] == []
    assert data_of(await gql(appeals, MINE, headers=UNIT))["appealConsequences"]["totalCount"] == 0
    one = "query($id: ID!) { appealConsequence(id: $id) { id } }"
    assert data_of(await gql(appeals, one, {"id": c["id"]}, headers=UNIT))["appealConsequence"] is None
    # The peer may not read the appeal that caused it.
    assert data_of(await gql(appeals, "query($id: ID!) { appeal(id: $id) { id } }", {"id": appeal["id"]},
                             headers=WATER))["appeal"] is None  # fmt: skip


FILE_CONSEQUENCE = (
    "mutation($r: ID!, $c: ID!, $i: [String!]!, $asks: [AppealAskInput!]) { fileAppeal(resultId: $r, "
    'indicators: $i, reasonCategory: RULE_MISAPPLIED, reason: "97 was never observed", asks: $asks, '
    "consequenceId: $c, submit: true) " + PAYLOAD + " }"
)
CONTEST = [{"indicator": "answer_rate", "kind": "CONTEST_CONSEQUENCE", "value": 95.0}]


async def _consequence_of(appeals) -> dict:
    [edge] = data_of(await gql(appeals, MINE, headers=WATER))["appealConsequences"]["edges"]
    return edge["node"]


async def test_a_peer_appeals_the_consequence_in_its_window_and_the_run_waits_for_it(
    appeals_app, appeals, scoring, clock, db
):
    await _decided_with_a_peer_effect(appeals, scoring, clock)
    consequence = await _consequence_of(appeals)
    base = {"r": "R-WATER", "c": consequence["id"]}
    outside = await call(appeals, FILE_CONSEQUENCE, {**base, "i": ["on_time_closure_rate"], "asks": []}, WATER)
    assert problem_codes(outside) == ["OUTSIDE_CONSEQUENCE"]
    wrong_kind = [{"indicator": "answer_rate", "kind": "CORRECT_VALUE", "value": 99.0}]
    assert problem_codes(await call(appeals, FILE_CONSEQUENCE, {**base, "i": ["answer_rate"], "asks": wrong_kind},
                                    WATER)) == ["WRONG_ASK_KIND"]  # fmt: skip
    not_mine = await call(appeals, FILE_CONSEQUENCE, {**base, "r": "R-HOUSING", "i": ["answer_rate"],
                                                      "asks": CONTEST}, UNIT)  # fmt: skip
    assert problem_codes(not_mine) == ["NOT_FOUND"]  # the consequence is GZ-WATER's alone
    filed = await call(appeals, FILE_CONSEQUENCE, {**base, "i": ["answer_rate"], "asks": CONTEST}, WATER)
    assert filed["ok"], filed
    contest = filed["appeal"]
    assert contest["status"] == "SUBMITTED" and contest["windowClosesAt"] == consequence["appealableUntil"]
    again = await call(appeals, FILE_CONSEQUENCE, {**base, "i": ["answer_rate"], "asks": CONTEST}, WATER)
    assert problem_codes(again) == ["ALREADY_APPEALED"]

    # The run's window closes; the appeal of the consequence is still open: the run is not final.
    rt = appeals_app.state.appeals
    clock.now = PUBLISHED_AT + timedelta(days=8)
    assert await sweep(db, rt.scoring, now=clock()) == [] and scoring.settled == []

    # The organizer upholds it, setting the corrected value that moved GZ-WATER anew: scoring corrects GZ-HOUSING.
    scoring.peer_effects = {}
    taken = (await call(appeals, TAKE, {"id": contest["id"], "v": contest["version"]}, REVIEWER))["appeal"]
    decide = DECIDE.replace("$up: [String!]", "$up: [String!], $acc: [AppealAcceptedValueInput!]").replace(
        "upheldIndicators: $up", "upheldIndicators: $up, acceptedValues: $acc"
    )
    decided = await call(appeals, decide, {"id": contest["id"], "v": taken["version"], "o": "UPHELD",
                                           "reason": "93 is what the logs support", "up": None,
                                           "acc": [{"indicator": "answer_rate", "value": 93.0}]}, REVIEWER)  # fmt: skip
    assert decided["ok"], decided
    assert scoring.revisions[-1]["adjustments"] == [
        {"kind": "correct_value", "unit": "GZ-HOUSING", "indicator": "answer_rate", "value": 93.0}
    ]
    # GZ-HOUSING's corrected value moved again, on another unit's appeal: it is told in turn, with a window of its own.
    housing = data_of(await gql(appeals, MINE, headers=UNIT))["appealConsequences"]["edges"]
    assert [(e["node"]["causeAppealId"], e["node"]["correctedIndicators"]) for e in housing] == [
        (contest["id"], ["answer_rate"])
    ]
    # Final only once every window has closed: the decision's escalation time and GZ-HOUSING's consequence window.
    clock.now += timedelta(days=4)
    assert await sweep(db, rt.scoring, now=clock()) == []
    clock.now += timedelta(days=1, seconds=1)
    assert await sweep(db, rt.scoring, now=clock()) == ["RUN-GZ"]


async def test_when_the_scheme_says_no_the_peer_is_told_but_cannot_appeal_and_the_run_does_not_wait(
    appeals_app, appeals, scoring, clock, db
):
    for result in scoring.results.values():
        result["peer_appeals"] = {"allowed": False, "window_days": 5}
    await _decided_with_a_peer_effect(appeals, scoring, clock)
    consequence = await _consequence_of(appeals)
    assert (consequence["appealable"], consequence["appealableUntil"]) == (False, None)
    assert "does not let a unit appeal" in consequence["explanation"]["en"]
    refused = await call(appeals, FILE_CONSEQUENCE, {"r": "R-WATER", "c": consequence["id"], "i": ["answer_rate"],
                                                     "asks": CONTEST}, WATER)  # fmt: skip
    assert problem_codes(refused) == ["NOT_APPEALABLE"]
    clock.now = PUBLISHED_AT + timedelta(days=8)  # the window closed, and the decision's escalation time
    assert await sweep(db, appeals_app.state.appeals.scoring, now=clock()) == ["RUN-GZ"]


PREVIEW = """query($id: ID!, $o: AppealOutcome!, $up: [String!]) {
  appealDecisionPreview(id: $id, outcome: $o, upheldIndicators: $up) {
    problems { code } warnings { code } revision adjustments
    appellant { unitId totalBefore totalAfter }
    otherUnits { unitId resultId adjusted totalBefore totalAfter rankBefore rankAfter
                 indicatorChanges { indicator scoreBefore scoreAfter } }
    referenceMoves { indicator before after setByAfter } } }"""


async def test_the_deciding_side_sees_whom_a_decision_would_move_before_deciding(appeals, scoring, clock):
    scoring.peer_effects = ANSWER_RATE_MOVES_THE_REFERENCE
    appeal = (await file_appeal(appeals))["appeal"]
    await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER)
    variables = {"id": appeal["id"], "o": "PARTLY_UPHELD", "up": ["answer_rate"]}
    preview = data_of(await gql(appeals, PREVIEW, variables, headers=REVIEWER))["appealDecisionPreview"]
    assert preview["problems"] == [] and preview["revision"] == 2
    assert preview["adjustments"] == [{"kind": "correct_value", "unit": "GZ-HOUSING", "indicator": "answer_rate",
                                       "value": 95.0}]  # fmt: skip
    assert preview["appellant"] == {"unitId": "GZ-HOUSING", "totalBefore": 80.0, "totalAfter": 81.5}
    assert preview["otherUnits"] == [
        {"unitId": "GZ-WATER", "resultId": "R-WATER", "adjusted": False, "totalBefore": 80.0, "totalAfter": 79.5,
         "rankBefore": 2, "rankAfter": 3,
         "indicatorChanges": [{"indicator": "answer_rate", "scoreBefore": 4.0, "scoreAfter": 3.5}]}
    ]  # fmt: skip
    assert preview["referenceMoves"] == [{"indicator": "answer_rate", "before": 95.0, "after": 97.0,
                                          "setByAfter": "GZ-HOUSING"}]  # fmt: skip
    # A preview stores nothing and tells no one.
    assert scoring.revisions == [] and ("POST", "/runs/RUN-GZ/revisions/dry-run", "GD-GZ") in scoring.calls
    assert data_of(await gql(appeals, "{ appealInbox { kind } }", headers=WATER))["appealInbox"] == []
    assert scoring.results["R-WATER"]["total"] == 80.0
    # The same rules as the decision: the appellant may not preview a decision, nor anyone uphold what was not asked.
    mine = data_of(await gql(appeals, PREVIEW, variables, headers=UNIT))["appealDecisionPreview"]
    assert [p["code"] for p in mine["problems"]] == ["FORBIDDEN_ROLE"] and mine["otherUnits"] == []
    unasked = {**variables, "up": ["on_time_closure_rate"]}
    nothing = (await file_appeal(appeals, indicators=["on_time_closure_rate", "answer_rate"], asks=[
        {"indicator": "answer_rate", "kind": "CORRECT_VALUE", "value": 95.0}]))["appeal"]  # fmt: skip
    await call(appeals, TAKE, {"id": nothing["id"], "v": nothing["version"]}, REVIEWER)
    refused = data_of(await gql(appeals, PREVIEW, {**unasked, "id": nothing["id"]}, headers=REVIEWER))
    assert [p["code"] for p in refused["appealDecisionPreview"]["problems"]] == ["NOTHING_ASKED"]


async def test_an_unused_consequence_window_alone_holds_the_run_open(appeals_app, appeals, scoring, clock, db):
    for result in scoring.results.values():  # the peers' window (10 days) outlasts the escalation time (5)
        result["peer_appeals"] = {"allowed": True, "window_days": 10}
    await _decided_with_a_peer_effect(appeals, scoring, clock)
    closes = datetime.fromisoformat((await _consequence_of(appeals))["appealableUntil"])
    rt = appeals_app.state.appeals
    clock.now = PUBLISHED_AT + timedelta(days=8)  # the run's window and the decision's escalation time are over
    assert await sweep(db, rt.scoring, now=clock()) == []
    clock.now = closes - timedelta(seconds=1)
    assert await sweep(db, rt.scoring, now=clock()) == []
    clock.now = closes
    assert await sweep(db, rt.scoring, now=clock()) == ["RUN-GZ"]
