"""Live updates behind GraphQL subscriptions: PostgreSQL ``LISTEN``/``NOTIFY``, one listening connection a process.

Writes announce themselves with ``NOTIFY``: database triggers in a service's migrations, so every path that
changes the state does — on any replica, and only once its transaction commits (a rolled-back change
announces nothing). Each process keeps one connection ``LISTEN``ing on its service's channel (``ChangeFeed``)
and hands every notification to the subscriptions that want it. A notification only wakes a subscription:
the subscription then reads again, with the queries' own scoped SQL, in a fresh session of its own
(``event_session``), so a caller receives what it could query at that moment and nothing else, and a
notification for data it may not see costs it one read that finds nothing.

When the listening connection is lost (a database restart, a failover), every subscription is told to read
again once ``LISTEN`` is back (``Batch.resync``): what committed in between is not missed. A subscription ends
with ``UNAUTHENTICATED`` when its caller's token expires (``Listener.next``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.kit import metrics
from hotline.kit.db import Database
from hotline.kit.errors import DatabaseUnavailableError, TokenExpiredError
from hotline.kit.graphql import RequestContext
from hotline.kit.serial import SerialSession

logger = logging.getLogger("hotline.live")
LIVE_SUBSCRIPTIONS = metrics.gauge("live_subscriptions", "Subscriptions waiting for changes", ["channel"])
LIVE_NOTIFICATIONS = metrics.counter("live_notifications", "Notifications received on the channel", ["channel"])
LIVE_RECONNECTS = metrics.counter("live_reconnects", "Times the listening connection was set up again", ["channel"])

Wants = Callable[[dict[str, Any]], bool]


@dataclass
class Batch:
    """What arrived for one subscription since it last looked: the notifications it wants, in commit order, and
    whether it must read everything again (``resync``: notifications may have been lost, or too many queued)."""

    payloads: list[dict[str, Any]] = field(default_factory=list)
    resync: bool = False


class Listener:
    """One subscription's inbox of notifications (filled by the feed, emptied by ``next``)."""

    # Beyond this many unread notifications a slow subscriber gets a resync instead (it reads the state anyway).
    MAX_QUEUED = 1000

    def __init__(self, wants: Wants, *, expires_at: float | None) -> None:
        self._wants = wants
        self._expires_at = expires_at
        self._payloads: list[dict[str, Any]] = []
        self._resync = False
        self._arrived = asyncio.Event()

    def offer(self, payload: dict[str, Any]) -> None:
        if not self._wants(payload):
            return
        if len(self._payloads) >= self.MAX_QUEUED:
            self._payloads.clear()
            self._resync = True
        else:
            self._payloads.append(payload)
        self._arrived.set()

    def resync(self) -> None:
        self._payloads.clear()
        self._resync = True
        self._arrived.set()

    async def next(self) -> Batch:
        """Wait for what arrives next; raises ``UNAUTHENTICATED`` once the caller's token has expired."""
        timeout = None if self._expires_at is None else self._expires_at - time.time()
        if timeout is not None and timeout <= 0:
            raise _expired(self._expires_at)
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout)
        except TimeoutError:
            raise _expired(self._expires_at) from None
        batch = Batch(self._payloads, self._resync)
        self._payloads, self._resync = [], False
        self._arrived.clear()
        return batch


