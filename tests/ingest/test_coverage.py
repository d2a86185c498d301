"""Coverage (contracts §4): what each source covers, so that an absent measure is told from a zero."""

from __future__ import annotations

import io
import json
from datetime import date
from importlib import resources

from services.ingest import coverage
from tests.ingest.records_support import ADMIN, GZ, measures, register_tree, send, to_csv
from tests.support import auth, data_of, gql

A1, A2 = "GZ-T1-A001", "GZ-T1-A002"
CALL_MEASURES = ["calls.answered", "calls.complaints", "calls.handle_seconds", "calls.ring_seconds"]
# the Technion bank's call log in its own layout, loaded with the demo's shipped mapping: it has no complaint, ring or
# transfer column; ANAT is mapped onto GZ-T1-A001, AVIDAN onto GZ-T1-A002, a call nobody took onto the team GZ-T1
BANK_HEADER = ("vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\tq_start\tq_exit\t"
               "q_time\toutcome\tser_start\tser_exit\tser_time\tserver")  # fmt: skip
BANK_ROWS = [
    "AA0101\t34592\t0\t0\tPS\t990201\t18:52:31\t18:52:47\t16\t0:00:00\t0:00:00\t0\tAGENT\t18:52:47\t18:55:35\t168\tANAT",
    "AA0101\t34618\t0\t0\tPS\t990202\t8:50:50\t8:51:00\t10\t8:51:00\t8:51:09\t9\tAGENT\t8:51:09\t8:51:58\t49\tAVIDAN",
    "AA0101\t34626\t0\t0\tPS\t990203\t10:00:09\t10:00:14\t5\t10:00:14\t10:00:30\t16\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER",
]


def _calls(rows: list[tuple[str, str, str]], complaint: bool = True) -> str:
    """Canonical call rows (record id, unit, start) — answered, with a ``complaint`` column (all false) or not."""
    out = []
    for record_id, unit, started in rows:
        row = {"record_id": record_id, "unit_id": unit, "started_at": started, "direction": "inbound",
               "outcome": "answered", "queue_seconds": "5", "talk_seconds": "60"}  # fmt: skip
        out.append({**row, "complaint": "false"} if complaint else row)
    return to_csv(out)


JANUARY = [("c1", A1, "2025-01-02 09:00:00"), ("c2", A1, "2025-01-20 10:00:00")]


async def _save_bank_mapping(ingest) -> None:
    spec = json.loads(resources.files("services.ingest").joinpath("demo/mappings/technion-bank-calls.json").read_text())
    assert (await ingest.put("/mappings/technion-bank-calls", json=spec, headers=ADMIN)).status_code == 200


def test_uncovered_is_computed_per_unit_and_period_from_the_coverage_rows():
    calls = frozenset({"source", "record_id", "unit_id", "started_at", "direction", "outcome", "talk_seconds"})
    rows = [(["U1"], [("call", calls, date(2025, 1, 10), date(2025, 2, 5))])]
    periods = coverage.spans(date(2025, 1, 1), date(2025, 3, 31), "month")
    assert periods == [("2025-01", date(2025, 1, 1), date(2025, 1, 31)), ("2025-02", date(2025, 2, 1), date(2025, 2, 28)),
                       ("2025-03", date(2025, 3, 1), date(2025, 3, 31))]  # fmt: skip
    got = coverage.uncovered(
        ["calls.complaints", "calls.answered", "calls.handle_seconds", "unit.population"],
        {"U1": 100, "U2": None},
        periods,
        rows,
    )
    # handle_seconds needs handle_seconds or talk_seconds: covered; complaints needs `complaint`: never
    assert got["U1"] == {"2025-01": ["calls.complaints"], "2025-02": ["calls.complaints"],
                         "2025-03": ["calls.answered", "calls.complaints", "calls.handle_seconds"]}  # fmt: skip
    # no batch, no population: every measure, every period
    everything = ["calls.answered", "calls.complaints", "calls.handle_seconds", "unit.population"]
    assert got["U2"] == {p: everything for p, _, _ in periods}
    assert coverage.uncovered(["calls.answered"], {"U1": None}, [("total", date(2025, 1, 1), date(2025, 1, 9))],
                              rows) == {"U1": {"total": ["calls.answered"]}}  # fmt: skip
    assert coverage.uncovered(["calls.answered"], {"U1": None}, coverage.spans(date(2025, 2, 5), date(2025, 2, 6),
                              "day"), rows) == {"U1": {"2025-02-06": ["calls.answered"]}}  # fmt: skip


