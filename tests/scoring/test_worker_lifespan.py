"""The run worker for real: started by the app's lifespan on its own database (committed transactions),
and two workers draining one queue without ever taking the same job (FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from hotline.kit.db import Database
from hotline.kit.services import ServiceClients
from hotline.kit.settings import Settings
from services.scoring import worker
from tests.scoring.conftest import EXAMPLE_DAY, PATHS, SCORING_TREE
from tests.scoring.example import MEASURES, example_scheme
from tests.scoring.fakes import FakeMeasures, FakeSchemes, RoutingTransport
from tests.support import TEST_SECRET, auth, data_of, gql

START = "mutation($input: StartRunInput!) { startRun(input: $input) { problems { path code message } run { id } } }"
STATUS = "query($id: ID!) { run(id: $id) { status currentRevision } }"
ORGANIZER = auth("GD-GZ", "organizer")


@pytest.fixture
async def committed_system(fresh_database):
    """Ingest and scoring on a database of their own, as in production (no outer test transaction)."""
    from services.ingest.app import create_app as create_ingest
    from services.scoring.app import create_app as create_scoring

    url = await fresh_database("hotline_scoring_worker")
    settings = Settings(env="test", database_url=url, jwt_secret=TEST_SECRET, directory_ttl_seconds=0)
    ingest = create_ingest(settings=settings)
    measures, schemes = FakeMeasures(PATHS), FakeSchemes()
    for unit, values in MEASURES.items():
        measures.put(unit, EXAMPLE_DAY, values)
    for month in ("2025-04", "2025-05"):
        for unit, values in MEASURES.items():
            measures.put(unit, f"{month}-10", values)
    schemes.add(example_scheme(organizer="GD-GZ"))
    transports = {
        "ingest": RoutingTransport(httpx.ASGITransport(app=ingest), measures),
        "indicators": httpx.MockTransport(schemes.handle),
    }
    async with ingest.router.lifespan_context(ingest):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ingest), base_url="http://ingest") as client:
            created = await client.post("/units/bulk", json=SCORING_TREE, headers=auth("GD", "admin"))
            assert created.status_code == 200, created.text
        scoring = create_scoring(settings=settings, service_transports=transports, run_worker=True)
        async with (
            scoring.router.lifespan_context(scoring),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=scoring), base_url="http://scoring") as client,
        ):
            yield client, settings, transports


async def test_the_lifespan_worker_computes_a_started_run(committed_system):
    client, _, _ = committed_system
    variables = {
        "input": {"schemeId": example_scheme()["id"], "schemeVersion": 1, "periodKind": "MONTH", "period": "2025-03"}
    }
    run_id = data_of(await gql(client, START, variables, headers=ORGANIZER))["startRun"]["run"]["id"]
    for _ in range(100):  # the worker polls every second
        run = data_of(await gql(client, STATUS, {"id": run_id}, headers=ORGANIZER))["run"]
        if run["status"] == "done":
            break
        await asyncio.sleep(0.1)
    assert run == {"status": "done", "currentRevision": 1}


async def test_two_workers_never_take_the_same_job(committed_system):
    client, settings, transports = committed_system
    # The app's own worker polls the same queue: three workers in all, and still each job runs exactly once.
    for period in ("2025-04", "2025-05"):
        variables = {
            "input": {"schemeId": example_scheme()["id"], "schemeVersion": 1, "periodKind": "MONTH", "period": period}
        }
        assert data_of(await gql(client, START, variables, headers=ORGANIZER))["startRun"]["problems"] == []
    databases = [Database.from_settings(settings), Database.from_settings(settings)]
    services = ServiceClients(settings, caller="scoring", transports=transports)
    try:
        await asyncio.gather(*(worker.drain(d, services) for d in databases))
        async with databases[0].session() as session:
            from sqlalchemy import func, select

            from services.scoring.models import RunJob, RunRevision

            jobs = (await session.execute(select(RunJob.status, func.count()).group_by(RunJob.status))).all()
            revisions = await session.scalar(select(func.count()).select_from(RunRevision))
        assert dict(jobs) == {"done": 2} and revisions == 2  # two jobs, two revisions: none ran twice
    finally:
        await services.aclose()
        for d in databases:
            await d.dispose()
