"""The steady-state path (issue 20) stores the same rows and measures as a recompute from scratch would.

A daily file, corrections and withdrawals re-sum only the (unit, day) keys they touch (``aggregation.recompute``:
per key through the index on (day, unit), or by scanning the touched days) and look keys up only in the months
whose key range meets the file's (``loader.stored_months``, by index probes or by hash). Whichever way each step
takes — both are forced in turn — every daily measure of calls must equal the sums made by independent SQL over
every raw row (the rules' expressions, rolled up the unit tree), and the raw rows must be the latest version of
every key sent: across a month boundary, days out of order, rows of a team as well as of its agents, corrections
(one moving its call to another day, one to another month), identical re-sends and withdrawals.
"""

from __future__ import annotations

import io
import random

import pytest
from sqlalchemy import text

from hotline.cli.demo import DEMO_ADMIN
from hotline.kit.db import Database
from services.ingest import aggregation, batches, increments, loader
from services.ingest.aggregation import quote
from services.ingest.rules import SIDES, rules_by_kind
from tests.demo_data import load_demo_units
from tests.ingest.records_support import to_csv, work_order

# two agents, their team itself, another city's agent (the demo's units; its other agents have no calls)
UNITS = ["GZ-T1-A001", "GZ-T1-A002", "GZ-T1", "SZ-T1-A001"]
OUTCOMES = ["answered", "answered", "answered", "abandoned", "ivr_resolved"]


def _call(i: int, day: int, rng: random.Random, month: int = 1) -> dict:
    """Call ``i`` on ``day`` of ``month`` 2025 (January days from 25, February days below 25)."""
    outcome = OUTCOMES[i % len(OUTCOMES)]
    row = {"record_id": f"k{i:04d}", "unit_id": UNITS[i % len(UNITS)],
           "started_at": f"2025-{month:02d}-{day:02d} {rng.randrange(8, 20):02d}:{rng.randrange(60):02d}:00",
           "direction": "inbound", "outcome": outcome, "queue_seconds": str(rng.randrange(0, 90))}  # fmt: skip
    if outcome == "answered":
        row["talk_seconds"] = str(rng.randrange(20, 400) + (0.5 if i % 7 == 0 else 0))
    return row


async def _expected_measures(session, digits: int | None = 6) -> dict:
    """Every (unit, day) of calls summed by independent SQL over every raw row, rolled up the unit tree (``digits``:
    rounded to so many; ``None``: the exact doubles)."""
    out: dict = {}
    for side, rules in rules_by_kind()["call"].items():
        columns = [quote(r.measure) for r in rules]
        sums = ", ".join(f"sum({r.expression})::double precision AS {quote(r.measure)}" for r in rules)
        rolled = ", ".join(f"sum(p.{c})" for c in columns)
        rows = await session.execute(
            text(
                f"""WITH p AS (SELECT {SIDES[side]} AS unit_id, r.day, {sums} FROM ingest.raw_call r GROUP BY 1, 2)
                    SELECT a.unit_id, p.day, {rolled} FROM p JOIN ingest.unit u ON u.id = p.unit_id
                    CROSS JOIN LATERAL unnest(string_to_array(u.path, '/')) AS a(unit_id) GROUP BY 1, 2"""
            )
        )
        for unit, day, *values in rows:
            out[(unit, day)] = tuple(v if digits is None else round(v, digits) for v in values)
    return {key: v for key, v in out.items() if any(v)}


async def _stored_measures(session, digits: int | None = 6) -> dict:
    columns = ", ".join(quote(r.measure) for r in rules_by_kind()["call"]["unit"])
    rows = await session.execute(text(f"SELECT unit_id, day, {columns} FROM ingest.daily_measure"))
    out = {(unit, day): tuple(v if digits is None else round(v, digits) for v in values) for unit, day, *values in rows}
    return {key: v for key, v in out.items() if any(v)}


async def _check(db, latest: dict[str, dict]) -> None:
    async with db.session() as session:
        stored, expected = await _stored_measures(session), await _expected_measures(session)
        raw = await session.execute(
            text("SELECT record_id, unit_id, to_char(started_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'), "
                 "talk_seconds FROM ingest.raw_call")
        )  # fmt: skip
        rows = {r[0]: (r[1], r[2], r[3]) for r in raw}
    assert stored == expected and expected
    want = {
        k: (r["unit_id"], r["started_at"], float(r["talk_seconds"]) if "talk_seconds" in r else None)
        for k, r in latest.items()
    }
    assert rows == want


@pytest.mark.parametrize(
    "per_key_share, probe_share", [(0.0, 0.0), (1e9, 1e9)], ids=["by-day-by-hash", "per-key-probed"]
)
async def test_daily_files_corrections_resends_and_withdrawals_give_the_measures_of_a_full_recompute(
    fresh_database, monkeypatch, per_key_share, probe_share
):
    """Each batch in a transaction of its own (a committed database): ``touched`` holds that batch's keys only."""
    monkeypatch.setattr(aggregation, "PER_KEY_SHARE", per_key_share)
    monkeypatch.setattr(loader, "PROBE_SHARE", probe_share)
    url = await fresh_database("hotline_steady")
    await load_demo_units(url)
    db = Database.from_url(url)
    try:
        await _scenario(db)
    finally:
        await db.dispose()


