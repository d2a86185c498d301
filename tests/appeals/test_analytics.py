"""Organizer statistics: counts, overturn rates per indicator and reviewer, time to decision, late decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.appeals.analytics import AppealRow, DecisionRow, compute
from tests.appeals.conftest import DECIDE, REVIEWER, REVIEWER_2, TAKE, auth, call, file_appeal
from tests.support import data_of, error_codes, gql

T0 = datetime(2026, 3, 3, tzinfo=UTC)


def test_compute_by_hand():
    appeals = [
        AppealRow("a1", "U1", "decided", "wrong_data", ["x", "y"], T0),
        AppealRow("a2", "U1", "decided", "other", ["x"], T0),
        AppealRow("a3", "U2", "submitted", "wrong_data", ["y"], T0),
        AppealRow("a4", "U2", "decided", "wrong_data", ["y"], T0),
    ]
    decisions = [
        # a1: partly upheld for x by rev1 in 10 h; a2: rejected by rev1 in 30 h (due after 24 h: late);
        # a4: rejected by rev2 in 20 h, then upheld on escalation by rev3 (the final decision counts per indicator).
        DecisionRow("a1", 0, "partly_upheld", ["x"], "rev1", T0 + timedelta(hours=10), T0 + timedelta(hours=24)),
        DecisionRow("a2", 0, "rejected", [], "rev1", T0 + timedelta(hours=30), T0 + timedelta(hours=24)),
        DecisionRow("a4", 0, "rejected", [], "rev2", T0 + timedelta(hours=20), None),
        DecisionRow("a4", 1, "upheld", ["y"], "rev3", T0 + timedelta(hours=50), T0 + timedelta(hours=60)),
        DecisionRow("elsewhere", 0, "upheld", ["x"], "rev1", T0, None),  # not among the appeals: ignored
    ]
    s = compute(appeals, decisions)
    assert s.total == 4 and s.decided == 3
    assert s.by_status == {"decided": 3, "submitted": 1}
    assert s.by_indicator == {"x": 2, "y": 3}
    assert s.by_reason == {"other": 1, "wrong_data": 3}
    assert s.by_unit == {"U1": 2, "U2": 2}
    # x: a1 upheld, a2 not → 1/2; y: a1 not, a4 upheld (final) → 1/2 (a3 undecided is not counted).
    assert [(r.key, r.decided, r.overturned, r.rate) for r in s.overturn_by_indicator] == [
        ("x", 2, 1, 0.5),
        ("y", 2, 1, 0.5),
    ]
    assert [(r.key, r.decided, r.overturned) for r in s.overturn_by_reviewer] == [
        ("rev1", 2, 1),
        ("rev2", 1, 0),
        ("rev3", 1, 1),
    ]
    # rev2's rejection of a4 was escalated and reversed by rev3 (y upheld).
    assert [(r.key, r.decided, r.overturned) for r in s.reversed_on_escalation_by_reviewer] == [("rev2", 1, 1)]
    assert s.mean_hours_to_decision == 20.0 and s.median_hours_to_decision == 20.0  # (10 + 30 + 20) / 3
    assert s.decided_late == 1 and s.late_appeal_ids == ["a2"]


def test_nothing_decided_gives_no_rates():
    s = compute([AppealRow("a", "U", "submitted", "other", ["x"], None)], [])
    assert s.overturn_by_indicator == [] and s.mean_hours_to_decision is None and s.decided_late == 0


STATS = """query($run: ID) { appealStatistics(runId: $run) { total decided decidedLate lateAppealIds
    byStatus { key count } byIndicator { key count } byReason { key count } byUnit { key count }
    overturnByIndicator { key decided overturned rate } overturnByReviewer { key decided overturned rate }
    reversedOnEscalationByReviewer { key decided overturned }
    meanHoursToDecision medianHoursToDecision } }"""


async def _decide(appeals, appeal, headers, outcome, up=()):
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, headers))["appeal"]
    variables = {"id": appeal["id"], "v": taken["version"], "o": outcome, "reason": "checked", "up": list(up)}
    return await call(appeals, DECIDE, variables, headers)


async def test_statistics_through_the_api_for_the_organizer_only(appeals, clock):
    a1 = (await file_appeal(appeals))["appeal"]
    a2 = (await file_appeal(appeals, headers=auth("GZ-WATER", "unit"), result="R-WATER"))["appeal"]
    await file_appeal(appeals, result="R-SZ", headers=auth("SZ-HOUSING", "unit"))  # another city's run
    clock.advance(hours=6)
    assert (await _decide(appeals, a1, REVIEWER, "PARTLY_UPHELD", ["answer_rate"]))["ok"]
    clock.advance(days=11)  # decision_days is 10: this one is late
    assert (await _decide(appeals, a2, REVIEWER_2, "REJECTED"))["ok"]
    s = data_of(await gql(appeals, STATS, {"run": "RUN-GZ"}, headers=auth("GD-GZ", "organizer")))["appealStatistics"]
    assert s["total"] == 2 and s["decided"] == 2
    assert s["byStatus"] == [{"key": "DECIDED", "count": 2}]  # spelled as the AppealStatus enum, like everywhere
    assert s["byUnit"] == [{"key": "GZ-HOUSING", "count": 1}, {"key": "GZ-WATER", "count": 1}]
    assert s["byReason"] == [{"key": "wrong_data", "count": 2}]
    assert s["overturnByIndicator"] == [
        {"key": "answer_rate", "decided": 2, "overturned": 1, "rate": 0.5},
        {"key": "on_time_closure_rate", "decided": 2, "overturned": 0, "rate": 0.0},
    ]
    assert s["overturnByReviewer"] == [
        {"key": "reviewer-li", "decided": 1, "overturned": 1, "rate": 1.0},
        {"key": "reviewer-wang", "decided": 1, "overturned": 0, "rate": 0.0},
    ]
    assert s["reversedOnEscalationByReviewer"] == []  # nothing escalated
    assert s["meanHoursToDecision"] == (6 + 6 + 11 * 24) / 2
    assert s["decidedLate"] == 1 and s["lateAppealIds"] == [a2["id"]]
    # A unit is not an organizer: it sees its own figures (issue 17: not all zeros), never its peers' appeals.
    unit_view = data_of(await gql(appeals, STATS, {"run": None}, headers=auth("GZ-HOUSING", "unit")))
    mine = unit_view["appealStatistics"]
    assert (mine["total"], mine["decided"], mine["byUnit"]) == (1, 1, [{"key": "GZ-HOUSING", "count": 1}])
    assert mine["overturnByIndicator"] == [
        {"key": "answer_rate", "decided": 1, "overturned": 1, "rate": 1.0},
        {"key": "on_time_closure_rate", "decided": 1, "overturned": 0, "rate": 0.0},
    ]
    side = "query { appealStatistics(side: ORGANIZER) { total } }"
    assert error_codes(await gql(appeals, side, headers=auth("GZ-HOUSING", "unit"))) == ["FORBIDDEN"]
    province = data_of(await gql(appeals, STATS, {"run": None}, headers=auth("GD", "organizer")))
    assert province["appealStatistics"]["total"] == 3
