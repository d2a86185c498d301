"""Benchmark (by hand, not in the suite): a province-scale run vs one hand-written SQL query.

    .venv/bin/python bench/scoring_bench.py [--units 3000] [--indicators 40] [--server postgresql://postgres@127.0.0.1:5432/postgres]

3,000 units, 40 indicators, 12 months of daily measures. It creates a throwaway database, builds
every service's tables by the migrations, and — because ingest's measures table is still being
designed on its own branch — its OWN wide measures table ``bench.daily_measure`` (unit, day, one
column per measure), served to the run through a minimal STAND-IN of ingest's ``POST
/measures/query`` (contracts §4) that aggregates in SQL. It then times, side by side:

* the run: scoring's real code — ``runs.start_run`` (scheme document, cohort resolution), the
  worker's job (fetch through the stand-in, engine, storing every unit's full result and revision);
* one hand-written SQL query computing the same 40 indicator values straight from the table,

and prints both and the ratio (target ≤ 3×). The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
import uuid
from datetime import date

import asyncpg
import httpx

from hotline.cli.database import DEFAULT_SERVER_URL, create_database, drop_database
from hotline.cli.stack import migrate_all
from hotline.kit.auth import Principal, Role
from hotline.kit.db import Database
from hotline.kit.scope import Scope
from hotline.kit.services import ServiceClients
from hotline.kit.settings import Settings
from services.scoring import runs, worker
from services.scoring.inputs import evaluate
from services.scoring.models import RunRevision

MEASURES = [
    "calls.offered", "calls.answered", "calls.answered_within_20s", "calls.abandoned", "calls.answer_wait_seconds",
    "calls.handle_seconds", "calls.complaints", "calls.repeat", "orders.received", "orders.closed",
    "orders.closed_on_time", "orders.closed_first_time", "orders.returned_for_redo", "orders.dispatched",
    "orders.dispatched_on_time", "surveys.rated", "surveys.satisfied", "callbacks.required", "callbacks.done",
    "inspections.sampled",
]  # fmt: skip
COLUMNS = [f"m{i}" for i in range(len(MEASURES))]
# (numerator, denominator) index pairs: rates and per-call averages over the 20 measures.
PAIRS = [
    (1, 0),
    (2, 0),
    (3, 0),
    (4, 1),
    (5, 1),
    (7, 1),
    (9, 8),
    (10, 9),
    (11, 9),
    (12, 9),
    (14, 13),
    (16, 15),
    (18, 17),
]


def item(i: int) -> dict:
    num, den = PAIRS[i % len(PAIRS)]
    rule = [
        ({"type": "ratio_to_reference"}, "higher_better"),
        ({"type": "ratio_to_reference"}, "lower_better"),
        ({"type": "threshold", "target": 50}, "higher_better"),
        ({"type": "linear_band", "floor": 10, "target": 90}, "higher_better"),
        ({"type": "target_band", "low": 40, "high": 60, "tolerance": 30}, "target_band"),
    ][i % 5]
    return {
        "indicator": {"code": f"ind_{i:02d}", "version": 1, "name_zh": f"指标{i}", "name_en": f"Indicator {i}",
                      "clause": "6", "dimension": ["service_response", "efficiency", "satisfaction", "resolution"][i % 4],
                      "unit": "percent", "direction": rule[1], "formula": f"{MEASURES[num]} / {MEASURES[den]} * 100",
                      "method": "system"},
        "points": 2.5, "rule": rule[0], "reference": {"policy": "best_in_cohort"},
    }  # fmt: skip


def scheme(indicators: int) -> dict:
    return {
        "id": "bench-scheme", "version": 1, "code": "BENCH", "name_zh": "基准测试", "name_en": "Benchmark",
        "kind": "comprehensive", "status": "published", "organizer": "B",
        "cohort": {"kind": "undertaking_unit", "under": "B"}, "period": {"granularity": "year"},
        "na_policy": "rescale", "expert_aggregation": "mean", "rankings_public": False, "appeal": {"window_days": 7},
        "grade_bands": [{"code": "excellent", "name_zh": "优秀", "min": 90}, {"code": "qualified", "name_zh": "合格", "min": 70},
                        {"code": "needs_improvement", "name_zh": "待改进", "min": 0}],
        "items": [item(i) for i in range(indicators)],
    }  # fmt: skip


async def load(conn: asyncpg.Connection, units: int) -> None:
    await conn.execute("CREATE SCHEMA bench")
    cols = ", ".join(f"{c} integer NOT NULL" for c in COLUMNS)
    await conn.execute(
        f"CREATE TABLE bench.daily_measure (unit_id text NOT NULL, day date NOT NULL, {cols}, PRIMARY KEY (unit_id, day))"
    )
    # Deterministic pseudo-random daily values; denominators never below numerators.
    exprs = ", ".join(f"(abs(hashtext(u::text || '-{i}-' || d::text)) % 50 + 50)" for i in range(len(COLUMNS)))
    await conn.execute(
        f"""INSERT INTO bench.daily_measure
            SELECT 'U' || lpad(u::text, 5, '0'), d::date, {exprs}
            FROM generate_series(1, {units}) u, generate_series('2024-01-01'::date, '2024-12-31'::date, '1 day') d"""
    )
    await conn.execute("ANALYZE bench.daily_measure")
    await conn.execute(
        """INSERT INTO scoring.unit_ref (id, parent_id, path, kind, name_zh, name_en, active, valid_from)
           VALUES ('B', NULL, 'B', 'province_body', '基准省', 'Bench', true, '2020-01-01')"""
    )
    await conn.execute(
        f"""INSERT INTO scoring.unit_ref (id, parent_id, path, kind, name_zh, name_en, active, valid_from)
            SELECT 'U' || lpad(u::text, 5, '0'), 'B', 'B/U' || lpad(u::text, 5, '0'), 'undertaking_unit',
                   '单位' || u, 'Unit ' || u, true, '2020-01-01' FROM generate_series(1, {units}) u"""
    )


def stand_in(pool: asyncpg.Pool, document: dict):
    """A minimal stand-in of ingest's POST /measures/query (by: total) over the wide table, in SQL."""

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/schemes/"):
            return httpx.Response(200, json=document)
        body = json.loads(request.content)
        columns = [COLUMNS[MEASURES.index(m)] for m in body["measures"]]
        sums = ", ".join(f"sum({c})::float8" for c in columns)
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT unit_id, ARRAY[{sums}] FROM bench.daily_measure WHERE unit_id = ANY($1) AND day BETWEEN $2 AND $3 GROUP BY unit_id",
                body["units"],
                date.fromisoformat(body["from"]),
                date.fromisoformat(body["to"]),
            )
        found = {r[0] for r in rows}
        return httpx.Response(200, json={
            "from": body["from"], "to": body["to"], "by": body["by"], "measures": body["measures"],
            "rows": [[r[0], list(r[1])] for r in rows], "days_with_data": {r[0]: 366 for r in rows},
            "missing": sorted(set(body["units"]) - found),
        })  # fmt: skip

    return httpx.MockTransport(handle)


