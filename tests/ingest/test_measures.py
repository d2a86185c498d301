"""The measures API (contracts §4) on a small example whose every value is computed by hand below."""

from __future__ import annotations

from datetime import date

from services.ingest import aggregation
from services.ingest.batches import _driver
from tests.ingest.records_support import ADMIN, GZ, measures, register_tree, send, to_csv, values
from tests.support import auth

A1, A2 = "GZ-T1-A001", "GZ-T1-A002"
CALLS = [
    # id, unit, started (Asia/Shanghai unless an offset is given), outcome, queue, ring, talk, handle, ivr
    ("c1", A1, "2025-01-02 09:00:00", "answered", 10, 3, 100, 130, ""),
    ("c2", A1, "2025-01-02 09:10:00", "answered", 25, 5, 200, "", ""),
    ("c3", A1, "2025-01-02 09:20:00", "abandoned", 40, "", "", "", ""),
    ("c4", A1, "2025-01-02 09:30:00", "ivr_resolved", "", "", "", "", 30),
    ("c5", A1, "2025-01-02 09:40:00", "phantom", "", "", "", "", ""),
    ("c6", A2, "2025-01-02 10:00:00", "answered", 5, 2, 60, "", 12),
    # 2025-01-02 23:30 UTC is 2025-01-03 07:30 in Shanghai: it counts on the 3rd
    ("c7", A2, "2025-01-02T23:30:00+00:00", "answered", 30, 1, 40, "", ""),
]
COLUMNS = ["record_id", "unit_id", "started_at", "outcome", "queue_seconds", "ring_seconds", "talk_seconds",
           "handle_seconds", "ivr_seconds"]  # fmt: skip


def call_rows():
    return [{**dict(zip(COLUMNS, c, strict=True)), "direction": "inbound"} for c in CALLS]


ORDERS = [
    {"record_id": "w1", "unit_id": "GD-GZ", "received_at": "2025-01-05 09:00", "channel": "app",
     "handling_unit_id": "GZ-HOUSING", "dispatched_at": "2025-01-05 10:00", "first_response_at": "2025-01-05 10:30",
     "first_contact_at": "2025-01-05 12:00", "due_at": "2025-01-10 09:00", "replied_at": "2025-01-07 09:00",
     "reply_complete": "true", "closed_at": "2025-01-08 09:00"},
    {"record_id": "w2", "unit_id": "GD-GZ", "received_at": "2025-01-05 10:00", "channel": "phone",
     "handling_unit_id": "GZ-WATER", "dispatched_at": "2025-01-05 14:00", "reassignments": "1",
     "due_at": "2025-01-06 10:00", "closed_at": "2025-01-07 10:00", "returned_for_redo": "2", "supervised": "true"},
    {"record_id": "w3", "unit_id": "GD-GZ", "received_at": "2025-01-05 11:00", "channel": "phone",
     "handled_directly": "true", "closed_at": "2025-01-05 12:00", "on_time": "true"},
]  # fmt: skip


async def test_call_measures_by_hand(ingest):
    await register_tree(ingest)
    assert (await send(ingest, "call", to_csv(call_rows()))).json()["counts"]["new"] == 7
    codes = ["calls.inbound", "calls.offered", "calls.answered", "calls.answered_within_15s", "calls.answered_within_20s",
             "calls.abandoned", "calls.answer_wait_seconds", "calls.abandon_wait_seconds", "calls.queue_seconds",
             "calls.ring_seconds", "calls.talk_seconds", "calls.handle_seconds", "calls.ivr_entered",
             "calls.ivr_seconds", "calls.ivr_resolved"]  # fmt: skip
    day2 = values(await measures(ingest, [A1, A2, "GZ-T1", "GD", "GD-SZ"], codes, "2025-01-02", "2025-01-02"))
    assert day2[A1] == {
        "calls.inbound": 4,  # c1 c2 c3 c4 (the phantom c5 is ignored)
        "calls.offered": 3,  # c1 c2 c3 asked for an agent
        "calls.answered": 2,  # c1 c2
        "calls.answered_within_15s": 1,  # c1 (10 s); c2 waited 25 s
        "calls.answered_within_20s": 1,
        "calls.abandoned": 1,  # c3
        "calls.answer_wait_seconds": 35,  # 10 + 25
        "calls.abandon_wait_seconds": 40,  # c3
        "calls.queue_seconds": 75,  # 10 + 25 + 40
        "calls.ring_seconds": 8,  # 3 + 5
        "calls.talk_seconds": 300,  # 100 + 200
        "calls.handle_seconds": 330,  # 130 + (no handle time: talk) 200
        "calls.ivr_entered": 1,  # c4
        "calls.ivr_seconds": 30,
        "calls.ivr_resolved": 1,
    }
    # the team and the province add A2's c6 (c7 counts on the 3rd): offered 3+1, answered 2+1, talk 300+60
    assert day2["GZ-T1"]["calls.offered"] == 4 and day2["GD"]["calls.answered"] == 3
    assert day2["GD"]["calls.talk_seconds"] == 360 and day2["GD"]["calls.ivr_seconds"] == 42  # 30 + 12
    assert day2["GD-SZ"] == dict.fromkeys(codes, 0)
    by_day = await measures(
        ingest, [A2], ["calls.answered", "calls.answer_wait_seconds"], "2025-01-01", "2025-01-03", "day"
    )
    assert by_day["rows"] == [
        [A2, "2025-01-01", [0, 0]],
        [A2, "2025-01-02", [1.0, 5.0]],
        [A2, "2025-01-03", [1.0, 30.0]],
    ]
    assert by_day["days_with_data"] == {A2: 2}
    by_month = await measures(
        ingest, ["GD"], ["calls.answered", "unit.population"], "2024-12-01", "2025-01-31", "month"
    )
    assert by_month["rows"] == [["GD", "2024-12", [0, 126012510]], ["GD", "2025-01", [4.0, 126012510]]]


