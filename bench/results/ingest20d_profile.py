"""Profile one load (issue 20, fifth round): every asyncpg statement timed client-side; EXPLAIN=1 adds auto_explain (ANALYZE, BUFFERS) as notices, DIRECT=0 turns the direct path off, CORR=n loads n corrections of the day instead.
Usage, from the tree whose code is profiled: python bench/results/ingest20d_profile.py URL DAYNO TAG (a database made by ingest20d_setup_db.py)
Loads a 50,000-call file of February day DAYNO (tag TAG) as the bench child does; prints statements > 3 ms."""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.getcwd())  # run from the tree whose code is profiled
from datetime import timedelta
from pathlib import Path

from asyncpg.connection import Connection

from bench import ingest_bench, steady
from bench.ingest_bench import COLUMNS

url, day_no, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
log = []


def wrap(name):
    orig = getattr(Connection, name)

    async def f(self, *a, **k):
        if os.environ.get("EXPLAIN") and id(self) not in explained:
            explained.add(id(self))
            self.add_log_listener(lambda c, m: log.append((0, "EXPLAIN", m.message)))
            await orig_execute(
                self,
                "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 40; SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on; SET auto_explain.log_level = 'notice'; SET auto_explain.log_nested_statements = on",
            )
        t = time.perf_counter()
        try:
            return await orig(self, *a, **k)
        finally:
            log.append((time.perf_counter() - t, name, str(a[0])[:150].replace("\n", " ") if a else ""))

    setattr(Connection, name, f)


orig_execute = Connection.execute
explained = set()
for n in ("execute", "fetch", "fetchrow", "fetchval", "copy_to_table", "copy_records_to_table"):
    wrap(n)
steady.COLUMNS[:] = COLUMNS
agents = asyncio.run(steady.add_agents(url, 0))  # the database's agents (none added)
day = steady.FEBRUARY + timedelta(day_no - 1)
path = Path(f"/tmp/day-{day_no}-{tag}.csv")
if os.environ.get("CORR"):
    asyncio.run(steady.write_corrections(url, path, steady.FEBRUARY, int(os.environ["CORR"]), hash(tag) % 1000, day))
else:
    steady.write_day_file(path, day, 50_000, agents, tag, 0)
copy_s = asyncio.run(ingest_bench.copy_baseline(url, path))
from sqlalchemy.orm import configure_mappers  # noqa: E402 (after the asyncpg methods are wrapped)

from services.ingest import bulk, direct  # noqa: E402
from services.ingest.batches import DEFAULT_TIME_ZONE  # noqa: E402
from services.ingest.rules import flow_measures  # noqa: E402

direct.ENABLED = os.environ.get("DIRECT", "1") == "1"
bulk.warm_up(DEFAULT_TIME_ZONE)
flow_measures()
configure_mappers()
log.clear()
el, report = asyncio.run(ingest_bench.timed_ingest(url, path))
print(f"COPY {copy_s:.3f} ingest {el:.3f} ratio {copy_s / el:.2f} {report['counts']} {report['timingsSeconds']}")
tot = sum(t for t, *_ in log)
print(f"statements {len(log)} total {tot:.3f}")
if os.environ.get("VERBOSE"):
    for t, n, s in log:
        if t > 0.003 or n == "EXPLAIN":
            print(f"  {t * 1000:7.1f} ms {n} {s if n != 'EXPLAIN' else s[-2500:]}")
