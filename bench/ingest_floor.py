"""What storing a file costs at least, beside the bare COPY the ingest targets are measured against (issue 20).

    flock /tmp/hotline-bench.lock .venv/bin/python -m bench.ingest_floor [--rounds 5] [--stored-rows 3000000]
        [--file-rows 50000] [--agents 1000] [--backfill-rows 1000000] [--cases daily,backfill]

The steady-state benchmark (``ingest_bench.py --steady``) divides a bare ``COPY`` of a file into an unindexed table
by the ingest of the same file. A store that keeps the rows must at least write them into their month's partition,
with its indexes; this benchmark measures that write alone, side by side with the bare COPY and with the real
ingest, so that what a target asks can be set against what the server itself spends:

- **daily**: one database made as the steady-state benchmark makes it (``bench/steady.py``: the demo's units and
  ``--agents`` more agents, a February of ``--stored-rows`` calls of days 1–22 made by SQL). Each round, a file of
  ``--file-rows`` new calls of a new day, then in turn: the benchmark's bare COPY of it; the file's lines with the
  columns the raw table adds (day, batch, row number: ``direct._augment``, what the direct path writes) COPYed into
  February's partition in a transaction rolled back: with the month's three indexes (the direct path's own COPY);
  with its unique key index and ``(day, unit)`` btree; with its key index only; into its heap alone; and with the
  ``(day, unit)`` btree built bytewise instead (``COLLATE "C"``: the database's collation compares with ``strcoll``)
  — the partition detached and indexes dropped or built inside the rolled-back transaction. Then the month is
  vacuumed (the rolled-back rows leave dead entries where the ingest's rows will go) and the real ingest of the file
  (``ingest_bench.run_child``: ``batches.submit`` in a child process, as the service runs it), which stores it.
- **backfill**: a fresh database, a file of ``--backfill-rows`` calls over February; the bare COPY; the file's lines
  COPYed into an unindexed table shaped like the raw partitions and its three indexes built (what a month built
  whole must do at least, before any sum), rolled back; then the same lines COPYed into a stored month of as many
  calls (the first file ingested into it) with its three indexes, rolled back.

Each case's median over the rounds, its multiple of the bare COPY, and the ratio a target divides out of it
(bare ÷ case: the highest ratio an ingest that did nothing else could show) are printed as a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import steady  # noqa: E402
from bench.ingest_bench import COLUMNS, copy_baseline, register_units_in_process, run_child  # noqa: E402

BATCH = 2_000_000_000  # a batch id no real batch has (the rows are rolled back)


def augmented(path: Path, agents: list[str]) -> tuple[bytes, list[str]]:
    """The file's lines as the direct path COPYs them into the month, and the columns they fill."""
    from services.ingest import direct
    from services.ingest.reader import plain_csv_layout
    from services.ingest.records import KINDS

    with path.open("rb") as handle:
        layout = plain_csv_layout(handle, "csv")
        data = path.read_bytes()[layout.data_offset :]
    units = frozenset(a.encode() for a in agents)
    lines = direct._augment(data, 1, BATCH, layout, KINDS["call"], direct.Lines(), steady.SOURCE, units)
    return lines, [*layout.names, *direct.ADDED]


async def partition_indexes(connection, partition: str) -> dict[str, str]:
    """``{key, day_unit, brin}`` → index name of ``partition``."""
    rows = await connection.fetch(
        "SELECT c.relname, i.indisunique, a.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = $1::regclass",
        f"ingest.{partition}",
    )
    found = {}
    for name, unique, method in rows:
        found["key" if unique else "brin" if method == "brin" else "day_unit"] = name
    if set(found) != {"key", "day_unit", "brin"}:
        raise RuntimeError(f"{partition}: unexpected indexes {rows}")
    return found


