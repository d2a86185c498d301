"""Helpers shared by the tests: tokens, GraphQL calls, unit rows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from hotline.kit.auth import mint_token
from hotline.kit.graphql import RequestContext
from hotline.kit.live import Batch, Listener
from hotline.kit.serial import SerialSession
from hotline.kit.settings import DEVELOPMENT_JWT_SECRET

TEST_SECRET = DEVELOPMENT_JWT_SECRET


def token(unit_id: str, *roles: str, secret: str = TEST_SECRET, ttl_seconds: int = 3600) -> str:
    return mint_token(secret=secret, unit_id=unit_id, roles=list(roles) or ["viewer"], ttl_seconds=ttl_seconds)


def auth(unit_id: str, *roles: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token(unit_id, *roles)}"}


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, *, headers=None, path="/graphql"
) -> dict[str, Any]:
    response = await client.post(path, json={"query": query, "variables": variables or {}}, headers=headers or {})
    assert response.status_code in (200, 401), response.text
    return response.json()


def data_of(result: dict[str, Any]) -> dict[str, Any]:
    assert not result.get("errors"), result["errors"]
    return result["data"]


def problem(path: str, code: str, message: str) -> dict[str, str]:
    """A problem as the payloads of indicators and scoring list it."""
    return {"path": path, "code": code, "message": message}


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors") or []]


# A small tree used by most tests: two cities under one province, with units and agents.
TREE = [
    {"id": "GD", "kind": "province_body", "name_zh": "广东省", "name_en": "Guangdong", "population": "126012510"},
    {"id": "GD-GZ", "parent_id": "GD", "kind": "city_body", "name_zh": "广州市", "population": "18676605"},
    {"id": "GD-SZ", "parent_id": "GD", "kind": "city_body", "name_zh": "深圳市", "population": "17560061"},
    {"id": "GZ-TIANHE", "parent_id": "GD-GZ", "kind": "district", "name_zh": "天河区", "population": "2241826"},
    {"id": "GZ-HOUSING", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "广州市住房和城乡建设局"},
    {"id": "GZ-WATER", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "广州市水务局"},
    {"id": "GZ-T1", "parent_id": "GD-GZ", "kind": "agent_team", "name_zh": "广州12345坐席一组"},
    {"id": "GZ-T1-A001", "parent_id": "GZ-T1", "kind": "agent", "name_zh": "坐席 张敏"},
    {"id": "SZ-HOUSING", "parent_id": "GD-SZ", "kind": "undertaking_unit", "name_zh": "深圳市住房和建设局"},
    {"id": "SZ-T1", "parent_id": "GD-SZ", "kind": "agent_team", "name_zh": "深圳12345坐席一组"},
    {
        "id": "GZ-LUOGANG",
        "parent_id": "GD-GZ",
        "kind": "district",
        "name_zh": "萝岗区",
        "active": "false",
        "valid_from": "2005-04-28",
        "valid_to": "2014-02-11",
    },
]


class WatchedListener(Listener):
    """A change-feed listener that tells its feed each time its subscription comes back to wait for news: the
    subscription has then dealt with everything offered before (and sent whatever it was going to send)."""

    def __init__(self, feed: FakeFeed, wants, *, expires_at: float | None) -> None:
        super().__init__(wants, expires_at=expires_at)
        self.feed = feed
        self.wants = wants
        self.waits = 0

    async def next(self) -> Batch:
        self.waits += 1
        await self.feed.changed()
        return await super().next()


class Subscriber:
    """A subscription read continuously, as a transport reads it; its results wait in ``results`` for the test."""

    def __init__(self, feed: FakeFeed, stream) -> None:
        self.results: asyncio.Queue = asyncio.Queue()
        self.listener: WatchedListener | None = None
        self._feed = feed
        self._task = asyncio.create_task(self._pump(stream))

    async def _pump(self, stream) -> None:
        try:
            async for result in stream:
                self.results.put_nowait(result)
        finally:
            self.results.put_nowait(None)
            await self._feed.changed()

    @property
    def ended(self) -> bool:
        return self._task.done()

    async def next(self) -> Any:
        """The next result (an ``ExecutionResult``); ``None`` once the subscription has ended."""
        return await asyncio.wait_for(self.results.get(), 10)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class FakeFeed:
    """The change feed for tests whose changes never commit (so PostgreSQL never sends their NOTIFY): the test
    announces what a trigger would have. One subscription handles an announcement at a time — as the tests'
    sessions share one connection, their event sessions must not interleave."""

    def __init__(self) -> None:
        self.listeners: list[WatchedListener] = []
        self._changed = asyncio.Condition()

    async def changed(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _until(self, condition) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), 10)

    @contextlib.asynccontextmanager
    async def listen(self, wants, *, expires_at: float | None = None) -> AsyncIterator[WatchedListener]:
        listener = WatchedListener(self, wants, expires_at=expires_at)
        self.listeners.append(listener)
        try:
            yield listener
        finally:
            self.listeners.remove(listener)

    async def follow(self, stream) -> Subscriber:
        """Read ``stream`` from now on; returns once it waits for news (or has ended)."""
        before = list(self.listeners)
        subscriber = Subscriber(self, stream)
        joined = lambda: [x for x in self.listeners if x not in before]  # noqa: E731
        await self._until(lambda: subscriber.ended or any(x.waits for x in joined()))
        subscriber.listener = next(iter(joined()), None)
        return subscriber

    async def announce(self, payload: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            if listener.wants(payload):
                await self._handled(listener, lambda listener=listener: listener.offer(payload))

    async def resync(self) -> None:
        for listener in list(self.listeners):
            await self._handled(listener, listener.resync)

    async def _handled(self, listener: WatchedListener, offer) -> None:
        seen = listener.waits
        offer()
        await self._until(lambda: listener.waits > seen or listener not in self.listeners)


async def subscribe(app, schema, feed: FakeFeed, query: str, variables=None, *, token: str | None = None):
    """A subscription run on ``schema`` as the app would run it for a caller with ``token`` (None: no token),
    read from now on."""
    principal = await app.state.verifier.verify(token) if token else None
    context = RequestContext(
        session=SerialSession(app.state.database.sessionmaker()),
        principal=principal,
        auth_error=None,
        services=app.state.services,
        directory=app.state.directory,
        service=app.state.service_name,
        database=app.state.database,
        live=feed,
    )
    context.streamed = True  # as the SSE transport marks it
    return await feed.follow(await schema.subscribe(query, variable_values=variables, context_value=context))
