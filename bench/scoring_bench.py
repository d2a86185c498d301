"""Benchmark (by hand, not in the suite): a province-scale run vs one hand-written SQL query.

    .venv/bin/python bench/scoring_bench.py [--units 3000] [--indicators 40] [--repeat 3] [--server postgresql://postgres@127.0.0.1:5432/postgres]

3,000 units, 40 indicators, 12 months (366 days of 2024) of daily measures. It creates a throwaway
database, builds every service's tables by the migrations, and fills ingest's REAL measures table
``ingest.daily_measure`` (one wide row per (unit, day), one double-precision column per catalog
measure; 20 of them get deterministic pseudo-random values, the rest keep their default 0) and
ingest's unit directory. The run fetches its measures through ingest's REAL ``POST /measures/query``
endpoint (the ingest FastAPI app in-process over ASGI: authentication, scope check, SQL, and the
compact columnar answer scoring asks for — contracts §4), and
the scheme document from a stand-in of the indicators service. It then times, side by side:

* the run: scoring's real code — ``runs.start_run`` / ``runs.queue_recompute``, then the worker's job
  (fetch from ingest, engine, digest, storing every unit's result and revision), committed;
* one hand-written SQL query computing the same 40 indicator values per unit straight from
  ``ingest.daily_measure`` (sums over the year, one ``GROUP BY``),

and prints both, the ratio (target ≤ 3×) and the worker's own fetch / compute / store split. The
database is dropped at the end.

Where it reaches inside the services, and why:

- Setup writes ingest's unit table, a year of wide ``ingest.daily_measure`` rows (1.1 million at 3,000 units) and
  the coverage of the batches that would have brought them (one per record kind, declared for the province and the
  year) with SQL: making those measures through ``POST /batches`` would mean generating and ingesting many millions of
  raw records first — a benchmark of ingest, not of scoring.
- The timed run calls scoring's own code (``runs.start_run`` / ``runs.queue_recompute``, then
  ``worker.process_next``) rather than ``startRun`` over GraphQL: the worker is a job queue polled from the
  database, so a run started through the API would be timed with the poll interval and the client's status
  polling added, neither of which is the run's cost. What the run asks of other services does go through their
  API: ingest's real ``POST /measures/query`` (its app in-process over ASGI), and a stand-in answering the
  indicators service's scheme-document call (contracts §5).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
import uuid

import asyncpg
import httpx

from hotline.cli.database import DEFAULT_SERVER_URL, create_database, drop_database
from hotline.cli.stack import migrate_all
from hotline.kit.auth import Principal, Role
from hotline.kit.db import Database
from hotline.kit.scope import Scope
from hotline.kit.services import ServiceClients
from hotline.kit.settings import Settings
from services.ingest.aggregation import quote
from services.ingest.app import create_app as create_ingest
from services.ingest.records import KINDS
from services.ingest.rules import rule_for
from services.scoring import runs, worker
from services.scoring.inputs import evaluate
from services.scoring.models import EvaluationRun, RunRevision

MEASURES = [
    "calls.offered", "calls.answered", "calls.answered_within_20s", "calls.abandoned", "calls.answer_wait_seconds",
    "calls.handle_seconds", "calls.complaints", "calls.repeat", "orders.received", "orders.closed",
    "orders.closed_on_time", "orders.closed_first_time", "orders.returned_for_redo", "orders.dispatched",
    "orders.dispatched_on_time", "surveys.rated", "surveys.satisfied", "callbacks.required", "callbacks.done",
    "inspections.sampled",
]  # fmt: skip
COLUMNS = [quote(m) for m in MEASURES]  # ingest.daily_measure's columns are named by measure code
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
    """The unit directory (ingest's and scoring's copy) and a year of daily measures in ingest's table."""
    await conn.execute(
        """INSERT INTO ingest.unit (id, parent_id, path, depth, kind, name_zh, name_en, active, valid_from)
           VALUES ('B', NULL, 'B', 0, 'province_body', '基准省', 'Bench', true, '2020-01-01')"""
    )
    await conn.execute(
        f"""INSERT INTO ingest.unit (id, parent_id, path, depth, kind, name_zh, name_en, active, valid_from)
            SELECT 'U' || lpad(u::text, 5, '0'), 'B', 'B/U' || lpad(u::text, 5, '0'), 1, 'undertaking_unit',
                   '单位' || u, 'Unit ' || u, true, '2020-01-01' FROM generate_series(1, {units}) u"""
    )
    # Deterministic pseudo-random daily values; denominators never below numerators.
    exprs = ", ".join(f"(abs(hashtext(u::text || '-{i}-' || d::text)) % 50 + 50)" for i in range(len(COLUMNS)))
    await conn.execute(
        f"""INSERT INTO ingest.daily_measure (unit_id, day, {", ".join(COLUMNS)})
            SELECT 'U' || lpad(u::text, 5, '0'), d::date, {exprs}
            FROM generate_series(1, {units}) u, generate_series('2024-01-01'::date, '2024-12-31'::date, '1 day') d"""
    )
    await conn.execute("VACUUM ANALYZE ingest.daily_measure")
    # What those measures' sources cover (contracts §4): without it every value would be an absent measure, not a
    # figure. One batch per record kind, declared for the bench province (so every unit below it) over 2024, with
    # every field of its kind — what a source sending those records for the whole year would have declared.
    for kind in sorted({rule_for(m).kind for m in MEASURES}):
        batch_id = await conn.fetchval(
            """INSERT INTO ingest.batch (kind, source, status, submitted_by, submitter_unit_id, period_from, period_to)
               VALUES ($1, 'bench', 'done', 'bench', 'B', '2024-01-01', '2024-12-31') RETURNING id""",
            kind,
        )
        await conn.execute(
            """INSERT INTO ingest.batch_coverage (batch_id, kind, first_day, last_day, days_declared, units_declared,
                                                  fields)
               VALUES ($1, $2, '2024-01-01', '2024-12-31', true, true, $3)""",
            batch_id, kind, sorted(KINDS[kind].field_names),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO ingest.batch_coverage_unit (batch_id, unit_id, role) VALUES ($1, 'B', 'declared')", batch_id
        )
    await conn.execute(
        """INSERT INTO scoring.unit_ref (id, parent_id, path, kind, name_zh, name_en, active, valid_from)
           SELECT id, parent_id, path, kind, name_zh, name_en, active, valid_from FROM ingest.unit"""
    )


