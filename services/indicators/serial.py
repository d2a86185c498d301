"""One request, one session, one statement at a time.

GraphQL runs sibling fields concurrently (root query fields, the fields of list items), but an
``AsyncSession`` refuses concurrent operations. ``SerialSession`` wraps the request's session so its
awaitable operations take turns on a per-request lock; the lock is held only for the duration of one
database call, never while a resolver awaits a data loader, so it cannot deadlock.

(Every subgraph meets this; it belongs in ``hotline.kit.graphql`` once the platform adopts it.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.extensions import SchemaExtension

_SERIALIZED = ("execute", "scalar", "scalars", "get", "flush", "commit", "rollback", "run_sync", "refresh", "delete")


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


class SerializeSession(SchemaExtension):
    """Puts a ``SerialSession`` in the request context for the whole operation."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if not isinstance(context.session, SerialSession):
            context.session = SerialSession(context.session)
        yield
