"""Steady-state cases of the ingest benchmark (``ingest_bench.py --steady``): what a hotline platform does every day.

    flock /tmp/hotline-bench.lock .venv/bin/python bench/ingest_bench.py --steady [--stored-rows 3000000]
        [--file-rows 50000] [--corrections 5000] [--months 12] [--agents 1000] [--repeats 3] [--backfill-rows 1000000]

One database (migrations, the demo units, and ``--agents`` more agents spread over the demo's ten agent teams).
**Stored months are made by bulk SQL, not by ingest** (so that twelve months of 3,000,000 calls take minutes):
each month is one ``INSERT … SELECT`` over ``generate_series`` into a plain table shaped like the raw table's
partitions — calls of the bench's agents, their days in pseudo-random order (``hashint8``: out of day order, as a
month of late files and corrections is, so the BRIN index on days is of no use), record ids
``YYYYMMDD-nnnnnnnn`` — then given its key index and attached as the month's partition (ATTACH builds the parent's
other indexes); February's daily measures are summed by the service's own ``aggregation.recompute`` over the whole
month (the earlier months, made for the twelve-month case, get raw rows and indexes only: nothing a February
file does reads their measures, and making them would double the setup's time).
Then, each case ``--repeats`` times, a bare ``COPY`` of the case's file into an unindexed table of the same
database, right before the ingest of the same file through ``batches.submit`` (in a child process, as the service
runs it); the table gives the medians:

- a daily file of ``--file-rows`` new calls of one day (a day the month held no call of) into February 2025
  holding ``--stored-rows``; each repeat a new day;
- ``--corrections`` corrections of stored calls of that month (pseudo-random calls of every day, their talk and
  handle times changed), and a tenth and four times as many (proportional?);
- ``--months - 1`` more months of ``--stored-rows`` are made, and the daily file again (three more new days);
- a backfill of ``--backfill-rows`` calls into an empty month, and into a stored month holding as many.

After every case the stored counts are checked against the files (no row lost, none doubled).
"""

from __future__ import annotations

import ast
import asyncio
import csv
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

