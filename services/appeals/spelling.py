"""One spelling of statuses and outcomes wherever appeals shows them — GraphQL, REST and webhook bodies: the
GraphQL enum value, upper case (``SUBMITTED``, ``PARTLY_UPHELD``). The database keeps the lower-case values its
CHECK constraints name; this is where they leave it. Event kinds (``filed``, ``peer_result_changed``) are names
of steps, not statuses, and stay lower case."""

from __future__ import annotations

from typing import Any

SPELLED_KEYS = frozenset({"status", "outcome"})


def spelled(value: str | None) -> str | None:
    """A status or outcome as the API spells it."""
    return value.upper() if value else value


def spelled_data(data: Any) -> Any:
    """A step's details with every ``status`` and ``outcome`` value spelled as the API spells it."""
    if isinstance(data, dict):
        return {k: spelled(v) if k in SPELLED_KEYS and isinstance(v, str) else spelled_data(v) for k, v in data.items()}
    if isinstance(data, list):
        return [spelled_data(v) for v in data]
    return data
