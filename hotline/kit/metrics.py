"""Prometheus metrics (prometheus-client): the platform's HTTP and GraphQL metrics and a small registry API.

Every service serves ``GET /metrics`` (the text exposition format) through ``create_service_app``.
The platform records, labelled by ``service``:

- ``hotline_http_requests_total{method,route,status}`` and
  ``hotline_http_request_duration_seconds{method,route}`` — every HTTP request; ``route`` is the
  route template (``/graphql``, ``/units/bulk``), never the raw path, so cardinality stays bounded;
- ``hotline_graphql_operations_total{operation,type}``, ``hotline_graphql_operation_duration_seconds{operation}``
  and ``hotline_graphql_errors_total{operation,code}`` — per GraphQL operation name (anonymous
  operations are ``anonymous``; past ``MAX_OPERATION_NAMES`` distinct names, ``other``);
- ``hotline_db_connections_in_use`` — connections checked out of the pool, read at scrape time;
- ``hotline_directory_checks_total{outcome}`` and ``hotline_directory_units`` — the unit-directory
  read model (``hotline.kit.directory``).

Services add their own with ``counter``, ``gauge`` and ``histogram`` below, defined once at module
level (calling again with the same name returns the same metric)::

    from hotline.kit import metrics
    RUN_DURATION = metrics.histogram("scoring_run_duration_seconds", "Wall time of an evaluation run", ["outcome"])
    RECORDS_STORED = metrics.counter("ingest_records_stored_total", "Raw records stored", ["source"])
    QUEUED_RUNS = metrics.gauge("scoring_runs_queued", "Runs waiting for a worker")

    with RUN_DURATION.labels(outcome="succeeded").time(): ...
    RECORDS_STORED.labels(source="csv").inc(len(rows))
    QUEUED_RUNS.set(n)

Names get the ``hotline_`` prefix. One process serves one service (one uvicorn worker per
container; scale with replicas), so no multiprocess collector is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

PREFIX = "hotline_"
MAX_OPERATION_NAMES = 200
# Latency buckets for an API whose portal queries should answer within tens of milliseconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_lock = threading.Lock()
_metrics: dict[str, MetricWrapperBase] = {}


def _get_or_create(kind: type[MetricWrapperBase], name: str, documentation: str, labels: Sequence[str], **kwargs):
    full_name = name if name.startswith(PREFIX) else PREFIX + name
    with _lock:
        existing = _metrics.get(full_name)
        if existing is not None:
            if not isinstance(existing, kind) or tuple(existing._labelnames) != tuple(labels):
                raise ValueError(f"metric {full_name} already exists with another type or labels")
            return existing
        metric = kind(full_name, documentation, labelnames=tuple(labels), registry=REGISTRY, **kwargs)
        _metrics[full_name] = metric
        return metric


def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
    """A counter (only goes up: requests, records stored). ``_total`` is added by the exposition."""
    return _get_or_create(Counter, name, documentation, labels)


def gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
    """A gauge (goes up and down: queue depth, runs in progress)."""
    return _get_or_create(Gauge, name, documentation, labels)


def histogram(
    name: str, documentation: str, labels: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
) -> Histogram:
    """A histogram of durations or sizes (run time, batch size)."""
    return _get_or_create(Histogram, name, documentation, labels, buckets=tuple(buckets))


def exposition() -> tuple[bytes, str]:
    """The current values of every metric in this process, and the content type to serve them with."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


HTTP_REQUESTS = counter(
    "http_requests", "HTTP requests answered, by route template and status", ["service", "method", "route", "status"]
)
HTTP_DURATION = histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request", ["service", "method", "route"]
)
GRAPHQL_OPERATIONS = counter(
    "graphql_operations", "GraphQL operations executed, by operation name and type", ["service", "operation", "type"]
)
GRAPHQL_DURATION = histogram(
    "graphql_operation_duration_seconds", "Time to execute a GraphQL operation", ["service", "operation"]
)
GRAPHQL_ERRORS = counter(
    "graphql_errors", "Errors in GraphQL results, by operation name and error code", ["service", "operation", "code"]
)

DB_CONNECTIONS_IN_USE = gauge(
    "db_connections_in_use", "Database connections checked out of the service's pool", ["service"]
)
# Objects the process's start-up made and froze out of the collector's sight (hotline.kit.app.settle_garbage_collector).
GC_FROZEN_OBJECTS = gauge("gc_frozen_objects", "Objects frozen out of garbage collection after start-up", ["service"])

_operation_names: set[str] = set()


def operation_label(name: str | None) -> str:
    """The label for an operation name: bounded in number, since clients choose the names."""
    if not name:
        return "anonymous"
    name = name[:64]
    with _lock:
        if name in _operation_names:
            return name
        if len(_operation_names) >= MAX_OPERATION_NAMES:
            return "other"
        _operation_names.add(name)
        return name