async def _send(db, rows: list[dict], kind: str = "call") -> dict:
    return await batches.submit(
        db, DEMO_ADMIN, batches.Submission(kind=kind, source="st", filename=f"{kind}.csv"),
        binary=io.BytesIO(to_csv(rows).encode()),
    )  # fmt: skip


async def _scenario(db) -> None:
    rng = random.Random(20)
    latest: dict[str, dict] = {}

    async def load(rows: list[dict], expect: dict) -> dict:
        report = await _send(db, rows)
        assert report["status"] == "done", report
        assert {k: report["counts"][k] for k in expect} == expect, report["counts"]
        latest.update({r["record_id"]: r for r in rows})
        await _check(db, latest)
        return report

    # a backfill across the month boundary, its days out of order: 25 January – 5 February
    days = [(1, d) for d in range(25, 32)] + [(2, d) for d in range(1, 6)]
    first = []
    for i in range(240):
        month, day = rng.choice(days)
        first.append(_call(i, day, rng, month))
    await load(first, {"new": 240})
    # a daily file: a new day of the stored February
    daily_rows = [_call(1000 + i, 6, rng, month=2) for i in range(60)]
    daily = await load(daily_rows, {"new": 60})
    # a late file: more calls of a day stored already (3 February)
    await load([_call(2000 + i, 3, rng, month=2) for i in range(25)], {"new": 25})
    # corrections: values changed; one call moved to another day, one from 31 January to 1 February; one re-sent
    # unchanged
    jan31 = next(r for r in first if r["started_at"].startswith("2025-01-31"))
    other = [r for r in first if r is not jan31 and r["outcome"] == "answered"][:6]
    corrections = [{**r, "talk_seconds": str(float(r["talk_seconds"]) + 11)} for r in other[:4]]
    corrections.append({**other[4], "started_at": "2025-02-04 10:00:00"})
    corrections.append({**jan31, "started_at": "2025-02-01 00:30:00"})
    corrections.append(other[5])
    correcting = await load(corrections, {"corrected": 6, "duplicate": 1, "new": 0})
    # re-sends: the same bytes, and the same rows in other bytes, change nothing
    again = await _send(db, daily_rows)
    assert again["status"] == "done" and again["counts"]["duplicate"] == 60, again
    await _check(db, latest)
    # withdrawals: the daily file's calls leave, then the corrections' (their keys are no longer stored at all)
    for report, rows in ((daily, daily_rows), (correcting, corrections)):
        withdrawn = await batches.withdraw(db, DEMO_ADMIN, report["batchId"])
        assert withdrawn["rowsRemoved"] == len(rows) - (report is correcting), withdrawn
        for r in rows:
            if r is not other[5] or report is not correcting:
                latest.pop(r["record_id"], None)
        await _check(db, latest)


async def test_corrections_of_whole_numbers_take_the_agents_increments_and_equal_a_recompute_exactly(
    fresh_database, monkeypatch
):
    """Corrections among whole-number calls: the agents' keys take their stored sums minus the replaced rows
    (``increments``), the team's key is read from its rows, and every daily measure equals the sums of every raw row
    exactly (not rounded). A fractional value makes its key read from its rows again, and the sums still agree."""
    taken: list[int] = []
    original = aggregation.sum_stored

    async def recording(connection, kind, increments_exact=False):
        taken.append(await original(connection, kind, increments_exact))
        return taken[-1]

    monkeypatch.setattr(aggregation, "sum_stored", recording)
    url = await fresh_database("hotline_increments")
    await load_demo_units(url)
    db = Database.from_url(url)
    try:
        rng = random.Random(7)
        calls = [_call(i, 1 + i % 5, rng, month=2) for i in range(200)]
        for row in calls:  # whole seconds only
            if "talk_seconds" in row:
                row["talk_seconds"] = str(int(float(row["talk_seconds"])))
        assert (await _send(db, calls))["counts"]["new"] == 200
        answered = [r for r in calls if r["outcome"] == "answered"]
        corrections = [{**r, "talk_seconds": str(int(r["talk_seconds"]) + 7)} for r in answered[:30]]
        corrections.append({**answered[30], "started_at": "2025-02-05 09:00:00"})  # to another day
        taken.clear()
        report = await _send(db, corrections)
        assert report["counts"]["corrected"] == 31, report["counts"]
        agents = {r["unit_id"] for r in corrections if r["unit_id"] != "GZ-T1"}
        assert taken and taken[0] >= len(agents), taken
        async with db.session() as session:
            assert await _stored_measures(session, None) == await _expected_measures(session, None)
        # a fractional value: its key is read from its rows from now on, the sums agree (to the last bits)
        half = {**answered[0], "talk_seconds": "12.5"}
        assert (await _send(db, [half]))["counts"]["corrected"] == 1
        taken.clear()
        again = {**answered[0], "talk_seconds": "13"}
        assert (await _send(db, [again]))["counts"]["corrected"] == 1
        assert taken == [0], taken  # the key's stored value was fractional: not incremented
        async with db.session() as session:
            assert await _stored_measures(session) == await _expected_measures(session)
    finally:
        await db.dispose()


