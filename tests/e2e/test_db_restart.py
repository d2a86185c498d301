"""PostgreSQL restarted in the middle of a large ingest batch, on a THROWAWAY cluster of the test's own
(initdb + pg_ctl on a free port in a temporary directory; never the machine's cluster): the batch fails
cleanly (status failed, with a reason; nothing of it stored), the service keeps serving once the database
is back, and a resend stores every row exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from hotline.cli.database import create_database
from hotline.cli.stack import SERVICES, migrate_all
from tests.demo_data import load_demo_units
from tests.e2e.conftest import free_port, private_stack
from tests.e2e.test_faults import ROWS, calls
from tests.support import auth

PG_BIN = Path(os.environ.get("HOTLINE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason=f"no PostgreSQL binaries in {PG_BIN}"),
]
ADMIN = auth("GD", "admin")


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary directory on a free port, run as ``postgres`` when we are root."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-pg-restart-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # The server's output goes to its log (-l); pg_ctl's own to nowhere (a pipe would be held open by it).
        subprocess.run([*prefix, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start")

    def restart(self) -> None:
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-m", "fast", "-w", "restart"
        )

    def stop(self) -> None:
        try:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def _cluster_with(database: str, log_dir, *, demo_records: bool = False):
    """A throwaway cluster with a migrated database holding the demo units (and records); yields the cluster, a
    not yet started stack over it and the database's URL, and stops both afterwards."""
    cluster = ThrowawayCluster()
    await asyncio.to_thread(cluster.start)
    stack = None
    try:
        url = await create_database(cluster.url, database)
        await asyncio.to_thread(migrate_all, url)
        await load_demo_units(url)
        if demo_records:
            from tests.demo_data import load_demo_records

            await load_demo_records(url)
        stack = private_stack(url, log_dir)
        yield cluster, stack, url
    finally:
        if stack is not None:
            await asyncio.to_thread(stack.stop)
        await asyncio.to_thread(cluster.stop)


@pytest.fixture(scope="module")
async def cluster_stack(tmp_path_factory):
    async with _cluster_with("hotline_restart", tmp_path_factory.mktemp("restart-logs")) as (cluster, stack, url):
        ingest = next(s for s in SERVICES if s.name == "ingest")
        await asyncio.to_thread(stack.start_service, ingest)
        await asyncio.to_thread(stack.wait_ready, "ingest", f"{stack.service_url('ingest')}/readyz")
        yield cluster, stack, url


async def _fetch(url: str, query: str, *args):
    for _ in range(40):  # the database may still be coming back
        try:
            connection = await asyncpg.connect(url)
            break
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(0.5)
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


async def _raw_and_offered(url: str) -> tuple[int, float]:
    ((raw, offered),) = await _fetch(
        url,
        """SELECT (SELECT count(*) FROM ingest.raw_call WHERE source = 'restart-test'),
                  (SELECT coalesce(sum("calls.offered"), 0) FROM ingest.daily_measure WHERE unit_id = 'GZ-T1-A001')""",
    )
    return raw, offered


async def test_postgres_restarted_mid_ingest(cluster_stack):
    cluster, stack, url = cluster_stack
    content = calls("r")
    before = await _raw_and_offered(url)
    params = {"kind": "call", "source": "restart-test", "filename": "calls.csv"}
    headers = {**ADMIN, "content-type": "application/octet-stream"}
    # No keep-alive: the server closes the connection of the request that failed under it.
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=stack.service_url("ingest"), timeout=120, limits=no_reuse) as ingest:
        upload = asyncio.create_task(ingest.post("/batches", params=params, content=content, headers=headers))
        watcher = await asyncpg.connect(url)
        batch = None
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not upload.done():
                batch = await watcher.fetchrow(
                    "SELECT id, status FROM ingest.batch WHERE source = 'restart-test' ORDER BY id DESC LIMIT 1"
                )
                if batch is not None and batch["status"] in ("validating", "loading", "aggregating"):
                    break
                await asyncio.sleep(0.02)
        finally:
            await watcher.close()
        assert batch is not None and batch["status"] in ("validating", "loading", "aggregating"), batch
        await asyncio.to_thread(cluster.restart)
        response = await upload  # the load lost its connection: it failed, and says so
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
        assert await _raw_and_offered(url) == before  # and stored nothing

        # The failure is recorded (with a reason) once the database is back; the service serves again.
        deadline = time.monotonic() + 30
        while True:
            report = await ingest.get(f"/batches/{batch['id']}", headers=ADMIN)
            if (report.status_code == 200 and report.json()["status"] == "failed") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert report.status_code == 200 and report.json()["status"] == "failed", report.text
        assert report.json()["error"]

        resent = await ingest.post("/batches", params=params, content=content, headers=headers)
        assert resent.status_code == 200, resent.text
        assert resent.json()["status"] == "done" and resent.json()["counts"]["new"] == ROWS
    assert await _raw_and_offered(url) == (before[0] + ROWS, before[1] + ROWS)


