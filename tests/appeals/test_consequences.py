"""Consequences for peers: a decision whose revision moves another unit's score, rank or grade tells that
unit — an inbox entry and a webhook with the figures before and after and the cause (which appeal, which
indicator, which reference moved). The first test was written before the fix (issue 17): the peer got nothing."""

from __future__ import annotations

import json

from tests.appeals.conftest import DECIDE, REVIEWER, TAKE, call, file_appeal
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
