"""``create_service_app``: the FastAPI application every service is built from.

It wires the database, token verification, the GraphQL subgraph at ``/graphql``, health and
readiness endpoints, request ids, structured logs, Prometheus metrics at ``/metrics``, optional
OpenTelemetry traces and the mapping of ``ApiError`` to JSON responses.
"""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, ClassVar

import asyncpg
import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.fastapi import GraphQLRouter
from strawberry.http.streaming import HTTPStreamTransport, SSETransport
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL

from hotline.kit import metrics, tracing
from hotline.kit.auth import Principal, TokenVerifier
from hotline.kit.db import Database
from hotline.kit.directory import DirectorySync
from hotline.kit.errors import ApiError, BadRequestError, api_error_from_database
from hotline.kit.graphql import RequestContext
from hotline.kit.live import ChangeFeed
from hotline.kit.logging import bind_service, configure_logging, get_logger
from hotline.kit.requestid import REQUEST_ID_HEADER, set_request_id
from hotline.kit.serial import SerialSession
from hotline.kit.services import ServiceClients
from hotline.kit.settings import Settings, get_settings

logger = get_logger("hotline.app")
# Probes and scrapes come every few seconds: counted in the metrics, logged only at debug level.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def get_database(request: Request) -> Database:
    return request.app.state.database


async def get_principal(request: Request) -> Principal:
    """The verified caller of a REST endpoint (raises ``UNAUTHENTICATED``)."""
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify_header(request.headers.get("authorization"))


