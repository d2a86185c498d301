"""Submitting raw records: every record type, bad input, re-send, correction, withdrawal, scope, encodings."""

from __future__ import annotations

import io
import json

from openpyxl import Workbook
from sqlalchemy import text

from tests.ingest.records_support import ADMIN, GZ, measures, register_tree, send, to_csv, values
from tests.support import auth

CALL = {"record_id": "c1", "unit_id": "GZ-T1-A001", "started_at": "2025-01-02 09:00:00", "direction": "inbound",
        "outcome": "answered", "queue_seconds": "12", "talk_seconds": "100"}  # fmt: skip

# One valid row of every record type and one measure it must move (for the team GZ-T1 / the city GD-GZ).
EVERY_KIND = {
    "call": (CALL, "calls.answered"),
    "work_order": (
        {"record_id": "w1", "unit_id": "GD-GZ", "received_at": "2025-01-03 09:00", "channel": "app",
         "handling_unit_id": "GZ-HOUSING", "dispatched_at": "2025-01-03 10:00", "closed_at": "2025-01-04 09:00",
         "due_at": "2025-01-05 09:00"},
        "orders.closed_on_time",
    ),
    "rating": (
        {"record_id": "r1", "unit_id": "GZ-HOUSING", "rated_at": "2025-01-04 10:00", "target": "outcome", "rating": "2",
         "reasons": "too_slow;attitude", "verified": "true", "work_order_id": "w1"},
        "surveys.reason.too_slow",
    ),
    "inspection": (
        {"record_id": "i1", "unit_id": "GZ-T1-A001", "inspected_at": "2025-01-02 09:00", "subject": "call",
         "subject_id": "c1", "attitude": "90", "passed": "yes"},
        "inspections.attitude_points",
    ),
    "callback": ({"record_id": "b1", "unit_id": "GD-GZ", "due_at": "2025-01-06 09:00", "done_at": "2025-01-06 08:00"}, "callbacks.done"),
    "chat_session": (
        {"record_id": "s1", "unit_id": "GZ-T1-A001", "started_at": "2025-01-02 09:00", "first_response_seconds": "8",
         "duration_seconds": "300"},
        "chats.duration_seconds",
    ),
    "smart_test": ({"record_id": "t1", "unit_id": "GD-GZ", "tested_at": "2025-01-02 09:00", "correct": "1", "response_seconds": "2.5"}, "smart.correct"),
    "knowledge_update": (
        {"record_id": "k1", "unit_id": "GD-GZ", "published_at": "2025-01-02 09:00", "entered_at": "2025-01-02 20:00"},
        "knowledge.updates_within_24h",
    ),
    "reported_item": (
        {"record_id": "p1", "unit_id": "GD-GZ", "submitted_at": "2025-01-02 09:00", "category": "innovation", "title": "网格联动"},
        "reported.items",
    ),
}  # fmt: skip
EXPECTED = {"call": 1, "work_order": 1, "rating": 1, "inspection": 90, "callback": 1, "chat_session": 300,
            "smart_test": 1, "knowledge_update": 1, "reported_item": 1}  # fmt: skip


async def test_every_record_type_is_stored_and_aggregated(ingest):
    await register_tree(ingest)
    for kind, (row, _) in EVERY_KIND.items():
        response = await send(ingest, kind, to_csv([row]))
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["status"] == "done" and report["counts"]["new"] == 1, (kind, report)
    codes = [m for _, m in EVERY_KIND.values()]
    got = values(await measures(ingest, ["GD-GZ", "GD"], codes))
    for kind, (_, code) in EVERY_KIND.items():
        assert got["GD-GZ"][code] == EXPECTED[kind], kind
        assert got["GD"][code] == EXPECTED[kind], kind  # rolled up to the province


async def test_consistency_checks_find_missing_linked_records(ingest):
    await register_tree(ingest)
    rating = {**EVERY_KIND["rating"][0], "work_order_id": "nowhere"}
    report = (await send(ingest, "rating", to_csv([rating]))).json()
    check = next(c for c in report["quality"]["consistency"]["checks"] if c["check"] == "the rated work order exists")
    assert check == {"kind": "rating", "check": "the rated work order exists", "checked": 1, "failed": 1}