async def test_a_mapped_file_covers_the_measures_its_mapping_supplies_for_the_units_of_its_rows(ingest):
    await register_tree(ingest)
    await _save_bank_mapping(ingest)
    tsv = "\r\n".join([BANK_HEADER, *BANK_ROWS]) + "\r\n"
    report = (await send(ingest, "call", tsv, source="bank", mapping="technion-bank-calls", filename="b.tsv")).json()
    assert report["counts"]["new"] == 3, report
    covered = report["coverage"]
    assert covered["kind"] == "call" and not covered["unitsDeclared"] and not covered["daysDeclared"]
    # the local days of the rows (the mapping's zone, Asia/Jerusalem)
    assert (covered["firstDay"], covered["lastDay"]) == ("1999-02-01", "1999-02-03")
    assert covered["units"] == [{"unit": u, "how": "inferred"} for u in ("GZ-T1", A1, A2)]
    assert {"talk_seconds", "queue_seconds", "caller_hash"} <= set(covered["fields"])
    assert "complaint" not in covered["fields"] and "ring_seconds" not in covered["fields"]
    assert {"calls.complaints", "calls.ring_seconds", "calls.transferred"} <= set(covered["measuresNotCovered"])
    assert "calls.answered" not in covered["measuresNotCovered"]
    units = [A1, A2, "GZ-T1", "GD-GZ", "GD", "SZ-T1"]
    answer = await measures(ingest, units, CALL_MEASURES, "1999-02-01", "1999-02-28")
    # answered and handle time (from talk seconds) are counted; complaints and ring time were never sent
    for unit in units[:5]:
        assert answer["uncovered"][unit] == {"total": ["calls.complaints", "calls.ring_seconds"]}, unit
    assert answer["uncovered"]["SZ-T1"] == {"total": sorted(CALL_MEASURES)}  # no row of the file
    by_unit = {row[0]: row[2] for row in answer["rows"]}
    assert by_unit[A1][0] == 1 and by_unit[A1][1] == 0  # the 0 is still written; `uncovered` tells it is absent


async def test_a_unit_no_batch_covers_has_every_measure_uncovered(ingest):
    await register_tree(ingest)
    await send(ingest, "call", _calls(JANUARY))
    codes = ["calls.answered", "orders.closed", "surveys.rated", "unit.population"]
    answer = await measures(ingest, ["GZ-WATER", "GD-GZ", A1], codes)
    assert answer["uncovered"]["GZ-WATER"] == {"total": sorted(codes)}  # and the directory has no population
    assert answer["uncovered"]["GD-GZ"] == {"total": ["orders.closed", "surveys.rated"]}
    assert answer["uncovered"][A1] == {"total": ["orders.closed", "surveys.rated", "unit.population"]}
    assert answer["rows"][0] == ["GZ-WATER", "total", [0, 0, 0, 0]]


