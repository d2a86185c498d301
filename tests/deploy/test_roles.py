"""deploy/sql/roles.sql on a real PostgreSQL: one role per service, each confined to its own schema,
and the services' migrations run as those roles."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from hotline.cli.database import create_database, drop_database
from hotline.kit import migrations
from services import indicators, ingest

ROLES_SQL = Path(__file__).resolve().parents[2] / "deploy" / "sql" / "roles.sql"
SERVICES = ("ingest", "indicators", "scoring", "appeals")

pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")


def _psql(url: str, prefix: str) -> None:
    passwords = [arg for s in SERVICES for arg in ("-v", f"{s}_password=pw-{s}-{prefix}")]
    subprocess.run(
        ["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-v", f"role_prefix={prefix}", *passwords, "-f", str(ROLES_SQL)],
        check=True,
        capture_output=True,
        text=True,
    )


def _as_role(url: str, prefix: str, service: str) -> str:
    """The database URL as the service's own role (what its HOTLINE_DATABASE_URL is in production)."""
    role = make_url(url).set(username=f"{prefix}{service}", password=f"pw-{service}-{prefix}")
    return role.render_as_string(hide_password=False)


async def _fails(url: str, sql: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        await connection.fetch(sql)
    except asyncpg.PostgresError as exc:
        return str(exc)
    finally:
        await connection.close()
    raise AssertionError(f"{sql!r} was allowed")


async def test_each_service_role_owns_its_schema_and_can_touch_no_other(server_url):
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    name = f"hotline_roles_{uuid.uuid4().hex[:8]}"
    url = await create_database(server_url, name)
    try:
        # Twice: the script is idempotent (it is re-run to rotate passwords).
        for _ in range(2):
            await asyncio.to_thread(_psql, url, prefix)
        ingest_url, indicators_url = _as_role(url, prefix, "ingest"), _as_role(url, prefix, "indicators")
        await asyncio.to_thread(migrations.upgrade, ingest.SERVICE_DIR, ingest_url)
        await asyncio.to_thread(migrations.upgrade, indicators.SERVICE_DIR, indicators_url)

        connection = await asyncpg.connect(indicators_url)
        try:
            assert (
                await connection.fetchval("SELECT count(*) FROM dimension WHERE standard = 'gb12345'") == 7
            )  # its own schema, on its path
            owners = dict(await connection.fetch("SELECT nspname, nspowner::regrole::text FROM pg_namespace"))
        finally:
            await connection.close()
        assert {owners[s] for s in SERVICES} == {f"{prefix}{s}" for s in SERVICES}

        assert "permission denied" in await _fails(indicators_url, "SELECT * FROM ingest.unit")
        assert "permission denied" in await _fails(ingest_url, "SELECT * FROM indicators.dimension")
        assert "permission denied" in await _fails(ingest_url, "CREATE TABLE public.sneaky (id int)")
        assert "permission denied" in await _fails(ingest_url, "CREATE SCHEMA sneaky")
        assert "permission denied" in await _fails(ingest_url, "DROP TABLE indicators.dimension")
    finally:
        await drop_database(server_url, name)
        connection = await asyncpg.connect(server_url)
        try:
            for service in SERVICES:
                await connection.execute(f'DROP ROLE IF EXISTS "{prefix}{service}"')
        finally:
            await connection.close()