DatabaseDep = Annotated[Database, Depends(get_database)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def _graphql_context(request: Request) -> AsyncIterator[RequestContext]:
    verifier: TokenVerifier = request.app.state.verifier
    principal, auth_error = None, None
    header = request.headers.get("authorization")
    if header:
        try:
            principal = await verifier.verify_header(header)
        except ApiError as exc:
            auth_error = exc
    database: Database = request.app.state.database
    async with database.session() as session:
        yield RequestContext(
            # Sibling fields resolve concurrently; the request's one session takes their calls in turn.
            session=SerialSession(session),
            principal=principal,
            auth_error=auth_error,
            services=request.app.state.services,
            directory=request.app.state.directory,
            service=request.app.state.service_name,
            database=database,
            live=request.app.state.live,
        )


class _LineFeedSSE(SSETransport):
    """Server-sent events with ``\n`` line ends: Hive Gateway's HTTP executor splits a stream into events on
    ``\n\n`` only, so Strawberry's ``\r\n`` framing (valid SSE too) would never yield an event to it."""

    def encode_event(self, event: str, data: str | None = None) -> str:
        return super().encode_event(event, data).replace("\r\n", "\n")

    def encode_comment(self, comment: str) -> str:
        return super().encode_comment(comment).replace("\r\n", "\n")


class _SubgraphRouter(GraphQLRouter):
    stream_transport_classes_by_protocol: ClassVar[Mapping[str, type[HTTPStreamTransport]]] = {
        **GraphQLRouter.stream_transport_classes_by_protocol,
        GRAPHQL_SSE_PROTOCOL: _LineFeedSSE,
    }

    async def execute_operation(self, request, request_adapter, request_data, context, root_value, sub_response):
        # A subscription needs a stream to send its events on (``SubscriptionsStream`` refuses it otherwise).
        context.streamed = getattr(request_data, "protocol", "http") != "http"
        return await super().execute_operation(
            request=request, request_adapter=request_adapter, request_data=request_data, context=context,
            root_value=root_value, sub_response=sub_response,
        )  # fmt: skip


def _route_template(scope: dict) -> str:
    """The matched route as a template (``/units/{unit_id}``): a bounded metric label, unlike the raw path."""
    if scope.get("route") is None:
        return "<unmatched>"
    names = {str(value): name for name, value in scope.get("path_params", {}).items()}
    segments = scope["path"].split("/")
    return "/".join(f"{{{names[s]}}}" if s in names else s for s in segments)


_REQUEST_ID = REQUEST_ID_HEADER.encode()


class _RequestMiddleware:
    """Request id, service name for the logs, the HTTP metrics and one access-log line per request.

    Plain ASGI rather than ``BaseHTTPMiddleware``: that one runs the app in a task of its own and streams the
    answer through a memory channel, a cost every request paid (issue 16's profile)."""

    def __init__(self, app, *, name: str) -> None:
        self.app, self.name = app, name

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = next((v for k, v in scope.get("headers") or [] if k == _REQUEST_ID), None)
        rid = set_request_id(incoming.decode("latin-1") if incoming is not None else None)
        bind_service(self.name)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _REQUEST_ID]
                message = {**message, "headers": [*headers, (_REQUEST_ID, rid.encode("latin-1"))]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope.get("method", "")
            metrics.HTTP_REQUESTS.labels(self.name, method, route, str(status)).inc()
            metrics.HTTP_DURATION.labels(self.name, method, route).observe(elapsed)
            path = scope["path"]
            log = logger.debug if path in _QUIET_PATHS else logger.info
            log("request", method=method, path=path, route=route, status=status, duration_ms=round(elapsed * 1000, 1))


class _BodyLimit:
    """Refuse a request body above ``limit`` bytes on ``paths`` with 413: by its Content-Length before
    anything is read, and while it streams when it declares none (chunked). A ``multipart/form-data`` body (a
    GraphQL multipart upload, where the service takes them) may have up to ``multipart_limit`` bytes."""

    def __init__(self, app, *, limit: int, paths: frozenset[str], multipart_limit: int | None = None) -> None:
        self.app, self.paths = app, paths
        self.plain_limit, self.multipart_limit = limit, multipart_limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].rstrip("/") not in self.paths:
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        multipart = self.multipart_limit is not None and content_type == b"multipart/form-data"
        limit = self.multipart_limit if multipart else self.plain_limit
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = True
            if too_large:
                return await self._refuse(send, limit)
        received = 0
        started = False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(send, limit)

    async def _refuse(self, send, limit: int) -> None:
        body = (
            b'{"errors":[{"message":"request body larger than %d bytes","extensions":{"code":"PAYLOAD_TOO_LARGE"}}]}'
            % limit
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def request_validation_error(exc: RequestValidationError) -> BadRequestError:
    """A request FastAPI could not read into its parameters, as the platform's 400 naming every field."""
    problems = [
        {"field": ".".join(str(part) for part in error.get("loc", ()) if part != "body"), "message": error.get("msg")}
        for error in exc.errors()
    ]
    listed = "; ".join(f"{p['field'] or 'body'}: {p['message']}" for p in problems)
    return BadRequestError(f"the request is not valid: {listed}", problems=problems)


def _operations_router(name: str) -> APIRouter:
    """``/healthz`` (liveness), ``/readyz`` (the database answers) and ``/metrics`` (Prometheus)."""
    router = APIRouter()

    @router.get("/healthz", tags=["health"], summary="Liveness: the process is serving")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @router.get("/readyz", tags=["health"], summary="Readiness: the database answers")
    async def readyz(request: Request) -> JSONResponse:
        try:
            async with request.app.state.database.session() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # readiness reports, it does not raise
            logger.warning("readiness check failed", error=str(exc))
            return JSONResponse(status_code=503, content={"status": "unavailable", "service": name})
        return JSONResponse(content={"status": "ok", "service": name})

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.exposition()
        return Response(content=body, media_type=content_type)

    return router


def settle_garbage_collector(settings: Settings) -> None:
    """Once a service has started: what start-up made (modules, schemas, mappers, the first caches) is collected once
    and then frozen, so that full collections under load walk only what requests made since; and the youngest
    generation is collected every ``settings.gc_young_threshold`` allocations. Not in tests (one pytest process
    starts many apps) nor with a threshold of 0."""
    if settings.gc_young_threshold <= 0 or settings.env == "test":
        return
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(settings.gc_young_threshold, middle, old)


def create_service_app(
    *,
    name: str,
    schema,
    routers: Sequence[APIRouter] = (),
    settings: Settings | None = None,
    database: Database | None = None,
    description: str = "",
    directory: bool = False,
    service_transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    on_startup: Sequence[Callable[[FastAPI], Awaitable[None]]] = (),
    live_channel: str | None = None,
    graphql_uploads: bool = False,
) -> FastAPI:
    """Build a service: GraphQL at ``/graphql``, REST routers, ``/healthz`` and ``/readyz``.

    ``on_startup`` runs once the database is set up (recovery of work a killed process left behind).
    ``directory=True`` keeps a read model of the unit tree in the service's schema (``name``) for
    scope filters; ``service_transports`` replaces the network to named services (tests). ``live_channel``
    names the PostgreSQL channel the service's triggers notify, for its subscriptions (``hotline.kit.live``).
    ``graphql_uploads=True`` takes GraphQL multipart requests (the GraphQL multipart request spec: files as
    ``Upload`` variables) of up to ``graphql_max_upload_bytes``; JSON bodies keep ``graphql_max_body_bytes``.
    Callers authenticate with bearer tokens, never cookies, so a multipart form from another site carries no
    credentials (the reason Strawberry leaves it off by default does not apply).
    """
    settings = settings or get_settings()
    configure_logging(service=name, fmt=settings.effective_log_format, level=settings.log_level)
    exporter = tracing.exporter_from_settings(settings)
    tracer_provider = tracing.tracer_provider(name, exporter) if exporter is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        app.state.database = database or Database.from_settings(settings)
        if isinstance(app.state.database.bind, AsyncEngine):
            pool = app.state.database.bind.sync_engine.pool
            metrics.DB_CONNECTIONS_IN_USE.labels(name).set_function(lambda: getattr(pool, "checkedout", int)())
        if tracer_provider is not None:
            tracing.instrument_database(app.state.database.bind, tracer_provider)
        app.state.verifier = TokenVerifier(settings)
        app.state.settings = settings
        app.state.services = ServiceClients(
            settings, caller=name, transports=service_transports, tracer_provider=tracer_provider
        )
        app.state.directory = (
            DirectorySync(
                app.state.database, app.state.services, schema=name, ttl_seconds=settings.directory_ttl_seconds
            )
            if directory
            else None
        )
        # Live updates for the subgraph's subscriptions: one LISTEN connection, opened by the first subscriber.
        app.state.live = ChangeFeed.for_database(app.state.database, live_channel) if live_channel else None
        for step in on_startup:
            await step(app)
        settle_garbage_collector(settings)
        metrics.GC_FROZEN_OBJECTS.labels(name).set_function(gc.get_freeze_count)
        try:
            yield
        finally:
            if app.state.live is not None:
                await app.state.live.aclose()
            await app.state.services.aclose()
            if owned:
                await app.state.database.dispose()
            if tracer_provider is not None:
                tracer_provider.shutdown()

    app = FastAPI(title=f"hotline-eval {name} service", description=description, lifespan=lifespan)
    app.state.service_name = name

    app.add_middleware(
        _BodyLimit,
        limit=settings.graphql_max_body_bytes,
        paths=frozenset({"/graphql"}),
        multipart_limit=settings.graphql_max_upload_bytes if graphql_uploads else None,
    )
    app.add_middleware(_RequestMiddleware, name=name)

    @app.exception_handler(ApiError)
    async def api_error_handler(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"error": exc.to_dict()})

    @app.exception_handler(RequestValidationError)
    async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer is a bare 422 {"detail": …}; clients get the platform's body like every error.
        return await api_error_handler(request, request_validation_error(exc))

    @app.exception_handler(DBAPIError)
    @app.exception_handler(asyncpg.PostgresError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(ConnectionError)  # the database refused or reset a (re)connection
    async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
        mapped = api_error_from_database(exc)
        if mapped is None:
            raise exc
        return await api_error_handler(request, mapped)

    graphql_router = _SubgraphRouter(
        schema,
        context_getter=_graphql_context,
        graphql_ide="graphiql" if settings.env == "development" else None,
        # Subscriptions are served over SSE only: the gateway is their one client (a POST with
        # ``Accept: text/event-stream``, the caller's token in ``Authorization`` as for any request).
        subscription_protocols=(GRAPHQL_SSE_PROTOCOL,),
        multipart_uploads_enabled=graphql_uploads,
    )
    app.include_router(graphql_router, prefix="/graphql")
    for router in routers:
        app.include_router(router)
    if tracer_provider is not None:
        tracing.instrument_app(app, tracer_provider)

    app.include_router(_operations_router(name))
    return app
