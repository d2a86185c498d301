"""Absence is not zero across the real services (issue 14): calls into the real ingest from two sources — one that
sends the complaint flag and handle times, one that does not — and a team no record was ever sent for; a special
evaluation published in indicators; a run in scoring over ingest's real ``POST /measures/query`` with its coverage
(contracts §4). No fakes between the services.

Needs ingest's side of the coverage contract (``uncovered`` in the answer); until it is merged this test is skipped,
saying so, and runs by itself once ingest answers coverage.
"""

from __future__ import annotations

import pytest

from services.scoring import worker
from tests.ingest.records_support import send, to_csv
from tests.integration.test_chain import ADMIN, CITY, CREATE, PUBLISH, START, TREE, chain  # noqa: F401 (a fixture)
from tests.support import data_of, gql

TEAMS = [{"id": f"GZ-T{n}", "parent_id": "GD-GZ", "kind": "agent_team", "name_zh": f"坐席{n}组"} for n in (1, 2, 3)]
RUN = """query($id: ID!) { run(id: $id) { status error results(first: 10) { edges { node { unitId total rank
  totalWithheld { reason } applicableShare
  indicators { indicator applicable naReason score uncoveredMeasures explanation { zh en } } } } } } }"""


def calls(team: str, answered: int, abandoned: int, *, complete: bool) -> list[dict]:
    """Calls of 10 March 2025; ``complete``: the source sends the complaint flag and the handle time."""
    rows = []
    for n in range(answered + abandoned):
        row = {"record_id": f"{team}-{n}", "unit_id": team, "started_at": "2025-03-10 09:00:00",
               "direction": "inbound", "outcome": "answered" if n < answered else "abandoned"}  # fmt: skip
        if complete:
            row.update(talk_seconds=100 if n < answered else "", handle_seconds=120 if n < answered else "",
                       complaint="false")  # fmt: skip
        rows.append(row)
    return rows


def scheme_body() -> dict:
    return {
        "code": "GZ-TEAMS-2025-Q1", "name_zh": "广州市坐席组专项评价", "kind": "special",
        "cohort": {"units": [t["id"] for t in TEAMS]}, "period": {"granularity": "quarter"},
        "items": [
            {"indicator": {"code": "cc_answer_rate", "version": 1}, "points": 60,
             "rule": {"type": "ratio_to_reference"}, "reference": {"policy": "best_in_cohort"}},
            {"indicator": {"code": "cc_complaint_rate", "version": 1}, "points": 20,
             "rule": {"type": "threshold", "target": 1}, "reference": {"policy": "none"}},
            {"indicator": {"code": "cc_average_handle_time", "version": 1}, "points": 20,
             "rule": {"type": "target_band", "low": 60, "high": 180, "tolerance": 150}, "reference": {"policy": "none"}},
        ],
    }  # fmt: skip


async def test_absent_measures_and_an_empty_team_through_the_real_ingest(chain):  # noqa: F811
    clients, scoring_app = chain
    ingest, indicators, scoring = clients["ingest"], clients["indicators"], clients["scoring"]
    assert (await ingest.post("/units/bulk", json=[*TREE, *TEAMS], headers=ADMIN)).status_code == 200
    for team, answered, abandoned, complete in (("GZ-T1", 10, 1, True), ("GZ-T2", 8, 2, False)):
        rows = calls(team, answered, abandoned, complete=complete)
        report = (await send(ingest, "call", to_csv(rows), headers=CITY, source=f"acd-{team}")).json()
        assert report["status"] == "done", report
    probe = await ingest.post("/measures/query", headers=CITY, json={
        "units": ["GZ-T3"], "measures": ["calls.complaints"], "from": "2025-01-01", "to": "2025-03-31", "by": "total",
    })  # fmt: skip
    if "uncovered" not in probe.json():
        pytest.skip("ingest does not answer coverage yet (contracts §4, the ingest side of issue 14)")

    created = data_of(await gql(indicators, CREATE, {"body": scheme_body()}, headers=CITY))["createScheme"]
    assert created["ok"], created
    scheme = created["scheme"]
    assert data_of(await gql(indicators, PUBLISH, {"id": scheme["schemeId"], "v": 1}, headers=CITY))["publishScheme"][
        "ok"
    ]
    run_input = {"schemeId": scheme["schemeId"], "schemeVersion": 1, "periodKind": "QUARTER", "period": "2025-Q1"}
    started = data_of(await gql(scoring, START, {"input": run_input}, headers=CITY))["startRun"]
    assert started["problems"] == [], started
    await worker.drain(scoring_app.state.database, scoring_app.state.services)
    run = data_of(await gql(scoring, RUN, {"id": started["run"]["id"]}, headers=CITY))["run"]
    assert run["status"] == "done", run
    results = {e["node"]["unitId"]: e["node"] for e in run["results"]["edges"]}
    rows = {u: {i["indicator"]: i for i in r["indicators"]} for u, r in results.items()}

    # GZ-T1: the complaint flag was sent and no call was a complaint — a declared zero, full points; 100 in all.
    assert rows["GZ-T1"]["cc_complaint_rate"]["score"] == 20.0 and results["GZ-T1"]["total"] == 100.0
    # GZ-T2: its source sent neither complaints nor handle times — not applicable, not full points and not
    # "AHT 0 s → 9 of 15"; its answer rate (80 % against 90.9091 %) stands: 52.8 of 60 → 88.00 over 60 % applicable.
    t2 = rows["GZ-T2"]
    assert (t2["cc_complaint_rate"]["naReason"], t2["cc_complaint_rate"]["uncoveredMeasures"]) == (
        "no_data", ["calls.complaints"],
    )  # fmt: skip
    assert (t2["cc_average_handle_time"]["naReason"], t2["cc_average_handle_time"]["score"]) == ("no_data", None)
    assert "calls.handle_seconds" in t2["cc_average_handle_time"]["uncoveredMeasures"]
    assert (results["GZ-T2"]["total"], results["GZ-T2"]["applicableShare"]) == (88.0, 0.6)
    # GZ-T3: no record at all — no total, no rank, every item no_data.
    assert (results["GZ-T3"]["total"], results["GZ-T3"]["rank"]) == (None, None)
    assert results["GZ-T3"]["totalWithheld"]["reason"] == "nothing_applicable"
    assert {i["naReason"] for i in rows["GZ-T3"].values()} == {"no_data"}
    assert {u: r["rank"] for u, r in results.items()} == {"GZ-T1": 1, "GZ-T2": 2, "GZ-T3": None}
