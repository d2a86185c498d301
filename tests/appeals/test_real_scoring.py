"""The appeals service against the REAL scoring app in-process (contracts §6): a run computed and published by
scoring's own code (over the fake measures and scheme of the scoring tests), then an appeal decided, escalated
and decided again — each decision a new revision made by scoring — and the run made final.

The numbers are those of the hand-computed example (``tests/scoring/example.py``), with GZ-HOUSING playing UB:
total 69.33; excluding complaint C-1 (3 → 2 complaints) raises complaints 6 → 8 (total 71.33); correcting the
average answer wait 20 → 12.5 s raises it 10 → 16 (total 77.33).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from hotline.kit.errors import ConflictError
from services.appeals.settlement import sweep
from services.scoring import worker
from tests.appeals.conftest import (
    DECIDE,
    ESCALATE,
    FILE,
    PATHS,
    TAKE,
    UNIT,
    as_user,
    call,
)
from tests.scoring.example import MEASURES, example_scheme
from tests.scoring.fakes import FakeMeasures, FakeSchemes, RoutingTransport
from tests.support import TREE, auth, data_of, gql

# The example's units UA…UD, played by units of the appeals tests' tree (all under GD-GZ).
PLAYERS = {"UA": "GZ-TIANHE", "UB": "GZ-HOUSING", "UC": "GZ-WATER", "UD": "GZ-T1"}
ORGANIZER = auth("GD-GZ", "organizer")
REVIEWER = as_user("GD-GZ", "reviewer-li", "reviewer")
PARENT_REVIEWER = as_user("GD", "reviewer-zhao", "reviewer")


class Clock:
    """Appeals' clock, starting at the real time (scoring publishes by the real clock); tests move it on."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def scoring_app(db, settings, ingest, ingest_app):
    from services.scoring.app import create_app

    response = await ingest.post("/units/bulk", json=TREE, headers=auth("GD", "admin"))
    assert response.status_code == 200, response.text
    measures = FakeMeasures(PATHS)
    for player, values in MEASURES.items():
        measures.put(PLAYERS[player], "2025-03-10", values)
    measures.contributions[("calls", "C-1")] = [
        {"kind": "call", "unit": "GZ-HOUSING", "day": "2025-03-10", "measure": "calls.complaints", "value": 1},
        {"kind": "call", "unit": "GD-GZ", "day": "2025-03-10", "measure": "calls.complaints", "value": 1},
    ]
    schemes = FakeSchemes()
    schemes.add(example_scheme(organizer="GD-GZ", cohort={"units": sorted(PLAYERS.values())}))
    transports = {
        "ingest": RoutingTransport(httpx.ASGITransport(app=ingest_app), measures),
        "indicators": httpx.MockTransport(schemes.handle),
    }
    app = create_app(settings=settings, database=db, service_transports=transports, run_worker=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def scoring(scoring_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=scoring_app), base_url="http://scoring") as client:
        yield client


@pytest.fixture
async def published(scoring, scoring_app) -> dict:
    """A run started, computed and published through scoring's own API and worker."""
    start = (
        """mutation($input: StartRunInput!) { startRun(input: $input) { problems { path code message } run { id } } }"""
    )
    run_input = {"schemeId": example_scheme()["id"], "schemeVersion": 1, "periodKind": "MONTH", "period": "2025-03"}
    started = data_of(await gql(scoring, start, {"input": run_input}, headers=ORGANIZER))["startRun"]
    assert started["problems"] == [], started
    await worker.drain(scoring_app.state.database, scoring_app.state.services)
    publish = (
        "mutation($id: ID!) { publishRun(runId: $id) { problems { path code message } run { id status publishedAt } } }"
    )
    run = data_of(await gql(scoring, publish, {"id": started["run"]["id"]}, headers=ORGANIZER))["publishRun"]
    assert run["problems"] == [] and run["run"]["status"] == "done", run
    return run["run"]


@pytest.fixture
def clock(published) -> Clock:
    return Clock()  # after the publication


@pytest.fixture
async def appeals_app(db, settings, service_transports, scoring_app, clock):
    from services.appeals.app import create_app

    transports = {**service_transports, "scoring": httpx.ASGITransport(app=scoring_app)}
    app = create_app(settings=settings, database=db, service_transports=transports, clock=clock, worker=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def appeals(appeals_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=appeals_app), base_url="http://appeals") as client:
        yield client


RESULT = """query($id: ID!) { unitResult(id: $id) { revision total final
  indicators { indicator score } atRevision(revision: 1) { total } } }"""


async def result_of(scoring, run_id: str, unit: str) -> dict:
    query = "query($id: ID!) { run(id: $id) { results { edges { node { id unitId } } } } }"
    edges = data_of(await gql(scoring, query, {"id": run_id}, headers=ORGANIZER))["run"]["results"]["edges"]
    result_id = next(e["node"]["id"] for e in edges if e["node"]["unitId"] == unit)
    return {"id": result_id, **data_of(await gql(scoring, RESULT, {"id": result_id}, headers=ORGANIZER))["unitResult"]}


ASKS = [
    {"indicator": "complaints", "kind": "EXCLUDE_RECORDS", "records": [{"source": "calls", "recordId": "C-1"}]},
    {"indicator": "average_answer_wait", "kind": "CORRECT_VALUE", "value": 12.5},
]


