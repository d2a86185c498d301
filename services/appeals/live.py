"""Live updates of the appeals subgraph: a unit's inbox entries as they are written (``appealInboxEvents``).

Migration ``appeals_0003`` makes every inbox entry announce itself on the channel ``hotline_appeals``
(``{"unit": <the inbox's unit>, "entry": <its id>}``). A subscription takes the announcements of its caller's unit
and reads each entry with the inbox's own filter, re-checked per entry — an entry of the caller's unit, as
``appealInbox`` reads them (a step of its appeals, or a consequence for it of another unit's appeal) — and never a
step of a draft: an entry written before the appeal was submitted reaches no subscriber, its filing unit's included
(it took the step itself).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.graphql import RequestContext
from hotline.kit.live import event_session, listening
from services.appeals.models import Appeal, Notification

CHANNEL = "hotline_appeals"


async def inbox_entries(ctx: RequestContext) -> AsyncIterator[Notification]:
    """The caller's unit's new inbox entries, oldest first, each yielded inside its own event session."""
    unit = ctx.principal.unit_id
    async with listening(ctx, lambda payload: payload.get("unit") == unit) as listener:
        async with event_session(ctx):
            since = await ctx.session.scalar(select(func.coalesce(func.max(Notification.id), 0)))
        sent: set[int] = set()
        while True:
            batch = await listener.next()
            wanted = {int(payload["entry"]) for payload in batch.payloads}
            async with event_session(ctx):
                if batch.resync:  # notifications may have been lost: every entry of the unit since we started
                    wanted |= set(
                        await ctx.session.scalars(
                            select(Notification.id).where(Notification.unit_id == unit, Notification.id > since)
                        )
                    )
                for entry in await pushable(ctx.session, unit, wanted - sent):
                    sent.add(entry.id)
                    yield entry


async def pushable(session: AsyncSession, unit_id: str, ids: Collection[int]) -> list[Notification]:
    """Of the entries ``ids``, those a subscriber of ``unit_id`` receives, oldest first."""
    if not ids:
        return []
    rows = await session.scalars(
        select(Notification)
        .join(Appeal, Appeal.id == Notification.appeal_id)
        .where(
            Notification.id.in_(list(ids)),
            Notification.unit_id == unit_id,
            # Written once the appeal was submitted: a draft's steps are its filing unit's own business.
            Appeal.submitted_at.isnot(None),
            Notification.created_at >= Appeal.submitted_at,
        )
        .order_by(Notification.id)
    )
    return list(rows)