def schemes_stand_in(document: dict):
    """A stand-in of the indicators service: it serves the benchmark's scheme document."""

    async def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path.startswith("/schemes/"), request.url.path
        return httpx.Response(200, json=document)

    return httpx.MockTransport(handle)


def hand_written_sql(indicators: int) -> str:
    exprs = []
    for i in range(indicators):
        num, den = PAIRS[i % len(PAIRS)]
        exprs.append(f"sum({COLUMNS[num]})::float8 / nullif(sum({COLUMNS[den]}), 0) * 100 AS ind_{i:02d}")
    return (
        f"SELECT unit_id, {', '.join(exprs)} FROM ingest.daily_measure "
        "WHERE day BETWEEN '2024-01-01' AND '2024-12-31' GROUP BY unit_id ORDER BY unit_id"
    )


class _Phases(logging.Handler):
    """Collects the worker's own split of each job: fetched / computed / stored seconds."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.splits: list[tuple[float, float, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("run %s: %d units fetched"):
            self.splits.append(tuple(record.args[2:5]))


async def main(args) -> None:
    phases = _Phases()
    worker_log = logging.getLogger("hotline.scoring.worker")
    worker_log.addHandler(phases)
    worker_log.setLevel(logging.INFO)
    worker_log.propagate = False
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    url = await create_database(args.server, name)
    try:
        await asyncio.to_thread(migrate_all, url)
        conn = await asyncpg.connect(url)
        t0 = time.perf_counter()
        await load(conn, args.units)
        print(f"loaded {args.units} units × 366 days × {len(COLUMNS)} measures in {time.perf_counter() - t0:.1f} s")
        document = scheme(args.indicators)
        settings = Settings(env="test", database_url=url)
        ingest = create_ingest(settings=settings)
        for quiet in ("httpx", "hotline.app"):  # one line per request otherwise
            logging.getLogger(quiet).setLevel(logging.WARNING)
        async with ingest.router.lifespan_context(ingest):
            services = ServiceClients(
                settings,
                caller="scoring",
                transports={"ingest": httpx.ASGITransport(app=ingest), "indicators": schemes_stand_in(document)},
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
                    inputs, digest = stored.inputs, stored.outcome_sha256
                    status = (await session.get(EvaluationRun, run.id)).status
                assert status == "done", status
                t = time.perf_counter()
                outcome_doc, again = evaluate(document, inputs)
                engine_times.append(time.perf_counter() - t)
                assert again == digest, "the stored digest does not reproduce"
            await services.aclose()
            await database.dispose()
        # Every unit's every indicator value: the run's (rounded to 4 places) against the SQL's.
        by_sql = {r["unit_id"]: dict(r) for r in rows}
        assert len(by_sql) == len(outcome_doc["units"]) == args.units
        for unit in outcome_doc["units"]:
            expected = by_sql[unit["unit"]]
            for i in unit["indicators"]:
                assert abs(i["value"] - round(expected[i["indicator"]], 4)) < 1e-3, ("the run and the SQL disagree", i)
        sql_s, run_s, engine_s = (
            statistics.median(sql_times),
            statistics.median(run_times),
            statistics.median(engine_times),
        )
        fetch_s, compute_s, store_s = (statistics.median(x) for x in zip(*phases.splits, strict=True))
        print(
            "measured: the run fetches through ingest's real POST /measures/query (in-process ASGI app) over the real\n"
            "  ingest.daily_measure; the SQL sums the same table directly; every unit's 40 values were checked equal"
        )
        print(f"units={args.units} indicators={args.indicators} days=366 repeats={args.repeat} (medians)")
        print(f"hand-written SQL query ({args.indicators} indicator values per unit): {sql_s:8.3f} s")
        print(f"scoring run (job queue: fetch + engine + digest + store):  {run_s:8.3f} s")
        print(
            f"  worker's split: fetch {fetch_s:.3f} s, compute+digest {compute_s:.3f} s, store {store_s:.3f} s;"
            f" engine+digest alone, re-run: {engine_s:.3f} s"
        )
        print(f"ratio run / SQL: {run_s / sql_s:.2f}×  (target ≤ 3×)")
        print(f"all runs:  {', '.join(f'{x:.3f}' for x in run_times)} s")
        print(f"all SQL:   {', '.join(f'{x:.3f}' for x in sql_times)} s")
        await conn.close()
    finally:
        await drop_database(args.server, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--indicators", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", default=DEFAULT_SERVER_URL)
    asyncio.run(main(parser.parse_args()))