async def test_a_declared_unit_is_covered_with_its_subtree_and_ancestors_a_zero_is_then_a_zero(ingest):
    await register_tree(ingest)
    units = [A1, A2, "GZ-T1", "GD-GZ", "GD", "SZ-T1", "GZ-HOUSING"]
    inferred = (await send(ingest, "call", _calls(JANUARY))).json()
    assert inferred["coverage"]["units"] == [{"unit": A1, "how": "inferred"}]
    before = (await measures(ingest, units, ["calls.complaints"]))["uncovered"]
    assert set(before) == {A2, "SZ-T1", "GZ-HOUSING"}  # A2 sent nothing: its 0 complaints are absent data
    # the same kind of file, declaring it covers the whole team for January: nobody complained, and that is a fact
    declared = await send(ingest, "call", _calls([("c9", A1, "2025-01-05 09:00:00")]), source="team-acd",
                          covers="GZ-T1", period_from="2025-01-01", period_to="2025-01-31")  # fmt: skip
    report = declared.json()
    assert report["coverage"]["units"] == [{"unit": "GZ-T1", "how": "declared"}], report
    assert report["coverage"]["unitsDeclared"] and report["coverage"]["daysDeclared"]
    assert (report["coverage"]["firstDay"], report["coverage"]["lastDay"]) == ("2025-01-01", "2025-01-31")
    answer = await measures(ingest, units, ["calls.complaints", "calls.answered"])
    assert set(answer["uncovered"]) == {"SZ-T1", "GZ-HOUSING"}  # every agent of GZ-T1, the team, its ancestors
    assert {row[0]: row[2] for row in answer["rows"]}[A2] == [0, 0]  # true zeros now
    # the declaration covers January only
    february = await measures(ingest, [A2], ["calls.complaints"], "2025-02-01", "2025-02-28")
    assert february["uncovered"] == {A2: {"total": ["calls.complaints"]}}


async def test_a_parent_is_covered_through_a_childs_rows_but_not_a_sibling(ingest):
    await register_tree(ingest)
    orders = [{"record_id": "w1", "unit_id": "GD-GZ", "received_at": "2025-01-05 09:00", "channel": "phone",
               "handling_unit_id": "GZ-HOUSING", "closed_at": "2025-01-08 09:00"}]  # fmt: skip
    report = (await send(ingest, "work_order", to_csv(orders))).json()
    # both sides of a work order: the receiving body and the handling unit
    assert report["coverage"]["units"] == [{"unit": u, "how": "inferred"} for u in ("GD-GZ", "GZ-HOUSING")]
    answer = await measures(ingest, ["GZ-HOUSING", "GD-GZ", "GD", "GZ-WATER", "GZ-TIANHE"], ["orders.closed"])
    assert answer["uncovered"] == {"GZ-WATER": {"total": ["orders.closed"]}, "GZ-TIANHE": {"total": ["orders.closed"]}}
    calls = (await send(ingest, "call", _calls([("c1", A2, "2025-01-02 09:00:00")]))).json()
    assert calls["coverage"]["units"] == [{"unit": A2, "how": "inferred"}]
    answer = await measures(ingest, [A2, "GZ-T1", "GD-GZ", "GD", A1, "SZ-T1"], ["calls.answered"])
    assert answer["uncovered"] == {A1: {"total": ["calls.answered"]}, "SZ-T1": {"total": ["calls.answered"]}}


async def test_a_batch_covers_its_days_only_and_months_are_answered_one_by_one(ingest):
    await register_tree(ingest)
    await send(ingest, "call", _calls([("f1", A1, "2025-02-03 09:00:00")]), period_from="2025-02-01",
               period_to="2025-02-28")  # fmt: skip
    await send(ingest, "call", _calls([("j1", A1, "2025-01-30 09:00:00")], complaint=False), source="other")
    answer = await measures(ingest, [A1, A2], ["calls.answered", "calls.complaints"], "2024-12-15", "2025-03-10",
                            by="month")  # fmt: skip
    both = ["calls.answered", "calls.complaints"]
    # January: a source without a complaint column, on the 30th only; February: declared whole; March: nothing
    assert answer["uncovered"][A1] == {"2024-12": both, "2025-01": ["calls.complaints"], "2025-03": both}
    assert answer["uncovered"][A2] == {p: both for p in ("2024-12", "2025-01", "2025-02", "2025-03")}
    days = await measures(ingest, [A1], ["calls.answered"], "2025-01-29", "2025-02-01", by="day")
    # the undeclared batch covers the 30th (its rows' first and last day), the declared one February from the 1st
    assert days["uncovered"] == {A1: {"2025-01-29": ["calls.answered"], "2025-01-31": ["calls.answered"]}}
    march = await measures(ingest, [A1], ["calls.answered"], "2025-03-01", "2025-03-31")
    assert march["uncovered"] == {A1: {"total": ["calls.answered"]}}