@pytest.fixture(scope="module")
async def cluster_system(tmp_path_factory):
    """All four services and the gateway on a throwaway cluster with the demo data; a dead worker's job is
    taken again after 5 s."""
    log_dir = tmp_path_factory.mktemp("restart-run-logs")
    async with _cluster_with("hotline_restart_run", log_dir, demo_records=True) as (cluster, stack, url):
        with pytest.MonkeyPatch.context() as env:
            env.setenv("HOTLINE_SCORING_JOB_STALE_SECONDS", "5")
            await asyncio.to_thread(stack.start)
        yield cluster, stack, url


async def test_postgres_restarted_mid_run(cluster_system):
    from hotline.cli import demo_evaluation

    cluster, stack, url = cluster_system
    organizer = auth(demo_evaluation.ORGANIZER_UNIT, "organizer")
    with httpx.Client(base_url=stack.gateway_url, headers=organizer, timeout=60) as client:
        scheme = await asyncio.to_thread(demo_evaluation._ensure_scheme, client)
    run_input = {"schemeId": scheme["schemeId"], "schemeVersion": scheme["version"], "periodKind": "YEAR",
                 "period": demo_evaluation.PERIOD}  # fmt: skip
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=organizer, timeout=60) as gateway:

        async def gql(query, variables):
            for _ in range(40):  # the services may answer 5xx while the database restarts
                try:
                    body = (await gateway.post("/graphql", json={"query": query, "variables": variables})).json()
                    if not body.get("errors"):
                        return body["data"]
                except (httpx.HTTPError, ValueError):
                    pass
                await asyncio.sleep(0.5)
            raise AssertionError(body)

        started = await gql(
            "mutation($i: StartRunInput!) { startRun(input: $i) { problems { path code message } run { id } } }",
            {"i": run_input},
        )
        assert not started["startRun"]["problems"], started
        run_id = started["startRun"]["run"]["id"]
        status_query = "SELECT status, error FROM scoring.evaluation_run WHERE id = $1::uuid"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            (row,) = await _fetch(url, status_query, run_id)
            if row["status"] not in ("queued", "pending"):
                break
            await asyncio.sleep(0.01)
        restarted_during = row["status"]
        assert restarted_during in ("fetching", "computing"), row  # the restart comes while the run works
        await asyncio.to_thread(cluster.restart)

        # The run either finishes, or fails with a reason (or its job, orphaned, is taken again after 5 s).
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            (row,) = await _fetch(url, status_query, run_id)
            if row["status"] in ("done", "failed"):
                break
            await asyncio.sleep(0.5)
        assert row["status"] in ("done", "failed"), (restarted_during, row)
        if row["status"] == "failed":
            assert row["error"], row
            retried = await gql(
                'mutation($id: ID!) { recomputeRun(runId: $id, reason: "database restarted") { problems { path code message } } }',
                {"id": run_id},
            )
            assert not retried["recomputeRun"]["problems"], retried
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                (row,) = await _fetch(url, status_query, run_id)
                if row["status"] in ("done", "failed"):
                    break
                await asyncio.sleep(0.5)
            assert row["status"] == "done", row
    # Nothing lost or duplicated: one revision, one result per unit.
    revisions = await _fetch(url, "SELECT revision FROM scoring.run_revision WHERE run_id = $1::uuid", run_id)
    assert [r["revision"] for r in revisions] == [1], (restarted_during, revisions)
    results = await _fetch(
        url, "SELECT unit_id, count(*) AS n FROM scoring.unit_result WHERE run_id = $1::uuid GROUP BY unit_id", run_id
    )
    assert results and all(r["n"] == 1 for r in results), results
