"""OpenTelemetry traces: FastAPI, httpx and SQLAlchemy instrumentation, off unless an exporter is chosen.

``HOTLINE_OTEL_EXPORTER=otlp`` (OTLP/HTTP to ``HOTLINE_OTEL_ENDPOINT``) or ``console`` turns tracing
on; ``none`` (the default) installs nothing, so an untraced service pays nothing. With tracing on,
the service-to-service clients (``hotline.kit.services``) send the W3C ``traceparent`` header, and
incoming ``traceparent`` headers (from the gateway or another service) continue the caller's trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from hotline.kit.settings import Settings


def exporter_from_settings(settings: Settings) -> SpanExporter | None:
    """The span exporter the settings choose, or ``None`` when tracing is off."""
    if settings.otel_exporter == "console":
        return ConsoleSpanExporter()
    if settings.otel_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=settings.otel_endpoint) if settings.otel_endpoint else OTLPSpanExporter()
    return None


def tracer_provider(service: str, exporter: SpanExporter) -> TracerProvider:
    """A tracer provider naming the service (``service.name = hotline-<service>``) that exports in batches."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"hotline-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """Spans for every request the app serves (continuing an incoming ``traceparent``)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # The provider is passed explicitly, never made the global one: nothing else in the process starts
    # spans behind the settings' back. Log lines find the current span in the context all the same.
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="healthz,readyz,metrics")


def instrument_client(client: httpx.AsyncClient, provider: TracerProvider) -> None:
    """Spans for a client's calls, and the W3C trace context on its outgoing headers."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)


def instrument_database(bind: AsyncEngine | AsyncConnection, provider: TracerProvider) -> None:
    """Spans for every SQL statement on the service's engine."""
    from sqlalchemy.ext.asyncio import AsyncEngine

    if not isinstance(bind, AsyncEngine):
        return  # tests bind to one connection; their statements are not worth tracing
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # The instrumentation declares SQLAlchemy < 2.1 but only hooks the engine events 2.1 still has;
    # tests/platform/test_observability.py checks that statements do become spans.
    SQLAlchemyInstrumentor().instrument(engine=bind.sync_engine, tracer_provider=provider, skip_dep_check=True)
