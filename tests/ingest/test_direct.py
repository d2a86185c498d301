"""The direct path (``services/ingest/direct.py``, issue 20): a plain file of new keys COPYed once, straight into its
month, stores what the staged path stores.

The same batches go, in the same order, into two databases: one with the direct path, one with the staged path only
(``direct.ENABLED`` off). After every batch both must hold the same raw rows (every column: row numbers, batch ids,
repeat verdicts), the same daily measures (exactly: the values are whole numbers), the same batch records (counts,
quality report, repeat-caller report, coverage, problems) — and the direct path must have been taken where it should
(a plain file of new keys) and left to the staged path where it should not (a key stored already, a key repeated in
the file, a row failing a check, a call to judge by its caller's look-back, a new month).
"""

from __future__ import annotations

import io
import random
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text

from hotline.cli.demo import DEMO_ADMIN
from hotline.kit.db import Database
from services.ingest import batches, direct
from tests.demo_data import load_demo_units
from tests.ingest.records_support import to_csv, work_order

UNITS = ["GZ-T1-A001", "GZ-T1-A002", "GZ-T1", "SZ-T1-A001"]
OUTCOMES = ["answered", "answered", "answered", "abandoned", "ivr_resolved"]
CALL_COLUMNS = ["record_id", "unit_id", "started_at", "direction", "outcome", "queue_seconds", "talk_seconds",
                "answered_at", "transferred"]  # fmt: skip


def _call(i: int, day: int, rng: random.Random, month: int = 2) -> dict:
    """Call ``i`` on ``day`` of ``month`` 2025, every value in plain form (whole numbers, times with seconds)."""
    outcome = OUTCOMES[i % len(OUTCOMES)]
    hour, minute = rng.randrange(8, 20), rng.randrange(50)
    row = {"record_id": f"c{i:05d}", "unit_id": UNITS[i % len(UNITS)],
           "started_at": f"2025-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:00", "direction": "inbound",
           "outcome": outcome, "queue_seconds": str(rng.randrange(0, 90)), "transferred": "false"}  # fmt: skip
    if outcome == "answered":
        row["talk_seconds"] = str(rng.randrange(20, 400))
        row["answered_at"] = f"2025-{month:02d}-{day:02d} {hour:02d}:{minute + 2:02d}:00"
    return row


class Twins:
    """The same batches sent to a database loading with the direct path and to one loading without it."""

    def __init__(self, direct_db: Database, staged_db: Database, monkeypatch) -> None:
        self.dbs = {True: direct_db, False: staged_db}
        self.monkeypatch = monkeypatch

    async def send(self, content: str | bytes, kind: str = "call", source: str = "dt") -> tuple[dict, dict]:
        """Send ``content`` to both; returns (the direct database's report, the staged one's), after checking that
        the reports and the databases' contents agree."""
        body = content.encode() if isinstance(content, str) else content
        reports = {}
        for enabled, db in self.dbs.items():
            self.monkeypatch.setattr(direct, "ENABLED", enabled)
            reports[enabled] = await batches.submit(
                db, DEMO_ADMIN, batches.Submission(kind=kind, source=source, filename=f"{kind}.csv"),
                binary=io.BytesIO(body),
            )  # fmt: skip
        assert "directCopy" not in reports[False]["timingsSeconds"]
        assert _comparable(reports[True]) == _comparable(reports[False])
        await self.check()
        return reports[True], reports[False]

    async def withdraw(self, batch_id: int) -> None:
        answers = [_comparable(await batches.withdraw(db, DEMO_ADMIN, batch_id)) for db in self.dbs.values()]
        assert answers[0] == answers[1]
        await self.check()

    async def check(self) -> None:
        contents = [await _contents(db) for db in self.dbs.values()]
        for table in contents[0]:
            assert contents[0][table] == contents[1][table], table


def _comparable(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("timingsSeconds", "receivedAt", "finishedAt", "withdrawnAt")}


async def _contents(db: Database) -> dict[str, list]:
    tables = {
        "raw_call": "SELECT * FROM ingest.raw_call ORDER BY source, record_id",
        "raw_work_order": "SELECT * FROM ingest.raw_work_order ORDER BY source, record_id",
        "daily_measure": "SELECT * FROM ingest.daily_measure ORDER BY unit_id, day",
        "batch": "SELECT id, kind, status, rows_read, rows_valid, rows_rejected, rows_new, rows_corrected, "
        "rows_duplicate, rows_repeated_in_file, rows_skipped, quality, repeat_callers FROM ingest.batch ORDER BY id",
        "batch_problem": "SELECT * FROM ingest.batch_problem ORDER BY batch_id, row_no, field",
        "batch_coverage": "SELECT * FROM ingest.batch_coverage ORDER BY batch_id",
        "batch_coverage_unit": "SELECT * FROM ingest.batch_coverage_unit ORDER BY batch_id, unit_id, role",
    }
    out = {}
    async with db.session() as session:
        for name, sql in tables.items():
            out[name] = [tuple(row) for row in await session.execute(text(sql))]
    return out


