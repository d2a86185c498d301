"""The gateway's response cache through the real gateway (issue 16): answers that read results are kept per caller
(subject, unit and roles), never served to another scope, emptied by a publication through the gateway, and a
revision made behind the gateway shows within the TTL. The gateway under test is a second one over the same services,
started with ``HOTLINE_GATEWAY_RESPONSE_CACHE_METADATA=1`` so that each answer says whether it came from the cache
(``extensions.responseCache``); otherwise configured as the stack's."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from sqlalchemy import select

from hotline.cli.stack import Stack
from hotline.kit.db import Database
from services.scoring.inputs import evaluate
from services.scoring.models import EvaluationRun
from services.scoring.store import store_revision
from tests.e2e.conftest import free_port
from tests.scoring.example import MEASURES, example_scheme
from tests.support import TEST_SECRET, auth, data_of, gql

# Departments no other e2e test evaluates in March 2025 through this helper's runs.
UNITS = {"UA": "GZ-POWER", "UB": "GZ-ECOENV", "UC": "GZ-HRSS", "UD": "GZ-URBANMGMT"}
RANKING = """query CachedRanking($id: ID!) { run(id: $id) { id results { edges { node { id unitId total rank published
  } } } } }"""
STATUS = "query($id: ID!) { run(id: $id) { status currentRevision results { edges { node { id total } } } } }"
TTL_SECONDS = 5.0  # the gateway's default (HOTLINE_GATEWAY_RESPONSE_CACHE_TTL_MS)
ORGANIZER, VIEWER, POWER, ECOENV = (
    auth("GD-GZ", "organizer"), auth("GD-GZ", "viewer"), auth("GZ-POWER", "unit"), auth("GZ-ECOENV", "unit")
)  # fmt: skip


def inputs_for(measures: dict) -> dict:
    return {
        "period": {"kind": "month", "from": "2025-03-01", "to": "2025-03-31", "label": "2025-03", "months": [3]},
        "units": sorted(UNITS.values()),
        "measures": {UNITS[u]: m for u, m in measures.items()},
    }


@pytest.fixture(scope="module")
async def gateway(stack, tmp_path_factory) -> AsyncIterator[httpx.AsyncClient]:
    second = Stack(
        database_url=stack.database_url, log_dir=tmp_path_factory.mktemp("cache-gateway"), jwt_secret=TEST_SECRET,
        ports=stack.ports, gateway_port=free_port(), env="development",
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOTLINE_GATEWAY_RESPONSE_CACHE_METADATA", "1")
        await asyncio.to_thread(second.start_gateway)
    try:
        await asyncio.to_thread(second.wait_ready, "gateway", f"{second.gateway_url}/healthz", 90.0)
        async with httpx.AsyncClient(base_url=second.gateway_url, timeout=30) as client:
            yield client
    finally:
        await asyncio.to_thread(second.stop)


@pytest.fixture
async def unpublished_run(stack) -> str:
    """The hand-computed example for four Guangzhou departments, computed and stored, not published."""
    document = example_scheme(organizer="GD-GZ", cohort={"units": sorted(UNITS.values())})
    inputs = inputs_for(MEASURES)
    outcome, sha = evaluate(document, inputs)
    database = Database.from_url(stack.database_url)
    run_id = uuid.uuid4()
    async with database.unit_of_work() as session:
        run = EvaluationRun(
            id=run_id, scheme_id=document["id"], scheme_version=1, scheme_document=document, organizer_id="GD-GZ",
            cohort_units=inputs["units"], cohort_hash=f"cache-{run_id}", period_kind="month",
            period_from=date(2025, 3, 1), period_to=date(2025, 3, 31), status="done", progress=100,
            current_revision=0, requested_by="e2e",
        )  # fmt: skip
        session.add(run)
        await session.flush()
        await store_revision(
            session, run, revision=1, inputs=inputs, outcome=outcome, sha256=sha, reason="e2e", created_by="e2e"
        )
    await database.dispose()
    return str(run_id)


async def ask(gateway, headers, run_id: str, query: str = RANKING) -> tuple[dict, dict]:
    """The answer's data and its cache metadata ({} when the cache did not look at it)."""
    body = await gql(gateway, query, {"id": run_id}, headers=headers)
    return data_of(body), (body.get("extensions") or {}).get("responseCache", {})


