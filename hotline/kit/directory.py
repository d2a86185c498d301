"""The unit directory's read model, for services other than ingest (which owns the tree).

Scope is a prefix match on a unit's materialized path, and it must be enforced in SQL on every read
path. A service that is not ingest therefore keeps, in its own schema, a table ``unit_ref`` with each
unit's id, path and kind, and joins against it. The table is a copy of ingest's tree, never edited by
hand: ``DirectorySync`` replaces it from ingest's ``GET /units/snapshot`` whenever the directory's
version (its last change id, sent as the ETag) has moved. A check costs one conditional GET (``304``
when nothing changed) and happens at most every ``directory_ttl_seconds``, so a unit move is seen
everywhere within that time. Why a full snapshot and not a change feed: a move rewrites the paths of
a whole subtree, which a snapshot carries for free, and a province's tree is a few thousand rows.

Usage in a service:
- models: ``class UnitRefRow(UnitRefColumns, XModel, table=True)`` with ``__tablename__ = "unit_ref"`` and
  ``__table_args__ = unit_ref_table_args()`` (likewise ``UnitRefStateColumns`` for ``unit_ref_state``), and
  ``UnitRef = UnitRefRow.__table__`` for queries; a migration calls ``create_unit_ref_tables(op, SCHEMA)``.
- app: ``create_service_app(..., directory=True)``; then ``await info.context.scope()`` in resolvers
  (or ``await directory_scope(...)`` elsewhere) gives the caller's ``Scope``, and
  ``in_scope(UnitRef.c.path, scope)`` filters any query joined to ``unit_ref``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    MetaData,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import conv
from sqlmodel import Field, SQLModel

from hotline.kit import metrics
from hotline.kit.db import Database, postgres_named_keys
from hotline.kit.scope import Scope
from hotline.kit.services import ServiceClients, ServiceUnavailableError

logger = logging.getLogger("hotline.directory")
DIRECTORY_CHECKS = metrics.counter(
    "directory_checks",
    "Checks of the unit-directory read model against ingest, by outcome (unchanged, replaced, unreachable)",
    ["service", "outcome"],
)
DIRECTORY_UNITS = metrics.gauge("directory_units", "Units in the read model after its last replacement", ["service"])


class UnitRefColumns(SQLModel):
    """One unit of the read model. The same thing twice: the columns of ``<schema>.unit_ref`` (a service's table
    class adds ``table=True``), and — its fields in this order — one entry of ingest's ``GET /units/snapshot``,
    which ``DirectorySync`` validates with this class before writing it."""

    id: str = Field(primary_key=True, sa_type=Text)
    parent_id: str | None = Field(default=None, sa_type=Text)
    path: str = Field(sa_type=Text)
    kind: str = Field(sa_type=Text)
    name_zh: str = Field(sa_type=Text)
    name_en: str = Field(sa_type=Text)
    active: bool = Field(sa_type=Boolean)
    valid_from: date = Field(sa_type=Date)
    valid_to: date | None = Field(default=None, sa_type=Date)


class UnitRefStateColumns(SQLModel):
    """The read model's one-row version table ``<schema>.unit_ref_state``: the snapshot version it holds."""

    singleton: bool = Field(
        default=True, primary_key=True, sa_type=Boolean, sa_column_kwargs={"server_default": "true"}
    )
    version: str = Field(sa_type=Text)
    synced_at: datetime | None = Field(
        default=None, sa_type=DateTime(timezone=True), nullable=False, sa_column_kwargs={"server_default": func.now()}
    )


