"""Alembic support: one history per service, each with its version table inside its own schema."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Literal

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from hotline.kit.settings import to_async_url

VERSION_TABLE = "alembic_version"


def alembic_config(service_dir: Path, database_url: str | None = None) -> Config:
    """The Alembic config of the service whose package directory is ``service_dir``."""
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def upgrade(service_dir: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service_dir, database_url), revision)


def downgrade(service_dir: Path, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(service_dir, database_url), revision)


def run_env(*, schema: str, target_metadata: MetaData) -> bool:
    """Body of a service's ``migrations/env.py``: run its migrations online inside ``schema``, or — under
    ``alembic check`` / ``revision --autogenerate`` — compare ``target_metadata`` (the service's table classes)
    with what the migrations built. True if migrations ran (not a comparison): data steps may follow."""
    from alembic import context

    config = context.config
    url = config.attributes.get("database_url") or os.environ.get("HOTLINE_DATABASE_URL")
    if not url:
        raise RuntimeError("set HOTLINE_DATABASE_URL (or pass a database URL) to run migrations")
    comparing: list[bool] = []

    def do_run(connection: Connection) -> None:
        # Create the schema only when missing: even ``IF NOT EXISTS`` needs CREATE on the database, which
        # a production service role (deploy/sql/roles.sql: it owns its schema, nothing more) does not have.
        exists = connection.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first()
        if exists is None:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        # Partitions are made at run time (ingest's monthly raw partitions: ``ingest.ensure_partition`` and the
        # new-month path), one table per month with its own key index; no table class declares them — the
        # partitioned parent does, and is compared. So a comparison leaves out the tables that are partitions.
        partitions = {
            name
            for (name,) in connection.execute(
                text(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :s AND c.relispartition"
                ),
                {"s": schema},
            )
        }

        def include_object(obj, name, type_, reflected, compare_to) -> bool:
            if type_ == "table":
                # Autogenerate stays inside this service's schema; runtime partitions are not models (above).
                return getattr(obj, "schema", None) == schema and not (reflected and name in partitions)
            return True

        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=VERSION_TABLE,
            version_table_schema=schema,
            include_schemas=True,
            include_object=include_object,
            compare_type=True,
            compare_server_default=True,
            transaction_per_migration=False,
        )
        # Alembic's check and autogenerate commands hand the environment their revision context.
        comparing.append("revision_context" in context.get_context().opts)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(to_async_url(url), poolclass=pool.NullPool)
        async with engine.begin() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    if context.is_offline_mode():
        raise RuntimeError("offline (SQL script) migrations are not supported; run them against a database")
    run_blocking(run_async())
    return not any(comparing)


def run_blocking(coro) -> None:
    """Run a coroutine to its end from synchronous code (Alembic's env), even when the caller is itself
    inside a running event loop (an async test fixture): then in a fresh thread's loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    # Called from inside a running loop (e.g. an async test fixture): run in a fresh thread's loop.
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


SchemaState = Literal["behind", "current", "ahead"]


async def schema_state(service_dir: Path, schema: str, database_url: str) -> SchemaState:
    """Where a service's schema stands against the migrations of this code.

    ``behind``: not migrated, or at a revision this code has a successor for (run the migration Job);
    ``current``: at this code's head; ``ahead``: at a revision this code does not know — a newer
    release migrated it, and since migrations are expand/contract, this code can still serve it.
    """
    script = ScriptDirectory.from_config(alembic_config(service_dir))
    connection = await asyncpg.connect(to_async_url(database_url).replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}".{VERSION_TABLE}')
        revisions = (
            {r["version_num"] for r in await connection.fetch(f'SELECT version_num FROM "{schema}".{VERSION_TABLE}')}
            if exists
            else set()
        )
    finally:
        await connection.close()
    if not revisions:
        return "behind"
    known = {r.revision for r in script.walk_revisions()}
    if revisions - known:
        return "ahead"
    return "current" if revisions == set(script.get_heads()) else "behind"


def wait_until_migrated(service_dir: Path, schema: str, database_url: str, *, interval: float = 5.0) -> SchemaState:
    """Block until the schema is current or ahead (a Deployment's init container runs this)."""
    while True:
        try:
            state = asyncio.run(schema_state(service_dir, schema, database_url))
        except (OSError, asyncpg.PostgresError) as exc:
            state, detail = "behind", f"database not reachable: {exc}"
        else:
            detail = "waiting for its migration Job" if state == "behind" else "ready"
        print(f"schema {schema}: {state} ({detail})", flush=True)
        if state != "behind":
            return state
        time.sleep(interval)


if __name__ == "__main__":
    # python -m hotline.kit.migrations wait services/<service> <schema>   (uses HOTLINE_DATABASE_URL)
    if len(sys.argv) != 4 or sys.argv[1] != "wait":
        sys.exit("usage: python -m hotline.kit.migrations wait <service dir> <schema>")
    url = os.environ.get("HOTLINE_DATABASE_URL")
    if not url:
        sys.exit("set HOTLINE_DATABASE_URL")
    wait_until_migrated(Path(sys.argv[2]), sys.argv[3], url)
