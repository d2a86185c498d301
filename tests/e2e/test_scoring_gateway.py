"""Scoring through the real gateway: Unit.results and UnitResult.unit across subgraphs, scope on every path.

Runs need ingest's measures and indicators' schemes, which their own issues are still building; so
this test stores a computed run with the scoring service's own code (engine + store) and reads it
back through the gateway.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from hotline.kit.db import Database
from services.scoring.fuzzy import evaluate_cohort
from services.scoring.inputs import evaluate
from services.scoring.models import EvaluationRun
from services.scoring.store import store_revision
from tests.scoring.example import MEASURES, example_scheme
from tests.scoring.test_fuzzy import engine_details
from tests.support import auth, data_of, gql

UNITS = {"UA": "GZ-HOUSING", "UB": "GZ-TRANSPORT", "UC": "GZ-WATER", "UD": "GZ-TIANHE"}


@pytest.fixture(scope="module")
async def published_run(stack) -> str:
    document = example_scheme(organizer="GD-GZ", cohort={"units": sorted(UNITS.values())})
    inputs = {
        "period": {"kind": "month", "from": "2025-03-01", "to": "2025-03-31", "label": "2025-03", "months": [3]},
        "units": sorted(UNITS.values()),
        "measures": {UNITS[u]: m for u, m in MEASURES.items()},
    }
    outcome, sha = evaluate(document, inputs)
    database = Database.from_url(stack.database_url)
    run_id = uuid.uuid4()
    async with database.unit_of_work() as session:
        run = EvaluationRun(
            id=run_id, scheme_id=document["id"], scheme_version=1, scheme_document=document, organizer_id="GD-GZ",
            cohort_units=inputs["units"], cohort_hash=f"e2e-{run_id}", period_kind="month",
            period_from=date(2025, 3, 1), period_to=date(2025, 3, 31), status="done", progress=100,
            current_revision=0, requested_by="e2e", published_at=datetime.now(UTC),
        )  # fmt: skip
        session.add(run)
        await session.flush()
        await store_revision(
            session, run, revision=1, inputs=inputs, outcome=outcome, sha256=sha, reason="e2e", created_by="e2e"
        )
    await database.dispose()
    return str(run_id)


QUERY = """
{ me { unit { id nameZh results { total rank grade { nameZh } unit { id nameZh }
  run { scheme { id } period { label } } indicators { indicator score explanation { zh } } } } } }
"""


async def test_a_unit_reads_its_result_across_subgraphs(gateway, published_run):
    data = data_of(await gql(gateway, QUERY, headers=auth("GZ-WATER", "unit")))
    unit = data["me"]["unit"]
    # GZ-WATER plays UC of the hand-computed example: 80.95, rank 2, 合格.
    [result] = unit["results"]
    assert (result["total"], result["rank"], result["grade"]["nameZh"]) == (80.95, 2, "合格")
    assert result["unit"] == {"id": "GZ-WATER", "nameZh": unit["nameZh"]}  # resolved by ingest
    assert result["run"]["period"]["label"] == "2025-03" and result["run"]["scheme"]["id"].endswith(":1")
    assert len(result["indicators"]) == 5 and "样本量" in result["indicators"][0]["explanation"]["zh"]


async def test_scope_holds_for_results_through_the_gateway(gateway, published_run):
    query = "query($id: ID!) { run(id: $id) { results { edges { node { unitId } } } } }"
    city = data_of(await gql(gateway, query, {"id": published_run}, headers=auth("GD-GZ", "organizer")))
    assert len(city["run"]["results"]["edges"]) == 4
    water = data_of(await gql(gateway, query, {"id": published_run}, headers=auth("GZ-WATER", "unit")))
    assert [e["node"]["unitId"] for e in water["run"]["results"]["edges"]] == ["GZ-WATER"]
    other_city = data_of(await gql(gateway, query, {"id": published_run}, headers=auth("GD-SZ", "organizer")))
    assert other_city == {"run": None}
    foreign = '{ unit(id: "GZ-HOUSING") { results { total } } }'
    assert data_of(await gql(gateway, foreign, headers=auth("GZ-WATER", "unit"))) == {"unit": None}


FUZZY = """
query($id: ID!) { run(id: $id) { fuzzyEvaluation(method: PCA) { method revision problems
  weights { indicator weight } principalComponents { components cumulativeShare }
  units { unitId total composite grade { code nameZh } score membership { indicator memberships } explanation { zh en } } } } }
"""


async def test_the_fuzzy_evaluation_through_the_gateway_in_scope(gateway, published_run):
    city = data_of(await gql(gateway, FUZZY, {"id": published_run}, headers=auth("GD-GZ", "organizer")))
    evaluation = city["run"]["fuzzyEvaluation"]
    assert evaluation["problems"] == [] and evaluation["method"] == "PCA" and evaluation["revision"] == 1
    assert [u["unitId"] for u in evaluation["units"]] == sorted(UNITS.values())
    assert abs(sum(w["weight"] for w in evaluation["weights"]) - 1) < 1e-5
    assert evaluation["principalComponents"]["cumulativeShare"] >= 0.85
    # The same figures as the pure evaluation of the same inputs (tests/scoring/test_fuzzy.py), here read
    # back from the stored revision through the gateway. GZ-WATER plays UC.
    scheme, details = engine_details({UNITS[u]: m for u, m in MEASURES.items()}, organizer="GD-GZ")
    expected = {u.unit: u for u in evaluate_cohort(scheme, details, "pca").units}["GZ-WATER"]
    water = next(u for u in evaluation["units"] if u["unitId"] == "GZ-WATER")
    assert water["composite"] == list(expected.composite) and water["score"] == expected.score
    assert water["grade"]["code"] == expected.grade.code and water["total"] == 80.95
    assert [r["indicator"] for r in water["membership"]] == [r.factor.indicator for r in expected.rows]
    assert "主成分分析法" in water["explanation"]["zh"] and "B = W·R" in water["explanation"]["en"]
    # The unit itself: its own row only (rankings are not public in this scheme), the same weights.
    own = data_of(await gql(gateway, FUZZY, {"id": published_run}, headers=auth("GZ-WATER", "unit")))
    mine = own["run"]["fuzzyEvaluation"]
    assert [u["unitId"] for u in mine["units"]] == ["GZ-WATER"] and mine["units"][0] == water
    assert mine["weights"] == evaluation["weights"]
    # The province above sees all of it; a sibling city sees nothing — not even the run.
    province = data_of(await gql(gateway, FUZZY, {"id": published_run}, headers=auth("GD", "viewer")))
    assert len(province["run"]["fuzzyEvaluation"]["units"]) == 4
    sibling = data_of(await gql(gateway, FUZZY, {"id": published_run}, headers=auth("GD-SZ", "organizer")))
    assert sibling == {"run": None}
