"""The whole chain with the real services in-process: records into ingest, a scheme published in
indicators, a run in scoring that fetches both over HTTP — no fakes between the services."""

from __future__ import annotations

import httpx
import pytest

from services.scoring import worker
from tests.ingest.records_support import send, to_csv
from tests.support import auth, data_of, gql

ADMIN = auth("GD", "admin")
CITY = auth("GD-GZ", "organizer")
TREE = [
    {"id": "GD", "kind": "province_body", "name_zh": "广东省"},
    {"id": "GD-GZ", "parent_id": "GD", "kind": "city_body", "name_zh": "广州市"},
    {"id": "GD-SZ", "parent_id": "GD", "kind": "city_body", "name_zh": "深圳市"},
    {"id": "UA", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "甲单位"},
    {"id": "UB", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "乙单位"},
    {"id": "UC", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "丙单位"},
]

# Work orders received by the city in March 2025 (evaluated over the first quarter) and dispatched to three units. Due on the 20th;
# "on time" = closed by then. Per unit (assigned / closed / closed on time):
#   UA 4 / 4 / 3  → on-time closure 75 %, overall closure 100 %
#   UB 2 / 2 / 2  → 100 %, 100 %
#   UC 5 / 3 / 2  → 40 %, 60 %
PLAN = {"UA": ["on", "on", "on", "late"], "UB": ["on", "on"], "UC": ["on", "on", "late", "open", "open"]}
CLOSED = {"on": "2025-03-15 10:00:00", "late": "2025-03-25 10:00:00", "open": ""}


def work_orders() -> list[dict]:
    rows = []
    for unit, fates in PLAN.items():
        for n, fate in enumerate(fates):
            rows.append({
                "record_id": f"{unit}-{n}", "unit_id": "GD-GZ", "received_at": "2025-03-10 09:00:00",
                "channel": "phone", "handling_unit_id": unit, "dispatched_at": "2025-03-10 10:00:00",
                "due_at": "2025-03-20 18:00:00", "closed_at": CLOSED[fate],
            })  # fmt: skip
    return rows


def scheme_body() -> dict:
    return {
        "code": "GZ-UNITS-2025-03",
        "name_zh": "广州市承办单位办结情况评价",
        "name_en": "Guangzhou undertaking units: closure",
        # A special evaluation (专项评价): a chosen subset of indicators over at least three months.
        "kind": "special",
        "cohort": {"units": ["UA", "UB", "UC"]},
        "period": {"granularity": "quarter"},
        "na_policy": "rescale",
        "expert_aggregation": "mean",
        "rankings_public": False,
        "appeal": {"window_days": 7, "max_appeals_per_result": 3, "max_indicators_per_appeal": 5},
        "grade_bands": [
            {"code": "excellent", "name_zh": "优秀", "min": 90},
            {"code": "qualified", "name_zh": "合格", "min": 70},
            {"code": "needs_improvement", "name_zh": "待改进", "min": 0},
        ],
        "items": [
            {
                "indicator": {"code": "on_time_closure_rate", "version": 1},
                "points": 60,
                "rule": {"type": "ratio_to_reference"},
                "reference": {"policy": "best_in_cohort"},
            },
            {
                "indicator": {"code": "overall_closure_rate", "version": 1},
                "points": 40,
                "rule": {"type": "ratio_to_reference"},
                "reference": {"policy": "best_in_cohort"},
            },
        ],
    }


SCHEME_PAYLOAD = "ok problems { path code message } scheme { schemeId version status }"
CREATE = f"mutation($body: JSON!) {{ createScheme(body: $body) {{ {SCHEME_PAYLOAD} }} }}"
PUBLISH = f"mutation($id: ID!, $v: Int!) {{ publishScheme(schemeId: $id, version: $v) {{ {SCHEME_PAYLOAD} }} }}"
START = (
    "mutation($input: StartRunInput!) { startRun(input: $input) { problems { path code message } run { id status } } }"
)
RUN = """query($id: ID!) { run(id: $id) { status error results(first: 10) { edges { node {
  id unitId total rank grade { code }
  indicators { indicator value score reference { value setBy } } } } } } }"""