async def test_work_order_and_rating_measures_by_hand(ingest):
    await register_tree(ingest)
    assert (await send(ingest, "work_order", to_csv(ORDERS))).json()["counts"]["new"] == 3
    ratings = [
        {"record_id": "r1", "unit_id": "GZ-HOUSING", "rated_at": "2025-01-08 10:00", "target": "outcome", "rating": 2,
         "reasons": "too_slow;attitude", "verified": "true", "work_order_id": "w1"},
        {"record_id": "r2", "unit_id": A1, "rated_at": "2025-01-08 10:00", "target": "service", "rating": 5},
        {"record_id": "r3", "unit_id": "GZ-HOUSING", "rated_at": "2025-01-09 10:00", "target": "outcome", "rating": 4},
    ]  # fmt: skip
    report = (await send(ingest, "rating", to_csv(ratings))).json()
    assert report["quality"]["consistency"]["checks"][0] == {
        "kind": "rating", "check": "the rated work order exists", "checked": 1, "failed": 0,
    }  # fmt: skip
    codes = ["orders.received", "orders.received_mobile", "orders.mobile_responded_on_time", "orders.handled_directly",
             "orders.dispatched", "orders.dispatched_on_time", "orders.dispatched_precisely", "orders.assigned",
             "orders.first_contact_on_time", "orders.closed", "orders.closed_on_time", "orders.closed_first_time",
             "orders.resolution_hours", "orders.returned_for_redo", "orders.supervised", "orders.supervised_resolved",
             "orders.replied", "orders.reply_complete", "surveys.rated", "surveys.satisfied", "surveys.score_sum",
             "surveys.outcome_rated", "surveys.service_satisfied", "surveys.dissatisfied",
             "surveys.dissatisfied_verified", "surveys.dissatisfied_followed_up", "surveys.reason.too_slow",
             "surveys.reason.attitude", "surveys.reason.result_mismatch"]  # fmt: skip
    got = values(await measures(ingest, ["GD-GZ", "GZ-HOUSING", "GZ-WATER"], codes))
    assert got["GD-GZ"] == {
        "orders.received": 3, "orders.received_mobile": 1,  # w1 came by app
        "orders.mobile_responded_on_time": 1,  # answered 1.5 h after receipt (limit 2 h)
        "orders.handled_directly": 1,  # w3
        "orders.dispatched": 2, "orders.dispatched_on_time": 1,  # w1 after 1 h; w2 after 4 h
        "orders.dispatched_precisely": 1,  # w2 was reassigned once
        "orders.assigned": 3,  # the handling units are inside GD-GZ, so all three count here too
        "orders.first_contact_on_time": 1,  # w1, 2 h after dispatch
        "orders.closed": 3, "orders.closed_on_time": 2,  # w1 before due; w3 by the source's verdict; w2 a day late
        "orders.closed_first_time": 2,  # w2 was returned for redo
        "orders.resolution_hours": 121,  # 72 + 48 + 1
        "orders.returned_for_redo": 2, "orders.supervised": 1, "orders.supervised_resolved": 1,
        "orders.replied": 1, "orders.reply_complete": 1,
        "surveys.rated": 3, "surveys.satisfied": 2, "surveys.score_sum": 11,  # 2 + 5 + 4
        "surveys.outcome_rated": 2, "surveys.service_satisfied": 1, "surveys.dissatisfied": 1,
        "surveys.dissatisfied_verified": 1, "surveys.dissatisfied_followed_up": 0,
        "surveys.reason.too_slow": 1, "surveys.reason.attitude": 1, "surveys.reason.result_mismatch": 0,
    }  # fmt: skip
    housing = got["GZ-HOUSING"]
    assert (housing["orders.received"], housing["orders.assigned"], housing["orders.closed_on_time"]) == (0, 1, 1)
    assert housing["orders.resolution_hours"] == 72 and housing["surveys.score_sum"] == 6
    water = got["GZ-WATER"]
    assert (water["orders.assigned"], water["orders.closed_on_time"], water["orders.returned_for_redo"]) == (1, 0, 2)


