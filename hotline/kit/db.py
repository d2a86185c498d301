"""Async engine, per-service table models and the per-request unit of work.

Each service declares its tables as SQLModel classes (``table=True``) on a base of its own, made with
``service_registry``: its own ``MetaData`` bound to its own Postgres schema, so that Alembic's
autogenerate comparison and any ``create_all`` stay inside that one service (``SQLModel.metadata`` is
shared by every SQLModel class in the process and is never used).

One unit of work per request: the request's session commits when the operation succeeds and
rolls back otherwise; domain code only ``flush()``es.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import ForeignKeyConstraint, MetaData, PrimaryKeyConstraint
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import registry
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
            settings.async_database_url,
            pool_size=settings.db_pool_size,
            pool_pre_ping=True,
            echo=settings.db_echo,
        )
        return cls(engine)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_async_engine(to_async_url(url), pool_pre_ping=True))

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
