"""The real system for end-to-end tests: services and Hive Gateway as processes on free ports."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from hotline.cli.demo import load_demo_units
from hotline.cli.stack import SERVICES, Stack
from tests.support import TEST_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def scoring_stand_in():
    """Scoring's contract (docs/contracts.md §6) served by a stand-in while scoring is not in the stack;
    None once it is (then the appeals e2e test must use a real published run)."""
    if any(s.name == "scoring" for s in SERVICES):
        yield None
        return
    from tests.e2e.scoring_stand_in import StandIn

    stand_in = StandIn(free_port())
    stand_in.start()
    previous = os.environ.get("HOTLINE_SCORING_URL")
    os.environ["HOTLINE_SCORING_URL"] = stand_in.url  # the stack's children inherit it
    yield stand_in
    if previous is None:
        os.environ.pop("HOTLINE_SCORING_URL", None)
    else:
        os.environ["HOTLINE_SCORING_URL"] = previous
    stand_in.stop()


@pytest.fixture(scope="session")
async def stack(fresh_database, tmp_path_factory, scoring_stand_in) -> AsyncIterator[Stack]:
    url = await fresh_database("hotline_e2e")
    await load_demo_units(url)
    system = Stack(
        database_url=url,
        log_dir=tmp_path_factory.mktemp("e2e-logs"),
        jwt_secret=TEST_SECRET,
        ports={s.name: free_port() for s in SERVICES},
        gateway_port=free_port(),
        env="development",
    )
    # JSON logs, as in production, so the tests can follow a request id through every process's log.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOTLINE_LOG_FORMAT", "json")
        await asyncio.to_thread(system.start)
    yield system
    await asyncio.to_thread(system.stop)


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture
async def ingest_http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.service_url("ingest"), timeout=30) as client:
        yield client