async def test_sources_and_contributions_explain_the_values(ingest):
    await register_tree(ingest)
    calls = (await send(ingest, "call", to_csv(call_rows()))).json()
    response = await ingest.post(
        "/measures/sources",
        json={"units": ["GZ-T1", "GD-SZ"], "measures": ["calls.answered"], "from": "2025-01-01", "to": "2025-01-31"},
        headers=GZ,
    )
    assert response.json() == {
        "sources": [
            {
                "unit": "GZ-T1",
                "measure": "calls.answered",
                "batch_id": calls["batchId"],
                "source": "test-src",
                "records": 4,
            }
        ],
        "missing": ["GD-SZ"],  # outside Guangzhou's scope
    }
    response = await ingest.post(
        "/measures/contribution",
        json={"records": [{"source": "test-src", "record_id": "c1"}, {"source": "x", "record_id": "y"}]},
        headers=GZ,
    )
    result = response.json()
    assert result["not_found"] == [{"source": "x", "record_id": "y"}]
    talk = {(c["unit"], c["day"]): c["value"] for c in result["contributions"] if c["measure"] == "calls.talk_seconds"}
    # c1 counts for the agent and every ancestor inside the caller's scope (GD is above GD-GZ: not listed)
    assert talk == {(A1, "2025-01-02"): 100, ("GZ-T1", "2025-01-02"): 100, ("GD-GZ", "2025-01-02"): 100}
    own = await ingest.post("/measures/contribution", json={"records": [{"source": "test-src", "record_id": "c1"}]},
                            headers=auth("GD-SZ", "organizer"))  # fmt: skip
    assert own.json()["contributions"] == []


async def test_unknown_measures_are_refused(ingest):
    response = await ingest.post(
        "/measures/query",
        json={"units": ["GD"], "measures": ["calls.nope"], "from": "2025-01-01", "to": "2025-01-31"},
        headers=ADMIN,
    )
    assert response.status_code == 400 and "calls.nope" in response.text


async def test_the_compact_answer_is_the_json_answer_in_columns(ingest):
    from services.scoring.sources import ACCEPT_MEASURES, COLUMNS_MEDIA_TYPE, decode_columns

    await register_tree(ingest)
    await send(ingest, "call", to_csv(call_rows()))
    for by, units in (("total", [A1, A2, "GD", "GD-SZ", "NOPE"]), ("day", [A2, "GD"]), ("month", ["GD", A1])):
        body = {"units": units, "measures": ["calls.answered", "unit.population", "calls.answer_wait_seconds"],
                "from": "2024-12-30", "to": "2025-01-03", "by": by}  # fmt: skip
        as_json = await ingest.post("/measures/query", json=body, headers=ADMIN)
        compact = await ingest.post("/measures/query", json=body, headers={**ADMIN, "accept": ACCEPT_MEASURES})
        assert as_json.headers["content-type"].startswith("application/json")
        assert compact.headers["content-type"] == COLUMNS_MEDIA_TYPE
        assert decode_columns(compact.content) == as_json.json() and as_json.json()["rows"]
        assert as_json.json()["uncovered"]  # days and units no batch covered: in the header as in the JSON


async def test_the_raw_rows_of_the_affected_days_are_summed_in_parallel_workers(db):
    """The per-(unit, day) sums read no temporary table, so PostgreSQL may scan and sum the raw rows in workers."""
    async with db.session() as session:
        apg = await _driver(session)
        await apg.execute("SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0")
        await apg.execute("SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2")
        await apg.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off")  # a big scan
        await apg.execute("SELECT ingest.ensure_partition('raw_call', '2025-01-01')")
        await apg.execute(
            "INSERT INTO ingest.raw_call (source, record_id, unit_id, started_at, direction, outcome, day, batch_id, "
            "row_no) SELECT 's', 'c' || i, 'U' || i % 50, '2025-01-02', 'inbound', 'answered', '2025-01-02', 1, i "
            "FROM generate_series(1, 20000) i"
        )
        await apg.execute("ANALYZE ingest.raw_call")
        plan = "\n".join(
            r[0] for r in await apg.fetch("EXPLAIN " + aggregation.per_unit_sql("call", "unit"), [date(2025, 1, 2)])
        )
    assert "Gather" in plan and "Partial" in plan and "Parallel Seq Scan on raw_call" in plan, plan
