"""Each service's Alembic history goes up and down on its own, with its version table in its schema."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from hotline.cli.stack import SERVICES
from hotline.kit import migrations


async def tables(url: str, schema: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
async def test_upgrade_downgrade_upgrade(fresh_database, spec):
    url = await fresh_database("hotline_migrations")  # already at head for every service
    at_head = await tables(url, spec.name)
    assert "alembic_version" in at_head and len(at_head) > 1
    await asyncio.to_thread(migrations.downgrade, spec.service_dir, url)
    assert await tables(url, spec.name) == {"alembic_version"}
    # Other services' schemas are untouched by this service's downgrade.
    for other in SERVICES:
        if other is not spec:
            assert len(await tables(url, other.name)) > 1
    await asyncio.to_thread(migrations.upgrade, spec.service_dir, url)
    assert await tables(url, spec.name) == at_head


async def test_no_table_outside_the_service_schemas(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
    finally:
        await conn.close()
    assert {r["schemaname"] for r in rows} == {s.name for s in SERVICES}


async def test_schema_state_tells_behind_current_and_ahead(fresh_database):
    url = await fresh_database("hotline_schema_state")  # at head for every service
    for spec in SERVICES:
        assert await migrations.schema_state(spec.service_dir, spec.name, url) == "current"
        conn = await asyncpg.connect(url)
        try:
            # A newer release migrated the schema further: this code still serves it (expand/contract).
            head = await conn.fetchval(f"SELECT version_num FROM {spec.name}.alembic_version")
            await conn.execute(f"UPDATE {spec.name}.alembic_version SET version_num = 'ffffffff_from_a_newer_release'")
            assert await migrations.schema_state(spec.service_dir, spec.name, url) == "ahead"
            await conn.execute(f"UPDATE {spec.name}.alembic_version SET version_num = $1", head)
        finally:
            await conn.close()
        await asyncio.to_thread(migrations.downgrade, spec.service_dir, url)
        assert await migrations.schema_state(spec.service_dir, spec.name, url) == "behind"
        # Never migrated at all (no version table): behind too.
        assert await migrations.schema_state(spec.service_dir, f"{spec.name}_never_migrated", url) == "behind"


async def test_the_init_container_command_returns_once_the_schema_is_current(database_url):
    import os
    import subprocess
    import sys

    from hotline.cli.stack import REPO_ROOT

    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hotline.kit.migrations", "wait", "services/ingest", "ingest"],
        cwd=REPO_ROOT,
        env={**os.environ, "HOTLINE_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "schema ingest: current (ready)"
