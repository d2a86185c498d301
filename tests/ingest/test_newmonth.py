"""A plain file of a month new to the raw table: COPYed in two streams (two connections), attached whole.

These run on a committed database with a pooled engine (the two-stream path needs a second connection);
``newmonth.MIN_BYTES`` is lowered so that small files take it.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re

import asyncpg
import pytest

from hotline.cli.demo import DEMO_ADMIN
from hotline.kit.db import Database
from services.ingest import aggregation, batches, newmonth
from services.ingest.batches import Submission, submit
from tests.demo_data import load_demo_units
from tests.ingest.records_support import to_csv

COLUMNS = ["source", "record_id", "unit_id", "started_at", "direction", "outcome", "queue_seconds", "talk_seconds",
           "answered_at", "transferred", "caller_hash"]  # fmt: skip
UNITS = ["GZ-T1-A001", "GZ-T1-A002", "SZ-T1-A001"]


def _rows(month: str, n: int, prefix: str = "c") -> list[dict]:
    rows = []
    for i in range(n):
        answered = i % 5 != 0
        day = 1 + i % 28
        rows.append(
            {"source": "acd", "record_id": f"{prefix}{i}", "unit_id": UNITS[i % 3],
             "started_at": f"{month}-{day:02d} {i % 24:02d}:{i % 60:02d}:00", "direction": "inbound",
             "outcome": "answered" if answered else "abandoned", "queue_seconds": str(i % 90),
             "talk_seconds": str(30 + i % 500) if answered else "",
             "answered_at": f"{month}-{day:02d} {i % 24:02d}:{i % 60:02d}:30" if answered else "",
             "transferred": "true" if i % 7 == 0 else "false", "caller_hash": f"h{i % 50}"}
        )  # fmt: skip
    return rows


@pytest.fixture
async def database(fresh_database, monkeypatch):
    url = await fresh_database("hotline_newmonth")
    await load_demo_units(url)
    monkeypatch.setattr(newmonth, "MIN_BYTES", 0)
    database = Database.from_url(url)
    yield database
    await database.dispose()


async def _send(database, content: str, source: str = "acd") -> dict:
    return await submit(
        database, DEMO_ADMIN, Submission(kind="call", source=source, filename="calls.csv"),
        binary=io.BytesIO(content.encode()),
    )  # fmt: skip


async def _fetch(database, sql: str, *args):
    async with database.session() as session:
        apg = await batches._driver(session)
        return await apg.fetch(sql, *args)


async def _leftovers(database) -> list[str]:
    rows = await _fetch(database, "SELECT relname FROM pg_class WHERE relname LIKE 'bulk\\_%'")
    return [r[0] for r in rows]


async def _stored(database, source: str) -> list[tuple]:
    rows = await _fetch(
        database,
        "SELECT row_no, record_id, unit_id, started_at, day, outcome, queue_seconds, talk_seconds, answered_at, "
        "transferred, caller_hash FROM ingest.raw_call WHERE source = $1 ORDER BY row_no",
        source,
    )
    return [tuple(r) for r in rows]


async def test_a_new_month_is_copied_in_two_streams_and_stored_as_the_python_path_stores_it(database, monkeypatch):
    spans = []
    stream = newmonth._stream

    async def spy(apg, table, layout, file, span, *rest):
        spans.append((span, apg.get_server_pid()))
        return await stream(apg, table, layout, file, span, *rest)

    monkeypatch.setattr(newmonth, "_stream", spy)
    content = to_csv(_rows("2025-02", 400), columns=COLUMNS)
    report = await _send(database, content)
    assert report["status"] == "done" and "parallelCopyAttach" in report["timingsSeconds"], report
    assert report["counts"] == {"read": 400, "valid": 400, "rejected": 0, "new": 400, "corrected": 0,
                                "duplicate": 0, "repeatedInFile": 0, "skipped": 0}  # fmt: skip
    # two streams over two connections, the halves meeting at a line
    (first, pid_a), (second, pid_b) = sorted(spans)
    assert pid_a != pid_b and first[1] == second[0] and content.encode()[second[0] - 1 : second[0]] == b"\n"
    # row numbers are the file's across both halves (the second half's sequence starts where the first ends)
    stored = await _stored(database, "acd")
    assert [(r[0], r[1]) for r in stored] == [(i + 1, f"c{i}") for i in range(400)]
    # the same rows through the Python path (under another source; its month now exists: rows inserted as usual)
    monkeypatch.setattr(batches, "plain_csv_layout", lambda *a, **k: None)
    python = await _send(database, content.replace("\nacd,", "\npy,"), source="py")
    assert python["counts"]["new"] == 400 and "parallelCopyAttach" not in python["timingsSeconds"]
    assert stored == await _stored(database, "py")
    # the month is a partition like any other: the parent's indexes, no constraint left; no scratch left
    indexes = await _fetch(
        database,
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'ingest.raw_call_2025m02'::regclass",
    )
    assert sorted(re.sub(r"CREATE (UNIQUE )?INDEX \S+ ON \S+", "", r[0]) for r in indexes) == [
        ' USING brin (day, batch_id)', ' USING btree (day, unit_id)',
        ' USING btree (record_id COLLATE "C", source COLLATE "C")',
    ]  # fmt: skip
    constraints = await _fetch(
        database, "SELECT 1 FROM pg_constraint WHERE conrelid = 'ingest.raw_call_2025m02'::regclass"
    )
    assert constraints == [] and await _leftovers(database) == []
    # the measures: both batches counted, per unit and rolled up
    answered = sum(1 for i in range(400) if i % 5 != 0)
    rows = await _fetch(
        database,
        'SELECT unit_id, sum("calls.answered"), sum("calls.offered") FROM ingest.daily_measure '
        "WHERE day BETWEEN '2025-02-01' AND '2025-02-28' AND unit_id IN ('GD', 'GZ-T1-A001') GROUP BY 1",
    )
    by_unit = {r[0]: (r[1], r[2]) for r in rows}
    assert by_unit["GD"][0] == 2 * answered
    assert by_unit["GZ-T1-A001"][0] == 2 * sum(1 for i in range(0, 400, 3) if i % 5 != 0)


async def _on_both_paths(fresh_database, monkeypatch, name: str, load) -> list:
    """``await load(database, fast)`` in two fresh databases, the file taking the two streams (``fast``) in the first
    and the usual bulk path in the second; what each returned."""
    results = []
    for fast in (True, False):
        url = await fresh_database(name)
        await load_demo_units(url)
        monkeypatch.setattr(newmonth, "MIN_BYTES", 0 if fast else 1 << 40)
        database = Database.from_url(url)
        try:
            results.append(await load(database, fast))
        finally:
            await database.dispose()
    return results


async def test_a_new_month_alone_gives_the_measures_the_usual_path_gives(fresh_database, monkeypatch):
    """The same file into two databases, one by two streams and one by the usual bulk path: same daily measures."""

    async def load(database, fast: bool) -> list:
        report = await _send(database, to_csv(_rows("2025-03", 300), columns=COLUMNS))
        assert ("parallelCopyAttach" in report["timingsSeconds"]) is fast
        return [tuple(r) for r in await _fetch(database, "SELECT * FROM ingest.daily_measure ORDER BY unit_id, day")]

    results = await _on_both_paths(fresh_database, monkeypatch, "hotline_newmonth_measures", load)
    assert results[0] == results[1] and len(results[0]) > 50


async def test_calls_without_a_caller_hash_are_not_judged_and_give_the_measures_the_usual_path_gives(
    fresh_database, monkeypatch
):
    """A source that sends no caller hash: the month built whole runs no look-back (nothing to judge), and its rows,
    measures and repeat-caller report are those of the usual path; calls with a hash are judged as before."""
    judged = []
    judge_month = newmonth.repeats.judge_month

    async def spy(*args, **kwargs):
        judged.append(args[1])
        return await judge_month(*args, **kwargs)

    monkeypatch.setattr(newmonth.repeats, "judge_month", spy)

    async def load(database, fast: bool) -> tuple:
        rows = [{**row, "caller_hash": ""} for row in _rows("2025-04", 300)]
        report = await _send(database, to_csv(rows, columns=COLUMNS))
        assert ("parallelCopyAttach" in report["timingsSeconds"]) is fast
        result = (
            [tuple(r) for r in await _fetch(database, "SELECT * FROM ingest.daily_measure ORDER BY unit_id, day")],
            [tuple(r) for r in await _fetch(database, "SELECT record_id, repeat_lookback FROM ingest.raw_call ORDER BY 1")],
            report["repeatCallers"],
        )  # fmt: skip
        assert judged == []
        if fast:  # hashed calls of another month: judged, on both helpers
            hashed = await _send(database, to_csv(_rows("2025-06", 300, "h"), columns=COLUMNS))
            assert "parallelCopyAttach" in hashed["timingsSeconds"] and len(judged) == 2
            assert hashed["repeatCallers"]["computed"] == 300 and hashed["repeatCallers"]["computedRepeats"] > 0
            judged.clear()
        return result

    results = await _on_both_paths(fresh_database, monkeypatch, "hotline_newmonth_unhashed", load)
    assert results[0] == results[1] and len(results[0][0]) > 50
    assert results[0][2]["noCallerHash"] == 300


async def test_a_month_holding_a_few_rows_is_rebuilt_with_the_file(fresh_database, monkeypatch):
    """A month already stored, with fewer rows than the file, is rebuilt whole: its rows copied as they are (their
    batch, row numbers, and the day of their own time zone) with the file's, in place of the old partition. The
    same rows and the same daily measures as the usual path gives, in another database."""
    old = _rows("2025-05", 40, "old")
    utc = [{**_rows("2025-05", 1, "utc")[0], "started_at": "2025-05-10 20:00:00", "answered_at": "2025-05-10 20:00:30"}]
    results = []
    for fast in (True, False):
        url = await fresh_database("hotline_newmonth_stored")
        await load_demo_units(url)
        database = Database.from_url(url)
        try:
            monkeypatch.setattr(newmonth, "MIN_BYTES", 1 << 40)  # the month's first rows: the usual path
            assert (await _send(database, to_csv(old, columns=COLUMNS)))["counts"]["new"] == 40
            utc_report = await submit(
                database, DEMO_ADMIN, Submission(kind="call", source="acd", filename="utc.csv", time_zone="UTC"),
                binary=io.BytesIO(to_csv(utc, columns=COLUMNS).encode()),
            )  # fmt: skip
            assert utc_report["counts"]["new"] == 1
            monkeypatch.setattr(newmonth, "MIN_BYTES", 0 if fast else 1 << 40)
            report = await _send(database, to_csv(_rows("2025-05", 300), columns=COLUMNS))
            assert report["status"] == "done" and report["counts"]["new"] == 300, report
            assert ("parallelCopyAttach" in report["timingsSeconds"]) is fast
            raw = await _fetch(
                database,
                "SELECT record_id, day, batch_id, row_no, started_at, outcome, talk_seconds, repeat_lookback "
                "FROM ingest.raw_call ORDER BY record_id",
            )
            measures = await _fetch(database, "SELECT * FROM ingest.daily_measure ORDER BY unit_id, day")
            # the UTC row keeps its day (10 May; 11 May in the file's zone)
            assert [r["day"].isoformat() for r in raw if r["record_id"] == "utc0"] == ["2025-05-10"]
            assert await _fetch(database, "SELECT count(*) FROM ingest.raw_call_2025m05") == [(341,)]
            # one partition for the month, with the raw table's index and its own key index; no scratch left
            indexes = await _fetch(
                database,
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'ingest.raw_call'::regclass",
            )
            assert [r[0] for r in indexes] == ["raw_call_2025m05"] and await _leftovers(database) == []
            definitions = await _fetch(
                database, "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = 'ingest.raw_call_2025m05'::regclass",
            )  # fmt: skip
            assert sorted(re.sub(r"INDEX \S+ ON \S+", "INDEX ON t", d) for _, d in definitions) == [
                "CREATE INDEX ON t USING brin (day, batch_id)",
                "CREATE INDEX ON t USING btree (day, unit_id)",
                'CREATE UNIQUE INDEX ON t USING btree (record_id COLLATE "C", source COLLATE "C")',
            ]
            assert "ingest.raw_call_2025m05_key" in [name for name, _ in definitions]
            results.append(([tuple(r) for r in raw], [tuple(r) for r in measures]))
        finally:
            await database.dispose()
    assert results[0] == results[1] and len(results[0][0]) == 341


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("outside_scope", {"new": 199, "rejected": 1}),
        ("repeat", {"new": 199, "repeatedInFile": 1}),
        ("two_months", {"new": 200}),
        ("not_plain", {"new": 200}),
        ("stored_key", {"new": 199, "duplicate": 1}),
        ("large_stored_month", {"new": 200}),
    ],
)
async def test_any_other_file_takes_the_usual_path_and_leaves_nothing_behind(database, change, expected):
    rows = _rows("2025-04", 200)
    if change == "outside_scope":
        rows[150]["unit_id"] = "GZ-NOWHERE"
    elif change == "repeat":
        rows[180] = {**rows[10]}
    elif change == "two_months":
        rows[199]["started_at"] = "2025-05-01 00:10:00"
        rows[199]["answered_at"] = "2025-05-01 00:10:30"
    elif change == "not_plain":
        rows[120]["outcome"] = "ANSWERED"  # Python reads it; PostgreSQL's COPY would keep the capitals
    elif change == "stored_key":  # a row of the file stored already (in its month): the usual path counts it
        assert (await _send(database, to_csv(rows[5:6], columns=COLUMNS)))["counts"]["new"] == 1
    elif change == "large_stored_month":  # more than newmonth.STORED_SHARE times the file's rows: added the usual way
        assert (await _send(database, to_csv(_rows("2025-04", 500, "old"), columns=COLUMNS)))["counts"]["new"] == 500
    report = await _send(database, to_csv(rows, columns=COLUMNS))
    assert report["status"] == "done" and "parallelCopyAttach" not in report["timingsSeconds"], report
    assert {k: report["counts"][k] for k in expected} == expected
    assert await _leftovers(database) == []
    stored = await _fetch(database, "SELECT count(*) FROM ingest.raw_call WHERE record_id LIKE 'c%'")
    assert stored[0][0] == report["counts"]["new"] + report["counts"].get("duplicate", 0)


@pytest.mark.parametrize("summed", ["none", "all"])
async def test_a_file_given_back_reports_the_usual_paths_checks_however_far_its_sums_got(database, monkeypatch, summed):
    """A file the two-stream path gives back (here: a key repeated in the file, found by the key index's build while
    the sums are made) reports the consistency checks of the usual path, which reads its stage — not the sums of the
    scratch table, made in part or in full (before: with no part summed yet, the report failed on their empty sums)."""
    if summed == "none":  # the key index failed before any part of the sums was taken
        monkeypatch.setattr(newmonth, "_block_ranges", lambda blocks, parts: [])
    rows = _rows("2025-04", 200)
    rows[180] = {**rows[10]}
    content = to_csv(rows, columns=COLUMNS)
    report = await _send(database, content)
    assert report["status"] == "done" and "parallelCopyAttach" not in report["timingsSeconds"], report
    monkeypatch.setattr(newmonth, "MIN_BYTES", 1 << 40)
    usual = await _send(database, content.replace("\nacd,", "\npy,"), source="py")
    assert report["counts"] == usual["counts"] and report["counts"]["repeatedInFile"] == 1
    assert report["quality"] == usual["quality"]
    checks = report["quality"]["consistency"]["checks"]
    assert checks and all(c["checked"] == 0 and c["failed"] == 0 for c in checks), checks  # counted, not empty sums


async def test_a_failure_after_the_month_was_attached_leaves_nothing(database, monkeypatch):
    async def failing(apg, kind, summed=False, batch_rows=None):
        raise RuntimeError("the aggregation failed")

    monkeypatch.setattr(aggregation, "recompute", failing)
    with pytest.raises(RuntimeError):
        await _send(database, to_csv(_rows("2025-06", 100), columns=COLUMNS))
    assert await _fetch(database, "SELECT to_regclass('ingest.raw_call_2025m06')") == [(None,)]
    assert (await _fetch(database, "SELECT count(*) FROM ingest.raw_call"))[0][0] == 0
    # the second stream's half was committed into the scratch table: the failure's clean-up dropped it
    assert await _leftovers(database) == []
    status = await _fetch(database, "SELECT status FROM ingest.batch ORDER BY id DESC LIMIT 1")
    assert status[0][0] == "failed"


async def test_a_failure_after_a_stored_month_was_rebuilt_leaves_the_month_as_it_was(database, monkeypatch):
    """The old partition is detached and dropped in the load's transaction: a failure after it brings it back
    whole, and the scratch table (the old rows copied into it, committed) is dropped."""
    assert (await _send(database, to_csv(_rows("2025-06", 30, "old"), columns=COLUMNS)))["counts"]["new"] == 30
    before = await _fetch(database, "SELECT * FROM ingest.raw_call ORDER BY record_id")
    measures = await _fetch(database, "SELECT * FROM ingest.daily_measure ORDER BY unit_id, day")

    async def failing(apg, kind, summed=False, batch_rows=None):
        assert summed  # the rebuilt month's sums were made: the new-month path got this far
        raise RuntimeError("the aggregation failed")

    monkeypatch.setattr(aggregation, "recompute", failing)
    with pytest.raises(RuntimeError):
        await _send(database, to_csv(_rows("2025-06", 100), columns=COLUMNS))
    assert await _fetch(database, "SELECT * FROM ingest.raw_call ORDER BY record_id") == before
    assert await _fetch(database, "SELECT * FROM ingest.daily_measure ORDER BY unit_id, day") == measures
    assert await _fetch(database, "SELECT to_regclass('ingest.raw_call_2025m06_key') IS NOT NULL") == [(True,)]
    assert await _leftovers(database) == []
    status = await _fetch(database, "SELECT status FROM ingest.batch ORDER BY id DESC LIMIT 1")
    assert status[0][0] == "failed"


async def test_scratch_tables_of_batches_no_longer_loading_are_dropped(database):
    done = (await _send(database, to_csv(_rows("2025-07", 10), columns=COLUMNS)))["batchId"]
    loading = (await _send(database, to_csv(_rows("2025-08", 10), columns=COLUMNS)))["batchId"]
    gone = 10_000
    async with database.session() as session:
        apg = await batches._driver(session)
        await apg.execute("UPDATE ingest.batch SET status = 'loading' WHERE id = $1", loading)
        for batch in (done, loading, gone):
            await apg.execute(f"CREATE TABLE ingest.bulk_load_call_{batch} (x int)")
            await apg.execute(f"CREATE SEQUENCE ingest.bulk_load_call_{batch}_a")
        await apg.execute(f"DROP TABLE ingest.bulk_load_call_{gone}")  # a sequence left alone
        await newmonth.drop_leftovers(apg)
    assert sorted(await _leftovers(database)) == [f"bulk_load_call_{loading}", f"bulk_load_call_{loading}_a"]


async def test_the_second_connection_is_not_used_inside_a_test_transaction(db):
    assert batches._second_connection(db) is None


async def test_sums_made_in_block_ranges_and_merged_are_the_sums_of_the_whole(database):
    """The helpers sum ranges of the month's blocks and the load merges them (``newmonth.part_select``,
    ``aggregation.merged_sums_sql``): the same sums as one pass over the whole month."""
    assert (await _send(database, to_csv(_rows("2025-09", 3000), columns=COLUMNS)))["counts"]["new"] == 3000
    table, extra = "ingest.raw_call_2025m09", (("rows_summed", "count(*)"),)
    async with database.session() as session:
        apg = await batches._driver(session)
        async with apg.transaction():
            blocks = await apg.fetchval("SELECT pg_relation_size($1::regclass) / 8192", table)
            ranges = newmonth._block_ranges(blocks, 7)
            assert blocks > 7 and len(ranges) == 7 and ranges[0][0] == 0 and ranges[-1][1] is None
            assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
            whole = await apg.fetch(
                aggregation.per_unit_select("call", "unit", f"ONLY {table} r", extra) + "ORDER BY 1, 2"
            )
            await apg.execute(
                f"CREATE TEMP TABLE parts AS {newmonth.part_select('call', 'unit', table, (0, 0), extra)}"
            )
            for span in ranges:
                await apg.execute(f"INSERT INTO parts {newmonth.part_select('call', 'unit', table, span, extra)}")
            assert await apg.fetchval("SELECT count(*) > 2 * 28 FROM parts")  # days summed in several parts
            await apg.execute(aggregation.merged_sums_sql("call", "unit", "parts", extra))
            merged = await apg.fetch(f"SELECT * FROM {aggregation.per_unit_table('unit')} ORDER BY 1, 2")
    assert [tuple(r) for r in merged] == [tuple(r) for r in whole]
    assert sum(r["rows_summed"] for r in merged) == 3000 and len(merged) == 3 * 28


async def test_a_month_holds_a_key_once(database):
    """Each month partition has its own unique key index (migration ingest_0007), however it was made: a second
    version of a stored key is refused by PostgreSQL itself, not only by the loader's merge."""
    await _send(database, to_csv(_rows("2025-10", 50), columns=COLUMNS))  # a month built whole by two streams
    november = (
        "INSERT INTO ingest.raw_call (source, record_id, unit_id, started_at, direction, outcome, day, batch_id, "
        "row_no) VALUES ('acd', 'n1', 'GZ-T1-A001', '2025-11-02 10:00+08', 'inbound', 'answered', '2025-11-02', 1, 1)"
    )
    async with database.session() as session:
        apg = await batches._driver(session)
        await apg.execute("SELECT ingest.ensure_partition('raw_call', '2025-11-01')")  # a month made by the function
        await apg.execute(november)
        for again in ("INSERT INTO ingest.raw_call SELECT * FROM ingest.raw_call WHERE record_id = 'c1'", november):
            with pytest.raises(asyncpg.UniqueViolationError):
                async with apg.transaction():
                    await apg.execute(again)
        # the same record id under another source is another key
        await apg.execute(november.replace("'acd'", "'other'"))
        assert await apg.fetchval("SELECT count(*) FROM ingest.raw_call WHERE record_id IN ('c1', 'n1')") == 3