def _expired(expires_at: float | None) -> TokenExpiredError:
    at = datetime.fromtimestamp(expires_at or 0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return TokenExpiredError(f"the token expired at {at}: the subscription ended; subscribe again with a new token")


class LiveUnavailableError(DatabaseUnavailableError):
    """The database could not be reached to listen for changes: the subscription is refused (retry shortly)."""


class ChangeFeed:
    """One ``LISTEN`` connection on ``channel`` for the whole process, shared by every subscription.

    The connection is opened by the first subscription and kept; a watchdog checks it every ``check_seconds``
    and sets it up again after a loss (trying every ``retry_seconds``), then tells every subscription to resync.
    """

    def __init__(self, dsn: str, channel: str, *, check_seconds: float = 30.0, retry_seconds: float = 1.0) -> None:
        self._dsn = dsn
        self.channel = channel
        self._check_seconds = check_seconds
        self._retry_seconds = retry_seconds
        self._connection: asyncpg.Connection | None = None
        self._listeners: set[Listener] = set()
        self._lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._watchdog: asyncio.Task | None = None

    @classmethod
    def for_database(cls, database: Database, channel: str, **options: Any) -> ChangeFeed:
        """A feed on the database ``database`` uses (its own connection, outside the pool)."""
        bind = database.bind
        engine = bind.engine if isinstance(bind, AsyncConnection) else bind
        url = engine.url.set(drivername="postgresql")
        return cls(url.render_as_string(hide_password=False), channel, **options)

    @contextlib.asynccontextmanager
    async def listen(self, wants: Wants, *, expires_at: float | None = None) -> AsyncIterator[Listener]:
        """A listener for the notifications ``wants`` accepts. ``LISTEN`` is in force when this enters: a change
        committed after it is delivered, so a subscription reads its first state only after entering."""
        listener = Listener(wants, expires_at=expires_at)
        self._listeners.add(listener)
        try:
            await self._ensure_connected()
        except BaseException:
            self._listeners.discard(listener)
            raise
        # Counted once LISTEN is in force: a subscription counted is one a change committed now reaches.
        LIVE_SUBSCRIPTIONS.labels(self.channel).inc()
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
            LIVE_SUBSCRIPTIONS.labels(self.channel).dec()

    async def aclose(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close(timeout=5)

    async def _ensure_connected(self) -> None:
        async with self._lock:
            if self._connection is not None and not self._connection.is_closed():
                return
            try:
                connection = await asyncpg.connect(self._dsn, timeout=10)
                connection.add_termination_listener(self._terminated)
                await connection.add_listener(self.channel, self._notified)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                raise LiveUnavailableError(f"cannot listen for changes on {self.channel}: {exc}") from exc
            self._connection = connection
            self._lost.clear()
            if self._watchdog is None:
                self._watchdog = asyncio.create_task(self._watch())

    def _notified(self, _connection, _pid: int, _channel: str, payload: str) -> None:
        LIVE_NOTIFICATIONS.labels(self.channel).inc()
        try:
            data = json.loads(payload)
        except ValueError:
            logger.warning("ignored a notification on %s that is not JSON: %.200s", self.channel, payload)
            return
        for listener in list(self._listeners):
            listener.offer(data)

    def _terminated(self, connection) -> None:
        if connection is self._connection:
            self._connection = None
            self._lost.set()

    async def _watch(self) -> None:
        """Keep the connection: check it, and after a loss set it up again and tell every subscription."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._check_seconds)
            connection = self._connection
            if connection is not None:
                try:
                    await connection.fetchval("SELECT 1", timeout=10)
                    continue
                except Exception as exc:  # the connection is gone, whatever the error says
                    logger.warning("listening connection on %s lost: %s", self.channel, exc)
                    self._connection = None
                    connection.terminate()
            while True:
                try:
                    await self._ensure_connected()
                    break
                except LiveUnavailableError as exc:
                    logger.warning("%s; retrying in %.0f s", exc, self._retry_seconds)
                    await asyncio.sleep(self._retry_seconds)
            LIVE_RECONNECTS.labels(self.channel).inc()
            logger.info("listening on %s again; %d subscriptions read again", self.channel, len(self._listeners))
            for listener in list(self._listeners):
                listener.resync()


@contextlib.asynccontextmanager
async def listening(context: RequestContext, wants: Wants) -> AsyncIterator[Listener]:
    """For a subscription resolver: the caller must be authenticated now (else ``UNAUTHENTICATED``); the listener
    then ends the subscription when the caller's token expires."""
    principal = context.principal
    if context.live is None:
        raise RuntimeError("this service keeps no change feed (create_service_app(live_channel=...))")
    async with context.live.listen(wants, expires_at=principal.expires_at) as listener:
        yield listener


@contextlib.asynccontextmanager
async def event_session(context: RequestContext) -> AsyncIterator[None]:
    """One event of a subscription in a session of its own, with the caller's scope and the data loaders read afresh.

    A subscription lives for hours; its request's session, loaders and cached scope would go stale (and hold a
    connection). Yield the event inside this block: its fields resolve before the block closes the session, and
    between events the subscription holds no connection."""
    if context.database is None:
        raise RuntimeError("the request context has no database to open an event's session on")
    previous = context.session
    async with context.database.session() as session:
        context.session = SerialSession(session)
        context.forget()
        try:
            yield
        finally:
            context.session = previous
            context.forget()
