"""Structured logs with structlog: one JSON object per line (or a readable console in development).

Every line carries ``timestamp``, ``level``, ``logger``, ``event``, the ``service`` and the
``request_id`` of the request being served (the ``x-request-id`` context variable), and
``trace_id``/``span_id`` when a trace is being recorded. Standard-library loggers (``logging``,
uvicorn, SQLAlchemy) go through the same renderer, so a process writes one format only.

Use ``get_logger(__name__)`` and pass data as key-value pairs:
``log.info("batch stored", batch_id=..., rows=...)``.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any, Literal

import structlog
from opentelemetry import trace

from hotline.kit.requestid import current_request_id

_service: ContextVar[str | None] = ContextVar("service", default=None)
_process_service = "hotline"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of writing (so test capture sees it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def bind_service(name: str) -> None:
    """Name the service whose request this task serves (the request middleware calls it)."""
    _service.set(name)


def _add_context(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    event.setdefault("service", _service.get() or _process_service)
    rid = current_request_id()
    if rid != "-":
        event.setdefault("request_id", rid)
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _add_context,
]


def configure_logging(*, service: str, fmt: Literal["json", "console"] = "json", level: str = "INFO") -> None:
    """Route structlog and the standard library through one renderer on stderr. Safe to call again."""
    global _process_service
    _process_service = service
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        # a plain traceback: rich's (the default with rich installed) prints every frame's locals, ~700 kB for a
        # worker poll failing against a dropped database, again every poll
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED_PROCESSORS,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if fmt == "json" else _identity,
            renderer,
        ],
    )
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn installs its own handlers; send its lines through ours instead. Its access log is
    # dropped: the request middleware writes a richer access line (route, duration, request id).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = name != "uvicorn.access"


def _identity(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    return event


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structured logger (key-value events) that writes through the configured renderer."""
    return structlog.stdlib.get_logger(name)