async def test_withdrawing_a_batch_withdraws_its_coverage(ingest):
    await register_tree(ingest)
    report = (await send(ingest, "call", _calls(JANUARY), covers="GZ-T1")).json()
    assert (await measures(ingest, [A2], ["calls.complaints"]))["uncovered"] == {}
    withdrawn = await ingest.post(f"/batches/{report['batchId']}/withdraw", headers=ADMIN)
    assert withdrawn.json()["coverage"] is None and withdrawn.json()["status"] == "withdrawn"
    answer = await measures(ingest, [A1, A2, "GD"], ["calls.complaints"])
    assert answer["uncovered"] == {u: {"total": ["calls.complaints"]} for u in (A1, A2, "GD")}


async def test_a_declared_unit_outside_the_scope_is_refused_as_an_unknown_one_is(ingest):
    await register_tree(ingest)
    answers = {}
    for unit in ("SZ-T1", "SZ-T9", "GD"):  # another city's team, no unit at all, the caller's own parent
        response = await send(ingest, "call", _calls(JANUARY), headers=GZ, covers=f"GZ-T1,{unit}")
        assert response.status_code == 400, response.text
        answers[unit] = response.json()["error"]
        assert answers[unit]["details"] == {"covers": [unit]}
    assert answers["SZ-T1"]["message"].replace("SZ-T1", "X") == answers["SZ-T9"]["message"].replace("SZ-T9", "X")
    assert answers["GD"]["message"].replace("GD", "X") == answers["SZ-T9"]["message"].replace("SZ-T9", "X")
    assert "not units of your subtree" in answers["SZ-T1"]["message"]
    assert (await ingest.get("/batches", headers=ADMIN)).json() == []  # refused before any batch was made
    empty = await send(ingest, "call", _calls(JANUARY), headers=GZ, covers=" , ")
    assert empty.status_code == 400 and "covers names no unit" in empty.text


async def test_a_city_never_learns_another_citys_coverage(ingest):
    await register_tree(ingest)
    shenzhen = auth("GD-SZ", "organizer")
    rows = _calls([("s1", "SZ-T1", "2025-01-02 09:00:00")])
    assert (await send(ingest, "call", rows, headers=shenzhen, covers="GD-SZ")).status_code == 200
    answer = await measures(ingest, ["GD-SZ", "SZ-T1", "GD", "GD-GZ", A1], ["calls.complaints"], headers=GZ)
    assert answer["missing"] == ["GD-SZ", "SZ-T1", "GD"]
    assert set(answer["uncovered"]) == {"GD-GZ", A1}  # Shenzhen's declaration covers nothing of Guangzhou
    province = await measures(ingest, ["GD", "GD-GZ"], ["calls.complaints"], headers=ADMIN)
    assert province["uncovered"] == {"GD-GZ": {"total": ["calls.complaints"]}}  # GD: through Shenzhen's subtree
    assert (await ingest.get("/batches", headers=GZ)).json() == []


