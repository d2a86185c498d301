"""Scoring through the real gateway: Unit.results and UnitResult.unit across subgraphs, scope on every path.

Runs need ingest's measures and indicators' schemes, which their own issues are still building; so
this test stores a computed run with the scoring service's own code (engine + store) and reads it
back through the gateway.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hotline.kit.db import Database
from services.scoring.fuzzy import evaluate_cohort
from services.scoring.inputs import evaluate
from services.scoring.models import EvaluationRun
from services.scoring.store import store_revision
from tests.scoring.example import MEASURES, example_scheme
from tests.scoring.test_fuzzy import engine_details
from tests.support import auth, data_of, gql

UNITS = {"UA": "GZ-HOUSING", "UB": "GZ-TRANSPORT", "UC": "GZ-WATER", "UD": "GZ-TIANHE"}
# A second run on other departments, so that each unit above keeps exactly one result.
CATALOG_UNITS = {"UA": "GZ-URBANMGMT", "UB": "GZ-ECOENV", "UC": "GZ-MARKET", "UD": "GZ-HRSS"}


@pytest.fixture(scope="module")
async def published_run(stack) -> str:
    document = example_scheme(organizer="GD-GZ", cohort={"units": sorted(UNITS.values())})
    return await store_published_run(stack, document, UNITS)


async def store_published_run(stack, document: dict, units: dict[str, str], organizer: str = "GD-GZ") -> str:
    """The hand-computed example, computed by scoring's engine for ``units`` and stored as a published run."""
    inputs = {
        "period": {"kind": "month", "from": "2025-03-01", "to": "2025-03-31", "label": "2025-03", "months": [3]},
        "units": sorted(units.values()),
        "measures": {units[u]: m for u, m in MEASURES.items()},
    }
    outcome, sha = evaluate(document, inputs)
    database = Database.from_url(stack.database_url)
    run_id = uuid.uuid4()
    async with database.unit_of_work() as session:
        run = EvaluationRun(
            id=run_id, scheme_id=document["id"], scheme_version=1, scheme_document=document, organizer_id=organizer,
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


PORTAL = """query Portal($id: ID!) { run(id: $id) { results { edges { node { unitId total indicators {
  indicator score catalog: definition { code version nameZh unit direction } } } } } } }"""
# Two items of the example carry codes of their own; a real scheme pins catalog versions only (indicators
# gives no document otherwise), as this copy does.
CATALOG_CODES = {"satisfaction_rate": "hotline_service_satisfaction", "complaints": "first_contact_rate"}


@pytest.fixture(scope="module")
async def catalog_run(stack) -> str:
    document = example_scheme(organizer="GD-GZ", cohort={"units": sorted(CATALOG_UNITS.values())})
    for item in document["items"]:
        item["indicator"]["code"] = CATALOG_CODES.get(item["indicator"]["code"], item["indicator"]["code"])
    return await store_published_run(stack, document, CATALOG_UNITS)


async def indicators_graphql_requests(stack) -> float:
    """POSTs the indicators subgraph has answered on /graphql (its own Prometheus counter)."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{stack.service_url('indicators')}/metrics")).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "hotline_http_requests_total" and s.labels.get("route") == "/graphql"
    )


async def test_a_portal_gets_the_catalogs_names_for_every_score_in_one_request(gateway, stack, catalog_run):
    """`IndicatorScore.definition` resolves to indicators' `IndicatorVersion`: names, unit and direction come
    in the same request, with one `_entities` call to indicators whatever the number of results."""
    calls, answers = [], {}
    for name, headers in (("city", auth("GD-GZ", "organizer")), ("unit", auth(CATALOG_UNITS["UC"], "unit"))):
        before = await indicators_graphql_requests(stack)
        answers[name] = data_of(await gql(gateway, PORTAL, {"id": catalog_run}, headers=headers))["run"]
        calls.append(await indicators_graphql_requests(stack) - before)
    city = [e["node"] for e in answers["city"]["results"]["edges"]]
    unit = [e["node"] for e in answers["unit"]["results"]["edges"]]
    assert (len(city), len(unit)) == (4, 1) and unit[0]["total"] == 80.95
    # Four results of five scores each, or one result: one request to indicators either way.
    assert calls == [1, 1]
    for node in city + unit:
        catalog = {i["indicator"]: i["catalog"] for i in node["indicators"]}
        assert catalog["answer_rate"] == {
            "code": "answer_rate", "version": 1, "nameZh": "接通率", "unit": "percent", "direction": "HIGHER_BETTER",
        }  # fmt: skip
        assert catalog["average_answer_wait"]["direction"] == "LOWER_BETTER"
        assert catalog["average_handle_time"]["direction"] == "TARGET_BAND"
        assert all(c is not None and c["nameZh"] for c in catalog.values()), catalog


async def test_a_score_the_catalog_does_not_know_loses_only_its_definition(gateway, published_run):
    """The field is nullable: a version indicators does not hold answers null there (the gateway adds an
    error for it), and every other part of the caller's answer stays."""
    answer = await gql(gateway, PORTAL, {"id": published_run}, headers=auth("GZ-WATER", "unit"))
    [node] = [e["node"] for e in answer["data"]["run"]["results"]["edges"]]
    assert node["total"] == 80.95 and len(node["indicators"]) == 5
    catalog = {i["indicator"]: i["catalog"] for i in node["indicators"]}
    assert catalog["satisfaction_rate"] is None and catalog["complaints"] is None
    assert catalog["answer_rate"]["nameZh"] == "接通率"
    assert {tuple(e["path"][:7]) for e in answer["errors"]} == {
        ("run", "results", "edges", 0, "node", "indicators", 2),
        ("run", "results", "edges", 0, "node", "indicators", 3),
    }


FUZZY = """
query($id: ID!) { run(id: $id) { fuzzyEvaluation(method: PCA) { method revision problems { message }
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