async def _measures_of_both_sides(session, kind: str) -> tuple[dict, dict]:
    """(stored, expected) daily values of every side of ``kind``: as stored, and summed by independent SQL over every
    raw row rolled up the unit tree (rounded to 6 digits: hours between times are fractional)."""
    stored: dict = {}
    expected: dict = {}
    for side, rules in rules_by_kind()[kind].items():
        columns = [quote(r.measure) for r in rules]
        sums = ", ".join(f"sum({r.expression})::double precision AS {quote(r.measure)}" for r in rules)
        rolled = ", ".join(f"sum(p.{c})" for c in columns)
        rows = await session.execute(
            text(
                f"""WITH p AS (SELECT {SIDES[side]} AS unit_id, r.day, {sums} FROM ingest.raw_{kind} r GROUP BY 1, 2)
                    SELECT a.unit_id, p.day, {rolled} FROM p JOIN ingest.unit u ON u.id = p.unit_id
                    CROSS JOIN LATERAL unnest(string_to_array(u.path, '/')) AS a(unit_id) GROUP BY 1, 2"""
            )
        )
        for unit, day, *values in rows:
            expected[(side, unit, day)] = tuple(round(v, 6) for v in values)
        rows = await session.execute(text(f"SELECT unit_id, day, {', '.join(columns)} FROM ingest.daily_measure"))
        for unit, day, *values in rows:
            stored[(side, unit, day)] = tuple(round(v, 6) for v in values)
    return {k: v for k, v in stored.items() if any(v)}, {k: v for k, v in expected.items() if any(v)}


async def test_work_orders_daily_file_and_corrections_give_both_sides_of_a_full_recompute(fresh_database):
    """Work orders count for two sides (the receiving unit, the handling unit): a backfill, a daily file, corrections
    that move an order to another handling unit and another day — the batch's own rows summed from its stage, the
    keys' stored rows before the insert — give every daily value of both sides as sums over every raw row."""
    url = await fresh_database("hotline_steady_orders")
    await load_demo_units(url)
    db = Database.from_url(url)
    try:
        rng = random.Random(11)

        def order(i: int, day: int) -> dict:
            return work_order(i, day, rng)

        first = [order(i, 1 + i % 4) for i in range(80)]
        assert (await _send(db, first, "work_order"))["counts"]["new"] == 80
        assert (await _send(db, [order(100 + i, 6) for i in range(30)], "work_order"))["counts"]["new"] == 30
        corrections = [{**first[i], "handling_unit_id": "GZ-T1-A001"} for i in range(0, 12)]
        moved = {"received_at": "2025-02-07 10:00", "dispatched_at": "2025-02-07 11:00",
                 "closed_at": "2025-02-08 09:00", "due_at": "2025-02-09 09:00"}  # fmt: skip
        corrections += [{**first[i], **moved} for i in range(12, 16)]
        assert (await _send(db, corrections, "work_order"))["counts"]["corrected"] == 16
        async with db.session() as session:
            stored, expected = await _measures_of_both_sides(session, "work_order")
        assert stored == expected and {side for side, _, _ in expected} == {"unit", "handling"}
    finally:
        await db.dispose()


async def test_kept_sums_read_each_keys_daily_row_by_its_primary_key_whatever_the_statistics(db):
    """The increments' kept sums (``increments.kept_sums_sql``) read each incremented key's daily row through the
    primary key. Their key table is made just before, without statistics (1,270 rows assumed): planned on those, the
    join hashed the whole daily table (here 24,000 rows, as in the steady-state benchmark's month; a province-year's
    1.1 M) for a correction of a few hundred keys."""
    async with db.session() as session:
        apg = await batches._driver(session)
        await apg.execute(
            "INSERT INTO ingest.daily_measure (unit_id, day) SELECT 'U' || u, DATE '2025-01-01' + d "
            "FROM generate_series(1, 1000) u, generate_series(0, 23) d"
        )
        await apg.execute("ANALYZE ingest.daily_measure")
        await apg.execute(
            f"CREATE TEMP TABLE {increments.INCREMENTED} ON COMMIT DROP AS "
            "SELECT 'U' || u AS unit_id, DATE '2025-01-05' AS day FROM generate_series(1, 400) u"
        )
        for statement in increments.replaced_ddl("call"):
            await apg.execute(statement)
        sql = increments.kept_sums_sql("call", "unit", "kept_plan")
        plan = "\n".join(r[0] for r in await apg.fetch("EXPLAIN " + sql))
    assert "pk_daily_measure" in plan and "Seq Scan on daily_measure" not in plan, plan
