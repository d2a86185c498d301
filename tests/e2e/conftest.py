"""The real system for end-to-end tests: services and Hive Gateway as processes on free ports."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from hotline.cli.stack import SERVICES, Stack
from tests.demo_data import load_demo_units
from tests.support import TEST_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_stack(url: str, log_dir) -> Stack:
    """A whole system (four services and the gateway) on free ports over database ``url``, not started."""
    return Stack(
        database_url=url,
        log_dir=log_dir,
        jwt_secret=TEST_SECRET,
        ports={s.name: free_port() for s in SERVICES},
        gateway_port=free_port(),
        env="development",
    )


@pytest.fixture(scope="session")
async def stack(fresh_database, tmp_path_factory) -> AsyncIterator[Stack]:
    url = await fresh_database("hotline_e2e")
    await load_demo_units(url)
    system = private_stack(url, tmp_path_factory.mktemp("e2e-logs"))
    # JSON logs, as in production, so the tests can follow a request id through every process's log.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOTLINE_LOG_FORMAT", "json")
        # The appeals worker sweeps for finality every second (tests move deadlines into the past to end windows).
        env.setenv("HOTLINE_APPEALS_SWEEP_SECONDS", "1")
        env.setenv("HOTLINE_APPEALS_DELIVERY_SECONDS", "0.5")
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


@pytest.fixture(scope="session")
async def policy_runs(stack) -> dict[str, dict[str, str]]:
    """The visibility policy's two runs, a public and a private ranking (tests/e2e/policy_data.py)."""
    from tests.e2e.policy_data import store_policy_runs

    return await store_policy_runs(stack)
