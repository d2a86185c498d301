"""Async engine, per-service metadata and the per-request unit of work.

One unit of work per request: the request's session commits when the operation succeeds and
rolls back otherwise; domain code only ``flush()``es.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from hotline.kit.settings import Settings, to_async_url

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """Metadata whose tables all live in one service's own Postgres schema."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def declarative_base_for(schema: str) -> type[DeclarativeBase]:
    """A declarative base bound to a service's schema."""

    class Base(DeclarativeBase):
        metadata = service_metadata(schema)

    return Base


# A pooled connection idle longer than this is pinged before it is handed out (see ``ping_when_idle``).
PING_AFTER_IDLE_SECONDS = 2.0


def ping_when_idle(engine: AsyncEngine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> AsyncEngine:
    """Check a pooled connection before use only when it sat idle for ``idle_seconds``.

    ``pool_pre_ping`` checks every connection at every checkout, which costs three round trips with asyncpg
    (BEGIN, an empty statement, ROLLBACK) — a third of a small read's round trips. A connection given back
    moments ago by a request that used it is alive unless the server went away in between; the connections a
    restarted or failed-over server has dropped are the idle ones, and those are still pinged (a dead one is
    replaced before the request gets it). A server lost within the idle window fails one request with
    ``DATABASE_UNAVAILABLE``; SQLAlchemy then invalidates the whole pool, so the next request reconnects.
    """

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < idle_seconds:
            return  # new (just connected) or in use moments ago
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc

    return engine


class Database:
    """Owns the engine (or, in tests, an outer connection) and hands out sessions."""

    def __init__(self, bind: AsyncEngine | AsyncConnection) -> None:
        self.bind = bind
        # In tests the bind is a connection inside an outer transaction that is rolled back;
        # session commits then only release savepoints.
        extra = {"join_transaction_mode": "create_savepoint"} if isinstance(bind, AsyncConnection) else {}
        self.sessionmaker = async_sessionmaker(bind, expire_on_commit=False, autoflush=False, **extra)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = create_async_engine(
            settings.async_database_url, pool_size=settings.db_pool_size, echo=settings.db_echo
        )
        return cls(ping_when_idle(engine))

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(ping_when_idle(create_async_engine(to_async_url(url))))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A plain session; the caller decides when to commit."""
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A session that commits if the block succeeds and rolls back if it raises."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            else:
                await session.commit()

    async def dispose(self) -> None:
        if isinstance(self.bind, AsyncEngine):
            await self.bind.dispose()
