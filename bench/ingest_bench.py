"""Ingest benchmark (run by hand, not in the test suite).

    .venv/bin/python bench/ingest_bench.py [--rows 1000000] [--pairs 3] [--callers 200000] [--api]
        [--server postgresql://postgres@127.0.0.1:5432/postgres]
    .venv/bin/python bench/ingest_bench.py --steady --callers 0 [...]   # the steady-state table: bench/steady.py

Backfill mode (the default):

1. writes an N-row call CSV in the canonical format (demo agents, February 2025), its calls from ``--callers``
   hashed callers (0: no caller hash, so no repeat-caller look-back to compute);
2. for each of ``--pairs`` pairs, in a fresh database built by the migrations with the demo units registered
   (through ingest's ``POST /units/bulk``, by the demo's own client code): times PostgreSQL's own COPY of that
   file into an unindexed table with the same columns, then the end-to-end ingest of the same file (parse,
   validate, dedupe, store, aggregate), and reports the ingest's peak RSS;
3. prints each pair's throughputs and ratio, and the median ratio (this machine is shared: its speed drifts
   between runs, so only ratios of runs made side by side are compared);
4. in the last database, re-sends the same file (recognised by its digest) and the same rows with other bytes
   (read in full), and checks that neither changed anything (rows and daily measures identical);
5. drops the databases.

Where it reaches inside the service, and why:

- The timed ingest, by default, calls ``services.ingest.batches.submit`` — what ``POST /batches`` runs on the
  spooled request body — in a child process with the service's modules imported and warmed up
  (``app.warm_up``). The target compares ingest's *processing* with PostgreSQL's COPY of the same local file,
  so the upload over HTTP is left out of that figure. ``--api`` times the same file sent as a client sends it
  (``POST /batches`` to an ingest service process started per pair, the file streamed as the body; peak RSS is
  the service process's): the HTTP upload and spooling included, for comparison.
- Setup, by default, registers the units through ingest's REST API served in-process (its ASGI app over the
  fresh database, no server process); with ``--api`` through the started service.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLUMNS = ["source", "record_id", "unit_id", "started_at", "direction", "outcome", "ivr_seconds", "queue_seconds",
           "ring_seconds", "talk_seconds", "handle_seconds", "answered_at", "ended_at", "transferred",
           "resolved_first_contact", "repeat_caller", "complaint", "caller_hash", "work_order_id"]  # fmt: skip


def write_calls(path: Path, rows: int, agents: list[str], callers: int = 200_000) -> None:
    """``callers``: how many distinct hashed callers the calls come from (0: no caller hash, so no repeat-caller
    look-back to compute)."""
    rng = random.Random(42)
    start = datetime(2025, 2, 1)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            began = start + timedelta(seconds=rng.randrange(28 * 86400))
            outcome = rng.choices(("answered", "abandoned", "ivr_resolved", "phantom"), (80, 14, 5, 1))[0]
            queue = rng.randrange(0, 120) if outcome in ("answered", "abandoned") else ""
            talk = rng.randrange(20, 600) if outcome == "answered" else ""
            answered = (began + timedelta(seconds=queue + 10)).strftime("%Y-%m-%d %H:%M:%S") if talk else ""
            writer.writerow(
                ["bench-acd", f"call-{i}", agents[i % len(agents)], began.strftime("%Y-%m-%d %H:%M:%S"), "inbound",
                 outcome, rng.randrange(5, 60), queue, rng.randrange(1, 8) if talk else "", talk,
                 talk + 30 if talk else "", answered, "", "false", "true" if talk else "", "", "",
                 f"h{rng.randrange(callers)}" if callers else "", ""]
            )  # fmt: skip


async def copy_baseline(url: str, path: Path) -> float:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "CREATE TABLE public.copy_baseline (source text, record_id text, unit_id text, started_at timestamptz, "
            "direction text, outcome text, ivr_seconds double precision, queue_seconds double precision, "
            "ring_seconds double precision, talk_seconds double precision, handle_seconds double precision, "
            "answered_at timestamptz, ended_at timestamptz, transferred boolean, resolved_first_contact boolean, "
            "repeat_caller boolean, complaint boolean, caller_hash text, work_order_id text)"
        )
        began = time.perf_counter()
        with path.open("rb") as handle:
            await connection.copy_to_table("copy_baseline", source=handle, format="csv", header=True)
        elapsed = time.perf_counter() - began
        await connection.execute("DROP TABLE public.copy_baseline")
        return elapsed
    finally:
        await connection.close()


async def timed_ingest(url: str, path: Path) -> tuple[float, dict]:
    """The ingest of ``path`` as ``POST /batches`` runs it, timed once the pool holds open connections (two: the
    load's and its progress writes'), as a running service's pool does; returns (seconds, report)."""
    from sqlalchemy import text

    from hotline.cli.demo import DEMO_ADMIN
    from hotline.kit.db import Database
    from services.ingest.batches import Submission, submit

    database = Database.from_url(url)
    try:

        async def connect() -> None:
            async with database.session() as session:
                await session.execute(text("SELECT 1"))
                await asyncio.sleep(0.01)  # both checked out at once: two connections

        await asyncio.gather(connect(), connect())
        began = time.perf_counter()
        with path.open("rb") as handle:
            report = await submit(
                database, DEMO_ADMIN, Submission(kind="call", source="bench-acd", filename=path.name), binary=handle
            )
        return time.perf_counter() - began, report
    finally:
        await database.dispose()


