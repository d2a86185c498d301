"""A client polling a batch sees its progress while it loads (committed database, separate connections)."""

from __future__ import annotations

import asyncio
import io

import asyncpg

from hotline.cli.demo import DEMO_ADMIN
from hotline.kit.db import Database
from services.ingest import loader, partitions
from services.ingest.batches import Submission, submit
from tests.demo_data import load_demo_units
from tests.ingest.records_support import to_csv


async def test_status_and_rows_read_are_visible_while_the_batch_loads(fresh_database, monkeypatch):
    url = await fresh_database("hotline_progress")
    await load_demo_units(url)
    monkeypatch.setattr(loader, "CHUNK_ROWS", 250)
    rows = [
        {"record_id": f"p{i}", "unit_id": "GZ-T1-A001", "started_at": "2025-01-02 09:00:00", "direction": "inbound",
         "outcome": "answered", "queue_seconds": "3", "talk_seconds": "60"}
        for i in range(5000)
    ]  # fmt: skip
    content = to_csv(rows).encode()
    seen: list[tuple[str, int]] = []

    async def poll() -> None:
        connection = await asyncpg.connect(url)
        try:
            while True:
                row = await connection.fetchrow("SELECT status, rows_read FROM ingest.batch ORDER BY id DESC LIMIT 1")
                if row is not None and (not seen or seen[-1] != tuple(row)):
                    seen.append(tuple(row))
                if row is not None and row["status"] in ("done", "failed"):
                    return
                await asyncio.sleep(0.002)
        finally:
            await connection.close()

    database = Database.from_url(url)
    try:
        poller = asyncio.create_task(poll())
        report = await submit(database, DEMO_ADMIN, Submission(kind="call", source="poll"), binary=io.BytesIO(content))
        await asyncio.wait_for(poller, 30)
    finally:
        await database.dispose()
    assert report["status"] == "done" and report["counts"]["new"] == 5000
    statuses = [s for s, _ in seen]
    assert statuses[-1] == "done" and seen[-1][1] == 5000
    # the poller saw the load under way: validating with part of the rows read, before done
    assert any(s == "validating" and 0 < n < 5000 for s, n in seen), seen
    order = ["received", "validating", "loading", "aggregating", "done"]
    assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses)


async def test_a_loading_batch_holds_its_load_lock_and_not_its_kinds_until_it_stores(fresh_database, monkeypatch):
    """While a batch is read (``validating``) its load lock is held — a restart's sweep must not take it for an
    interrupted load — and the lock of the kind's writers is free: loads of one kind read their files side by side."""
    from services.ingest import batches, store

    url = await fresh_database("hotline_load_locks")
    await load_demo_units(url)
    content = to_csv([{"record_id": "k1", "unit_id": "GZ-T1-A001", "started_at": "2025-01-02 09:00:00",
                       "direction": "inbound", "outcome": "answered"}]).encode()  # fmt: skip
    database = Database.from_url(url)
    seen: dict[str, bool] = {}
    set_status = batches._Loading.set_status

    async def spy(self, status: str, rows_read: int | None = None) -> None:
        if status == "validating" and not seen:
            other = await asyncpg.connect(url)
            try:
                seen["load lock free"] = await other.fetchval(
                    "SELECT pg_try_advisory_xact_lock($1, $2::int)", store.BATCH_LOAD_LOCK, self.batch_id
                )
                seen["kind lock free"] = await other.fetchval(
                    "SELECT pg_try_advisory_xact_lock(hashtext($1))", partitions.KIND_LOCK + "call"
                )
            finally:
                await other.close()
        await set_status(self, status, rows_read)

    monkeypatch.setattr(batches._Loading, "set_status", spy)
    try:
        report = await submit(database, DEMO_ADMIN, Submission(kind="call", source="locks"), binary=io.BytesIO(content))
    finally:
        await database.dispose()
    assert report["status"] == "done"
    assert seen == {"load lock free": False, "kind lock free": True}
