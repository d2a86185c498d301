"""Repeat callers computed from hashed callers (7-day look-back, contracts §7): across batches, across a month
boundary, out of order, beside the source's own flag, under corrections, withdrawals and re-sends; on the real
bank call log, against a count made here in plain Python."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from hotline.cli.demo import DEMO_ADMIN
from hotline.kit.db import Database
from services.ingest import newmonth
from services.ingest.batches import Submission, submit
from tests.demo_data import load_demo_units
from tests.ingest.records_support import ADMIN, measures, register_tree, send, to_csv
from tests.ingest.test_mapping_files import BANK, DEMO, _rows, _shipped, register_demo_tree, save_mapping
from tests.support import data_of, gql

COLUMNS = ["record_id", "unit_id", "started_at", "direction", "outcome", "caller_hash", "repeat_caller"]


def call(record_id: str, caller: str | None, at: str, unit: str = "GZ-T1-A001", outcome: str = "answered", **extra):
    return {"record_id": record_id, "unit_id": unit, "started_at": at, "direction": "inbound", "outcome": outcome,
            "caller_hash": caller or "", **extra}  # fmt: skip


async def load(client, rows: list[dict], **params) -> dict:
    response = await send(client, "call", to_csv(rows, columns=COLUMNS), **params)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "done", report
    return report


async def verdicts(db) -> dict[str, bool | None]:
    """Every stored call's flag as ``calls.repeat`` reads it (the source's, else ingest's)."""
    async with db.session() as session:
        rows = await session.execute(
            text("SELECT record_id, coalesce(repeat_caller, repeat_lookback) FROM ingest.raw_call")
        )
        return dict(rows.all())


async def repeats_by_day(client, unit: str, start: str, end: str) -> dict[str, float]:
    answer = await measures(client, [unit], ["calls.repeat"], start, end, by="day")
    return {day: values[0] for _, day, values in answer["rows"] if values[0]}


async def test_a_caller_calling_the_same_body_again_within_7_days_is_a_repeat_across_batches(ingest, db):
    await register_tree(ingest)
    first = await load(ingest, [call("a1", "h1", "2025-01-10 09:00:00"), call("b1", "h2", "2025-01-02 09:00:00")])
    assert first["repeatCallers"] == {"sourceFlag": 0, "computed": 2, "computedRepeats": 0, "noCallerHash": 0,
                                      "otherCallsChanged": 0}  # fmt: skip
    second = await load(ingest, [
        call("a2", "h1", "2025-01-15 09:00:00"),  # 5 days after a1 (an earlier batch)
        call("a3", "h1", "2025-01-20 09:00:00"),  # 10 days after a1, 5 after a2
        call("b2", "h2", "2025-01-12 09:00:00"),  # 10 days after b1: not within 7
        call("c1", None, "2025-01-12 10:00:00"),  # no caller hash: not available
    ])  # fmt: skip
    assert second["repeatCallers"] == {"sourceFlag": 0, "computed": 3, "computedRepeats": 2, "noCallerHash": 1,
                                       "otherCallsChanged": 0}  # fmt: skip
    assert await verdicts(db) == {"a1": False, "a2": True, "a3": True, "b1": False, "b2": False, "c1": None}
    assert await repeats_by_day(ingest, "GZ-T1-A001", "2025-01-01", "2025-01-31") == {"2025-01-15": 1, "2025-01-20": 1}
    total = await measures(ingest, ["GD-GZ", "GD"], ["calls.repeat", "calls.answered"])
    assert [row[2] for row in total["rows"]] == [[2, 6], [2, 6]]  # rolled up to the city and the province


