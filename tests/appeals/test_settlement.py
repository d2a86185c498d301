"""Finality: scoring is told when a run's window has closed and every appeal on it is settled."""

from __future__ import annotations

from datetime import timedelta

from services.appeals.settlement import sweep
from tests.appeals.conftest import (
    DECIDE,
    ESCALATE,
    PARENT_REVIEWER,
    PUBLISHED_AT,
    REVIEWER,
    TAKE,
    UNIT,
    call,
    file_appeal,
)


async def _decided(appeals, **kwargs):
    appeal = (await file_appeal(appeals, **kwargs))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    return (
        await call(
            appeals,
            DECIDE,
            {"id": appeal["id"], "v": taken["version"], "o": "REJECTED", "reason": "no", "up": []},
            REVIEWER,
        )
    )["appeal"]


async def test_the_sweep_waits_for_the_window_and_for_escalation_time(appeals_app, appeals, scoring, clock, db):
    clock.advance(days=4)  # decided 5 days after publication: escalation possible until day 10
    await _decided(appeals)
    rt = appeals_app.state.appeals
    assert await sweep(db, rt.scoring, now=clock()) == []  # window still open
    clock.now = PUBLISHED_AT + timedelta(days=7)  # window closed, but the decision may still be escalated
    assert await sweep(db, rt.scoring, now=clock()) == []
    clock.now = PUBLISHED_AT + timedelta(days=10)  # escalation time over
    assert await sweep(db, rt.scoring, now=clock()) == ["RUN-GZ"]
    [(run_id, acting, summary)] = scoring.settled
    assert run_id == "RUN-GZ" and acting == "GD-GZ"
    assert summary["appeals"] == {"total": 1, "rejected": 1}
    assert await sweep(db, rt.scoring, now=clock()) == []  # told once


async def test_an_open_appeal_holds_the_run_open(appeals_app, appeals, scoring, clock, db):
    await file_appeal(appeals)
    clock.advance(days=30)
    assert await sweep(db, appeals_app.state.appeals.scoring, now=clock()) == [] and scoring.settled == []


async def test_a_lapsed_draft_does_not_hold_the_run_open(appeals_app, appeals, scoring, clock, db):
    await file_appeal(appeals, submit=False)
    clock.advance(days=7)
    assert await sweep(db, appeals_app.state.appeals.scoring, now=clock()) == ["RUN-GZ"]


async def test_runs_without_appeals_are_learned_from_scoring(appeals_app, scoring, clock, db):
    closes = PUBLISHED_AT + timedelta(days=7)
    scoring.awaiting = [{"run_id": "RUN-QUIET", "organizer": "GD-SZ", "appeal_window_closes_at": closes.isoformat()}]
    clock.now = closes + timedelta(minutes=1)
    assert await sweep(db, appeals_app.state.appeals.scoring, now=clock()) == ["RUN-QUIET"]
    assert scoring.settled[0][:2] == ("RUN-QUIET", "GD-SZ")
    assert ("GET", "/runs/awaiting-settlement", "-") in scoring.calls


async def test_the_decision_after_escalation_settles_at_once(appeals, scoring, clock):
    decided = await _decided(appeals)
    escalated = (await call(appeals, ESCALATE, {"id": decided["id"], "v": decided["version"]}, UNIT))["appeal"]
    clock.now = PUBLISHED_AT + timedelta(days=8)  # window closed
    taken = (await call(appeals, TAKE, {"id": escalated["id"], "v": escalated["version"]}, PARENT_REVIEWER))["appeal"]
    assert scoring.settled == []
    final = await call(
        appeals,
        DECIDE,
        {"id": escalated["id"], "v": taken["version"], "o": "REJECTED", "reason": "confirmed", "up": []},
        PARENT_REVIEWER,
    )
    assert final["ok"] and [s[0] for s in scoring.settled] == ["RUN-GZ"]


async def test_withdrawing_the_last_open_appeal_settles_at_once(appeals, scoring, clock):
    from tests.appeals.conftest import WITHDRAW

    decided = await _decided(appeals)
    escalated = (await call(appeals, ESCALATE, {"id": decided["id"], "v": decided["version"]}, UNIT))["appeal"]
    clock.now = PUBLISHED_AT + timedelta(days=8)
    assert scoring.settled == []
    withdrawn = await call(appeals, WITHDRAW, {"id": escalated["id"], "v": escalated["version"]}, UNIT)
    assert withdrawn["ok"] and [s[0] for s in scoring.settled] == ["RUN-GZ"]
    assert scoring.settled[0][2]["appeals"] == {"total": 1, "rejected": 1}  # the decision that stands