def child(url: str, path: str) -> None:
    """Run one ingest and print its counts, its time and the process's peak RSS.

    Timed as the ingest service serves ``POST /batches``: its modules imported, the start-up work of
    ``app.warm_up`` done (the plain path's zone offsets, the measure catalog, the ORM's mappers — called one by one
    here, so that the same child times an older tree's code too) and its pool's connections open
    (``timed_ingest``); not as a fresh interpreter importing them (about 0.6 s, once per process), nor a process's
    first load (until 2026-12-04 evening this child timed the catalog's YAML, 0.13 s, the mappers' configuration,
    0.07 s, and the pool's first connections inside each load)."""
    from sqlalchemy.orm import configure_mappers

    from hotline.cli.demo import DEMO_ADMIN  # noqa: F401  (imported before the clock starts)
    from hotline.kit.db import Database  # noqa: F401
    from services.ingest import bulk
    from services.ingest.batches import DEFAULT_TIME_ZONE, submit  # noqa: F401
    from services.ingest.rules import flow_measures

    bulk.warm_up(DEFAULT_TIME_ZONE)
    flow_measures()
    configure_mappers()
    elapsed, report = asyncio.run(timed_ingest(url, Path(path)))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT {elapsed:.3f} {peak_mb:.1f} {report['status']} {report['counts']} phases {report['timingsSeconds']}")


async def register_units_in_process(url: str) -> dict:
    """The demo units through ingest's ``POST /units/bulk``, its ASGI app served in-process over ``url``."""
    import httpx

    from hotline.cli.demo import demo_headers, load_demo_units
    from hotline.kit.settings import DEVELOPMENT_JWT_SECRET, Settings
    from services.ingest.app import create_app

    app = create_app(settings=Settings(env="development", database_url=url, jwt_secret=DEVELOPMENT_JWT_SECRET))
    # The app's log set-up would otherwise print every request and migration step.
    for chatty in ("httpx", "alembic", "hotline.app", "hotline.indicators.sync"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = demo_headers(DEVELOPMENT_JWT_SECRET)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest", headers=headers) as client:
            return await load_demo_units(client)


class IngestService:
    """``--api``: an ingest service process over one database, reached as a client reaches it."""

    def __init__(self, url: str, log_dir: Path) -> None:
        from hotline.cli.stack import SERVICES, Stack
        from hotline.kit.settings import DEVELOPMENT_JWT_SECRET

        self.spec = next(s for s in SERVICES if s.name == "ingest")
        self.stack = Stack(database_url=url, log_dir=log_dir, jwt_secret=DEVELOPMENT_JWT_SECRET,
                           ports={s.name: free_port() for s in SERVICES})  # fmt: skip
        self.stack.start_service(self.spec)
        try:
            self.stack.wait_ready("ingest", f"{self.base}/readyz")
        except BaseException:
            self.stop()
            raise

    @property
    def base(self) -> str:
        return self.stack.service_url("ingest")

    def headers(self) -> dict[str, str]:
        from hotline.cli.demo import demo_headers
        from hotline.kit.settings import DEVELOPMENT_JWT_SECRET

        return demo_headers(DEVELOPMENT_JWT_SECRET)

    def register_units(self) -> dict:
        import httpx

        from hotline.cli.demo import load_demo_units

        async def go() -> dict:
            async with httpx.AsyncClient(base_url=self.base, headers=self.headers(), timeout=300) as client:
                return await load_demo_units(client)

        return asyncio.run(go())

    def peak_rss_mb(self) -> float:
        pid = self.stack.processes["ingest"].pid
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1]) / 1024

    def ingest(self, path: Path) -> tuple[float, float, str]:
        """``POST /batches`` with the file streamed as the body, timed from the first byte sent to the report."""
        import httpx

        params = {"kind": "call", "source": "bench-acd", "filename": path.name}
        headers = {**self.headers(), "content-type": "text/csv"}
        with path.open("rb") as handle:
            began = time.perf_counter()
            response = httpx.post(f"{self.base}/batches", params=params, content=handle, headers=headers, timeout=None)
            elapsed = time.perf_counter() - began
        response.raise_for_status()
        report = response.json()
        return elapsed, self.peak_rss_mb(), f"{report['status']} {report['counts']} phases {report['timingsSeconds']}"

    def stop(self) -> None:
        self.stack.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_child(url: str, path: Path) -> tuple[float, float, str]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    _, elapsed, peak, rest = line.split(" ", 3)
    return float(elapsed), float(peak), rest


