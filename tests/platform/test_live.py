"""The change feed behind subscriptions (``hotline.kit.live``): LISTEN/NOTIFY on a real PostgreSQL — delivered at
commit only, filtered per listener, a resync after the listening connection is lost, and the token's end."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from datetime import date

import asyncpg
import pytest

from hotline.kit.errors import TokenExpiredError
from hotline.kit.live import Batch, ChangeFeed, Listener, LiveUnavailableError


@pytest.fixture
async def feed(database_url):
    feed = ChangeFeed(database_url, f"test_live_{uuid.uuid4().hex[:8]}", retry_seconds=0.05)
    yield feed
    await feed.aclose()


@pytest.fixture
async def writer(database_url):
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def notify(connection, channel: str, payload: dict) -> None:
    await connection.execute("SELECT pg_notify($1, $2)", channel, json.dumps(payload))


async def test_a_listener_gets_what_it_wants_once_committed_and_never_what_rolled_back(feed, writer):
    async with feed.listen(lambda p: p.get("unit") == "GD-GZ") as listener:
        pending = writer.transaction()
        await pending.start()
        await notify(writer, feed.channel, {"unit": "GD-GZ", "n": 1})  # not committed yet
        other = await asyncpg.connect(feed._dsn)
        try:
            await notify(other, feed.channel, {"unit": "GD-SZ", "n": 2})  # not wanted
            await notify(other, feed.channel, {"unit": "GD-GZ", "n": 3})
        finally:
            await other.close()
        assert await asyncio.wait_for(listener.next(), 5) == Batch([{"unit": "GD-GZ", "n": 3}])
        await pending.commit()
        assert await asyncio.wait_for(listener.next(), 5) == Batch([{"unit": "GD-GZ", "n": 1}])

        rolled_back = writer.transaction()
        await rolled_back.start()
        await notify(writer, feed.channel, {"unit": "GD-GZ", "n": 4})
        await rolled_back.rollback()
        await notify(writer, feed.channel, {"unit": "GD-GZ", "n": 5})
        assert await asyncio.wait_for(listener.next(), 5) == Batch([{"unit": "GD-GZ", "n": 5}])


async def test_after_the_listening_connection_is_lost_every_listener_reads_again(feed, writer):
    async with feed.listen(lambda p: True) as first, feed.listen(lambda p: True) as second:
        pid = feed._connection.get_server_pid()
        assert await writer.fetchval("SELECT pg_terminate_backend($1)", pid)
        # While the feed was away nothing could be heard: each listener is told to read everything again.
        assert await asyncio.wait_for(first.next(), 10) == Batch([], resync=True)
        assert await asyncio.wait_for(second.next(), 10) == Batch([], resync=True)
        assert feed._connection.get_server_pid() != pid
        await notify(writer, feed.channel, {"n": 1})
        assert await asyncio.wait_for(first.next(), 5) == Batch([{"n": 1}])


async def test_a_listener_ends_with_unauthenticated_when_the_token_expires(feed):
    async with feed.listen(lambda p: True, expires_at=time.time() + 0.2) as listener:
        with pytest.raises(TokenExpiredError) as expired:
            await asyncio.wait_for(listener.next(), 5)
    assert expired.value.code == "UNAUTHENTICATED"
    assert "the token expired at" in expired.value.message
    async with feed.listen(lambda p: True, expires_at=time.time() - 1) as listener:
        with pytest.raises(TokenExpiredError):
            await listener.next()


async def test_a_subscriber_too_slow_to_keep_up_reads_everything_again():
    listener = Listener(lambda p: True, expires_at=None)
    for n in range(Listener.MAX_QUEUED + 1):
        listener.offer({"n": n})
    assert await listener.next() == Batch([], resync=True)
    listener.offer({"n": "next"})
    assert await listener.next() == Batch([{"n": "next"}])


async def test_a_run_announces_its_changes_and_which_make_new_published_results(database_url, writer):
    """Migration scoring_0005: the trigger on ``scoring.evaluation_run`` (committed changes on a run of no tree)."""
    feed = ChangeFeed(database_url, "hotline_scoring")
    run_id = uuid.uuid4()
    try:
        async with feed.listen(lambda p: p.get("run") == str(run_id)) as listener:
            await writer.execute(
                "INSERT INTO scoring.evaluation_run (id, scheme_id, scheme_version, scheme_document, organizer_id,"
                " cohort_units, cohort_hash, period_kind, period_from, period_to, status, progress, current_revision,"
                " requested_by) VALUES ($1, 'S-LIVE', 1, '{}', 'ZZ-NO-TREE', '[]', $2, 'month', $3, $4, 'queued', 0,"
                " 0, 'test')",
                run_id, f"live-{run_id}", date(2025, 3, 1), date(2025, 3, 31),
            )  # fmt: skip
            steps = [
                "status = 'fetching', progress = 10",
                "requested_by = 'someone else'",  # not a change a subscriber follows: no announcement
                "status = 'done', progress = 100, current_revision = 1",
                "published_at = now()",
                "current_revision = 2",
                "final_at = now()",
            ]
            for change in steps:
                await writer.execute(f"UPDATE scoring.evaluation_run SET {change} WHERE id = $1", run_id)
            heard: list[dict] = []
            while len(heard) < 5:
                heard += (await asyncio.wait_for(listener.next(), 5)).payloads
    finally:
        await writer.execute("DELETE FROM scoring.evaluation_run WHERE id = $1", run_id)
        await feed.aclose()
    assert [p["results"] for p in heard] == [None, None, "published", "revised", "final"]
    assert {p["run"] for p in heard} == {str(run_id)}


async def test_without_a_database_to_listen_on_a_subscription_is_refused_as_unavailable(free_port):
    feed = ChangeFeed(f"postgresql://postgres@127.0.0.1:{free_port}/nowhere", "test_live_nowhere")
    with pytest.raises(LiveUnavailableError) as refused:
        async with feed.listen(lambda p: True):
            pass
    assert (refused.value.code, refused.value.status_code) == ("DATABASE_UNAVAILABLE", 503)
    assert feed._listeners == set()
    await feed.aclose()


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
