"""A request id that follows a request through the gateway and every service (header ``x-request-id``)."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"
_request_id: ContextVar[str] = ContextVar("request_id", default="-")


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str | None) -> str:
    """Adopt the caller's id when it looks sane, otherwise make a new one."""
    rid = value if value and len(value) <= 128 and value.isprintable() else uuid.uuid4().hex
    _request_id.set(rid)
    return rid