@asynccontextmanager
async def _twins(fresh_database, monkeypatch):
    dbs = []
    for prefix in ("hotline_direct", "hotline_staged"):
        url = await fresh_database(prefix)
        await load_demo_units(url)
        dbs.append(Database.from_url(url))
    try:
        yield Twins(dbs[0], dbs[1], monkeypatch)
    finally:
        for db in dbs:
            await db.dispose()


def _taken(report: dict) -> bool:
    return "directCopy" in report["timingsSeconds"]


async def test_plain_daily_files_go_straight_into_their_month_and_store_what_the_staged_path_stores(
    fresh_database, monkeypatch
):
    rng = random.Random(5)
    async with _twins(fresh_database, monkeypatch) as twins:
        # the month's first file: a month new to the raw table is built by the staged path
        first = [_call(i, 1 + i % 3, rng) for i in range(120)]
        report, _ = await twins.send(to_csv(first, CALL_COLUMNS))
        assert not _taken(report) and report["counts"]["new"] == 120
        # a plain daily file of a new day: COPYed straight into February
        daily = [_call(1000 + i, 4, rng) for i in range(90)]
        report, staged = await twins.send(to_csv(daily, CALL_COLUMNS))
        assert _taken(report) and report["counts"] == staged["counts"] and report["counts"]["new"] == 90
        assert report["repeatCallers"] == {"sourceFlag": 0, "computed": 0, "computedRepeats": 0, "noCallerHash": 90,
                                           "otherCallsChanged": 0}  # fmt: skip
        assert report["coverage"]["firstDay"] == report["coverage"]["lastDay"] == "2025-02-04"
        # more new calls of days already holding calls (a late file; with its own source column, CRLF line ends):
        # each key's rows are read back whole
        late = [{**_call(2000 + i, 2 + i % 3, rng), "source": "dt"} for i in range(40)]
        content = to_csv(late, ["source", *CALL_COLUMNS]).replace("\n", "\r\n")
        report, _ = await twins.send(content)
        assert _taken(report) and report["counts"]["new"] == 40
        # the same rows re-sent in other bytes (another order): all duplicates, by the staged path
        report, _ = await twins.send(to_csv(list(reversed(daily)), CALL_COLUMNS))
        assert not _taken(report) and report["counts"]["duplicate"] == 90
        # the same bytes again: the identical re-send of an intact batch
        report, _ = await twins.send(to_csv(daily, CALL_COLUMNS))
        assert report["counts"]["duplicate"] == 90
        # new keys and corrections in one file: the staged path (the month's key index refuses the COPY)
        mixed = [_call(3000 + i, 5, rng) for i in range(30)]
        mixed += [{**r, "queue_seconds": str(int(r["queue_seconds"]) + 5)} for r in daily[:10]]
        report, _ = await twins.send(to_csv(mixed, CALL_COLUMNS))
        assert not _taken(report) and (report["counts"]["new"], report["counts"]["corrected"]) == (30, 10)
        # a daily file withdrawn: the keys it counted for recomputed alike
        direct_daily = (await twins.send(to_csv([_call(4000 + i, 6, rng) for i in range(50)], CALL_COLUMNS)))[0]
        assert _taken(direct_daily)
        await twins.withdraw(direct_daily["batchId"])


async def test_files_the_direct_path_cannot_vouch_for_take_the_staged_path_with_its_answers(
    fresh_database, monkeypatch
):
    rng = random.Random(9)
    async with _twins(fresh_database, monkeypatch) as twins:
        await twins.send(to_csv([_call(i, 1, rng) for i in range(40)], CALL_COLUMNS))
        rows = [_call(100 + i, 7, rng) for i in range(30)]
        cases = {
            # a key repeated in the file, identically: counted once
            "identical repeat": [*rows, rows[3]],
            # a key repeated with other values: the second rejected, pointing at the first
            "differing repeat": [*rows, {**rows[4], "queue_seconds": "77"}],
            # a unit outside the tree (seen before the COPY): a rejected row with its message
            "unknown unit": [*rows, {**_call(150, 7, rng), "unit_id": "NO-SUCH-UNIT"}],
            # an answer before the call began (seen by the checks after the COPY, which is rolled back)
            "answer before call": [
                *rows,
                {
                    **_call(151, 7, rng),
                    "outcome": "answered",
                    "talk_seconds": "30",
                    "started_at": "2025-02-07 10:00:00",
                    "answered_at": "2025-02-07 09:00:00",
                },
            ],
            # a value not in plain form (a fraction): checked by the staged path
            "not plain": [*rows, {**_call(152, 7, rng), "queue_seconds": "3.5"}],
            # rows of two months: the partition's bounds refuse the COPY
            "two months": [*rows, _call(153, 1, rng, month=3)],
        }
        for case, content_rows in cases.items():
            shifted = [{**r, "record_id": f"{case[:3]}{r['record_id']}"}
                       for r in content_rows]  # fmt: skip
            report, _ = await twins.send(to_csv(shifted, CALL_COLUMNS))
            assert not _taken(report), case
            assert report["status"] == "done", (case, report)
        assert report["counts"]["new"] == 31
        # the identical and differing repeats, the rejected rows: as the staged path reported them (checked above)


