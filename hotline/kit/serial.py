"""One request, one session, one statement at a time.

GraphQL runs sibling fields concurrently (root query fields, the fields of list items), but an
``AsyncSession`` refuses concurrent operations. ``SerialSession`` wraps the request's session so its
awaitable operations take turns on a per-request lock; the lock is held only for the duration of one
database call, never while a resolver awaits a data loader, so it cannot deadlock.

Every subgraph meets this: ``create_service_app`` gives each GraphQL request a ``SerialSession``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

_SERIALIZED = (
    "execute", "scalar", "scalars", "get", "flush", "commit", "rollback", "run_sync", "refresh", "delete",
    "connection", "merge", "stream", "stream_scalars",
)  # fmt: skip


class SerialSession:
    """Forwards to an ``AsyncSession``; its database calls are serialized."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._lock = asyncio.Lock()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._session, name)
        if name not in _SERIALIZED:
            return target

        async def serialized(*args: Any, **kwargs: Any) -> Any:
            async with self._lock:
                return await target(*args, **kwargs)

        return serialized