def hand_written_sql(indicators: int) -> str:
    exprs = []
    for i in range(indicators):
        num, den = PAIRS[i % len(PAIRS)]
        exprs.append(f"sum({COLUMNS[num]})::float8 / nullif(sum({COLUMNS[den]}), 0) * 100 AS ind_{i:02d}")
    return (
        f"SELECT unit_id, {', '.join(exprs)} FROM bench.daily_measure "
        "WHERE day BETWEEN '2024-01-01' AND '2024-12-31' GROUP BY unit_id ORDER BY unit_id"
    )


async def main(args) -> None:
    logging.basicConfig(format="  %(message)s")
    logging.getLogger("hotline.scoring.worker").setLevel(logging.INFO)
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    url = await create_database(args.server, name)
    try:
        await asyncio.to_thread(migrate_all, url)
        conn = await asyncpg.connect(url)
        t0 = time.perf_counter()
        await load(conn, args.units)
        print(f"loaded {args.units} units × 366 days × {len(COLUMNS)} measures in {time.perf_counter() - t0:.1f} s")
        document = scheme(args.indicators)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        settings = Settings(env="test", database_url=url)
        services = ServiceClients(
            settings,
            caller="scoring",
            transports={"ingest": stand_in(pool, document), "indicators": stand_in(pool, document)},
        )
        database = Database.from_settings(settings)
        principal = Principal(subject="bench", unit_id="B", roles=frozenset({Role.ORGANIZER}))
        sql = hand_written_sql(args.indicators)
        await conn.fetch(sql)  # warm the cache for both sides alike
        sql_times, run_times, engine_times = [], [], []
        for attempt in range(args.repeat):
            t = time.perf_counter()
            rows = await conn.fetch(sql)
            sql_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            async with database.unit_of_work() as session:
                if attempt == 0:
                    outcome = await runs.start_run(session, services, principal, Scope("B", "B"), scheme_id="bench-scheme",
                                                   version=1, period_kind="year", period_value="2024")  # fmt: skip
                    assert not outcome.problems, outcome.problems
                    run = outcome.run
                else:
                    run = await runs.organizer_run(session, Scope("B", "B"), str(run.id))
                    assert not await runs.queue_recompute(session, principal, run, f"benchmark repeat {attempt}")
            assert await worker.process_next(database, services)
            run_times.append(time.perf_counter() - t)
            async with database.session() as session:
                stored = await session.get(RunRevision, (run.id, attempt + 1))
                inputs = stored.inputs
            t = time.perf_counter()
            outcome_doc, _ = evaluate(document, inputs)
            engine_times.append(time.perf_counter() - t)
        first = {i["indicator"]: i["value"] for i in outcome_doc["units"][0]["indicators"]}
        check = dict(rows[0])
        assert all(abs(first[k] - round(check[k], 4)) < 1e-3 for k in first), "the run and the SQL disagree"
        sql_s, run_s, engine_s = (
            statistics.median(sql_times),
            statistics.median(run_times),
            statistics.median(engine_times),
        )
        print("NOTE: measures served by a stand-in of ingest's /measures/query over the benchmark's own wide table")
        print(f"units={args.units} indicators={args.indicators} days=366 repeats={args.repeat} (medians)")
        print(f"hand-written SQL query (40 indicator values per unit): {sql_s:8.3f} s")
        print(
            f"scoring run (fetch + engine + store, job queue):        {run_s:8.3f} s   (engine alone {engine_s:.3f} s)"
        )
        print(f"ratio run / SQL: {run_s / sql_s:.2f}×  (target ≤ 3×)")
        await pool.close()
        await conn.close()
        await services.aclose()
        await database.dispose()
    finally:
        await drop_database(args.server, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--indicators", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", default=DEFAULT_SERVER_URL)
    asyncio.run(main(parser.parse_args()))