@contextlib.asynccontextmanager
async def rolled_back(url: str):
    """A connection inside a transaction that is rolled back, with the session time zone the direct path sets."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        transaction = connection.transaction()
        await transaction.start()
        try:
            await connection.execute(f"SET LOCAL TimeZone = '{steady.ZONE}'")
            yield connection
        finally:
            await transaction.rollback()
    finally:
        await connection.close()


async def copy_rolled_back(
    url: str, partition: str, lines: bytes, columns: list[str], drop: tuple[str, ...], bytewise: bool = False
) -> float:
    """Seconds of the COPY of ``lines`` into ``partition`` (a bare name in ``ingest``) with the indexes ``drop``
    (``key``, ``day_unit``, ``brin``) dropped first — the partition detached for that — all rolled back.
    ``bytewise``: then a ``(day, unit_id COLLATE "C")`` btree built in place of the ``(day, unit)`` one (dropped)."""
    from services.ingest.records import KINDS

    async with rolled_back(url) as connection:
        if drop:
            names = await partition_indexes(connection, partition)
            await connection.execute(f"ALTER TABLE ingest.{KINDS['call'].table} DETACH PARTITION ingest.{partition}")
            for index in drop:
                await connection.execute(f'DROP INDEX ingest."{names[index]}"')
            if bytewise:
                await connection.execute(f'CREATE INDEX ON ingest.{partition} (day, (unit_id COLLATE "C"))')
        began = time.perf_counter()
        await connection.copy_to_table(
            partition, schema_name="ingest", source=io.BytesIO(lines), columns=columns, format="csv"
        )
        return time.perf_counter() - began


async def build_rolled_back(url: str, lines: bytes, columns: list[str]) -> tuple[float, float]:
    """A month built whole at least: the lines COPYed into an unindexed table like the raw partitions, then its
    three indexes built, rolled back; (COPY seconds, index builds' seconds)."""
    from services.ingest.partitions import key_index_sql

    async with rolled_back(url) as connection:
        await connection.execute("SET LOCAL maintenance_work_mem = '512MB'")
        await connection.execute("CREATE TABLE ingest.floor_month (LIKE ingest.raw_call INCLUDING DEFAULTS)")
        began = time.perf_counter()
        await connection.copy_to_table(
            "floor_month", schema_name="ingest", source=io.BytesIO(lines), columns=columns, format="csv"
        )
        copied = time.perf_counter()
        await connection.execute(key_index_sql("floor_month"))
        await connection.execute("CREATE INDEX ON ingest.floor_month (day, unit_id)")
        await connection.execute("CREATE INDEX ON ingest.floor_month USING brin (day, batch_id)")
        return copied - began, time.perf_counter() - copied


async def vacuum(url: str, table: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f"VACUUM ingest.{table}")
    finally:
        await connection.close()


def ingest(url: str, path: Path, rows: int) -> float:
    seconds, _, counts = run_child(url, path)
    if f"'new': {rows}," not in counts:
        raise RuntimeError(f"expected {rows} new rows: {counts}")
    return seconds


def daily(args, fresh_database, tmp: Path) -> dict[str, list[float]]:
    from services.ingest.partitions import partition_name
    from services.ingest.records import KINDS

    _, url = fresh_database()
    agents = asyncio.run(steady.add_agents(url, args.agents))
    first_days = steady.month_days(steady.FEBRUARY) - 6
    seconds = asyncio.run(steady.store_month(url, steady.FEBRUARY, first_days, args.stored_rows, 0))
    partition = partition_name(KINDS["call"], steady.FEBRUARY)
    asyncio.run(vacuum(url, partition))
    print(f"daily: February 2025 of {args.stored_rows:,} calls (days 1–{first_days}), {len(agents)} agents, "
          f"made in {seconds:.1f} s", flush=True)  # fmt: skip
    cases = {
        "heap only": ("key", "day_unit", "brin"),
        "key index": ("day_unit", "brin"),
        "key index + (day, unit)": ("brin",),
        "all three indexes (the direct path's COPY)": (),
        'all three, the (day, unit) btree bytewise (COLLATE "C")': ("day_unit",),
    }
    times: dict[str, list[float]] = {"bare COPY (the benchmark's baseline)": []} | {c: [] for c in cases}
    times["ingest (the real one, stored)"] = []
    for n in range(args.rounds):
        day = steady.FEBRUARY + timedelta(first_days + n)
        path = tmp / f"day-{n}.csv"
        steady.write_day_file(path, day, args.file_rows, agents, f"f{n}", 0)
        lines, columns = augmented(path, agents)
        times["bare COPY (the benchmark's baseline)"].append(asyncio.run(copy_baseline(url, path)))
        for case, drop in cases.items():
            bytewise = "bytewise" in case
            times[case].append(asyncio.run(copy_rolled_back(url, partition, lines, columns, drop, bytewise)))
        asyncio.run(vacuum(url, partition))
        times["ingest (the real one, stored)"].append(ingest(url, path, args.file_rows))
        print(f"  round {n + 1} (day {day}): " + ", ".join(f"{c.split(' (')[0]} {t[-1]:.3f}" for c, t in times.items()),
              flush=True)  # fmt: skip
    return times


def backfill(args, fresh_database, tmp: Path) -> dict[str, list[float]]:
    from services.ingest.partitions import partition_name
    from services.ingest.records import KINDS

    partition = partition_name(KINDS["call"], steady.FEBRUARY)
    times: dict[str, list[float]] = {k: [] for k in (
        "bare COPY (the benchmark's baseline)", "COPY into an unindexed month", "its three indexes built",
        "a month built whole at least (COPY + indexes)", "ingest into an empty month (the real one, stored)",
        "COPY into the stored month (three indexes)")}  # fmt: skip
    first, other = tmp / "backfill-a.csv", tmp / "backfill-b.csv"
    for n in range(args.rounds):
        name, url = fresh_database()
        agents = asyncio.run(steady.add_agents(url, args.agents))
        if n == 0:
            steady.write_backfill(first, steady.FEBRUARY, args.backfill_rows, agents, "a", 0)
            steady.write_backfill(other, steady.FEBRUARY, args.backfill_rows, agents, "b", 0)
        lines, columns = augmented(first, agents)
        times["bare COPY (the benchmark's baseline)"].append(asyncio.run(copy_baseline(url, first)))
        copy_s, build_s = asyncio.run(build_rolled_back(url, lines, columns))
        times["COPY into an unindexed month"].append(copy_s)
        times["its three indexes built"].append(build_s)
        times["a month built whole at least (COPY + indexes)"].append(copy_s + build_s)
        times["ingest into an empty month (the real one, stored)"].append(ingest(url, first, args.backfill_rows))
        more, columns = augmented(other, agents)
        times["COPY into the stored month (three indexes)"].append(
            asyncio.run(copy_rolled_back(url, partition, more, columns, ()))
        )
        print(f"  round {n + 1}: " + ", ".join(f"{c.split(' (')[0]} {t[-1]:.3f}" for c, t in times.items()), flush=True)
        fresh_database.drop(name)
    return times


def table(title: str, times: dict[str, list[float]]) -> None:
    bare = times["bare COPY (the benchmark's baseline)"]
    print(f"\n{title}\n\n| case | median s | × bare COPY | bare ÷ case (median of the rounds' ratios) | each s |")
    print("|---|---|---|---|---|")
    for case, values in times.items():
        ratios = [b / v for b, v in zip(bare, values, strict=True)]
        print(f"| {case} | {statistics.median(values):.3f} | ×{statistics.median(values) / statistics.median(bare):.2f} "
              f"| {statistics.median(ratios):.2f} | {', '.join(f'{v:.3f}' for v in values)} |")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each case (medians); daily: at most 6")
    parser.add_argument("--stored-rows", type=int, default=3_000_000)
    parser.add_argument("--file-rows", type=int, default=50_000)
    parser.add_argument("--agents", type=int, default=1_000, help="agents added to the demo's")
    parser.add_argument("--backfill-rows", type=int, default=1_000_000)
    parser.add_argument("--cases", default="daily,backfill")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 6:
        parser.error("--rounds 1–6 (a daily round takes one of February's last six days)")
    from hotline.cli.database import create_database, drop_database
    from hotline.cli.stack import migrate_all

    steady.COLUMNS[:] = COLUMNS
    names: list[str] = []

    def fresh_database() -> tuple[str, str]:
        name = f"hotline_floor_{uuid.uuid4().hex[:8]}"
        url = asyncio.run(create_database(args.server, name))
        names.append(name)
        migrate_all(url)
        asyncio.run(register_units_in_process(url))
        return name, url

    def drop(name: str) -> None:
        asyncio.run(drop_database(args.server, name))
        names.remove(name)

    fresh_database.drop = drop
    began = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            results = []
            if "daily" in args.cases:
                title = (f"A daily file of {args.file_rows:,} new calls into a month of {args.stored_rows / 1e6:g} M "
                         f"({args.rounds} rounds)")  # fmt: skip
                results.append((title, daily(args, fresh_database, tmp)))
                for name in list(names):
                    drop(name)
            if "backfill" in args.cases:
                title = f"A backfill of {args.backfill_rows:,} calls ({args.rounds} rounds)"
                results.append((title, backfill(args, fresh_database, tmp)))
    finally:
        for name in list(names):
            drop(name)
    for title, times in results:
        table(title, times)
    print(f"\n{time.perf_counter() - began:.0f} s in all")


if __name__ == "__main__":
    main()
