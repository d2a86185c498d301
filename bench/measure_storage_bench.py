"""Wide vs narrow storage of daily measures (run by hand): why ``ingest.daily_measure`` is one wide row.

    .venv/bin/python bench/measure_storage_bench.py [--units 3000] [--days 365] [--measures 79]

Builds, in a scratch database, the same data twice — one row per (unit, day) with one column per measure,
and one row per (unit, day, measure) — and times the scoring read: every unit's sum of every measure over
the whole period (``GROUP BY unit``), plus the on-disk size of each table with its primary key.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import asyncpg

from hotline.cli.database import DEFAULT_SERVER_URL, create_database, drop_database


async def run(units: int, days: int, measures: int) -> None:
    name = f"hotline_storage_{uuid.uuid4().hex[:8]}"
    url = await create_database(DEFAULT_SERVER_URL, name)
    connection = await asyncpg.connect(url)
    try:
        cols = ", ".join(f"m{i} double precision NOT NULL" for i in range(measures))
        values = ", ".join("(random() * 100)::int" for _ in range(measures))
        await connection.execute(f"CREATE TABLE wide (unit_id text, day date, {cols}, PRIMARY KEY (unit_id, day))")
        began = time.perf_counter()
        await connection.execute(
            f"INSERT INTO wide SELECT 'U' || u, date '2025-01-01' + d, {values} "
            f"FROM generate_series(1, {units}) u, generate_series(0, {days - 1}) d"
        )
        print(f"wide:   {units * days:,} rows loaded in {time.perf_counter() - began:.1f} s")
        await connection.execute(
            "CREATE TABLE narrow (unit_id text, day date, measure smallint, value double precision, "
            "PRIMARY KEY (unit_id, day, measure))"
        )
        began = time.perf_counter()
        await connection.execute(
            f"INSERT INTO narrow SELECT 'U' || u, date '2025-01-01' + d, m, (random() * 100)::int "
            f"FROM generate_series(1, {units}) u, generate_series(0, {days - 1}) d, generate_series(0, {measures - 1}) m"
        )
        print(f"narrow: {units * days * measures:,} rows loaded in {time.perf_counter() - began:.1f} s")
        await connection.execute("VACUUM ANALYZE wide")
        await connection.execute("VACUUM ANALYZE narrow")
        sums = ", ".join(f"sum(m{i})" for i in range(measures))
        for label, sql in (
            ("wide", f"SELECT unit_id, {sums} FROM wide GROUP BY unit_id"),
            ("narrow", "SELECT unit_id, measure, sum(value) FROM narrow GROUP BY unit_id, measure"),
        ):
            timings = []
            for _ in range(3):
                began = time.perf_counter()
                await connection.fetch(sql)
                timings.append(time.perf_counter() - began)
            size = await connection.fetchval(f"SELECT pg_size_pretty(pg_total_relation_size('{label}'))")
            print(f"{label:6}: all units × all measures over {days} days: best of 3 {min(timings):.2f} s; size {size}")
    finally:
        await connection.close()
        await drop_database(DEFAULT_SERVER_URL, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--measures", type=int, default=79)
    args = parser.parse_args()
    asyncio.run(run(args.units, args.days, args.measures))
