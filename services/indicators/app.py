"""The indicators service application (port 4102 by default)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from hotline.kit.app import create_service_app
from hotline.kit.db import Database
from hotline.kit.settings import Settings
from services.indicators.endpoints import router
from services.indicators.schema import schema


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    service_transports: dict[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    return create_service_app(
        name="indicators",
        schema=schema,
        settings=settings,
        database=database,
        service_transports=service_transports,
        directory=True,
        routers=[router],
        description="The indicator catalog (dimensions, versioned indicators, templates) and evaluation schemes of hotline-eval.",
    )