async def test_the_look_back_reaches_into_the_previous_month_168_hours_to_the_second(ingest, db):
    await register_tree(ingest)
    await load(ingest, [call("feb-a", "h1", "2025-02-26 10:00:00"), call("feb-b", "h2", "2025-02-26 10:00:00"),
                        call("feb-c", "h3", "2025-02-28 23:59:59")])  # fmt: skip
    await load(ingest, [
        call("mar-a", "h1", "2025-03-05 10:00:00"),  # exactly 168 h after: a repeat
        call("mar-b", "h2", "2025-03-05 10:00:01"),  # one second more: not
        call("mar-c", "h3", "2025-03-02 08:00:00"),  # two days into March, looking back into February
        call("mar-d", "h4", "2025-03-03 08:00:00"),  # two calls at the same instant: neither is before the other
        call("mar-e", "h4", "2025-03-03 08:00:00", unit="GZ-T1-A002"),
    ])  # fmt: skip
    got = await verdicts(db)
    assert (got["mar-a"], got["mar-b"], got["mar-c"], got["mar-d"], got["mar-e"]) == (True, False, True, False, False)
    assert await repeats_by_day(ingest, "GD-GZ", "2025-02-01", "2025-03-31") == {"2025-03-02": 1, "2025-03-05": 1}


async def test_a_later_batch_bringing_an_earlier_call_moves_the_stored_calls_after_it(ingest, db):
    """Out of order: the calls whose 7-day window a batch touches are judged again, with their (unit, day)
    measures — here across a month boundary too."""
    await register_tree(ingest)
    await load(ingest, [call("m5", "h1", "2025-03-05 09:00:00"), call("m2", "h2", "2025-03-02 09:00:00"),
                        call("m20", "h1", "2025-03-20 09:00:00")])  # fmt: skip
    assert await repeats_by_day(ingest, "GD-GZ", "2025-02-01", "2025-03-31") == {}
    late = await load(ingest, [call("m1", "h1", "2025-03-01 09:00:00"), call("f27", "h2", "2025-02-27 09:00:00")])
    assert late["repeatCallers"]["otherCallsChanged"] == 2 and late["repeatCallers"]["computedRepeats"] == 0
    got = await verdicts(db)
    assert (got["m5"], got["m2"], got["m20"], got["m1"], got["f27"]) == (True, True, False, False, False)
    assert await repeats_by_day(ingest, "GD-GZ", "2025-02-01", "2025-03-31") == {"2025-03-02": 1, "2025-03-05": 1}


async def test_the_sources_own_flag_is_used_as_given_and_still_counts_as_an_earlier_call(ingest, db):
    await register_tree(ingest)
    report = await load(ingest, [
        call("s1", "h1", "2025-01-10 09:00:00", repeat_caller="true"),  # nobody called before: the source says so
        call("s2", "h1", "2025-01-11 09:00:00", repeat_caller="false"),  # the source's no beats the look-back
        call("s3", "h1", "2025-01-12 09:00:00"),  # judged: s1 and s2 are earlier calls
        call("s4", None, "2025-01-13 09:00:00", repeat_caller="true"),
    ])  # fmt: skip
    assert report["repeatCallers"] == {"sourceFlag": 3, "computed": 1, "computedRepeats": 1, "noCallerHash": 0,
                                       "otherCallsChanged": 0}  # fmt: skip
    assert await verdicts(db) == {"s1": True, "s2": False, "s3": True, "s4": True}
    async with db.session() as session:  # ingest judged only the call the source left unflagged
        judged = await session.execute(text("SELECT record_id FROM ingest.raw_call WHERE repeat_lookback IS NOT NULL"))
        assert [r[0] for r in judged] == ["s3"]
    total = await measures(ingest, ["GZ-T1-A001"], ["calls.repeat"])
    assert total["rows"][0][2] == [3]