async def test_a_linked_record_is_found_in_any_month_not_only_near_the_rows_day(ingest):
    """The checks probe the months around a row's day first (``quality._linked``) and every month when those do not
    hold the linked record: an order rated within the month, months later, or rated before the day it was received
    (a data error, but the order exists) is found; one stored nowhere is not."""
    await register_tree(ingest)
    base = EVERY_KIND["work_order"][0]
    orders = [{**base, "record_id": "w-jan", "received_at": "2025-01-03 09:00"},
              {**base, "record_id": "w-mar", "received_at": "2025-03-01 09:00", "dispatched_at": "2025-03-01 10:00",
               "closed_at": "2025-03-02 09:00", "due_at": "2025-03-03 09:00"}]  # fmt: skip
    assert (await send(ingest, "work_order", to_csv(orders))).json()["counts"]["new"] == 2
    rating = EVERY_KIND["rating"][0]
    ratings = [{**rating, "record_id": "r-near", "rated_at": "2025-01-10 10:00", "work_order_id": "w-jan"},
               {**rating, "record_id": "r-late", "rated_at": "2025-06-20 10:00", "work_order_id": "w-jan"},
               {**rating, "record_id": "r-early", "rated_at": "2025-02-10 10:00", "work_order_id": "w-mar"},
               {**rating, "record_id": "r-none", "rated_at": "2025-06-21 10:00", "work_order_id": "w-none"}]  # fmt: skip
    report = (await send(ingest, "rating", to_csv(ratings))).json()
    check = next(c for c in report["quality"]["consistency"]["checks"] if c["check"] == "the rated work order exists")
    assert (check["checked"], check["failed"]) == (4, 1)


async def test_consistency_checks_count_every_row_of_the_batch_and_only_its_own(ingest):
    """The checks read the batch's rows on the days of its valid rows (quality.batch_quality): rows over two months
    and several days all counted, a later batch's report counts none of an earlier batch's rows."""
    await register_tree(ingest)
    days = ["2025-01-02 10:00", "2025-01-20 10:00", "2025-01-31 23:30", "2025-02-01 00:30", "2025-02-14 10:00"]
    ratings = [
        {"record_id": f"r{i}", "unit_id": "GZ-HOUSING", "rated_at": at, "target": "outcome", "rating": "4",
         "work_order_id": "w1" if i % 2 else f"missing-{i}"}
        for i, at in enumerate(days)
    ]  # fmt: skip
    order = EVERY_KIND["work_order"][0]
    assert (await send(ingest, "work_order", to_csv([order]))).json()["counts"]["new"] == 1
    first = (await send(ingest, "rating", to_csv(ratings))).json()
    assert first["counts"]["new"] == 5
    check = next(c for c in first["quality"]["consistency"]["checks"] if c["check"] == "the rated work order exists")
    assert (check["checked"], check["failed"]) == (5, 3)
    # a correction of one of them and a new rating, in a second batch: its report counts its own two rows
    corrected = [
        {**ratings[0], "work_order_id": "w1"},
        {**ratings[1], "record_id": "r9", "rated_at": "2025-03-03 10:00"},
    ]
    second = (await send(ingest, "rating", to_csv(corrected))).json()
    assert (second["counts"]["new"], second["counts"]["corrected"]) == (1, 1)
    check = next(c for c in second["quality"]["consistency"]["checks"] if c["check"] == "the rated work order exists")
    assert (check["checked"], check["failed"]) == (2, 0)


async def test_a_file_mixing_good_and_bad_rows_keeps_the_good_and_reports_the_bad(ingest):
    await register_tree(ingest)
    rows = [
        CALL,
        {**CALL, "record_id": "c2", "outcome": "hung up"},  # bad enumeration
        {**CALL, "record_id": "c3", "queue_seconds": "-4"},  # negative duration
        {**CALL, "record_id": "c4", "started_at": "31/02/2025"},  # bad time
        {**CALL, "record_id": "", "unit_id": ""},  # required fields missing
        {**CALL, "record_id": "c6", "unit_id": "GZ-NOWHERE"},  # unknown unit
        {**CALL, "record_id": "c7", "answered_at": "2025-01-02 08:00:00"},  # answered before it started
        {**CALL, "record_id": "c8"},
    ]
    text = to_csv(rows) + "s,c9,GZ-T1-A001\n"  # a truncated last line
    response = await send(ingest, "call", text, period_from="2025-01-01", period_to="2025-01-03", expected_rows=10)
    report = response.json()
    assert report["counts"]["read"] == 9 and report["counts"]["valid"] == 2 and report["counts"]["rejected"] == 7
    problems = {(p["row"], p["field"]) for p in report["problems"]}
    assert problems == {
        (2, "outcome"), (3, "queue_seconds"), (4, "started_at"), (5, "record_id"), (5, "unit_id"),
        (6, "unit_id"), (7, "answered_at"), (9, None),
    }  # fmt: skip
    assert all(p["reason"] for p in report["problems"])
    assert next(p for p in report["problems"] if p["row"] == 6)["value"] == "GZ-NOWHERE"
    quality = report["quality"]
    assert quality["precision"] == {"rowsValid": 2, "rowsRejected": 7, "validShare": round(2 / 9, 4)}
    assert quality["completeness"]["receivedShare"] == 0.9
    assert quality["completeness"]["daysWithoutData"] == ["2025-01-01", "2025-01-03"]
    assert quality["consistency"]["timeOrderViolations"] == 1
    assert values(await measures(ingest, ["GZ-T1-A001"], ["calls.answered"]))["GZ-T1-A001"]["calls.answered"] == 2


