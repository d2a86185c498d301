"""A production-like portal gateway over the real services: trusted documents (the committed manifest) and a CORS
allowlist. Every portal operation of docs/portal.md runs by its hash, as a portal sends it, on a published run of
Shenzhen's departments; operation text and unknown hashes are refused; only the listed origin may read answers.
The development gateway of the same system accepts any operation and no cross-origin reader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from hotline.cli.schema_files import REPO_ROOT, registered_operations
from hotline.cli.stack import Stack
from tests.e2e.conftest import free_port
from tests.e2e.test_scoring_gateway import CATALOG_CODES, store_published_run
from tests.scoring.example import example_scheme
from tests.support import TEST_SECRET, auth, data_of, error_codes, gql

MANIFEST = REPO_ROOT / "gateway" / "persisted-documents.json"
PORTAL_ORIGIN = "https://portal.example.gov.cn"
# Departments no other end-to-end test evaluates, so their results, appeals and queues are this test's own.
UNITS = {"UA": "SZ-TRANSPORT", "UB": "SZ-MARKET", "UC": "SZ-WATER", "UD": "SZ-ECOENV"}
ORGANIZER = auth("GD-SZ", "organizer")
REVIEWER = auth("GD-SZ", "reviewer")
WATER = auth("SZ-WATER", "unit")


@pytest.fixture(scope="module")
async def portal_gateway(stack: Stack, tmp_path_factory) -> AsyncIterator[httpx.AsyncClient]:
    """A second gateway over the same services, as production would run it for a portal."""
    portal = Stack(
        database_url=stack.database_url, log_dir=tmp_path_factory.mktemp("portal-gateway"), jwt_secret=TEST_SECRET,
        ports=stack.ports, gateway_port=free_port(), env="production",
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOTLINE_GATEWAY_TRUSTED_DOCUMENTS", str(MANIFEST))
        env.setenv("HOTLINE_GATEWAY_CORS_ORIGINS", PORTAL_ORIGIN)
        env.setenv("HOTLINE_GATEWAY_RATE_LIMIT", "0")
        portal.start_gateway()
        try:
            await asyncio.to_thread(portal.wait_ready, "gateway", f"{portal.gateway_url}/healthz", 90.0)
            async with httpx.AsyncClient(base_url=portal.gateway_url, timeout=30) as client:
                yield client
        finally:
            portal.stop()


async def run_registered(client: httpx.AsyncClient, name: str, variables: dict, headers: dict) -> dict:
    """The operation ``name`` of the manifest, sent by hash (Hive's `documentId`), as a portal sends it."""
    response = await client.post(
        "/graphql", json={"documentId": registered_operations()[name], "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return data_of(response.json())


@pytest.fixture(scope="module")
async def run_id(stack) -> str:
    document = example_scheme(organizer="GD-SZ", cohort={"units": sorted(UNITS.values())})
    for item in document["items"]:  # catalog versions only, as a real scheme pins (every definition resolves)
        item["indicator"]["code"] = CATALOG_CODES.get(item["indicator"]["code"], item["indicator"]["code"])
    return await store_published_run(stack, document, UNITS, organizer="GD-SZ")


async def test_every_portal_operation_runs_by_hash_through_the_portal_gateway(portal_gateway, run_id):
    me = await run_registered(portal_gateway, "Me", {}, WATER)
    assert me["me"]["unitId"] == "SZ-WATER" and [a["id"] for a in me["me"]["unit"]["ancestors"]] == ["GD", "GD-SZ"]

    runs = await run_registered(portal_gateway, "Runs", {"first": 50}, ORGANIZER)
    assert run_id in [e["node"]["id"] for e in runs["runs"]["edges"]]

    # The hand-computed example: UC (SZ-WATER here) totals 80.95, rank 2 (tests/scoring/example.py).
    ranking = (await run_registered(portal_gateway, "Ranking", {"runId": run_id}, ORGANIZER))["run"]
    assert ranking["summary"]["units"] == 4 and len(ranking["ranking"]) == 4
    water = next(e for e in ranking["ranking"] if e["unitId"] == "SZ-WATER")
    assert (water["total"], water["rank"], water["result"]["grade"]["nameZh"]) == (80.95, 2, "合格")
    assert water["result"]["dimensions"]

    explained = await run_registered(portal_gateway, "ResultExplained", {"resultId": water["result"]["id"]}, WATER)
    result = explained["unitResult"]
    assert result["unitId"] == "SZ-WATER" and result["total"] == 80.95 and result["run"]["id"] == run_id
    assert len(result["indicators"]) == 5 and all(i["explanation"]["zh"] for i in result["indicators"])
    assert all(i["definition"]["code"] == i["indicator"] for i in result["indicators"])  # joined from indicators

    trend = (await run_registered(portal_gateway, "Trend", {"unitId": "SZ-WATER"}, WATER))["unit"]
    assert [r["run"]["id"] for r in trend["results"]] == [run_id]

    filed = (
        await run_registered(
            portal_gateway,
            "FileAppeal",
            {"resultId": result["id"], "indicators": ["hotline_service_satisfaction"], "reasonCategory": "WRONG_DATA",
             "reason": "Two surveys of another department were counted as ours."},
            WATER,
        )
    )["fileAppeal"]  # fmt: skip
    assert filed["ok"] and filed["problems"] == [], filed
    appeal = filed["appeal"]
    assert appeal["status"] == "SUBMITTED"

    mine = (await run_registered(portal_gateway, "UnitAppeals", {"unitId": "SZ-WATER"}, WATER))["appeals"]
    assert [e["node"]["id"] for e in mine["edges"]] == [appeal["id"]] and mine["totalCount"] == 1
    assert [e["kind"] for e in mine["edges"][0]["node"]["events"]][:2] == ["filed", "submitted"]

    inbox = await run_registered(portal_gateway, "ReviewerInbox", {"decidingUnitId": "GD-SZ"}, REVIEWER)
    assert [e["node"]["id"] for e in inbox["queue"]["edges"]] == [appeal["id"]]
    read = await run_registered(
        portal_gateway, "MarkInboxRead", {"ids": [e["id"] for e in inbox["appealInbox"]]}, REVIEWER
    )
    assert read["markAppealInboxRead"] == len(inbox["appealInbox"])

    taken = await run_registered(
        portal_gateway, "TakeAppeal", {"id": appeal["id"], "expectedVersion": appeal["version"]}, REVIEWER
    )
    assert taken["takeAppeal"]["ok"] and taken["takeAppeal"]["appeal"]["status"] == "IN_REVIEW", taken
    decided = (
        await run_registered(
            portal_gateway,
            "DecideAppeal",
            {"id": appeal["id"], "expectedVersion": taken["takeAppeal"]["appeal"]["version"], "outcome": "REJECTED",
             "reason": "The surveys name this department."},
            REVIEWER,
        )
    )["decideAppeal"]  # fmt: skip
    assert decided["ok"] and decided["appeal"]["outcome"] == "REJECTED", decided


async def test_the_portal_gateway_refuses_operation_text_and_unknown_hashes(portal_gateway, gateway):
    registered = "query Me {\n  me {\n    unitId\n  }\n}"
    text = await portal_gateway.post("/graphql", json={"query": registered}, headers=WATER)
    assert text.status_code == 400 and error_codes(text.json()) == ["PERSISTED_QUERY_ONLY"]
    unknown = await portal_gateway.post("/graphql", json={"documentId": "0" * 64}, headers=WATER)
    assert unknown.status_code == 400 and error_codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    # The development gateway of the same system runs the same text (development accepts any operation).
    assert data_of(await gql(gateway, registered, headers=WATER)) == {"me": {"unitId": "SZ-WATER"}}


async def test_only_the_listed_origin_may_read_the_portal_gateway_and_none_the_development_one(portal_gateway, gateway):
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    allowed = await portal_gateway.options("/graphql", headers={**preflight, "origin": PORTAL_ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == PORTAL_ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"
    answer = await portal_gateway.post(
        "/graphql", json={"documentId": registered_operations()["Me"]}, headers={**WATER, "origin": PORTAL_ORIGIN}
    )
    assert answer.headers["access-control-allow-origin"] == PORTAL_ORIGIN and answer.json()["data"]["me"]
    for client in (portal_gateway, gateway):
        for origin in ("https://evil.example", "null", None):
            headers = preflight if origin is None else {**preflight, "origin": origin}
            refused = await client.options("/graphql", headers=headers)
            assert "access-control-allow-origin" not in refused.headers, (client.base_url, origin)
            assert "access-control-allow-credentials" not in refused.headers, (client.base_url, origin)
    simple = await gateway.post(
        "/graphql", json={"query": "{ me { unitId } }"}, headers={**WATER, "origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in simple.headers and simple.json()["data"]["me"]["unitId"] == "SZ-WATER"