async def test_only_an_earlier_inbound_call_to_the_same_hotline_body_counts(ingest, db):
    """The same body is the nearest city or province body above the call's unit: two agents, a team and the city
    itself are one body; another city is another. Phantom and outbound calls are no earlier calls."""
    await register_tree(ingest)
    await load(ingest, [
        call("g1", "h1", "2025-01-10 09:00:00", unit="GZ-T1-A001"),
        call("g2", "h1", "2025-01-11 09:00:00", unit="GZ-T1-A002"),  # another agent of Guangzhou: a repeat
        call("g3", "h1", "2025-01-12 09:00:00", unit="GD-GZ", outcome="abandoned"),  # the city body itself
        call("s1", "h1", "2025-01-12 10:00:00", unit="SZ-T1"),  # Shenzhen's first call from h1
        call("p1", "h2", "2025-01-10 09:00:00", outcome="phantom"),
        {**call("o1", "h2", "2025-01-10 10:00:00"), "direction": "outbound"},
        call("p2", "h2", "2025-01-11 09:00:00"),  # only a phantom and an outbound call before: no repeat
    ])  # fmt: skip
    got = await verdicts(db)
    assert {k: got[k] for k in ("g2", "g3", "s1", "p2")} == {"g2": True, "g3": True, "s1": False, "p2": False}
    total = await measures(ingest, ["GD-GZ", "GD-SZ", "GD"], ["calls.repeat"])
    assert [row[2] for row in total["rows"]] == [[1], [0], [1]]  # g3 was abandoned: flagged, not an answered repeat


