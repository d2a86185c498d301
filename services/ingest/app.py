"""The ingest service application (port 4101 by default)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from hotline.kit.app import create_service_app
from hotline.kit.db import Database
from hotline.kit.logging import get_logger
from hotline.kit.settings import Settings
from services.ingest import bulk, newmonth, store
from services.ingest.batch_endpoints import router as batch_router
from services.ingest.batches import DEFAULT_TIME_ZONE
from services.ingest.endpoints import router
from services.ingest.measures_endpoints import router as measures_router
from services.ingest.schema import schema
from services.ingest.snapshot import router as snapshot_router

logger = get_logger("hotline.ingest")


async def fail_interrupted_batches(app: FastAPI) -> None:
    """A batch a killed process (or a lost database connection) left unfinished is marked failed, and the scratch
    tables of such batches' two-stream loads (``newmonth``) are dropped."""
    try:
        async with app.state.database.unit_of_work() as session:
            failed = await store.fail_interrupted(session)
        async with app.state.database.unit_of_work() as session:
            raw = await (await session.connection()).get_raw_connection()
            dropped = await newmonth.drop_leftovers(raw.driver_connection)
    except Exception as exc:  # the database may not be up yet; readiness reports that, start-up goes on
        logger.warning("could not check for interrupted batches", error=str(exc))
        return
    if failed:
        logger.warning("batches interrupted by a stop were marked failed", batch_ids=failed)
    if dropped:
        logger.warning("scratch tables of unfinished loads were dropped", tables=dropped)


def warm_up_process(zone_key: str = DEFAULT_TIME_ZONE) -> None:
    """Start-up work a process does once, which its first load would otherwise do itself: the plain path's zone
    offsets (``bulk.warm_up``), the measure catalog every recompute prunes by (``rules.flow_measures``: ~0.13 s of
    YAML), and the ORM's mapper configuration (~0.07 s, at the first ORM query: the caller's scope). Profiled
    (cProfile of the ingest benchmark's child process, which times one load): its daily file paid the catalog inside
    the timed load, and a one-row file then paid the mappers in 0.07 s of its 0.28 s."""
    from sqlalchemy.orm import configure_mappers

    from services.ingest.rules import flow_measures

    bulk.warm_up(zone_key)
    flow_measures()
    configure_mappers()


async def warm_up(app: FastAPI) -> None:
    """``warm_up_process``, off the event loop."""
    await asyncio.to_thread(warm_up_process, DEFAULT_TIME_ZONE)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    return create_service_app(
        name="ingest",
        schema=schema,
        routers=[router, snapshot_router, batch_router, measures_router],
        settings=settings,
        database=database,
        on_startup=[fail_interrupted_batches, warm_up],
        description="Unit directory (master data), raw records with data-quality reports, and daily measures of hotline-eval.",
    )
