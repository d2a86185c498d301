"""Observability from the platform kit: Prometheus metrics, JSON logs with the request id, optional traces."""

from __future__ import annotations

import json
import re

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from hotline.kit import metrics, tracing
from hotline.kit.services import ServiceClients
from hotline.kit.settings import Settings
from tests.support import auth, gql


async def _sample(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def test_metrics_count_requests_by_route_and_status(ingest):
    healthz = {"service": "ingest", "method": "GET", "route": "/healthz", "status": "200"}
    before = await _sample(ingest, "hotline_http_requests_total", **healthz)
    for _ in range(3):
        assert (await ingest.get("/healthz")).status_code == 200
    assert await _sample(ingest, "hotline_http_requests_total", **healthz) == before + 3
    timed = await _sample(ingest, "hotline_http_request_duration_seconds_count", service="ingest", route="/healthz")
    assert timed >= 3

    # An unknown path is counted under one label, not under its raw path.
    missing = {"service": "ingest", "route": "<unmatched>", "status": "404"}
    before_missing = await _sample(ingest, "hotline_http_requests_total", **missing)
    assert (await ingest.get("/no/such/path/42")).status_code == 404
    assert await _sample(ingest, "hotline_http_requests_total", **missing) == before_missing + 1


async def test_metrics_count_graphql_operations_and_errors_by_name(ingest):
    ok = {"service": "ingest", "operation": "WhoAmI", "type": "query"}
    refused = {"service": "ingest", "operation": "WhoAmI", "code": "UNAUTHENTICATED"}
    ops_before = await _sample(ingest, "hotline_graphql_operations_total", **ok)
    errors_before = await _sample(ingest, "hotline_graphql_errors_total", **refused)

    query = "query WhoAmI { me { subject } }"
    assert not (await gql(ingest, query, headers=auth("GD", "viewer"))).get("errors")
    assert (await gql(ingest, query))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    assert await _sample(ingest, "hotline_graphql_operations_total", **ok) == ops_before + 2
    assert await _sample(ingest, "hotline_graphql_errors_total", **refused) == errors_before + 1


def test_service_metrics_registry_returns_one_metric_per_name():
    depth = metrics.gauge("test_queue_depth", "Items waiting (test)", ["queue"])
    assert metrics.gauge("test_queue_depth", "Items waiting (test)", ["queue"]) is depth
    depth.labels(queue="runs").set(7)
    body, _ = metrics.exposition()
    assert 'hotline_test_queue_depth{queue="runs"} 7.0' in body.decode()
    try:
        metrics.counter("test_queue_depth", "same name, other type")
    except ValueError as exc:
        assert "already exists" in str(exc)
    else:
        raise AssertionError("a second metric with the same name was accepted")


def test_operation_labels_are_bounded(monkeypatch):
    monkeypatch.setattr(metrics, "_operation_names", set())
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", 2)
    assert [metrics.operation_label(n) for n in ("A", "B", "C", "A", None)] == ["A", "B", "other", "A", "anonymous"]


def _json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def test_log_lines_are_json_with_the_request_id_from_the_header(ingest, capsys):
    response = await ingest.post(
        "/graphql",
        json={"query": "query WhoAmI { me { subject } }"},
        headers={**auth("GD", "viewer"), "x-request-id": "req-observe-7"},
    )
    assert response.headers["x-request-id"] == "req-observe-7"
    lines = _json_lines(capsys.readouterr().err)
    access = [line for line in lines if line.get("event") == "request" and line.get("request_id") == "req-observe-7"]
    assert len(access) == 1, lines
    line = access[0]
    assert line["service"] == "ingest" and line["level"] == "info" and line["logger"] == "hotline.app"
    assert line["route"] == "/graphql" and line["status"] == 200 and line["method"] == "POST"
    assert re.match(r"\d{4}-\d\d-\d\dT", line["timestamp"])


async def test_standard_library_log_lines_are_json_too(ingest, capsys):
    import logging

    from hotline.kit.requestid import set_request_id

    set_request_id("req-stdlib-1")
    logging.getLogger("hotline.somewhere").warning("plain %s message", "stdlib")
    [line] = [entry for entry in _json_lines(capsys.readouterr().err) if entry.get("request_id") == "req-stdlib-1"]
    assert line["event"] == "plain stdlib message" and line["level"] == "warning"


def test_log_format_defaults_to_console_in_development_and_json_elsewhere():
    assert Settings(env="development").effective_log_format == "console"
    assert Settings(env="test").effective_log_format == "json"
    assert Settings(env="development", log_format="json").effective_log_format == "json"


def test_tracing_is_off_by_default(settings, db):
    from services.indicators.app import create_app

    assert Settings(env="test").otel_exporter == "none"
    assert tracing.exporter_from_settings(settings) is None
    app = create_app(settings=settings, database=db)
    assert not [m for m in app.user_middleware if "OpenTelemetry" in m.cls.__name__]


async def test_service_calls_carry_w3c_trace_context():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    exporter = InMemorySpanExporter()
    provider = tracing.tracer_provider("scoring", exporter)
    clients = ServiceClients(
        Settings(env="test"),
        caller="scoring",
        transports={"ingest": httpx.MockTransport(handler)},
        tracer_provider=provider,
    )
    try:
        await clients.request("ingest", "GET", "/units/snapshot", acting_for="GD")
    finally:
        await clients.aclose()
    provider.force_flush()
    traceparent = seen[0].headers.get("traceparent")
    assert traceparent and re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", traceparent)
    [span] = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == traceparent.split("-")[1]
    assert span.resource.attributes["service.name"] == "hotline-scoring"


async def test_a_traced_service_continues_the_callers_trace(settings, db, monkeypatch, capsys):
    from services.ingest.app import create_app

    exporter = InMemorySpanExporter()
    monkeypatch.setattr(tracing, "exporter_from_settings", lambda _settings: exporter)
    app = create_app(settings=settings.model_copy(update={"otel_exporter": "console"}), database=db)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            response = await client.post(
                "/graphql",
                json={"query": "query WhoAmI { me { subject } }"},
                headers={**auth("GD", "viewer"), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
            )
    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    assert spans and all(format(span.context.trace_id, "032x") == trace_id for span in spans)
    assert any(span.name.startswith("POST /graphql") for span in spans)
    # The access line names the trace, so logs and traces join up.
    [line] = [entry for entry in _json_lines(capsys.readouterr().err) if entry.get("trace_id") == trace_id]
    assert line["event"] == "request" and line["route"] == "/graphql" and re.fullmatch(r"[0-9a-f]{16}", line["span_id"])


async def test_sql_statements_become_spans_when_tracing_is_on(database_url):
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from hotline.kit.settings import to_async_url

    exporter = InMemorySpanExporter()
    provider = tracing.tracer_provider("indicators", exporter)
    engine = create_async_engine(to_async_url(database_url))
    tracing.instrument_database(engine, provider)
    try:
        async with engine.connect() as connection:
            assert (
                await connection.execute(text("SELECT count(*) FROM indicators.dimension WHERE standard = 'gb12345'"))
            ).scalar() == 7
    finally:
        await engine.dispose()
    provider.force_flush()
    statements = [span.attributes.get("db.statement", "") for span in exporter.get_finished_spans()]
    assert any("indicators.dimension" in statement for statement in statements), statements


async def test_pool_connections_in_use_are_read_at_scrape_time(database_url):
    from prometheus_client import REGISTRY
    from sqlalchemy import text

    from services.indicators.app import create_app

    app = create_app(settings=Settings(env="test", database_url=database_url))
    async with app.router.lifespan_context(app):
        assert REGISTRY.get_sample_value("hotline_db_connections_in_use", {"service": "indicators"}) == 0
        async with app.state.database.session() as session:
            await session.execute(text("SELECT 1"))
            assert REGISTRY.get_sample_value("hotline_db_connections_in_use", {"service": "indicators"}) == 1


async def test_an_unexpected_error_is_masked_and_logged_as_json_with_its_request_id_and_traceback(db, settings, capsys):
    import strawberry

    from hotline.kit.app import create_service_app
    from hotline.kit.graphql import federation_schema

    @strawberry.type
    class Query:
        @strawberry.field
        def explode(self) -> int:
            raise RuntimeError("the secret internals")

    app = create_service_app(name="boom", schema=federation_schema(query=Query), settings=settings, database=db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://boom") as client:
            result = await gql(client, "{ explode }", headers={**auth("GD", "viewer"), "x-request-id": "req-boom-1"})
    [error] = result["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-boom-1"}
    assert "secret internals" not in json.dumps(result)
    [line] = [
        entry
        for entry in _json_lines(capsys.readouterr().err)
        if entry.get("logger") == "hotline.graphql" and entry.get("request_id") == "req-boom-1"
    ]
    assert line["service"] == "boom" and line["level"] == "error"
    assert "RuntimeError: the secret internals" in line["exception"]


def test_the_exporter_follows_the_settings():
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    otlp = tracing.exporter_from_settings(
        Settings(env="test", otel_exporter="otlp", otel_endpoint="http://collector:4318/v1/traces")
    )
    assert isinstance(otlp, OTLPSpanExporter) and otlp._endpoint == "http://collector:4318/v1/traces"
    assert isinstance(
        tracing.exporter_from_settings(Settings(env="test", otel_exporter="console")), ConsoleSpanExporter
    )
    assert tracing.exporter_from_settings(Settings(env="test")) is None


def test_a_logged_exception_in_development_is_a_plain_traceback_without_the_frames_locals(capsys):
    """The console format (development) prints an exception as a plain traceback: a worker poll failing every few
    seconds once wrote every frame's locals (~700 kB a time, a fifth of a core) through rich's formatter."""
    import logging

    from hotline.kit.logging import configure_logging

    def fail() -> None:
        rows_of_a_large_batch = ["a row of a large batch " * 20] * 500  # noqa: F841 (a large local)
        raise ValueError("the database was dropped")

    configure_logging(service="test", fmt="console")
    try:
        try:
            fail()
        except ValueError:
            logging.getLogger("hotline.scoring.worker").exception("run worker poll failed")
        err = capsys.readouterr().err
    finally:
        configure_logging(service="test", fmt="json")
    assert "run worker poll failed" in err and "Traceback (most recent call last)" in err
    assert "ValueError: the database was dropped" in err and "in fail" in err
    assert "a row of a large batch" not in err and len(err) < 4000, len(err)