def unit_ref_table_args() -> tuple:
    """``__table_args__`` of a service's ``unit_ref`` class (new objects per table: one cannot be shared); the key
    ``create_unit_ref_tables`` leaves unnamed under the name PostgreSQL gives it."""
    return (
        *postgres_named_keys("unit_ref", ("id",)),
        Index("ix_unit_ref_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )


def unit_ref_state_table_args() -> tuple:
    """``__table_args__`` of a service's ``unit_ref_state`` class: the key and check ``create_unit_ref_tables``
    leaves unnamed, under the names PostgreSQL gives them."""
    return (
        *postgres_named_keys("unit_ref_state", ("singleton",)),
        CheckConstraint("singleton", name=conv("unit_ref_state_singleton_check")),
    )


SNAPSHOT_COLUMNS = tuple(UnitRefColumns.model_fields)
# The snapshot is read with the identity of the tree's root; ingest answers it to service tokens only.
SNAPSHOT_PATH = "/units/snapshot"


def unit_ref_table(metadata: MetaData) -> Table:
    """The read model's table in a service's own schema (the metadata's schema)."""
    return Table(
        "unit_ref",
        metadata,
        Column("id", Text, primary_key=True),
        Column("parent_id", Text, nullable=True),
        Column("path", Text, nullable=False),
        Column("kind", Text, nullable=False),
        Column("name_zh", Text, nullable=False),
        Column("name_en", Text, nullable=False),
        Column("active", Boolean, nullable=False),
        Column("valid_from", Date, nullable=False),
        Column("valid_to", Date, nullable=True),
    )


def create_unit_ref_tables(op: Any, schema: str) -> None:
    """For a service's Alembic migration: the read model and its one-row version table."""
    op.execute(
        f"""
        CREATE TABLE "{schema}".unit_ref (
            id text PRIMARY KEY,
            parent_id text,
            path text NOT NULL,
            kind text NOT NULL,
            name_zh text NOT NULL,
            name_en text NOT NULL,
            active boolean NOT NULL,
            valid_from date NOT NULL,
            valid_to date
        )
        """
    )
    op.execute(f'CREATE INDEX ix_unit_ref_path_prefix ON "{schema}".unit_ref (path text_pattern_ops)')
    op.execute(
        f"""
        CREATE TABLE "{schema}".unit_ref_state (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            version text NOT NULL,
            synced_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def drop_unit_ref_tables(op: Any, schema: str) -> None:
    op.execute(f'DROP TABLE "{schema}".unit_ref_state')
    op.execute(f'DROP TABLE "{schema}".unit_ref')


class DirectorySync:
    """Keeps ``<schema>.unit_ref`` equal to ingest's unit tree (see the module docstring)."""

    def __init__(self, database: Database, services: ServiceClients, *, schema: str, ttl_seconds: float) -> None:
        self._database = database
        self._services = services
        self._schema = schema
        self._ttl = ttl_seconds
        self._table = unit_ref_table(MetaData(schema=schema))
        self._lock = asyncio.Lock()
        self._checked_at = float("-inf")
        self._version: str | None = None

    @property
    def table(self) -> Table:
        return self._table

    async def ensure_fresh(self) -> None:
        """Refresh if the last check is older than the TTL. If ingest cannot be reached, a read model
        that was synced before is used as it is (logged); one never synced makes the request fail."""
        if time.monotonic() - self._checked_at < self._ttl:
            return
        async with self._lock:
            if time.monotonic() - self._checked_at < self._ttl:
                return
            try:
                changed = await self.refresh()
                DIRECTORY_CHECKS.labels(self._schema, "replaced" if changed else "unchanged").inc()
            except ServiceUnavailableError:
                DIRECTORY_CHECKS.labels(self._schema, "unreachable").inc()
                if await self._stored_version() is None:
                    raise
                logger.warning("unit directory unreachable; serving the read model as last synced")
            self._checked_at = time.monotonic()

    async def _stored_version(self) -> str | None:
        async with self._database.session() as session:
            return await session.scalar(text(f'SELECT version FROM "{self._schema}".unit_ref_state'))

    async def refresh(self) -> bool:
        """One conditional GET; replaces the table when the version moved. True if it changed."""
        if self._version is None:
            self._version = await self._stored_version()
        headers = {"if-none-match": f'"{self._version}"'} if self._version else {}
        # The snapshot is the whole tree; which unit the call acts for does not narrow it.
        response = await self._services.request("ingest", "GET", SNAPSHOT_PATH, acting_for="-", headers=headers)
        if response.status_code == 304:
            return False
        if response.status_code != 200:
            raise ServiceUnavailableError(f"the unit directory answered {response.status_code}: {response.text[:200]}")
        body = response.json()
        await self._replace(body["version"], body["units"])
        self._version = body["version"]
        return True

    async def _replace(self, version: str, units: list[list[Any]]) -> None:
        rows = [
            UnitRefColumns.model_validate(dict(zip(SNAPSHOT_COLUMNS, unit, strict=True))).model_dump() for unit in units
        ]
        lock_key = zlib.crc32(f"unit_ref:{self._schema}".encode())
        async with self._database.unit_of_work() as session:
            # Replicas of a service share the table: one writer at a time, and never backwards.
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key})
            stored = await session.scalar(text(f'SELECT version FROM "{self._schema}".unit_ref_state'))
            if stored is not None and int(stored) >= int(version):
                return
            await session.execute(delete(self._table))
            if rows:
                await session.execute(insert(self._table), rows)
            DIRECTORY_UNITS.labels(self._schema).set(len(rows))
            await session.execute(
                text(
                    f'INSERT INTO "{self._schema}".unit_ref_state (version) VALUES (:v) '
                    "ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version, synced_at = now()"
                ),
                {"v": version},
            )


async def directory_scope(session: AsyncSession, directory: DirectorySync, unit_id: str) -> Scope:
    """The caller's scope from the read model (refreshed first if it is older than the TTL)."""
    await directory.ensure_fresh()
    path = await session.scalar(select(directory.table.c.path).where(directory.table.c.id == unit_id))
    return Scope(unit_id=unit_id, path=path)