def totals(data: dict) -> dict[str, float]:
    return {e["node"]["unitId"]: e["node"]["total"] for e in data["run"]["results"]["edges"]}


async def test_a_cached_answer_is_never_served_to_another_scope(gateway, unpublished_run):
    first, meta = await ask(gateway, ORGANIZER, unpublished_run)
    assert len(totals(first)) == 4 and meta.get("hit") is False and meta.get("didCache") is True, meta
    again, meta = await ask(gateway, ORGANIZER, unpublished_run)
    assert again == first and meta.get("hit") is True, meta  # the same caller: from the cache

    # Same query, same variables, other callers: each its own answer, never the organizer's.
    viewer, meta = await ask(gateway, VIEWER, unpublished_run)  # same unit, other role
    assert meta.get("hit") is False, meta
    assert len(totals(viewer)) == 4  # a viewer of the organizer's unit sees the unpublished results too
    power, meta = await ask(gateway, POWER, unpublished_run)  # a unit of the cohort: nothing before publication
    assert power == {"run": None} and meta.get("hit") is not True, meta
    outsider, meta = await ask(gateway, auth("GD-SZ", "organizer"), unpublished_run)  # another city
    assert outsider == {"run": None} and meta.get("hit") is not True, meta

    # Published through the gateway: the cache is emptied, every caller sees the publication at once.
    published = await gql(
        gateway, "mutation($i: ID!) { publishRun(runId: $i) { problems { code message } run { publishedAt } } }",
        {"i": unpublished_run}, headers=ORGANIZER,
    )  # fmt: skip
    assert not data_of(published)["publishRun"]["problems"]
    after, meta = await ask(gateway, ORGANIZER, unpublished_run)
    assert meta.get("hit") is False and all(e["node"]["published"] for e in after["run"]["results"]["edges"]), meta
    power, meta = await ask(gateway, POWER, unpublished_run)
    assert list(totals(power)) == ["GZ-POWER"] and meta.get("hit") is False, meta
    # Two units of the cohort, the same query: each only its own result, the second never the first's.
    ecoenv, meta = await ask(gateway, ECOENV, unpublished_run)
    assert list(totals(ecoenv)) == ["GZ-ECOENV"] and meta.get("hit") is False, meta
    power_again, meta = await ask(gateway, POWER, unpublished_run)
    assert power_again == power and meta.get("hit") is True, meta


async def test_a_new_revision_made_behind_the_gateway_shows_within_the_ttl(gateway, stack, unpublished_run):
    before, _ = await ask(gateway, ORGANIZER, unpublished_run)
    _, meta = await ask(gateway, ORGANIZER, unpublished_run)
    assert meta.get("hit") is True, meta
    # A second revision, as the worker stores one (not through the gateway): GZ-POWER (UA) answers fewer calls.
    changed = {**MEASURES, "UA": {**MEASURES["UA"], "calls.answered": MEASURES["UA"]["calls.answered"] * 0.8}}
    document = example_scheme(organizer="GD-GZ", cohort={"units": sorted(UNITS.values())})
    outcome, sha = evaluate(document, inputs_for(changed))
    database = Database.from_url(stack.database_url)
    async with database.unit_of_work() as session:
        run = await session.scalar(select(EvaluationRun).where(EvaluationRun.id == uuid.UUID(unpublished_run)))
        await store_revision(
            session, run, revision=2, inputs=inputs_for(changed), outcome=outcome, sha256=sha, reason="e2e: new data",
            created_by="e2e",
        )  # fmt: skip
    await database.dispose()
    # A run's moving parts are never cached: the new revision number shows at once.
    status, meta = await ask(gateway, ORGANIZER, unpublished_run, STATUS)
    assert status["run"]["currentRevision"] == 2 and meta.get("didCache") is not True, meta
    deadline = time.monotonic() + TTL_SECONDS + 5
    while True:
        now, _ = await ask(gateway, ORGANIZER, unpublished_run)
        if totals(now) != totals(before) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert totals(now)["GZ-POWER"] < totals(before)["GZ-POWER"], (totals(before), totals(now))