async def test_a_resend_adds_no_coverage_and_a_correction_keeps_the_union(ingest, db):
    await register_tree(ingest)
    content = _calls(JANUARY, complaint=False)
    first = (await send(ingest, "call", content)).json()
    again = (await send(ingest, "call", content)).json()  # byte-identical: recognised by its digest
    assert again["timingsSeconds"] == {"identicalResend": True} and again["coverage"] is None
    reread = (await send(ingest, "call", content + "\n")).json()  # the same rows, read again: all duplicates
    assert reread["counts"]["duplicate"] == 2 and reread["coverage"] is None
    # a correction of c2 (now with a complaint column), moved to A2: both batches' units stay covered
    corrected = _calls([("c2", A2, "2025-01-20 10:00:00")])
    fix = (await send(ingest, "call", corrected)).json()
    assert fix["counts"]["corrected"] == 1 and fix["coverage"]["units"] == [{"unit": A2, "how": "inferred"}]
    answer = await measures(ingest, [A1, A2], ["calls.answered", "calls.complaints"])
    assert answer["uncovered"] == {A1: {"total": ["calls.complaints"]}}
    # withdrawing the first batch: its coverage goes, nothing the re-sends did claims its units
    await ingest.post(f"/batches/{first['batchId']}/withdraw", headers=ADMIN)
    answer = await measures(ingest, [A1, A2], ["calls.answered", "calls.complaints"])
    assert answer["uncovered"] == {A1: {"total": ["calls.answered", "calls.complaints"]}}
    listed = {b["batchId"]: b["coverage"] for b in (await ingest.get("/batches", headers=ADMIN)).json()}
    assert listed[first["batchId"]] is None and listed[fix["batchId"]]["units"] == [{"unit": A2, "how": "inferred"}]


SUBMIT = """mutation ($records: [JSON!]!, $covers: [ID!], $from: Date, $to: Date) {
  submitRecords(kind: "call", source: "api", records: $records, covers: $covers, periodFrom: $from, periodTo: $to) {
    id coverage { kind firstDay lastDay daysDeclared unitsDeclared units { unitId how } fields measuresNotCovered }
  }
}"""


