"""The ingest service application (port 4101 by default)."""

from __future__ import annotations

from fastapi import FastAPI

from hotline.kit.app import create_service_app
from hotline.kit.db import Database
from hotline.kit.settings import Settings
from services.ingest.batch_endpoints import router as batch_router
from services.ingest.endpoints import router
from services.ingest.measures_endpoints import router as measures_router
from services.ingest.schema import schema
from services.ingest.snapshot import router as snapshot_router


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    return create_service_app(
        name="ingest",
        schema=schema,
        routers=[router, snapshot_router, batch_router, measures_router],
        settings=settings,
        database=database,
        description="Unit directory (master data), raw records with data-quality reports, and daily measures of hotline-eval.",
    )
