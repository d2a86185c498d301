"""Pooled connections are pinged before use only after idling (``hotline.kit.db.ping_when_idle``): a connection
the server dropped while it sat idle is replaced before a request gets it, and one used moments ago is handed out
without the three round trips of a ping."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.ext.asyncio import create_async_engine

from hotline.kit.db import ping_when_idle
from hotline.kit.settings import to_async_url


async def backend_pid(engine) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(text("SELECT pg_backend_pid()"))


async def terminate(engine, pid: int) -> None:
    async with engine.connect() as connection:
        await connection.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": pid})


async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(database_url):
    engine = ping_when_idle(create_async_engine(to_async_url(database_url), pool_size=1, max_overflow=0), 0.2)
    killer = create_async_engine(to_async_url(database_url))
    try:
        first = await backend_pid(engine)
        await terminate(killer, first)
        await asyncio.sleep(0.3)  # idle longer than the window: pinged, found dead, replaced
        second = await backend_pid(engine)
        assert second != first
    finally:
        await engine.dispose()
        await killer.dispose()


async def pings_for_two_uses(database_url, monkeypatch, idle_seconds: float) -> int:
    pings: list[int] = []
    original = AsyncAdapt_asyncpg_connection.ping

    def counting_ping(self):
        pings.append(1)
        return original(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counting_ping)
    engine = ping_when_idle(create_async_engine(to_async_url(database_url), pool_size=1, max_overflow=0), idle_seconds)
    try:
        first = await backend_pid(engine)
        await asyncio.sleep(0.05)
        assert await backend_pid(engine) == first  # the same pooled connection, alive
    finally:
        await engine.dispose()
    return len(pings)


async def test_a_connection_used_moments_ago_is_not_pinged(database_url, monkeypatch):
    assert await pings_for_two_uses(database_url, monkeypatch, 60) == 0
    # The same with a window shorter than the pause: pinged once, on its second checkout (a new one is not).
    assert await pings_for_two_uses(database_url, monkeypatch, 0.01) == 1