ZONE = "Asia/Shanghai"
SOURCE = "bench-acd"
FEBRUARY = date(2025, 2, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_days(month: date) -> int:
    return (next_month(month) - month).days


async def add_agents(url: str, count: int) -> list[str]:
    """``count`` more agents, spread over the demo's agent teams; returns every agent's id."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            """INSERT INTO ingest.unit (id, parent_id, path, depth, kind, name_zh, name_en, active, valid_from)
               SELECT t.id || '-B' || lpad(n::text, 4, '0'), t.id, t.path || '/' || t.id || '-B' || lpad(n::text, 4, '0'),
                      t.depth + 1, 'agent', '坐席' || n, 'Agent ' || n, true, DATE '2020-01-01'
               FROM (SELECT *, row_number() OVER (ORDER BY id) AS team_no, count(*) OVER () AS teams
                     FROM ingest.unit WHERE kind = 'agent_team') t
               CROSS JOIN LATERAL generate_series(1, $1::int) n
               WHERE n % t.teams = t.team_no - 1""",
            count,
        )
        return [r[0] for r in await connection.fetch("SELECT id FROM ingest.unit WHERE kind = 'agent' ORDER BY id")]
    finally:
        await connection.close()


def stored_month_sql(partition: str, month: date, days: int, rows: int, agents: int, callers: int) -> str:
    """Fill ``partition`` (a plain table like the raw table's partitions) with ``rows`` calls of the first ``days``
    days of ``month``, in pseudo-random day order; agents from the temporary table ``bench_agent(n, id)``."""
    hashed = f"'h' || (abs(hashint8(g * 17 + 3)) % {callers})" if callers else "NULL"
    return f"""
INSERT INTO {partition} (source, record_id, unit_id, started_at, direction, outcome, ivr_seconds, queue_seconds,
    ring_seconds, talk_seconds, handle_seconds, answered_at, ended_at, transferred, resolved_first_contact,
    repeat_caller, complaint, caller_hash, work_order_id, day, batch_id, row_no, repeat_lookback)
SELECT '{SOURCE}', to_char(x.d, 'YYYYMMDD') || '-' || lpad(g::text, 8, '0'), a.id, x.t, 'inbound', x.outcome,
       5 + g % 55, CASE WHEN x.outcome IN ('answered', 'abandoned') THEN g % 120 END,
       CASE WHEN x.answered THEN 1 + g % 7 END, CASE WHEN x.answered THEN 20 + g % 580 END,
       CASE WHEN x.answered THEN 50 + g % 580 END,
       CASE WHEN x.answered THEN x.t + make_interval(secs => g % 120 + 10) END, NULL, false,
       CASE WHEN x.answered THEN true END, NULL, NULL, {hashed}, NULL, x.d, 0, g,
       CASE WHEN {hashed} IS NOT NULL THEN false END
FROM generate_series(1, {rows}) g
CROSS JOIN LATERAL (
    SELECT d, (d + make_interval(secs => abs(hashint8(g * 7 + 1)) % 86400)) AT TIME ZONE '{ZONE}' AS t, outcome,
           outcome = 'answered' AS answered
    FROM (SELECT DATE '{month.isoformat()}' + (abs(hashint8(g)) % {days})::int AS d,
                 CASE WHEN abs(hashint8(g * 13 + 5)) % 100 < 80 THEN 'answered'
                      WHEN abs(hashint8(g * 13 + 5)) % 100 < 94 THEN 'abandoned'
                      WHEN abs(hashint8(g * 13 + 5)) % 100 < 99 THEN 'ivr_resolved' ELSE 'phantom' END AS outcome) y
) x
JOIN bench_agent a ON a.n = g % (SELECT count(*) FROM bench_agent)
"""


async def store_month(url: str, month: date, days: int, rows: int, callers: int, measures: bool = True) -> float:
    """Make a stored month by bulk SQL (see the module's docstring); returns the seconds it took. ``measures``:
    its daily measures are made too."""
    import asyncpg

    from services.ingest import aggregation
    from services.ingest.partitions import key_index_sql, partition_name
    from services.ingest.records import KINDS

    kind = KINDS["call"]
    partition = partition_name(kind, month)
    began = time.perf_counter()
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL jit = off; SET LOCAL maintenance_work_mem = '512MB'")
            await connection.execute(
                "CREATE TEMP TABLE bench_agent ON COMMIT DROP AS SELECT (row_number() OVER (ORDER BY id)) - 1 AS n, id "
                "FROM ingest.unit WHERE kind = 'agent'"
            )
            await connection.execute(f"CREATE TABLE ingest.{partition} (LIKE ingest.{kind.table})")
            await connection.execute(stored_month_sql(f"ingest.{partition}", month, days, rows, 0, callers))
            await connection.execute(key_index_sql(partition))
            await connection.execute(
                f"ALTER TABLE ingest.{kind.table} ATTACH PARTITION ingest.{partition} "
                f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"
            )
            await connection.execute(aggregation.TOUCHED_DDL)
            await connection.execute(f"INSERT INTO touched SELECT DISTINCT unit_id, day FROM ingest.{partition}")
            await aggregation.recompute(connection, "call")
        await connection.execute(f"ANALYZE ingest.{partition}")
        await connection.execute("VACUUM ANALYZE ingest.daily_measure")
    finally:
        await connection.close()
    return time.perf_counter() - began


def write_day_file(path: Path, day: date, rows: int, agents: list[str], tag: str, callers: int) -> None:
    """``rows`` new calls of ``day`` (record ids ``YYYYMMDD-<tag>nnnnnnn``, none stored)."""
    import random

    rng = random.Random(hash((day, tag)) & 0xFFFF)
    start = datetime(day.year, day.month, day.day)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            began = start + timedelta(seconds=rng.randrange(86400 - 3600))
            outcome = rng.choices(("answered", "abandoned", "ivr_resolved", "phantom"), (80, 14, 5, 1))[0]
            queue = rng.randrange(0, 120) if outcome in ("answered", "abandoned") else ""
            talk = rng.randrange(20, 600) if outcome == "answered" else ""
            answered = (began + timedelta(seconds=queue + 10)).strftime("%Y-%m-%d %H:%M:%S") if talk else ""
            writer.writerow(
                [SOURCE, f"{day:%Y%m%d}-{tag}{i:07d}", agents[i % len(agents)], began.strftime("%Y-%m-%d %H:%M:%S"),
                 "inbound", outcome, rng.randrange(5, 60), queue, rng.randrange(1, 8) if talk else "", talk,
                 talk + 30 if talk else "", answered, "", "false", "true" if talk else "", "", "",
                 f"h{rng.randrange(callers)}" if callers else "", ""]
            )  # fmt: skip


async def write_corrections(url: str, path: Path, month: date, rows: int, seed: int, day: date | None = None) -> None:
    """``rows`` stored calls of ``month`` (pseudo-random; of ``day`` only if given, else of every day), their talk
    and handle times one second longer: each a correction."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f"SET TimeZone = '{ZONE}'; SELECT setseed({(seed % 1000) / 1000})")
        records = await connection.fetch(
            """SELECT r.* FROM ingest.raw_call r
                WHERE r.day >= $1 AND r.day < $2 AND r.talk_seconds IS NOT NULL
                  AND random() < $3 * 3.0 / $4
                LIMIT $3""",
            day or month, day + timedelta(1) if day else next_month(month), rows,
            await connection.fetchval(
                "SELECT count(*) FROM ingest.raw_call WHERE day >= $1 AND day < $2",
                day or month, day + timedelta(1) if day else next_month(month),
            ),
        )  # fmt: skip
    finally:
        await connection.close()

    def text(value) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            from zoneinfo import ZoneInfo

            return value.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for record in records:
            values = dict(record)
            values["talk_seconds"] += 1
            values["handle_seconds"] += 1
            writer.writerow([text(values[c]) for c in COLUMNS])
    if len(records) < rows:
        raise RuntimeError(f"only {len(records)} calls to correct")


async def count_rows(url: str, month: date | None = None) -> int:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        if month is None:
            return await connection.fetchval("SELECT count(*) FROM ingest.raw_call")
        return await connection.fetchval(
            "SELECT count(*) FROM ingest.raw_call WHERE day >= $1 AND day < $2", month, next_month(month)
        )
    finally:
        await connection.close()


COLUMNS: list[str] = []  # set by ``run`` from the benchmark's own


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def add(self, case: str, stored: int, file_rows: int, pairs: list[tuple[float, float]], note: str = "") -> None:
        copies = [c for c, _ in pairs]
        ingests = [i for _, i in pairs]
        ratios = [c / i for c, i in pairs]
        self.rows.append((case, stored, file_rows, statistics.median(copies), statistics.median(ingests),
                          statistics.median(ratios), ratios, ingests, note))  # fmt: skip
        print(f"  → {case}: COPY {statistics.median(copies):.3f} s, ingest {statistics.median(ingests):.3f} s "
              f"(each {', '.join(f'{i:.3f}' for i in ingests)}), ratio {statistics.median(ratios):.3f} "
              f"(each {', '.join(f'{r:.3f}' for r in ratios)}) {note}", flush=True)  # fmt: skip

    def print(self) -> None:
        print("\n| case | stored before | file | COPY s | ingest s | ratio | ratios (each) |")
        print("|---|---|---|---|---|---|---|")
        for case, stored, rows, copy_s, ingest_s, ratio, ratios, _, note in self.rows:
            each = ", ".join(f"{r:.2f}" for r in ratios)
            print(f"| {case}{' ' + note if note else ''} | {stored / 1e6:.2f} M | {rows:,} | {copy_s:.3f} | "
                  f"{ingest_s:.3f} | **{ratio:.2f}** | {each} |")  # fmt: skip


def run(args, columns: list[str], copy_baseline, run_child: Callable, fresh_database: Callable, drop: Callable) -> None:
    import tempfile

    COLUMNS[:] = columns
    table = Table()
    names: list[str] = []

    def pair(url: str, path: Path, expect_new: int | None = None, expect_corrected: int | None = None):
        copy_s = asyncio.run(copy_baseline(url, path))
        ingest_s, _, counts = run_child(url, path)
        print(f"    COPY {copy_s:.3f} s, ingest {ingest_s:.3f} s; {counts}", flush=True)
        got = ast.literal_eval(counts[counts.index("{") : counts.index("}") + 1])
        if (expect_new is not None and got["new"] != expect_new) or (
            expect_corrected is not None and got["corrected"] != expect_corrected
        ):
            raise RuntimeError(f"expected {expect_new} new, {expect_corrected} corrected rows: {counts}")
        return copy_s, ingest_s

    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            if args.steady_cases in ("all", "daily"):
                name, url = fresh_database()
                names.append(name)
                agents = asyncio.run(add_agents(url, args.agents))
                first_days = month_days(FEBRUARY) - 6
                seconds = asyncio.run(store_month(url, FEBRUARY, first_days, args.stored_rows, args.callers))
                print(f"stored February 2025: {args.stored_rows:,} calls of days 1–{first_days}, {len(agents)} agents, "
                      f"made by SQL in {seconds:.1f} s", flush=True)  # fmt: skip

                def daily(days: list[int], label: str) -> None:
                    pairs = []
                    stored = asyncio.run(count_rows(url, FEBRUARY))
                    for n, day_no in enumerate(days):
                        day = FEBRUARY + timedelta(day_no - 1)
                        path = tmp / f"day-{day_no}.csv"
                        write_day_file(path, day, args.file_rows, agents, f"d{n}", args.callers)
                        pairs.append(pair(url, path, expect_new=args.file_rows))
                    table.add(label, stored, args.file_rows, pairs)

                daily(
                    [first_days + 1, first_days + 2, first_days + 3],
                    f"daily file into a month of {args.stored_rows / 1e6:g} M, 1 month stored",
                )
                latest = FEBRUARY + timedelta(first_days + 2)  # the last daily file's day
                cases = [(args.corrections // 10, latest), (args.corrections, latest), (args.corrections, None)]
                for size, day in cases:
                    pairs = []
                    stored = asyncio.run(count_rows(url, FEBRUARY))
                    for n in range(args.repeats):
                        path = tmp / f"corrections-{size}-{n}.csv"
                        asyncio.run(write_corrections(url, path, FEBRUARY, size, n + size, day))
                        pairs.append(pair(url, path, expect_corrected=size))
                    where = "of the last daily file's day" if day else "spread over the month's every day"
                    table.add(f"corrections of {size:,} calls {where}", stored, size, pairs)
                month, made = FEBRUARY, 1
                while made < args.months:
                    month = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
                    seconds = asyncio.run(
                        store_month(url, month, month_days(month), args.stored_rows, args.callers, measures=False)
                    )
                    made += 1
                    print(f"stored {month:%B %Y}: {args.stored_rows:,} calls by SQL in {seconds:.1f} s", flush=True)
                if args.months > 1:
                    daily([first_days + 4, first_days + 5, first_days + 6],
                          f"daily file into a month of {args.stored_rows / 1e6:g} M, {args.months} months stored")  # fmt: skip
                    total = asyncio.run(count_rows(url))
                    print(f"raw calls stored in all: {total:,}")
            if args.steady_cases in ("all", "backfill"):
                path = tmp / "backfill.csv"
                other = tmp / "backfill-more.csv"
                empty, into = [], []
                for n in range(args.repeats):
                    name, url = fresh_database()
                    names.append(name)
                    agents = asyncio.run(add_agents(url, args.agents))
                    if n == 0:
                        write_backfill(path, FEBRUARY, args.backfill_rows, agents, "a", args.callers)
                        write_backfill(other, FEBRUARY, args.backfill_rows, agents, "b", args.callers)
                    empty.append(pair(url, path, expect_new=args.backfill_rows))
                    into.append(pair(url, other, expect_new=args.backfill_rows))
                    asyncio.run(drop(name))
                    names.remove(name)
                table.add("backfill into an empty month", 0, args.backfill_rows, empty)
                table.add("backfill into a stored month of the same size", args.backfill_rows, args.backfill_rows, into)
    finally:
        for name in names:
            asyncio.run(drop(name))
    table.print()


def write_backfill(path: Path, month: date, rows: int, agents: list[str], tag: str, callers: int) -> None:
    """``rows`` calls spread over ``month``'s days (record ids ``YYYYMMDD-<tag>nnnnnnn``)."""
    import random

    rng = random.Random(tag)
    start = datetime(month.year, month.month, month.day)
    span = month_days(month) * 86400 - 3600
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            began = start + timedelta(seconds=rng.randrange(span))
            outcome = rng.choices(("answered", "abandoned", "ivr_resolved", "phantom"), (80, 14, 5, 1))[0]
            queue = rng.randrange(0, 120) if outcome in ("answered", "abandoned") else ""
            talk = rng.randrange(20, 600) if outcome == "answered" else ""
            answered = (began + timedelta(seconds=queue + 10)).strftime("%Y-%m-%d %H:%M:%S") if talk else ""
            writer.writerow(
                [SOURCE, f"{began:%Y%m%d}-{tag}{i:07d}", agents[i % len(agents)], began.strftime("%Y-%m-%d %H:%M:%S"),
                 "inbound", outcome, rng.randrange(5, 60), queue, rng.randrange(1, 8) if talk else "", talk,
                 talk + 30 if talk else "", answered, "", "false", "true" if talk else "", "", "",
                 f"h{rng.randrange(callers)}" if callers else "", ""]
            )  # fmt: skip


def unique_name() -> str:
    return f"hotline_steady_{uuid.uuid4().hex[:8]}"