async def test_json_rows_supply_their_keys_and_graphql_declares_and_shows_coverage(ingest):
    await register_tree(ingest)
    base = {"record_id": "g1", "unit_id": A1, "started_at": "2025-01-02 09:00:00", "direction": "inbound",
            "outcome": "answered"}  # fmt: skip
    records = [base, {**base, "record_id": "g2", "complaint": True}]  # one row names `complaint`: the source sends it
    result = await gql(ingest, SUBMIT, {"records": records, "covers": ["GZ-T1"], "from": "2025-01-01",
                                        "to": "2025-01-31"}, headers=GZ)  # fmt: skip
    covered = data_of(result)["submitRecords"]["coverage"]
    assert covered["units"] == [{"unitId": "GZ-T1", "how": "DECLARED"}] and covered["daysDeclared"]
    assert "complaint" in covered["fields"] and "talk_seconds" not in covered["fields"]
    assert "calls.complaints" not in covered["measuresNotCovered"]
    assert "calls.talk_seconds" in covered["measuresNotCovered"]
    answer = await measures(ingest, [A2], ["calls.complaints", "calls.talk_seconds"], headers=GZ)
    assert answer["uncovered"] == {A2: {"total": ["calls.talk_seconds"]}}
    refused = await gql(ingest, SUBMIT, {"records": records, "covers": ["SZ-T1"]}, headers=GZ)
    assert refused["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "not units of your subtree: SZ-T1" in refused["errors"][0]["message"]
    batch = await gql(ingest, "query ($id: ID!) { ingestBatch(id: $id) { coverage { units { unitId } } } }",
                      {"id": data_of(result)["submitRecords"]["id"]}, headers=GZ)  # fmt: skip
    assert data_of(batch)["ingestBatch"]["coverage"]["units"] == [{"unitId": "GZ-T1"}]


def _june_orders(n: int, prefix: str, handling: tuple[str, ...]) -> list[dict]:
    rows = []
    for i in range(n):
        day, hour = 1 + i % 28, i % 22
        rows.append({"source": "wo", "record_id": f"{prefix}{i}", "unit_id": "GD-GZ",
                     "received_at": f"2025-06-{day:02d} {hour:02d}:00:00", "channel": "phone",
                     "handling_unit_id": handling[i % len(handling)],
                     "closed_at": f"2025-06-{day:02d} {hour + 1:02d}:00:00" if i % 2 else ""})  # fmt: skip
    return rows


async def test_the_bulk_and_new_month_paths_record_the_coverage_the_usual_path_records(fresh_database, monkeypatch):
    """The same work orders by the three load paths, each into a database whose June holds a few orders of another
    unit already (the new-month path rebuilds the month with them): the same coverage, of the file's rows only."""
    from hotline.cli.demo import DEMO_ADMIN
    from hotline.kit.db import Database
    from services.ingest import batches, newmonth
    from services.ingest.batches import Submission, submit
    from tests.demo_data import load_demo_units

    columns = ["source", "record_id", "unit_id", "received_at", "channel", "handling_unit_id", "closed_at"]
    earlier = to_csv(_june_orders(5, "e", ("GZ-URBANMGMT",)), columns=columns)
    content = to_csv(_june_orders(300, "w", ("GZ-HOUSING", "GZ-WATER", "")), columns=columns)
    plain_layout = batches.plain_csv_layout
    results = {}
    for path in ("new month", "bulk", "python"):
        url = await fresh_database("hotline_coverage_paths")
        await load_demo_units(url)
        database = Database.from_url(url)
        try:
            monkeypatch.setattr(newmonth, "MIN_BYTES", 1 << 40)
            sub = Submission(kind="work_order", source="wo", filename="orders.csv")
            assert (await submit(database, DEMO_ADMIN, sub, binary=io.BytesIO(earlier.encode())))["counts"]["new"] == 5
            monkeypatch.setattr(newmonth, "MIN_BYTES", 0 if path == "new month" else 1 << 40)
            monkeypatch.setattr(
                batches, "plain_csv_layout", (lambda *a, **k: None) if path == "python" else plain_layout
            )
            sub = Submission(kind="work_order", source="wo", filename="orders.csv", covers=("GZ-HOUSING",))
            report = await submit(database, DEMO_ADMIN, sub, binary=io.BytesIO(content.encode()))
            assert report["counts"]["new"] == 300, report
            assert ("parallelCopyAttach" in report["timingsSeconds"]) is (path == "new month")
            async with database.session() as session:
                apg = await batches._driver(session)
                units = await apg.fetch(
                    "SELECT unit_id, role FROM ingest.batch_coverage_unit WHERE batch_id = $1 ORDER BY 1",
                    report["batchId"],
                )
            results[path] = ({k: v for k, v in report["coverage"].items()}, [tuple(u) for u in units])
        finally:
            await database.dispose()
    assert results["new month"] == results["bulk"] == results["python"]
    covered, units = results["python"]
    assert covered["units"] == [{"unit": "GZ-HOUSING", "how": "declared"}, {"unit": "GD-GZ", "how": "inferred"},
                                {"unit": "GZ-WATER", "how": "inferred"}]  # fmt: skip
    assert (covered["firstDay"], covered["lastDay"]) == ("2025-06-01", "2025-06-28")
    assert set(covered["fields"]) == {*columns, "unit_id"} and "orders.closed" not in covered["measuresNotCovered"]
    # the month's earlier orders are not the batch's: their unit is not covered by it
    assert units == [("GD", "ancestor"), ("GD-GZ", "inferred"), ("GZ-HOUSING", "declared"), ("GZ-WATER", "inferred")]


async def test_the_migration_infers_the_coverage_of_batches_stored_before_it_from_their_rows(fresh_database):
    """Coverage recorded by the loader, dropped by a downgrade to ingest_0007, rebuilt by the upgrade's backfill:
    the same days, units and fields for batches whose every column holds a value; none for a withdrawn batch."""
    import asyncio

    from hotline.cli.demo import DEMO_ADMIN
    from hotline.cli.stack import SERVICES
    from hotline.kit import migrations
    from hotline.kit.db import Database
    from services.ingest import batches
    from services.ingest.batches import Submission, submit
    from tests.demo_data import load_demo_units

    url = await fresh_database("hotline_coverage_backfill")
    await load_demo_units(url)
    orders = [{"record_id": f"w{i}", "unit_id": "GD-GZ", "received_at": f"2025-03-0{i} 09:00", "channel": "phone",
               "handling_unit_id": "GZ-WATER"} for i in (1, 2)]  # fmt: skip
    files = [
        (Submission(kind="call", source="a", filename="c.csv"), _calls(JANUARY)),
        (
            Submission(
                kind="work_order",
                source="b",
                filename="w.csv",
                period_from=date(2025, 3, 1),
                period_to=date(2025, 3, 31),
            ),
            to_csv(orders),
        ),
        (Submission(kind="call", source="c", filename="c.csv"), _calls([("x1", "SZ-T1-A001", "2025-01-03 09:00")])),
    ]
    database = Database.from_url(url)

    async def read() -> tuple[list, list]:
        async with database.session() as session:
            apg = await batches._driver(session)
            covered = await apg.fetch("SELECT * FROM ingest.batch_coverage ORDER BY batch_id")
            units = await apg.fetch("SELECT * FROM ingest.batch_coverage_unit ORDER BY batch_id, unit_id")
        return [tuple(r) for r in covered], [tuple(r) for r in units]

    try:
        ids = [(await submit(database, DEMO_ADMIN, s, binary=io.BytesIO(c.encode())))["batchId"] for s, c in files]
        await batches.withdraw(database, DEMO_ADMIN, ids[2])
        recorded = await read()
        assert [r[0] for r in recorded[0]] == ids[:2] and recorded[0][1][4] is True  # the declared period
        assert ("GZ-WATER", "inferred") in [(u[1], u[2]) for u in recorded[1]]
        ingest = next(s for s in SERVICES if s.name == "ingest")
        await asyncio.to_thread(migrations.downgrade, ingest.service_dir, url, "ingest_0007")
        await asyncio.to_thread(migrations.upgrade, ingest.service_dir, url)
        assert await read() == recorded
    finally:
        await database.dispose()


async def test_an_identical_resend_of_a_declaring_batch_declares_as_its_read_would(ingest):
    await register_tree(ingest)
    declared = {"covers": "GZ-T1", "period_from": "2025-01-01", "period_to": "2025-01-31"}
    first = (await send(ingest, "call", _calls(JANUARY), **declared)).json()
    again = (await send(ingest, "call", _calls(JANUARY), **declared)).json()
    assert again["timingsSeconds"] == {"identicalResend": True} and again["counts"]["duplicate"] == 2
    assert again["coverage"] == first["coverage"] and first["coverage"]["units"] == [
        {"unit": "GZ-T1", "how": "declared"}
    ]
    # the first batch withdrawn (its rows with it), the re-send still declares the team covered for January
    await ingest.post(f"/batches/{first['batchId']}/withdraw", headers=ADMIN)
    answer = await measures(ingest, [A1, A2, "SZ-T1"], ["calls.complaints"])
    assert answer["uncovered"] == {"SZ-T1": {"total": ["calls.complaints"]}}


# a tree of its own (ids no other test uses): R → A, B; A → A1, A2; B → B1; A1 → A1X, A1Y
TREE = {"CVT-R": None, "CVT-A": "CVT-R", "CVT-B": "CVT-R", "CVT-A1": "CVT-A", "CVT-A2": "CVT-A", "CVT-B1": "CVT-B",
        "CVT-A1X": "CVT-A1", "CVT-A1Y": "CVT-A1"}  # fmt: skip
CALL_FIELDS = [["source", "record_id", "unit_id", "started_at", "direction", "outcome", "talk_seconds"],
               ["source", "record_id", "unit_id", "started_at", "direction", "outcome", "talk_seconds", "complaint"]]  # fmt: skip
ORDER_FIELDS = [["source", "record_id", "unit_id", "received_at"],
                ["source", "record_id", "unit_id", "received_at", "closed_at"]]  # fmt: skip


def _path(unit: str) -> str:
    return unit if TREE[unit] is None else f"{_path(TREE[unit])}/{unit}"


async def test_the_uncovered_statement_gives_each_unit_the_batches_the_rule_gives_it(db):
    """Against the rule itself, computed here unit by unit: a unit is covered by the batches naming it (any role)
    and by those declaring a proper ancestor, within the range and the kinds asked for — over random coverage of a
    small tree (declared at every level, inferred, ancestor rows, batches of another kind or outside the range), for
    every ``by``. The statement groups units by the keys that apply to them, never per (unit, batch)."""
    import random

    async with db.session() as session:
        apg = (await (await session.connection()).get_raw_connection()).driver_connection
        await apg.executemany(
            "INSERT INTO ingest.unit (id, parent_id, path, depth, kind, name_zh, name_en, active, valid_from) "
            "VALUES ($1, $2, $3, $4, 'undertaking_unit', $1, $1, true, DATE '2020-01-01')",
            [(u, p, _path(u), _path(u).count("/")) for u, p in TREE.items()],
        )
        rng = random.Random(20)
        batches: dict[int, tuple[str, list[str], date, date]] = {}
        rows: list[tuple[int, str, str]] = []
        for _ in range(40):
            kind = rng.choice(["call", "call", "work_order"])
            first = date(2025, rng.randint(1, 3), rng.randint(1, 28))
            last = date(first.year, first.month, min(28, first.day + rng.randint(0, 20)))
            fields = rng.choice(CALL_FIELDS if kind == "call" else ORDER_FIELDS)
            batch = await apg.fetchval(
                "INSERT INTO ingest.batch (kind, source, status, submitted_by, submitter_unit_id) "
                "VALUES ($1, 'cvt', 'done', 'test', 'CVT-R') RETURNING id",
                kind,
            )
            await apg.execute(
                "INSERT INTO ingest.batch_coverage (batch_id, kind, first_day, last_day, days_declared, "
                "units_declared, fields) VALUES ($1, $2, $3, $4, false, false, $5)",
                batch, kind, first, last, fields,
            )  # fmt: skip
            batches[batch] = (kind, fields, first, last)
            for unit in rng.sample(sorted(TREE), rng.randint(1, 3)):
                role = rng.choice(["declared", "inferred", "ancestor"])
                rows.append((batch, unit, role))
                await apg.execute("INSERT INTO ingest.batch_coverage_unit VALUES ($1, $2, $3)", batch, unit, role)
        visible = {u: (_path(u), 1000 if u != "CVT-B1" else None) for u in TREE}
        codes = ["calls.answered", "calls.complaints", "orders.received", "orders.closed", "unit.population"]
        for low, high in ((date(2025, 1, 1), date(2025, 3, 31)), (date(2025, 2, 10), date(2025, 2, 20))):
            for by in ("total", "month", "day"):
                got = await coverage.uncovered_of(apg, visible, codes, low, high, by)
                groups = []
                for unit, (path, _) in visible.items():
                    above = path.split("/")[:-1]
                    mine = {b for b, u, r in rows if u == unit or (r == "declared" and u in above)}
                    items = [(k, f, max(a, low), min(z, high)) if by != "total" else (k, f, low, high)
                             for b, (k, f, a, z) in batches.items() if b in mine and a <= high and z >= low]  # fmt: skip
                    if items:
                        groups.append(([unit], items))
                population = {u: p for u, (_, p) in visible.items()}
                expected = coverage.uncovered(codes, population, coverage.spans(low, high, by), groups)
                assert got == expected, (low, high, by)
                assert got, "the random coverage leaves something uncovered (else the test shows little)"