async def test_an_appeal_decided_escalated_and_decided_again_revises_the_real_run_which_then_becomes_final(
    appeals, appeals_app, scoring, published, clock
):
    before = await result_of(scoring, published["id"], "GZ-HOUSING")
    assert (before["revision"], before["total"]) == (1, 69.33)
    variables = {"r": before["id"], "i": ["complaints", "average_answer_wait"], "asks": ASKS, "submit": True,
                 "ev": [{"source": "calls", "recordId": "C-1", "note": "the caller complained about another unit"}]}  # fmt: skip
    filed = await call(appeals, FILE, variables, UNIT)
    assert filed["ok"], filed
    appeal = filed["appeal"]
    # The limits come from scoring's appeal_limits: the example scheme names no decision_days → 15.
    due = datetime.fromisoformat(appeal["decisionDueAt"]) - datetime.fromisoformat(appeal["submittedAt"])
    assert due == timedelta(days=15) and appeal["scoreTotalAtFiling"] == 69.33
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    decided = await call(
        appeals,
        DECIDE,
        {"id": appeal["id"], "v": taken["version"], "o": "PARTLY_UPHELD", "reason": "C-1 was another unit's",
         "up": ["complaints"]},
        REVIEWER,
    )  # fmt: skip
    assert decided["ok"], decided
    [first] = decided["appeal"]["decisions"]
    assert (first["newRevision"], first["totalBefore"], first["totalAfter"]) == (2, 69.33, 71.33)
    assert first["indicatorChanges"] == [{"indicator": "complaints", "scoreBefore": 6.0, "scoreAfter": 8.0}]
    revised = await result_of(scoring, published["id"], "GZ-HOUSING")
    assert (revised["id"], revised["revision"], revised["total"], revised["atRevision"]) == (
        before["id"], 2, 71.33, {"total": 69.33},
    )  # fmt: skip

    # A retried revision request (same appeal and level) gets the same revision back; nothing new is made.
    rt = appeals_app.state.appeals
    adjustment = {"kind": "exclude_records", "unit": "GZ-HOUSING", "indicator": "complaints",
                  "records": [{"source": "calls", "record_id": "C-1"}]}  # fmt: skip
    [again] = (
        await rt.scoring.revise(
            published["id"], acting_for="GD-GZ", appeal_id=f"{appeal['id']}:0", reason="retry", adjustments=[adjustment]
        )
    ).changes
    assert (again.revision, again.result_id, again.total_before, again.total_after) == (2, before["id"], 69.33, 71.33)
    assert (await result_of(scoring, published["id"], "GZ-HOUSING"))["revision"] == 2

    escalated = (await call(appeals, ESCALATE, {"id": appeal["id"], "v": decided["appeal"]["version"]}, UNIT))["appeal"]
    retaken = (await call(appeals, TAKE, {"id": appeal["id"], "v": escalated["version"]}, PARENT_REVIEWER))["appeal"]
    upheld = await call(
        appeals,
        DECIDE,
        {"id": appeal["id"], "v": retaken["version"], "o": "UPHELD", "reason": "the wait was mis-measured",
         "up": None},
        PARENT_REVIEWER,
    )  # fmt: skip
    assert upheld["ok"], upheld
    second = upheld["appeal"]["decisions"][1]
    assert (second["level"], second["newRevision"], second["totalBefore"], second["totalAfter"]) == (1, 3, 71.33, 77.33)
    assert second["indicatorChanges"] == [{"indicator": "average_answer_wait", "scoreBefore": 10.0, "scoreAfter": 16.0}]
    query = "query($id: ID!) { run(id: $id) { final revisions { revision appealId } } }"
    run = data_of(await gql(scoring, query, {"id": published["id"]}, headers=ORGANIZER))["run"]
    assert [(r["revision"], r["appealId"]) for r in run["revisions"]] == [
        (1, None), (2, f"{appeal['id']}:0"), (3, f"{appeal['id']}:1"),
    ]  # fmt: skip
    assert run["final"] is False  # the window is still open

    # A week later (appeals' clock) the window has closed and every appeal is settled: the sweep tells scoring.
    clock.now += timedelta(days=8)
    assert await sweep(appeals_app.state.database, rt.scoring, now=clock()) == [published["id"]]
    final = await result_of(scoring, published["id"], "GZ-HOUSING")
    assert (final["final"], final["revision"], final["total"]) == (True, 3, 77.33)
    with pytest.raises(ConflictError):  # final results refuse further revisions
        await rt.scoring.revise(
            published["id"], acting_for="GD-GZ", appeal_id="late:0", reason="late", adjustments=[adjustment]
        )


async def test_a_run_without_appeals_is_learned_from_scoring_and_settled_by_the_sweep(
    appeals_app, scoring, scoring_app, published, clock, db
):
    from sqlalchemy import text

    rt = appeals_app.state.appeals
    assert await rt.scoring.awaiting_settlement() == []  # the window is still open (scoring's own clock)
    async with db.unit_of_work() as session:
        await session.execute(
            text("UPDATE scoring.evaluation_run SET appeal_window_closes_at = :at WHERE id = :id"),
            {"at": datetime.now(UTC) - timedelta(seconds=1), "id": published["id"]},
        )
    [awaiting] = await rt.scoring.awaiting_settlement()
    assert (awaiting["run_id"], awaiting["organizer"]) == (published["id"], "GD-GZ")
    assert await sweep(appeals_app.state.database, rt.scoring, now=clock()) == [published["id"]]
    query = "query($id: ID!) { run(id: $id) { final } }"
    assert data_of(await gql(scoring, query, {"id": published["id"]}, headers=ORGANIZER))["run"]["final"] is True
    assert await rt.scoring.awaiting_settlement() == []
