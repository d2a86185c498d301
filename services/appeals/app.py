"""The appeals service application (port 4104 by default), with its background worker: webhook
deliveries from the outbox and the settlement sweep (see ``notifications`` and ``settlement``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from hotline.kit.app import create_service_app
from hotline.kit.db import Database
from hotline.kit.settings import Settings
from services.appeals.endpoints import router
from services.appeals.live import CHANNEL
from services.appeals.notifications import WebhookSender
from services.appeals.runtime import Clock, Runtime, utc_now
from services.appeals.schema import schema
from services.appeals.scoring import ScoringClient
from services.appeals.settlement import sweep

logger = logging.getLogger("hotline.appeals.worker")


async def run_worker(app: FastAPI, *, delivery_interval: float, sweep_interval: float) -> None:
    """Deliver due webhooks every ``delivery_interval`` seconds; sweep settlements every ``sweep_interval``."""
    rt: Runtime = app.state.appeals
    last_sweep = float("-inf")
    loop = asyncio.get_running_loop()
    while True:
        try:
            await rt.sender.deliver_due(rt.clock())
            if loop.time() - last_sweep >= sweep_interval:
                last_sweep = loop.time()
                await sweep(app.state.database, rt.scoring, now=rt.clock())
        except Exception:  # the worker outlives any one failure; the next pass retries
            logger.exception("appeals worker pass failed")
        await asyncio.sleep(delivery_interval)


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    service_transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    clock: Clock = utc_now,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    worker: bool = True,
    delivery_interval: float | None = None,
    sweep_interval: float | None = None,
    webhook_wait_initial: float = 0.5,
) -> FastAPI:
    """``clock`` is the server's clock (tests inject one); ``worker=False`` leaves the background worker off
    (tests drive ``app.state.appeals.sender`` and ``settlement.sweep`` themselves). The worker's intervals
    default to the settings ``HOTLINE_APPEALS_DELIVERY_SECONDS`` (2) and ``HOTLINE_APPEALS_SWEEP_SECONDS`` (60)."""
    app = create_service_app(
        name="appeals",
        schema=schema,
        routers=[router],
        settings=settings,
        database=database,
        service_transports=service_transports,
        directory=True,
        live_channel=CHANNEL,
        description="Appeals (申诉) against published evaluation results: filing, review, decisions, escalation, "
        "an immutable record, notifications and statistics.",
        graphql_uploads=True,  # evidence files as GraphQL multipart uploads
    )
    platform_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with platform_lifespan(app):
            sender = WebhookSender(app.state.database, transport=webhook_transport, wait_initial=webhook_wait_initial)
            app.state.appeals = Runtime(scoring=ScoringClient(app.state.services), clock=clock, sender=sender)
            settings_ = app.state.settings
            intervals = {
                "delivery_interval": delivery_interval or settings_.appeals_delivery_seconds,
                "sweep_interval": sweep_interval or settings_.appeals_sweep_seconds,
            }
            task = asyncio.create_task(run_worker(app, **intervals)) if worker else None
            try:
                yield
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await sender.aclose()

    app.router.lifespan_context = lifespan
    return app
