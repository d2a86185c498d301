"""Test fixtures: a fresh PostgreSQL database per run, built by the migrations, dropped afterwards.

The server is ``HOTLINE_TEST_SERVER_URL`` if set, else 127.0.0.1:5432 when something listens there,
else (or with ``HOTLINE_TEST_SERVER_URL=embedded``) an embedded PostgreSQL (pgserver) in a
temporary directory. Each test runs inside an outer
transaction that is rolled back, so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hotline.cli.database import DEFAULT_SERVER_URL, create_database, drop_database, server_reachable
from hotline.cli.stack import migrate_all
from hotline.kit.db import Database
from hotline.kit.settings import Settings, to_async_url
from tests.support import TEST_SECRET


@pytest.fixture(scope="session")
def server_url() -> str:
    url = os.environ.get("HOTLINE_TEST_SERVER_URL")  # "embedded" forces the embedded server
    if url and url != "embedded":
        yield url
        return
    if not url and server_reachable(DEFAULT_SERVER_URL):
        yield DEFAULT_SERVER_URL
        return
    from hotline.cli.database import start_embedded

    directory = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    server = start_embedded(directory)
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
async def fresh_database(server_url: str):
    """Factory: a new database built by every service's migrations; all are dropped at the end."""
    created: list[str] = []

    async def make(prefix: str = "hotline_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        url = await create_database(server_url, name)
        created.append(name)
        await asyncio.to_thread(migrate_all, url)
        return url

    yield make
    for name in created:
        await drop_database(server_url, name)


@pytest.fixture(scope="session")
async def database_url(fresh_database) -> str:
    return await fresh_database()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(to_async_url(database_url))
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[Database]:
    """A database bound to one connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield Database(connection)
        finally:
            await transaction.rollback()


@pytest.fixture
def settings(database_url: str) -> Settings:
    # TTL 0: services check the unit directory's version before every request that needs scope.
    return Settings(env="test", database_url=database_url, jwt_secret=TEST_SECRET, directory_ttl_seconds=0)


async def _client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


@pytest.fixture
async def ingest_app(db: Database, settings: Settings):
    """The ingest service, started; other services reach it through ``service_transports``."""
    from services.ingest.app import create_app

    app = create_app(settings=settings, database=db)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def service_transports(ingest_app) -> dict[str, httpx.AsyncBaseTransport]:
    """In-process transports for service-to-service calls (no network, same test transaction)."""
    return {"ingest": httpx.ASGITransport(app=ingest_app)}


@pytest.fixture
async def ingest(ingest_app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=ingest_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        yield client


@pytest.fixture
async def indicators(db: Database, settings: Settings, service_transports) -> AsyncIterator[httpx.AsyncClient]:
    from services.indicators.app import create_app

    async for client in _client(create_app(settings=settings, database=db, service_transports=service_transports)):
        yield client
