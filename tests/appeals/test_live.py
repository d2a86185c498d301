"""``appealInboxEvents`` on the subgraph (``services/appeals/live.py``): each party's inbox entries as they are
written, never a draft's, never another unit's. The tests' changes never commit, so the test announces each new
entry as the trigger of migration appeals_0003 would (``tests/e2e/test_live.py`` runs it the whole way round)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from services.appeals.live import pushable
from services.appeals.models import Notification, PeerConsequence
from services.appeals.schema import schema
from tests.appeals.conftest import SUBMIT, TAKE, UNIT, call, file_appeal
from tests.support import FakeFeed, subscribe, token

INBOX = "subscription { appealInboxEvents { id appealId kind } }"


@pytest.fixture
def feed() -> FakeFeed:
    return FakeFeed()


async def announce_entries_after(app, feed: FakeFeed, after: int) -> int:
    """What the trigger would announce for every entry written after ``after``; returns the last entry's id."""
    async with app.state.database.session() as session:
        rows = (
            await session.execute(
                select(Notification.id, Notification.unit_id).where(Notification.id > after).order_by(Notification.id)
            )
        ).all()
    for entry, unit in rows:
        await feed.announce({"unit": unit, "entry": entry})
    return rows[-1][0] if rows else after


async def entry(subscriber) -> tuple[str, str]:
    result = await subscriber.next()
    assert result is not None and not result.errors, result
    seen = result.data["appealInboxEvents"]
    return seen["appealId"], seen["kind"]


async def test_each_party_gets_the_steps_of_a_submitted_appeal_and_nothing_of_a_draft(
    appeals_app, appeals, clock, feed
):
    reviewer = await subscribe(appeals_app, schema, feed, INBOX, token=token("GD-GZ", "reviewer"))  # deciding unit
    filer = await subscribe(appeals_app, schema, feed, INBOX, token=token("GZ-HOUSING", "unit"))
    sibling = await subscribe(appeals_app, schema, feed, INBOX, token=token("GZ-WATER", "unit"))

    draft = (await file_appeal(appeals, submit=False))["appeal"]
    last = await announce_entries_after(appeals_app, feed, 0)
    assert last > 0  # the draft's step was written to inboxes, and pushed to nobody (its filing unit included)
    assert reviewer.results.empty() and filer.results.empty()

    clock.advance(minutes=5)
    submitted = await call(appeals, SUBMIT, {"id": draft["id"], "v": draft["version"]}, UNIT)
    last = await announce_entries_after(appeals_app, feed, last)
    assert await entry(reviewer) == await entry(filer) == (draft["id"], "submitted")

    reviewer_headers = {"authorization": f"Bearer {token('GD-GZ', 'reviewer')}"}
    await call(appeals, TAKE, {"id": draft["id"], "v": submitted["appeal"]["version"]}, reviewer_headers)
    await announce_entries_after(appeals_app, feed, last)
    assert await entry(reviewer) == await entry(filer) == (draft["id"], "assigned")
    # Every announcement was dealt with: the sibling unit's subscription sent nothing (it was never even woken).
    assert sibling.results.empty() and sibling.listener.waits == 1
    for subscriber in (reviewer, filer, sibling):
        await subscriber.close()
    assert feed.listeners == []


async def test_without_a_token_the_inbox_subscription_is_refused(appeals_app, feed):
    refused = await subscribe(appeals_app, schema, feed, INBOX, token=None)
    result = await refused.next()
    assert [e.formatted["extensions"]["code"] for e in result.errors] == ["UNAUTHENTICATED"]
    assert await refused.next() is None


async def test_an_entry_about_another_units_appeal_reaches_the_unit_it_was_written_for(appeals_app, appeals, clock):
    """A consequence (``peer_result_changed``) is written to a unit that may not read the cause's appeal itself:
    pushed to it as ``appealInbox`` lists it, and to no other unit."""
    appeal = (await file_appeal(appeals, submit=True))["appeal"]
    clock.advance(minutes=1)
    async with appeals_app.state.database.session() as session:
        consequence = PeerConsequence(
            id=uuid.uuid4(), run_id="RUN-GZ", revision=2, result_id="R-WATER", unit_id="GZ-WATER",
            organizer_id="GD-GZ", cause_appeal_id=uuid.UUID(appeal["id"]), cause_level=0, cause_targets={},
            deciding_unit_id="GD-GZ", decided_by="reviewer-li", figures={}, reference_moves=[], appealable=False,
            appealable_indicators=[], appealable_until=None, created_at=clock(),
        )  # fmt: skip
        entry = Notification(
            unit_id="GZ-WATER", appeal_id=consequence.cause_appeal_id, consequence_id=consequence.id,
            kind="peer_result_changed", created_at=clock(),
        )  # fmt: skip
        session.add(consequence)
        await session.flush()
        session.add(entry)
        await session.flush()
        assert [n.id for n in await pushable(session, "GZ-WATER", [entry.id])] == [entry.id]
        assert await pushable(session, "GZ-HOUSING", [entry.id]) == []