async def test_calls_to_judge_by_their_callers_look_back_take_the_staged_path(fresh_database, monkeypatch):
    """A call with a caller hash and no flag of the source's is judged (``repeats``): the staged path does it. A call
    whose source set the flag needs no judging: it may go straight in, its hash and flag stored as sent."""
    rng = random.Random(13)
    columns = [*CALL_COLUMNS, "caller_hash", "repeat_caller"]
    async with _twins(fresh_database, monkeypatch) as twins:
        await twins.send(to_csv([{**_call(i, 1, rng), "caller_hash": f"h{i % 7}"} for i in range(40)], columns))
        hashed = [{**_call(100 + i, 2, rng), "caller_hash": f"h{i % 5}"} for i in range(30)]
        report, _ = await twins.send(to_csv(hashed, columns))
        assert not _taken(report) and report["repeatCallers"]["computed"] == 30
        flagged = [{**_call(200 + i, 3, rng), "caller_hash": f"h{i % 5}", "repeat_caller": "true" if i % 2 else "false"}
                   for i in range(30)]  # fmt: skip
        report, _ = await twins.send(to_csv(flagged, columns))
        assert _taken(report) and report["repeatCallers"]["sourceFlag"] == 30
        # a call to judge further down the file (not on its first line): found as its chunk is read, before its COPY
        later = [{**_call(300 + i, 4, rng), "caller_hash": f"h{i % 5}", "repeat_caller": "" if i == 20 else "true"}
                 for i in range(30)]  # fmt: skip
        report, _ = await twins.send(to_csv(later, columns))
        assert not _taken(report) and report["repeatCallers"]["computed"] == 1


async def test_work_orders_of_a_new_day_go_straight_in_with_both_sides_summed(fresh_database, monkeypatch):
    rng = random.Random(17)

    def order(i: int, day: int) -> dict:
        return work_order(i, day, rng, seconds=True)

    async with _twins(fresh_database, monkeypatch) as twins:
        await twins.send(to_csv([order(i, 1 + i % 4) for i in range(60)]), "work_order")
        report, _ = await twins.send(to_csv([order(100 + i, 6) for i in range(30)]), "work_order")
        assert _taken(report) and report["counts"]["new"] == 30
        # a late file of a day holding orders: each key's rows read back whole, on both sides
        report, _ = await twins.send(to_csv([order(200 + i, 2) for i in range(20)]), "work_order")
        assert _taken(report) and report["counts"]["new"] == 20


@pytest.mark.parametrize("stored_elsewhere", [False, True], ids=["own-month", "key-in-another-month"])
async def test_a_key_range_meeting_another_months_takes_the_staged_path(fresh_database, monkeypatch, stored_elsewhere):
    """A key stored in another month (a call whose correction moves it across months) is not in this month's key
    index: the direct path leaves any file whose key range meets another month's to the staged path, which finds
    it a correction."""
    rng = random.Random(21)
    async with _twins(fresh_database, monkeypatch) as twins:
        january = [{**_call(i, 20, rng, month=1), "record_id": f"a{i:03d}"} for i in range(20)]
        await twins.send(to_csv(january, CALL_COLUMNS))
        await twins.send(to_csv([{**_call(i, 1, rng), "record_id": f"b{i:03d}"} for i in range(20)], CALL_COLUMNS))
        moved = {**january[5], "started_at": "2025-02-03 10:00:00", "answered_at": ""} if stored_elsewhere else None
        new = [{**_call(100 + i, 3, rng), "record_id": f"z{i:03d}"} for i in range(10)]
        report, _ = await twins.send(to_csv([*new, *([moved] if moved else [])], CALL_COLUMNS))
        assert _taken(report) is not stored_elsewhere
        assert (report["counts"]["new"], report["counts"]["corrected"]) == (10, int(stored_elsewhere))