async def test_withdrawing_a_batch_moves_the_verdicts_its_calls_gave_and_a_re_send_restores_them(ingest, db):
    await register_tree(ingest)
    early = await load(ingest, [call("w1", "h1", "2025-01-10 09:00:00")], source="early")
    await load(ingest, [call("w2", "h1", "2025-01-12 09:00:00")], source="late")
    assert await repeats_by_day(ingest, "GZ-T1-A001", "2025-01-01", "2025-01-31") == {"2025-01-12": 1}
    response = await ingest.post(f"/batches/{early['batchId']}/withdraw", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["repeatCallers"]["otherCallsChangedByWithdrawal"] == 1
    assert await verdicts(db) == {"w2": False}
    assert await repeats_by_day(ingest, "GZ-T1-A001", "2025-01-01", "2025-01-31") == {}
    again = await load(ingest, [call("w1", "h1", "2025-01-10 09:00:00")], source="early")
    assert again["repeatCallers"]["otherCallsChanged"] == 1
    assert await repeats_by_day(ingest, "GZ-T1-A001", "2025-01-01", "2025-01-31") == {"2025-01-12": 1}


async def test_a_correction_judges_the_calls_around_both_versions_again(ingest, db):
    await register_tree(ingest)
    await load(ingest, [call("k1", "h1", "2025-01-10 09:00:00"), call("k2", "h1", "2025-01-12 09:00:00"),
                        call("k3", "h9", "2025-01-25 09:00:00")])  # fmt: skip
    assert (await verdicts(db))["k2"] is True
    # k1 was another caller's call, ten days earlier: k2 loses its repeat; k3 gains none (h9 called on 15 Jan, 10
    # days before k3)
    report = await load(ingest, [call("k1", "h9", "2025-01-15 09:00:00")])
    assert report["counts"]["corrected"] == 1 and report["repeatCallers"]["otherCallsChanged"] == 1
    assert await verdicts(db) == {"k1": False, "k2": False, "k3": False}
    # corrected again, three days before k3
    report = await load(ingest, [call("k1", "h9", "2025-01-22 09:00:00")])
    assert report["repeatCallers"]["otherCallsChanged"] == 1
    assert await verdicts(db) == {"k1": False, "k2": False, "k3": True}
    assert await repeats_by_day(ingest, "GZ-T1-A001", "2025-01-01", "2025-01-31") == {"2025-01-25": 1}


async def test_a_re_send_changes_nothing(ingest, db):
    await register_tree(ingest)
    rows = [call(f"r{i}", f"h{i % 3}", f"2025-01-{1 + i:02d} 09:00:00") for i in range(12)]
    await load(ingest, rows)
    before = (await verdicts(db), await measures(ingest, ["GZ-T1-A001"], ["calls.repeat"], by="day"))
    identical = await load(ingest, rows)
    reread = await load(ingest, list(reversed(rows)))  # other bytes: read and compared in full
    assert identical["counts"]["duplicate"] == reread["counts"]["duplicate"] == 12
    assert reread["repeatCallers"] == {"sourceFlag": 0, "computed": 0, "computedRepeats": 0, "noCallerHash": 0,
                                       "otherCallsChanged": 0}  # fmt: skip
    assert (await verdicts(db), await measures(ingest, ["GZ-T1-A001"], ["calls.repeat"], by="day")) == before
    assert sum(before[0].values()) == 9  # every call after each caller's first (3 days apart): a repeat


# --- the real bank call log --------------------------------------------------------------------------------------

BODY_OF_AGENT_PREFIX = {"GZ": "GD-GZ", "SZ": "GD-SZ", "FS": "GD-FS", "DG": "GD-DG"}


def bank_expected() -> tuple[dict[str, int], list[dict]]:
    """Per city body: the answered calls whose customer had called the same city's agents (or the team calls no
    agent took, which the mapping gives Guangzhou's team 1) in the 168 hours before — counted over the log's
    stored calls (phantom calls are no calls; the one call with a negative IVR time is rejected)."""
    mapping = _shipped("technion-bank-calls")["fields"]["unit_id"]["map"]
    zone = ZoneInfo("Asia/Jerusalem")
    calls = []
    for r in _rows(BANK, "\t"):
        if int(r["vru_time"]) < 0:
            continue
        unit = mapping.get(r["server"], "GZ-T1")
        calls.append({
            "customer": r["customer_id"], "body": BODY_OF_AGENT_PREFIX[unit[:2]],
            "at": datetime.strptime(r["date"] + " " + r["vru_entry"], "%y%m%d %H:%M:%S").replace(tzinfo=zone),
            "counts": r["outcome"] != "PHANTOM", "answered": r["outcome"] == "AGENT",
        })  # fmt: skip
    by_caller = defaultdict(list)
    for c in calls:
        if c["customer"] != "0":  # 0: an unidentified caller
            by_caller[(c["customer"], c["body"])].append(c)
    repeats: dict[str, int] = defaultdict(int)
    for group in by_caller.values():
        for c in group:
            earlier = [e for e in group if e["counts"] and c["at"] - timedelta(hours=168) <= e["at"] < c["at"]]
            if c["answered"] and earlier:
                repeats[c["body"]] += 1
    return dict(repeats), calls


async def _send_bank(client, content: bytes, filename: str) -> dict:
    response = await send(client, "call", content, source="technion-anonymous-bank", filename=filename,
                          mapping="technion-bank-calls")  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


async def test_repeat_calls_of_the_real_bank_log_equal_a_count_made_from_the_file(ingest):
    """Every 8th call of the bank's February 1999 (``customer_id`` is the caller): one batch, then the same calls
    in two batches sent in reverse order (the second half first) into another database state — both give the
    repeats counted here in plain Python, per city."""
    await register_demo_tree(ingest)
    await save_mapping(ingest, "technion-bank-calls", _shipped("technion-bank-calls"))
    expected, calls = bank_expected()
    # the log repeats callers, and not every answered call is a repeat: the test is not about zeros or ones
    assert 100 < sum(expected.values()) < sum(c["answered"] for c in calls)
    report = await _send_bank(ingest, DEMO.joinpath("data", BANK).read_bytes(), BANK)
    identified = sum(c["customer"] != "0" for c in calls)
    assert report["repeatCallers"]["computed"] == identified
    assert report["repeatCallers"]["noCallerHash"] == len(calls) - identified
    cities = ["GD-GZ", "GD-SZ", "GD-FS", "GD-DG"]
    got = await measures(ingest, cities, ["calls.repeat"], "1999-02-01", "1999-02-28")
    assert {unit: values[0] for unit, _, values in got["rows"]} == {c: expected.get(c, 0) for c in cities}

    # the same calls again, as two files sent second half first, after withdrawing the first load
    assert (await ingest.post(f"/batches/{report['batchId']}/withdraw", headers=ADMIN)).status_code == 200
    lines = DEMO.joinpath("data", BANK).read_bytes().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    middle = next(i for i, line in enumerate(body) if b"\t990215\t" in line)  # the 15th: mid-month
    await _send_bank(ingest, header + b"".join(body[middle:]), "second-half.tsv")
    earlier = await _send_bank(ingest, header + b"".join(body[:middle]), "first-half.tsv")
    assert earlier["repeatCallers"]["otherCallsChanged"] > 0  # the second half's calls looked back into the first
    got = await measures(ingest, cities, ["calls.repeat"], "1999-02-01", "1999-02-28")
    assert {unit: values[0] for unit, _, values in got["rows"]} == {c: expected.get(c, 0) for c in cities}


async def test_the_batch_report_in_graphql_says_how_the_flags_were_set(ingest):
    await register_tree(ingest)
    report = await load(ingest, [call("q1", "h1", "2025-01-10 09:00:00"), call("q2", "h1", "2025-01-11 09:00:00"),
                                 call("q3", None, "2025-01-11 09:00:00", repeat_caller="false")])  # fmt: skip
    query = """query($id: ID!) { ingestBatch(id: $id) { repeatCallers {
        sourceFlag computed computedRepeats noCallerHash otherCallsChanged otherCallsChangedByWithdrawal } } }"""
    batch = data_of(await gql(ingest, query, {"id": str(report["batchId"])}, headers=ADMIN))["ingestBatch"]
    assert batch["repeatCallers"] == {"sourceFlag": 1, "computed": 2, "computedRepeats": 1, "noCallerHash": 0,
                                      "otherCallsChanged": 0, "otherCallsChangedByWithdrawal": None}  # fmt: skip


# --- a month built whole (two COPY streams, ``newmonth``) ---------------------------------------------------------


@pytest.fixture
async def committed(fresh_database, monkeypatch):
    url = await fresh_database("hotline_repeats_newmonth")
    await load_demo_units(url)
    monkeypatch.setattr(newmonth, "MIN_BYTES", 0)  # small files take the two-stream path
    database = Database.from_url(url)
    yield database
    await database.dispose()


def _plain(rows: list[dict]) -> bytes:
    out = io.StringIO()
    columns = ["source", *COLUMNS]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: r.get(c, "acd" if c == "source" else "") for c in columns} for r in rows)
    return out.getvalue().encode()


