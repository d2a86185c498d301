"""Loading the built-in catalog and templates after the migrations (idempotent)."""

from __future__ import annotations

import logging
import os

from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from hotline.kit.migrations import run_blocking
from hotline.kit.settings import to_async_url
from services.indicators.catalog import apply_catalog, builtin_catalog
from services.indicators.templates import apply_templates, builtin_templates

logger = logging.getLogger("hotline.indicators.sync")


def sync_connection(connection: Connection) -> None:
    """Load the built-in data through ``connection`` when the catalog tables exist."""
    exists = connection.execute(text("SELECT to_regclass('indicators.indicator_version') IS NOT NULL")).scalar()
    if not exists:
        return
    created = apply_catalog(connection, builtin_catalog())
    templates = apply_templates(connection, builtin_templates())
    if created or templates:
        logger.info("catalog: %d new indicator versions, %d new template versions", len(created), len(templates))


def sync_builtin_data() -> None:
    """Called from ``migrations/env.py`` after ``run_env``; uses the same database URL."""
    from alembic import context

    url = context.config.attributes.get("database_url") or os.environ.get("HOTLINE_DATABASE_URL")

    async def run() -> None:
        engine = create_async_engine(to_async_url(url), poolclass=pool.NullPool)
        async with engine.begin() as connection:
            # One loader at a time (several replicas may migrate at once).
            await connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('indicators.catalog'))"))
            await connection.run_sync(sync_connection)
        await engine.dispose()

    run_blocking(run())