async def test_a_pool_with_no_connection_to_spare_leaves_the_file_to_the_usual_path(database, monkeypatch):
    """The helper connections are waited for briefly: a pool busy with other loads does not hold this one up."""
    import contextlib

    @contextlib.asynccontextmanager
    async def busy():
        await asyncio.sleep(30)  # no connection to spare
        yield None

    monkeypatch.setattr(batches, "_second_connection", lambda database: busy)
    monkeypatch.setattr(newmonth, "HELPER_WAIT_SECONDS", 0.05)
    report = await _send(database, to_csv(_rows("2025-12", 100), columns=COLUMNS))
    assert report["status"] == "done" and report["counts"]["new"] == 100, report
    assert "parallelCopyAttach" not in report["timingsSeconds"] and await _leftovers(database) == []


async def test_a_file_resent_in_other_bytes_is_not_copied_in_two_streams_again(database, monkeypatch):
    """A file whose first, middle or last key is stored already (a re-send, corrections) goes straight to the usual
    path, without a two-stream attempt its stored keys would end."""
    content = to_csv(_rows("2026-01", 200), columns=COLUMNS)
    assert "parallelCopyAttach" in (await _send(database, content))["timingsSeconds"]
    streams = []
    stream = newmonth._stream

    async def spy(*args):
        streams.append(args[4])
        return await stream(*args)

    monkeypatch.setattr(newmonth, "_stream", spy)
    again = await _send(database, content + "\n")  # not byte-identical: read in full
    assert again["status"] == "done" and again["counts"]["duplicate"] == 200 and again["counts"]["new"] == 0
    assert streams == [] and "parallelCopyAttach" not in again["timingsSeconds"]
    # a file of new keys into the same month (it holds fewer rows than twice the file's) does take it
    more = await _send(database, to_csv(_rows("2026-01", 200, "d"), columns=COLUMNS))
    assert more["counts"]["new"] == 200 and "parallelCopyAttach" in more["timingsSeconds"] and len(streams) == 2