async def test_a_month_built_whole_judges_its_calls_and_moves_the_next_months(committed):
    """February sent after March, each month a plain file built whole as its partition: February's calls are
    judged in the scratch table before its sums, and March's stored calls whose look-back reaches into February are
    judged again, their days recomputed from the raw rows."""
    march = [call(f"m{i}", f"h{i % 40}", f"2025-03-{1 + i % 6:02d} {i % 24:02d}:10:00") for i in range(240)]
    february = [call(f"f{i}", f"h{i % 60}", f"2025-02-{22 + i % 7:02d} {i % 24:02d}:20:00") for i in range(300)]
    reports = []
    for rows in (march, february):
        reports.append(await submit(committed, DEMO_ADMIN, Submission(kind="call", source="acd", filename="c.csv"),
                                    binary=io.BytesIO(_plain(rows))))  # fmt: skip
    assert all("parallelCopyAttach" in r["timingsSeconds"] for r in reports), reports

    zone = ZoneInfo("Asia/Shanghai")
    everything = [(r["record_id"], r["caller_hash"], datetime.fromisoformat(r["started_at"]).replace(tzinfo=zone))
                  for r in march + february]  # fmt: skip
    expected = {
        rid: any(c == caller and at - timedelta(hours=168) <= t < at for _, c, t in everything)
        for rid, caller, at in everything
    }
    async with committed.session() as session:
        stored = dict((await session.execute(text("SELECT record_id, repeat_lookback FROM ingest.raw_call"))).all())
        by_day = dict((await session.execute(text(
            "SELECT day, \"calls.repeat\" FROM ingest.daily_measure WHERE unit_id = 'GD-GZ'"))).all())  # fmt: skip
    assert stored == expected
    moved = sum(expected[r["record_id"]] for r in march) - reports[0]["repeatCallers"]["computedRepeats"]
    assert moved > 0 and reports[1]["repeatCallers"]["otherCallsChanged"] == moved
    expected_days: dict = defaultdict(int)
    for rid, _, at in everything:
        expected_days[at.date()] += expected[rid]
    assert {d: v for d, v in by_day.items() if v} == {d: v for d, v in expected_days.items() if v}
    assert reports[1]["repeatCallers"]["computed"] == 300