async def test_resending_the_same_file_changes_nothing(ingest, db):
    await register_tree(ingest)
    rows = [CALL, {**CALL, "record_id": "c2", "outcome": "abandoned"}]
    first = (await send(ingest, "call", to_csv(rows))).json()
    before = await measures(ingest, ["GZ-T1-A001", "GD"], ["calls.offered", "calls.answered"], by="day")
    again = (await send(ingest, "call", to_csv(rows))).json()
    assert again["counts"] == {**first["counts"], "new": 0, "duplicate": 2}
    # recognised by its digest: every row of the earlier batch is still in place, so it is not re-read
    assert again["timingsSeconds"] == {"identicalResend": True}
    assert await measures(ingest, ["GZ-T1-A001", "GD"], ["calls.offered", "calls.answered"], by="day") == before
    async with db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM ingest.raw_call")) == 2


async def test_resending_an_old_file_after_a_correction_restores_its_values(ingest):
    await register_tree(ingest)
    original = to_csv([CALL, {**CALL, "record_id": "c2"}])
    await send(ingest, "call", original)
    corrected = (await send(ingest, "call", to_csv([{**CALL, "talk_seconds": "50"}]))).json()
    assert corrected["counts"]["corrected"] == 1
    # the earlier file is no longer intact in storage: it is read again, and c1 is corrected back
    again = (await send(ingest, "call", original)).json()
    assert "identicalResend" not in again["timingsSeconds"]
    assert (again["counts"]["corrected"], again["counts"]["duplicate"]) == (1, 1)
    got = values(await measures(ingest, ["GZ-T1-A001"], ["calls.talk_seconds"]))
    assert got["GZ-T1-A001"]["calls.talk_seconds"] == 200


async def test_identical_repeats_inside_a_file_count_once_and_differing_ones_are_rejected(ingest):
    await register_tree(ingest)
    rows = [CALL, CALL, {**CALL, "talk_seconds": "5"}]
    report = (await send(ingest, "call", to_csv(rows))).json()
    assert report["counts"]["new"] == 1 and report["counts"]["repeatedInFile"] == 1
    assert [(p["row"], p["field"]) for p in report["problems"]] == [(3, "record_id")]
    got = values(await measures(ingest, ["GZ-T1-A001"], ["calls.answered", "calls.talk_seconds"]))
    assert got["GZ-T1-A001"] == {"calls.answered": 1, "calls.talk_seconds": 100}


async def test_a_changed_row_corrects_the_stored_one_and_reaggregates_both_places(ingest):
    await register_tree(ingest)
    await send(ingest, "call", to_csv([CALL]))
    moved = {**CALL, "unit_id": "GZ-T1", "started_at": "2025-01-05 09:00:00", "talk_seconds": "50"}
    report = (await send(ingest, "call", to_csv([moved]))).json()
    assert report["counts"]["corrected"] == 1 and report["counts"]["new"] == 0
    by_day = await measures(ingest, ["GZ-T1-A001", "GZ-T1"], ["calls.talk_seconds"], by="day")
    nonzero = [(u, d, v[0]) for u, d, v in by_day["rows"] if v[0]]
    assert nonzero == [("GZ-T1", "2025-01-05", 50.0)]
    assert by_day["days_with_data"] == {"GZ-T1-A001": 0, "GZ-T1": 1}