async def measures_checksum(url: str) -> tuple:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return tuple(
            await connection.fetchrow(
                "SELECT (SELECT count(*) FROM ingest.raw_call), (SELECT count(*) FROM ingest.daily_measure), "
                "(SELECT md5(string_agg(d::text, ',' ORDER BY unit_id, day)) FROM ingest.daily_measure d)"
            )
        )
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=3, help="side-by-side COPY/ingest pairs (the median counts)")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--callers", type=int, default=200_000, help="distinct hashed callers (0: calls without a caller hash)"
    )
    parser.add_argument(
        "--api", action="store_true", help="time POST /batches on an ingest service process (upload included)"
    )
    parser.add_argument("--child", nargs=2)
    steady_group = parser.add_argument_group("steady state (--steady: see bench/steady.py)")
    steady_group.add_argument("--steady", action="store_true", help="the steady-state table instead of the backfill")
    steady_group.add_argument("--steady-cases", choices=("all", "daily", "backfill"), default="all")
    steady_group.add_argument("--stored-rows", type=int, default=3_000_000, help="calls of each stored month")
    steady_group.add_argument("--file-rows", type=int, default=50_000, help="calls of a daily file")
    steady_group.add_argument("--corrections", type=int, default=5_000)
    steady_group.add_argument("--months", type=int, default=12, help="stored months for the last daily case")
    steady_group.add_argument("--agents", type=int, default=1_000, help="agents added to the demo's")
    steady_group.add_argument("--repeats", type=int, default=3, help="COPY/ingest pairs per case (the median counts)")
    steady_group.add_argument("--backfill-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from hotline.cli.database import create_database, drop_database
    from hotline.cli.stack import migrate_all

    services: dict[str, IngestService] = {}

    def fresh_database() -> tuple[str, str]:
        name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
        url = asyncio.run(create_database(args.server, name))
        migrate_all(url)
        if args.api:
            services[url] = IngestService(url, Path(tempfile.mkdtemp(prefix="hotline-ingest-bench-")))
            services[url].register_units()
        else:
            asyncio.run(register_units_in_process(url))
        return name, url

    def run_ingest(url: str, path: Path) -> tuple[float, float, str]:
        return services[url].ingest(path) if args.api else run_child(url, path)

    if args.steady:
        from bench import steady

        def drop(name: str):
            return drop_database(args.server, name)

        steady.run(args, COLUMNS, copy_baseline, run_child, fresh_database, drop)
        return
    names: list[str] = []
    try:
        agents = [f"{c}-T{t}-A00{a}" for c in ("GZ", "SZ") for t in (1, 2) for a in (1, 2, 3, 4)]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "calls.csv"
            began = time.perf_counter()
            write_calls(path, args.rows, agents, args.callers)
            size_mb = path.stat().st_size / 1e6
            print(f"generated {args.rows:,} calls, {size_mb:.0f} MB in {time.perf_counter() - began:.1f} s")
            # each pair: a fresh database, PostgreSQL's COPY, then the ingest, one right after the other (a shared
            # machine's speed drifts: the ratio of a pair is what counts, and the median of the pairs)
            ratios, ingests = [], []
            for pair in range(1, args.pairs + 1):
                name, url = fresh_database()
                names.append(name)
                copy_s = asyncio.run(copy_baseline(url, path))
                ingest_s, peak, counts = run_ingest(url, path)
                ratios.append(copy_s / ingest_s)
                ingests.append(ingest_s)
                print(f"pair {pair}: PostgreSQL COPY into an unindexed table {copy_s:.2f} s = {args.rows / copy_s:,.0f} "
                      f"rows/s; end-to-end ingest {ingest_s:.2f} s = {args.rows / ingest_s:,.0f} rows/s, "
                      f"peak RSS {peak:.0f} MB; ratio {copy_s / ingest_s:.2f}")  # fmt: skip
            print(f"last ingest: {counts}")
            print(f"ratio ingest/COPY throughput, median of {args.pairs} pairs: {statistics.median(ratios):.2f} "
                  f"(each: {', '.join(f'{r:.2f}' for r in ratios)}; target ≥ 0.5)")  # fmt: skip
            ingest_s = statistics.median(ingests)
            before = asyncio.run(measures_checksum(url))
            resend_s, resend_peak, resend_counts = run_ingest(url, path)
            after = asyncio.run(measures_checksum(url))
            print(f"re-send of the same file:               {resend_s:.2f} s ({resend_s / ingest_s:.0%} of a first load), "
                  f"peak RSS {resend_peak:.0f} MB; {resend_counts}")  # fmt: skip
            print(f"re-send changed nothing: {before == after} (raw rows {after[0]:,}, daily rows {after[1]:,})")
            # the same rows in a file that is not byte-identical (a trailing blank line): read and compared in full
            copy = Path(tmp) / "calls-again.csv"
            copy.write_bytes(path.read_bytes() + b"\n")
            full_s, full_peak, full_counts = run_ingest(url, copy)
            after_full = asyncio.run(measures_checksum(url))
            print(f"same rows, other bytes (full re-read):  {full_s:.2f} s ({full_s / ingest_s:.0%} of a first load), "
                  f"peak RSS {full_peak:.0f} MB; {full_counts}")  # fmt: skip
            print(f"full re-read changed nothing: {before == after_full}")
    finally:
        for service in services.values():
            service.stop()
        for name in names:
            asyncio.run(drop_database(args.server, name))


if __name__ == "__main__":
    main()