@pytest.fixture
async def chain(db, settings, ingest_app):
    """Ingest, indicators and scoring apps, each reaching the others over (in-process) HTTP."""
    from services.indicators.app import create_app as create_indicators
    from services.scoring.app import create_app as create_scoring

    indicators_app = create_indicators(
        settings=settings, database=db, service_transports={"ingest": httpx.ASGITransport(app=ingest_app)}
    )
    async with indicators_app.router.lifespan_context(indicators_app):
        transports = {
            "ingest": httpx.ASGITransport(app=ingest_app),
            "indicators": httpx.ASGITransport(app=indicators_app),
        }
        scoring_app = create_scoring(settings=settings, database=db, service_transports=transports, run_worker=False)
        async with scoring_app.router.lifespan_context(scoring_app):
            clients = {}
            for name, app in (("ingest", ingest_app), ("indicators", indicators_app), ("scoring", scoring_app)):
                clients[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
            yield clients, scoring_app
            for client in clients.values():
                await client.aclose()


def metric(name: str, **labels: str) -> float:
    """A sample's current value in this process's Prometheus registry (0 if never recorded)."""
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_records_to_published_scheme_to_run(chain):
    clients, scoring_app = chain
    ingest, indicators, scoring = clients["ingest"], clients["indicators"], clients["scoring"]
    rows_before = metric("hotline_ingest_rows_total", kind="work_order", outcome="new")
    runs_before = metric("hotline_scoring_run_duration_seconds_count", outcome="done")
    assert (await ingest.post("/units/bulk", json=TREE, headers=ADMIN)).json()["counts"]["created"] == len(TREE)
    report = (await send(ingest, "work_order", to_csv(work_orders()), headers=CITY, source="gz-orders")).json()
    assert report["status"] == "done" and report["counts"]["new"] == 11, report

    created = data_of(await gql(indicators, CREATE, {"body": scheme_body()}, headers=CITY))["createScheme"]
    assert created["ok"] and created["problems"] == [], created
    scheme = created["scheme"]
    published = data_of(await gql(indicators, PUBLISH, {"id": scheme["schemeId"], "v": 1}, headers=CITY))
    assert published["publishScheme"]["ok"], published

    run_input = {"schemeId": scheme["schemeId"], "schemeVersion": 1, "periodKind": "QUARTER", "period": "2025-Q1"}
    started = data_of(await gql(scoring, START, {"input": run_input}, headers=CITY))["startRun"]
    assert started["problems"] == [], started
    await worker.drain(scoring_app.state.database, scoring_app.state.services)
    run = data_of(await gql(scoring, RUN, {"id": started["run"]["id"]}, headers=CITY))["run"]
    assert run["status"] == "done", run
    # What operations watch: ingest throughput and run durations on /metrics.
    assert metric("hotline_ingest_rows_total", kind="work_order", outcome="new") - rows_before == 11
    assert metric("hotline_scoring_run_duration_seconds_count", outcome="done") - runs_before == 1
    exposed = (await scoring.get("/metrics")).text
    assert "hotline_scoring_run_duration_seconds_bucket" in exposed and "hotline_ingest_rows_total" in exposed

    results = {e["node"]["unitId"]: e["node"] for e in run["results"]["edges"]}
    # UA: 75/100 × 60 + 100/100 × 40 = 85; UB: 60 + 40 = 100; UC: 40/100 × 60 + 60/100 × 40 = 48.
    assert {u: r["total"] for u, r in results.items()} == {"UA": 85.0, "UB": 100.0, "UC": 48.0}
    assert {u: r["rank"] for u, r in results.items()} == {"UB": 1, "UA": 2, "UC": 3}
    assert {u: r["grade"]["code"] for u, r in results.items()} == {
        "UB": "excellent", "UA": "qualified", "UC": "needs_improvement",
    }  # fmt: skip
    on_time = {
        u: next(i for i in r["indicators"] if i["indicator"] == "on_time_closure_rate") for u, r in results.items()
    }
    assert {u: i["value"] for u, i in on_time.items()} == {"UA": 75.0, "UB": 100.0, "UC": 40.0}
    assert on_time["UC"]["reference"] == {"value": 100.0, "setBy": "UB"}
    # Explainable down to the batch: ingest names the batch and record counts behind each measure.
    # (One result at a time: in this in-process harness all services share one test connection.)
    query = "query($id: ID!) { unitResult(id: $id) { measureSources { measure source records } } }"
    found = data_of(await gql(scoring, query, {"id": results["UC"]["id"]}, headers=CITY))["unitResult"]
    sources = {(s["measure"], s["source"]): s["records"] for s in found["measureSources"]}
    # (records = the rows that move the measure: UC's 5 orders are assigned, 2 of them closed on time)
    assert sources[("orders.assigned", "gz-orders")] == 5 and sources[("orders.closed_on_time", "gz-orders")] == 2