async def test_withdrawing_a_batch_removes_its_rows_and_measures(ingest):
    await register_tree(ingest)
    keep = (await send(ingest, "call", to_csv([CALL]))).json()
    drop = (await send(ingest, "call", to_csv([{**CALL, "record_id": "c2"}]))).json()
    assert values(await measures(ingest, ["GD"], ["calls.answered"]))["GD"]["calls.answered"] == 2
    response = await ingest.post(f"/batches/{drop['batchId']}/withdraw", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "withdrawn" and response.json()["rowsRemoved"] == 1
    assert values(await measures(ingest, ["GD"], ["calls.answered"]))["GD"]["calls.answered"] == 1
    again = await ingest.post(f"/batches/{drop['batchId']}/withdraw", headers=ADMIN)
    assert again.status_code == 400
    assert (await ingest.get(f"/batches/{keep['batchId']}", headers=ADMIN)).json()["status"] == "done"


async def test_rows_outside_the_callers_scope_are_rejected_and_batches_are_scoped(ingest):
    await register_tree(ingest)
    rows = [CALL, {**CALL, "record_id": "c2", "unit_id": "SZ-T1"}]
    report = (await send(ingest, "call", to_csv(rows), headers=GZ)).json()
    assert report["counts"]["valid"] == 1
    assert report["problems"] == [
        {"row": 2, "field": "unit_id", "value": "SZ-T1", "reason": "unknown unit, or outside the caller's scope"}
    ]
    assert report["quality"]["relevance"]["outOfScope"] == 1
    # Shenzhen cannot see Guangzhou's batch, nor withdraw it, nor read its measures
    sz = auth("GD-SZ", "organizer")
    assert (await ingest.get(f"/batches/{report['batchId']}", headers=sz)).status_code == 404
    assert (await ingest.post(f"/batches/{report['batchId']}/withdraw", headers=sz)).status_code == 404
    assert (await measures(ingest, ["GD-GZ"], ["calls.answered"], headers=sz))["missing"] == ["GD-GZ"]
    # a viewer may not submit at all; an undertaking unit only for itself
    assert (await send(ingest, "call", to_csv([CALL]), headers=auth("GD", "viewer"))).status_code == 403
    unit = (await send(ingest, "rating", to_csv([EVERY_KIND["rating"][0]]), headers=auth("GZ-WATER", "unit"))).json()
    assert unit["counts"]["rejected"] == 1


async def test_gbk_bom_ndjson_and_xlsx_files_are_read(ingest):
    await register_tree(ingest)
    item = {**EVERY_KIND["reported_item"][0], "title": "12345热线与网格联动"}
    gbk = (await send(ingest, "reported_item", to_csv([item]).encode("gbk"))).json()
    assert gbk["counts"]["new"] == 1, gbk
    bom = (await send(ingest, "reported_item", b"\xef\xbb\xbf" + to_csv([item]).encode())).json()
    assert bom["counts"]["duplicate"] == 1, bom  # same text once decoded: nothing changes
    ndjson = "\n".join(json.dumps({**CALL, "record_id": f"n{i}", "talk_seconds": 10}) for i in range(3))
    report = (await send(ingest, "call", ndjson, filename="calls.ndjson")).json()
    assert report["counts"]["new"] == 3, report
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(CALL))
    sheet.append([*list(CALL.values())[:-1], 100])
    buffer = io.BytesIO()
    workbook.save(buffer)
    xlsx = (await send(ingest, "call", buffer.getvalue(), filename="calls.xlsx")).json()
    assert xlsx["counts"]["new"] == 1, xlsx
    # NDJSON n0–n2 (10 s each) + the XLSX row c1 (100 s), all on 2025-01-02
    rows = await ingest.post("/measures/query", json={"units": ["GZ-T1-A001"], "measures": ["calls.talk_seconds"],
                                                      "from": "2025-01-02", "to": "2025-01-02"}, headers=ADMIN)  # fmt: skip
    assert rows.json()["rows"] == [["GZ-T1-A001", "total", [130.0]]]


async def test_unreadable_files_get_a_clear_error_and_store_nothing(ingest):
    await register_tree(ingest)
    cases = {
        "empty": (b"", "empty"),
        "header only": (b"source,record_id,unit_id,started_at,direction,outcome\n", "no data rows"),
        "wrong header": (b"id,agent,when\n1,GZ-T1,2025-01-01\n", "wrong header for call"),
        "wrong encoding": (b"record_id,unit_id\n" + b"\xff\xfe\xfa\x81\x30" * 10, "decode"),
        "unterminated quote": (to_csv([CALL]).encode() + b'x,"c9,GZ-T1\n', "CSV syntax error"),
        "truncated xlsx": (b"PK\x03\x04" + b"\x00" * 40, "XLSX"),
    }
    for name, (content, message) in cases.items():
        response = await send(ingest, "call", content, filename="f.xlsx" if "xlsx" in name else "f.csv")
        assert response.status_code == 400, (name, response.text)
        error = response.json()["error"]
        assert message in error["message"], (name, error)
        batch = (await ingest.get(f"/batches/{error['details']['batchId']}", headers=ADMIN)).json()
        assert batch["status"] == "failed" and batch["error"]
    assert (await measures(ingest, ["GD"], ["calls.answered"]))["days_with_data"] == {"GD": 0}