async def test_the_migration_judges_calls_stored_before_it_as_a_load_does(fresh_database):
    """Calls and orders stored before ``ingest_0009``: taken back to ``ingest_0007`` (no look-back, ``calls.repeat``
    recounted from the sources' flags, no order measures), then upgraded — the verdicts and the daily measures are
    those the load had made."""
    from hotline.cli.stack import SERVICES
    from hotline.kit import migrations

    url = await fresh_database("hotline_repeats_migration")
    await load_demo_units(url)
    calls = [call(f"c{i}", f"h{i % 7}", f"2025-{1 + i % 3:02d}-{1 + (i * 5) % 28:02d} {i % 24:02d}:00:00",
                  unit=("GZ-T1-A001", "SZ-T1-A001", "GZ-T2")[i % 3]) for i in range(120)]  # fmt: skip
    orders = [{"record_id": f"o{i}", "unit_id": "GD-GZ", "received_at": f"2025-01-{1 + i % 28:02d} 09:00",
               "channel": "phone", "handling_unit_id": "GZ-HOUSING", "due_at": "2025-02-01 09:00" if i % 3 else "",
               "closed_at": f"2025-01-{1 + i % 28:02d} 18:00" if i % 2 else "2025-02-05 09:00"} for i in range(40)]  # fmt: skip
    query = ('SELECT unit_id, day, "calls.repeat", "orders.with_due", "orders.closed_late" FROM ingest.daily_measure '
             "ORDER BY 1, 2")  # fmt: skip

    async def state():
        database = Database.from_url(url)
        try:
            async with database.session() as session:
                columns = (await session.execute(text(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ingest' "
                    "AND table_name = 'raw_call' AND column_name = 'repeat_lookback'"))).all()  # fmt: skip
                verdict = "repeat_lookback" if columns else "NULL"
                raw = (await session.execute(text(f"SELECT record_id, {verdict} FROM ingest.raw_call"))).all()
                return dict(raw), [tuple(r) for r in (await session.execute(text(query))).all()]
        finally:
            await database.dispose()

    database = Database.from_url(url)
    try:
        for kind, rows in (("call", calls), ("work_order", orders)):
            sub = Submission(kind=kind, source="acd", filename="rows.csv")
            report = await submit(database, DEMO_ADMIN, sub, binary=io.BytesIO(to_csv(rows).encode()))
            assert report["counts"]["new"] == len(rows), report
    finally:
        await database.dispose()
    loaded = await state()
    assert sum(loaded[0].values()) > 10 and sum(r[2] for r in loaded[1]) > 10 and sum(r[3] for r in loaded[1]) > 10
    ingest_dir = next(s for s in SERVICES if s.name == "ingest").service_dir
    await asyncio.to_thread(migrations.downgrade, ingest_dir, url, "ingest_0007")
    database = Database.from_url(url)
    try:
        async with database.session() as session:
            assert await session.scalar(text('SELECT sum("calls.repeat") FROM ingest.daily_measure')) == 0
    finally:
        await database.dispose()
    await asyncio.to_thread(migrations.upgrade, ingest_dir, url)
    assert await state() == loaded
