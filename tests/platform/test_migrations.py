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
