"""The demo data for tests that need it in a database before any service process runs: loaded by the demo's own
client code (``hotline.cli.demo``, what ``hotline up`` sends) through the ingest service's REST API, the service
running in-process over ASGI on that database (no network, the same endpoints, auth and checks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from hotline.cli import demo
from hotline.kit.settings import Settings
from tests.support import TEST_SECRET


@asynccontextmanager
async def ingest_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the ingest service, started in-process over ``database_url``, as the demo loader."""
    from services.ingest.app import create_app

    app = create_app(settings=Settings(env="test", database_url=database_url, jwt_secret=TEST_SECRET))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = demo.demo_headers(TEST_SECRET)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest", headers=headers) as client:
            yield client


async def load_demo_units(database_url: str) -> dict[str, int]:
    async with ingest_client(database_url) as ingest:
        return await demo.load_demo_units(ingest)


async def load_demo_records(database_url: str) -> dict[str, dict[str, int]]:
    async with ingest_client(database_url) as ingest:
        return await demo.load_demo_records(ingest)
