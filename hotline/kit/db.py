"""Async engine, per-service table models and the per-request unit of work.

Each service declares its tables as SQLModel classes (``table=True``) on a base of its own, made with
``service_registry``: its own ``MetaData`` bound to its own Postgres schema, so that Alembic's
autogenerate comparison and any ``create_all`` stay inside that one service (``SQLModel.metadata`` is
shared by every SQLModel class in the process and is never used).

One unit of work per request: the request's session commits when the operation succeeds and
rolls back otherwise; domain code only ``flush()``es.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import ForeignKeyConstraint, MetaData, PrimaryKeyConstraint, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, registry
from sqlalchemy.sql.elements import conv
from sqlmodel import SQLModel

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


class ServiceModel(SQLModel):
    """Base of every service's table classes (``class XModel(ServiceModel, registry=service_registry(S))``).

    A row object is one row of the session's identity map: equal only to itself and hashable by identity, as a
    SQLAlchemy mapped object is (Pydantic's field-by-field ``==`` would make two rows with the same values equal,
    and the objects unhashable)."""

    __eq__ = object.__eq__
    __hash__ = object.__hash__


def postgres_named_keys(
    table: str, primary_key: tuple[str, ...], foreign_keys: dict[str, str] | None = None, *, use_alter: tuple = ()
) -> tuple[PrimaryKeyConstraint | ForeignKeyConstraint, ...]:
    """``__table_args__`` for keys a migration left unnamed, under the names PostgreSQL gave them (``<table>_pkey``,
    ``<table>_<column>_fkey``) rather than the naming convention's: ``foreign_keys`` maps a column to its target
    (``"appeal.id"``); a column in ``use_alter`` is one side of a cycle of references."""
    return (
        PrimaryKeyConstraint(*primary_key, name=conv(f"{table}_pkey")),
        *(
            ForeignKeyConstraint([column], [target], name=conv(f"{table}_{column}_fkey"), use_alter=column in use_alter)
            for column, target in (foreign_keys or {}).items()
        ),
    )


def service_registry(schema: str) -> registry:
    """The mapper registry of one service's table models: ``class XModel(ServiceModel, registry=service_registry(S))``.

    SQLModel then gives that base (and every table class under it) the registry's own metadata instead of the
    process-wide ``SQLModel.metadata``."""
    return registry(metadata=service_metadata(schema))


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


# A session marked ``session.info[READ_ONLY]`` (a GraphQL query's: ``hotline.kit.graphql.UnitOfWork``) reads in
# autocommit, so a write there would not be undone with the rest: any INSERT, UPDATE, DELETE or flush of changed
# objects raises instead.
READ_ONLY = "hotline_read_only"


class WriteInQueryError(RuntimeError):
    """A query operation tried to write to the database."""


@event.listens_for(Session, "do_orm_execute")
def _refuse_statements_that_write(state: Any) -> None:
    if state.session.info.get(READ_ONLY) and (state.is_insert or state.is_update or state.is_delete):
        raise WriteInQueryError(f"a query operation tried to write: {str(state.statement)[:200]}")


@event.listens_for(Session, "before_flush")
def _refuse_flushes(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise WriteInQueryError("a query operation tried to write changed objects")


class Database:
    """Owns the engine (or, in tests, an outer connection) and hands out sessions."""

    def __init__(self, bind: AsyncEngine | AsyncConnection) -> None:
        self.bind = bind
        # The same pool, its connections used in autocommit (read-only operations); none in tests, where the bind
        # is one connection inside an outer transaction.
        self.autocommit_engine = (
            bind.execution_options(isolation_level="AUTOCOMMIT") if isinstance(bind, AsyncEngine) else None
        )
        # In tests the bind is a connection inside an outer transaction that is rolled back;
        # session commits then only release savepoints.
        extra = {"join_transaction_mode": "create_savepoint"} if isinstance(bind, AsyncConnection) else {}
        self.sessionmaker = async_sessionmaker(bind, expire_on_commit=False, autoflush=False, **extra)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = create_async_engine(
            settings.async_database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            echo=settings.db_echo,
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
