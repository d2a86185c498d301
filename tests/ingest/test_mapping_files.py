"""Column mappings on real public files, through the batch path: conditional fields, skipped rows, durations, and
the measures of work orders with a due time. Every expected figure is computed here from the file with the csv
module, never by the ingest code."""

from __future__ import annotations

import copy
import csv
import io
import json
from collections import Counter
from importlib import resources

from services.ingest.mapping import DURATION_FORMS
from tests.ingest.records_support import ADMIN, measures, send
from tests.support import data_of, gql

DEMO = resources.files("services.ingest").joinpath("demo")
BOSTON = "boston311_closed_cases_2500.csv"
BANK = "bank_calls_1999-02_every8th.tsv"
# the Boston departments the shipped mapping names, and the Guangzhou units standing in for them
DEPARTMENTS = {"PWDx": "GZ-URBANMGMT", "BTDT": "GZ-TRANSPORT", "ISD": "GZ-HOUSING", "PROP": "GZ-HOUSING",
               "PARK": "GZ-ECOENV", "BWSC": "GZ-WATER", "GEN_": "GZ-MARKET", "INFO": "GZ-HRSS"}  # fmt: skip


def _rows(name: str, delimiter: str = ",") -> list[dict[str, str]]:
    with DEMO.joinpath("data", name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def _shipped(name: str) -> dict:
    return json.loads(DEMO.joinpath("mappings", f"{name}.json").read_text("utf-8"))


async def register_demo_tree(client) -> None:
    units = DEMO.joinpath("units.csv").read_bytes()
    response = await client.post("/units/bulk", files={"file": ("units.csv", units)}, headers=ADMIN)
    assert response.status_code == 200, response.text


async def save_mapping(client, name: str, spec: dict) -> None:
    response = await client.put(f"/mappings/{name}", json=spec, headers=ADMIN)
    assert response.status_code == 200, response.text


async def _monthly(client, units: list[str], codes: list[str], ranges) -> dict[tuple[str, str], list[float]]:
    """``{(unit, YYYY-MM): values}`` over several ranges of at most three years (the API's limit per call)."""
    out = {}
    for start, end in ranges:
        answer = await measures(client, units, codes, start, end, by="month")
        out.update({(unit, month): values for unit, month, values in answer["rows"]})
    return out


async def test_boston_orders_with_a_due_time_closed_on_time_and_late_per_department_and_month(ingest):
    """The Boston 311 export: ``on_time`` taken only where the case has a target date (the export marks the 299
    cases without one ONTIME too), ``closed_at`` only for closed cases, the departments no Guangzhou unit stands
    in for skipped. Per department and month, the orders with a due time, closed on time and closed late equal the
    counts made here from the file."""
    await register_demo_tree(ingest)
    spec = copy.deepcopy(_shipped("boston-311-cases"))
    spec["fields"]["on_time"]["when"] = {"column": "TARGET_DT", "empty": False}
    spec["fields"]["closed_at"]["when"] = {"column": "CASE_STATUS", "equals": "Closed"}
    spec["keep_when"] = {"column": "Department", "in": sorted(DEPARTMENTS)}
    await save_mapping(ingest, "boston-311-due", spec)
    content = DEMO.joinpath("data", BOSTON).read_bytes()
    report = (await send(ingest, "work_order", content, source="boston-311", filename=BOSTON,
                         mapping="boston-311-due")).json()  # fmt: skip

    rows = _rows(BOSTON)
    kept = [r for r in rows if r["Department"] in DEPARTMENTS]
    assert report["status"] == "done", report
    assert report["counts"]["skipped"] == len(rows) - len(kept) == 7  # 5 ANML, 2 DND_
    assert report["counts"]["read"] == 2500 and report["counts"]["valid"] == report["counts"]["new"] == len(kept)
    assert report["quality"]["precision"]["validShare"] == 1.0  # skipped rows are not counted against precision

    expected: Counter = Counter()
    for r in kept:
        key = (DEPARTMENTS[r["Department"]], r["OPEN_DT"][:7])  # the local day received: the export's own date
        closed = r["CASE_STATUS"] == "Closed" and r["CLOSED_DT"] != ""
        due = r["TARGET_DT"] != ""
        if due and r["OnTime_Status"]:
            on_time = r["OnTime_Status"] == "ONTIME"
        elif due:  # no verdict in the export: closed no later than the target
            on_time = r["CLOSED_DT"] <= r["TARGET_DT"]
        else:
            on_time = None  # neither a target nor a verdict taken: neither on time nor late
        expected[(*key, "orders.with_due")] += due
        expected[(*key, "orders.closed")] += closed
        expected[(*key, "orders.closed_on_time")] += closed and on_time is True
        expected[(*key, "orders.closed_late")] += closed and on_time is False
    codes = ["orders.with_due", "orders.closed", "orders.closed_on_time", "orders.closed_late"]
    units = sorted(set(DEPARTMENTS.values()))
    got = await _monthly(ingest, units, codes, [("2020-01-01", "2022-12-31"), ("2023-01-01", "2024-12-31")])
    assert len(got) == len(units) * 60
    for (unit, month), values in got.items():
        for code, value in zip(codes, values, strict=True):
            assert value == expected[(unit, month, code)], (unit, month, code)
    # the condition on the verdict mattered: the cases marked ONTIME without a target date are not on time
    total = {code: sum(v for k, v in expected.items() if k[2] == code) for code in codes}
    marked = sum(r["OnTime_Status"] == "ONTIME" for r in kept)
    assert total["orders.closed_on_time"] == marked - sum(
        r["OnTime_Status"] == "ONTIME" and not r["TARGET_DT"] for r in kept
    )
    assert total["orders.closed_on_time"] < marked and total["orders.closed_late"] > 0
    # the same figures rolled up to the city (every unit's measures include its subtree)
    city = await measures(ingest, ["GD-GZ"], codes, "2020-01-01", "2022-12-31")
    assert city["rows"][0][2] == [
        sum(v for k, v in expected.items() if k[2] == code and k[1] < "2023") for code in codes
    ]


async def test_bank_phantom_calls_are_skipped_not_rejected_and_the_counts_say_so(ingest):
    """The bank log's PHANTOM calls are virtual calls to ignore: skipped by the mapping, they are counted as
    skipped in REST and GraphQL, not rejected and not stored."""
    await register_demo_tree(ingest)
    spec = copy.deepcopy(_shipped("technion-bank-calls"))
    spec["skip_when"] = {"column": "outcome", "equals": "PHANTOM"}
    await save_mapping(ingest, "bank-no-phantoms", spec)
    content = DEMO.joinpath("data", BANK).read_bytes()
    report = (await send(ingest, "call", content, source="bank", filename=BANK, mapping="bank-no-phantoms")).json()

    rows = _rows(BANK, "\t")
    phantoms = sum(r["outcome"] == "PHANTOM" for r in rows)
    negative = [r for r in rows if r["outcome"] != "PHANTOM" and min(int(r[c]) for c in ("vru_time", "q_time", "ser_time")) < 0]  # fmt: skip
    assert phantoms == 42 and len(negative) == 1
    counts = report["counts"]
    assert counts["skipped"] == phantoms and counts["rejected"] == len(negative)
    assert counts["read"] == len(rows) and counts["new"] == len(rows) - phantoms - len(negative)
    assert [(p["field"], p["value"]) for p in report["problems"]] == [("ivr_seconds", "-52")]
    offered = await measures(ingest, ["GD"], ["calls.offered"], "1999-02-01", "1999-02-28")
    assert offered["rows"][0][2] == [sum(r["outcome"] in ("AGENT", "HANG") for r in rows if r not in negative)]
    batch = data_of(await gql(ingest, "query($id: ID!) { ingestBatch(id: $id) { counts { read skipped rejected new } } }",
                              {"id": str(report["batchId"])}, headers=ADMIN))["ingestBatch"]  # fmt: skip
    assert batch["counts"] == {"read": len(rows), "skipped": phantoms, "rejected": 1, "new": counts["new"]}


def _clock(seconds: int, form: str) -> str:
    """A number of seconds written as the test writes it: h:mm:ss or mm:ss."""
    minutes, rest = divmod(seconds, 60)
    if form == "mm:ss":
        return f"{minutes:02d}:{rest:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}"


async def test_durations_written_hh_mm_ss_and_mm_ss_load_as_seconds_and_bad_ones_are_rejected(ingest):
    """The bank log with its talk seconds written h:mm:ss and its queue seconds mm:ss (as other call-centre exports
    write them): the talk and answer-wait sums equal the log's own second counts; two rows written otherwise are
    rejected with their row, field, value and the form expected."""
    await register_demo_tree(ingest)
    spec = copy.deepcopy(_shipped("technion-bank-calls"))
    spec["fields"]["talk_seconds"] = {"column": "ser_time", "duration": "hh:mm:ss", "null_values": ["", "0:00:00"]}
    spec["fields"]["queue_seconds"] = {"column": "q_time", "duration": "mm:ss", "null_values": ["", "00:00"]}
    await save_mapping(ingest, "bank-clock-durations", spec)
    rows = _rows(BANK, "\t")
    good = [r for r in rows if int(r["vru_time"]) >= 0]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
    writer.writeheader()
    for r in good:
        writer.writerow({**r, "ser_time": _clock(int(r["ser_time"]), "hh:mm:ss"), "q_time": _clock(int(r["q_time"]), "mm:ss")})  # fmt: skip
    bad = {**good[0], "call_id": "x1", "ser_time": "3:25", "q_time": "00:10"}  # not hh:mm:ss
    worse = {**good[0], "call_id": "x2", "ser_time": "0:03:25", "q_time": "1:75"}  # 75 is no seconds count
    writer.writerows([bad, worse])
    report = (await send(ingest, "call", out.getvalue(), source="bank", filename="bank.tsv",
                         mapping="bank-clock-durations")).json()  # fmt: skip
    assert report["counts"]["new"] == len(good) and report["counts"]["rejected"] == 2
    assert report["problems"] == [
        {"row": len(good) + 1, "field": "talk_seconds", "value": "3:25",
         "reason": "not a duration written " + DURATION_FORMS["hh:mm:ss"][1]},
        {"row": len(good) + 2, "field": "queue_seconds", "value": "1:75",
         "reason": "not a duration written " + DURATION_FORMS["mm:ss"][1]},
    ]  # fmt: skip
    answered = [r for r in good if r["outcome"] == "AGENT"]
    got = await measures(
        ingest, ["GD"], ["calls.talk_seconds", "calls.answer_wait_seconds"], "1999-02-01", "1999-02-28"
    )
    assert got["rows"][0][2] == [sum(int(r["ser_time"]) for r in answered), sum(int(r["q_time"]) for r in answered)]