async def test_formats_are_published(ingest):
    formats = (await ingest.get("/records/formats")).json()
    assert formats["rating"]["jsonSchema"]["properties"]["reasons"]["anyOf"][0]["items"]["enum"][3] == "too_slow"
    template = await ingest.get("/records/formats/call.csv")
    assert template.text.startswith("source,record_id,unit_id,started_at,direction,outcome")


async def test_the_streamed_upload_is_documented_in_openapi(ingest):
    spec = (await ingest.get("/openapi.json")).json()
    body = spec["paths"]["/batches"]["post"]["requestBody"]["content"]
    assert {"text/csv", "application/x-ndjson", "multipart/form-data"} <= set(body)
    assert {"/measures/query", "/measures/sources", "/measures/contribution", "/mappings/{name}"} <= set(spec["paths"])


async def test_multipart_upload_with_a_saved_mapping(ingest):
    await register_tree(ingest)
    spec = {
        "kind": "callback",
        "fields": {
            "record_id": {"column": "编号"},
            "unit_id": {"value": "GD-GZ"},
            "due_at": {"column": "应回访时间", "format": "%Y/%m/%d %H:%M"},
            "done_at": {"column": "回访时间", "format": "%Y/%m/%d %H:%M"},
        },
    }
    saved = await ingest.put("/mappings/gz-callbacks", json=spec, headers=GZ)
    assert saved.status_code == 200, saved.text
    listed = (await ingest.get("/mappings", headers=GZ)).json()
    assert [m["name"] for m in listed] == ["gz-callbacks"]
    assert (await ingest.get("/mappings", headers=auth("GD-SZ", "organizer"))).json() == []
    content = "编号,应回访时间,回访时间\n1,2025/1/3 9:00,2025/1/3 8:00\n2,2025/1/3 9:00,\n3,2025-01-03,\n".encode(
        "gb18030"
    )
    response = await ingest.post(
        "/batches",
        params={"kind": "callback", "source": "gz-callback-system", "mapping": "gz-callbacks"},
        files={"file": ("回访.csv", content, "text/csv")},
        headers=GZ,
    )
    report = response.json()
    assert report["counts"]["new"] == 2 and report["mapping"] == "gz-callbacks"
    assert report["problems"] == [
        {"row": 3, "field": "due_at", "value": "2025-01-03", "reason": "does not match the date format %Y/%m/%d %H:%M"}
    ]
    got = values(await measures(ingest, ["GD-GZ"], ["callbacks.required", "callbacks.done"], headers=GZ))
    assert got["GD-GZ"] == {"callbacks.required": 2, "callbacks.done": 1}
    other = await send(ingest, "call", "x\n1\n", mapping="gz-callbacks")
    assert other.status_code == 400 and "maps to callback" in other.text


async def test_cross_channel_comparisons_count_only_compared_mismatches(ingest):
    await register_tree(ingest)
    base = EVERY_KIND["inspection"][0]
    rows = [
        {**base, "record_id": "x1", "channel_compared": "true", "channel_mismatch": "true"},
        {**base, "record_id": "x2", "channel_compared": "true", "channel_mismatch": "false"},
        {**base, "record_id": "x3", "channel_compared": "true", "channel_mismatch": "true"},
        # A mismatch flag without a comparison is not a comparison: it counts for neither measure.
        {**base, "record_id": "x4", "channel_compared": "false", "channel_mismatch": "true"},
        {**base, "record_id": "x5"},
    ]
    report = (await send(ingest, "inspection", to_csv(rows))).json()
    assert report["counts"]["new"] == 5, report
    codes = ["inspections.channel_compared", "inspections.channel_mismatched", "inspections.sampled"]
    got = values(await measures(ingest, ["GD-GZ"], codes))["GD-GZ"]
    # compared: x1, x2, x3 = 3; mismatched among the compared: x1, x3 = 2; sampled: all 5.
    assert got == {"inspections.channel_compared": 3, "inspections.channel_mismatched": 2, "inspections.sampled": 5}
