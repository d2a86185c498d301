"""The scoring service application (port 4103 by default)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from hotline.kit.app import create_service_app
from hotline.kit.db import Database
from hotline.kit.settings import Settings
from services.scoring.endpoints import router
from services.scoring.live import CHANNEL
from services.scoring.schema import schema
from services.scoring.worker import alert_sweep_loop, worker_loop


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    service_transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    *,
    run_worker: bool = True,
) -> FastAPI:
    """``run_worker=False`` leaves the job queue to the caller (tests drive ``worker.drain``)."""
    app = create_service_app(
        name="scoring",
        schema=schema,
        routers=[router],
        settings=settings,
        database=database,
        description="Evaluation runs and results of hotline-eval: scores, grades, ranks, explanations, alerts, reports.",
        directory=True,
        service_transports=service_transports,
        live_channel=CHANNEL,
    )
    platform_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        # The platform's lifespan sets up the database and clients; the run worker polls beside it.
        async with platform_lifespan(application):
            tasks = []
            if run_worker:
                state = application.state
                tasks.append(asyncio.create_task(worker_loop(state.database, state.services)))
                every = state.settings.scoring_alert_sweep_seconds
                if every > 0:
                    tasks.append(
                        asyncio.create_task(alert_sweep_loop(state.database, state.services, state.directory, every))
                    )
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app.router.lifespan_context = lifespan
    return app
