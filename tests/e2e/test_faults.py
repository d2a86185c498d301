"""Faults on a stack of its own: a subgraph stopped (the gateway answers with the rest and a clear error,
then recovers), ingest killed (SIGKILL) in the middle of a large batch (nothing half-written; the batch is
marked failed on restart and a resend stores every row exactly once)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import asyncpg
import httpx
import pytest

from hotline.cli.stack import SERVICES
from services.ingest.store import INTERRUPTED
from tests.demo_data import load_demo_units
from tests.e2e.conftest import private_stack
from tests.ingest.records_support import to_csv
from tests.support import auth, data_of

pytestmark = pytest.mark.slow
CITY = auth("GD-GZ", "organizer")
ADMIN = auth("GD", "admin")
SPEC = {s.name: s for s in SERVICES}


@pytest.fixture(scope="module")
async def fault_stack(fresh_database, tmp_path_factory):
    url = await fresh_database("hotline_faults")
    await load_demo_units(url)
    system = private_stack(url, tmp_path_factory.mktemp("fault-logs"))
    await asyncio.to_thread(system.start)
    yield system
    await asyncio.to_thread(system.stop)


# Ingest and indicators in one request. Nullable root fields: a failed non-null field (`me: Me!`,
# `dimensions: [Dimension!]!`) nulls the whole `data`, as the GraphQL specification requires.
QUERY = '{ unit(id: "GD-GZ") { id nameZh } dimension(code: "service_response") { code } }'


async def test_a_stopped_subgraph_leaves_the_rest_answering_and_recovers(fault_stack):
    async with httpx.AsyncClient(base_url=fault_stack.gateway_url, timeout=30) as gateway:
        whole = data_of((await gateway.post("/graphql", json={"query": QUERY}, headers=CITY)).json())
        assert whole["unit"]["id"] == "GD-GZ" and whole["dimension"] is not None

        await asyncio.to_thread(fault_stack.stop_one, "indicators")
        body = (await gateway.post("/graphql", json={"query": QUERY}, headers=CITY)).json()
        assert body.get("data") and body["data"]["unit"]["id"] == "GD-GZ", body  # ingest's part still answers
        assert body["data"]["dimension"] is None
        errors = body["errors"]
        assert errors and any(e.get("path", [None])[0] == "dimension" for e in errors), errors
        assert any("indicators" in (e.get("message", "") + str(e.get("extensions", ""))) for e in errors), errors

        await asyncio.to_thread(fault_stack.start_service, SPEC["indicators"])
        await asyncio.to_thread(fault_stack.wait_ready, "indicators", f"{fault_stack.service_url('indicators')}/readyz")
        deadline = time.monotonic() + 20
        while True:
            body = (await gateway.post("/graphql", json={"query": QUERY}, headers=CITY)).json()
            if not body.get("errors") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert data_of(body) == whole


ROWS = 40000


def calls(prefix: str) -> bytes:
    rows = [
        {"record_id": f"{prefix}{i}", "unit_id": "GZ-T1-A001", "started_at": f"2025-01-{1 + i % 28:02d} 09:00:00",
         "direction": "inbound", "outcome": "answered", "queue_seconds": "3", "talk_seconds": "60"}
        for i in range(ROWS)
    ]  # fmt: skip
    return to_csv(rows).encode()


async def _counts(connection) -> tuple[int, float]:
    raw = await connection.fetchval("SELECT count(*) FROM ingest.raw_call WHERE source = 'kill-test'")
    offered = await connection.fetchval(
        "SELECT coalesce(sum(\"calls.offered\"), 0) FROM ingest.daily_measure WHERE unit_id = 'GZ-T1-A001'"
    )
    return raw, offered


async def test_ingest_killed_mid_batch_leaves_nothing_half_written(fault_stack):
    content = calls("k")
    connection = await asyncpg.connect(fault_stack.database_url)
    try:
        before = await _counts(connection)
        params = {"kind": "call", "source": "kill-test", "filename": "calls.csv"}
        headers = {**ADMIN, "content-type": "application/octet-stream"}
        async with httpx.AsyncClient(base_url=fault_stack.service_url("ingest"), timeout=120) as ingest:
            upload = asyncio.create_task(ingest.post("/batches", params=params, content=content, headers=headers))
            # Wait until the load is under way (rows being read), then kill the process outright.
            deadline = time.monotonic() + 60
            batch = None
            while time.monotonic() < deadline and not upload.done():
                batch = await connection.fetchrow(
                    "SELECT id, status, rows_read FROM ingest.batch WHERE source = 'kill-test' ORDER BY id DESC LIMIT 1"
                )
                if batch is not None and batch["status"] in ("validating", "loading", "aggregating"):
                    break
                await asyncio.sleep(0.02)
            assert batch is not None and batch["status"] in ("validating", "loading", "aggregating"), batch
            process = fault_stack.processes.pop("ingest")
            os.killpg(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait)
            with pytest.raises(httpx.HTTPError):
                await upload
            assert await _counts(connection) == before  # the load's transaction died with the process

            await asyncio.to_thread(fault_stack.start_service, SPEC["ingest"])
            await asyncio.to_thread(fault_stack.wait_ready, "ingest", f"{fault_stack.service_url('ingest')}/readyz")
            row = await connection.fetchrow("SELECT status, error FROM ingest.batch WHERE id = $1", batch["id"])
            assert row["status"] == "failed" and row["error"] == INTERRUPTED, row
            report = (await ingest.get(f"/batches/{batch['id']}", headers=ADMIN)).json()
            assert report["status"] == "failed"

            # The retry stores every row once, and the measures count each call once.
            resent = await ingest.post("/batches", params=params, content=content, headers=headers)
            assert resent.status_code == 200, resent.text
            assert resent.json()["status"] == "done" and resent.json()["counts"]["new"] == ROWS
        assert await _counts(connection) == (before[0] + ROWS, before[1] + ROWS)
    finally:
        await connection.close()
