"""End-to-end: raw records through the gateway (GraphQL) and the ingest service's bulk REST endpoint."""

from __future__ import annotations

from tests.support import auth, data_of, gql

CITY = auth("GD-GZ", "organizer")
SHENZHEN = auth("GD-SZ", "organizer")

SUBMIT = """mutation($records: [JSON!]!) {
  submitRecords(kind: "smart_test", source: "gz-bot-check", records: $records) {
    id status counts { new rejected } problems { row field reason }
  }
}"""


async def test_a_small_batch_through_the_gateway_and_its_measures_over_rest(gateway, ingest_http):
    records = [
        {
            "record_id": "e2e-1",
            "unit_id": "GD-GZ",
            "tested_at": "2025-03-03T10:00:00",
            "correct": True,
            "response_seconds": 2,
        },
        {"record_id": "e2e-2", "unit_id": "GD-GZ", "tested_at": "2025-03-03T11:00:00", "correct": False},
        {"record_id": "e2e-3", "unit_id": "SZ-T1", "tested_at": "2025-03-03T11:00:00", "correct": True},
    ]
    batch = data_of(await gql(gateway, SUBMIT, {"records": records}, headers=CITY))["submitRecords"]
    assert batch["status"] == "done" and batch["counts"] == {"new": 2, "rejected": 1}
    assert batch["problems"][0]["row"] == 3 and batch["problems"][0]["field"] == "unit_id"
    query = "query($id: ID!) { ingestBatch(id: $id) { status quality { precision { validShare } } } }"
    seen = data_of(await gql(gateway, query, {"id": batch["id"]}, headers=CITY))["ingestBatch"]
    assert seen == {"status": "done", "quality": {"precision": {"validShare": round(2 / 3, 4)}}}
    assert data_of(await gql(gateway, query, {"id": batch["id"]}, headers=SHENZHEN))["ingestBatch"] is None
    body = {"units": ["GD-GZ", "GD"], "measures": ["smart.tests", "smart.correct", "smart.response_seconds"],
            "from": "2025-03-01", "to": "2025-03-31", "by": "total"}  # fmt: skip
    answer = (await ingest_http.post("/measures/query", json=body, headers=CITY)).json()
    assert answer["rows"] == [["GD-GZ", "total", [2.0, 1.0, 2.0]]] and answer["missing"] == ["GD"]


CALLS = """mutation($records: [JSON!]!) {
  submitRecords(kind: "call", source: "e2e-repeat-acd", records: $records) {
    id status counts { new skipped }
    repeatCallers { sourceFlag computed computedRepeats noCallerHash otherCallsChanged }
  }
}"""


async def test_repeat_callers_judged_by_ingest_through_the_gateway(gateway, ingest_http):
    """Calls without the source's repeat flag: the second call of a caller to Guangzhou within 7 days is a repeat,
    the batch report says the flags were computed, and the measure counts it."""

    def call(record_id: str, at: str, caller: str | None) -> dict:
        return {"record_id": record_id, "unit_id": "GZ-T1-A001", "started_at": at, "direction": "inbound",
                "outcome": "answered", "caller_hash": caller}  # fmt: skip

    records = [call("r1", "2019-06-10T09:00:00", "e2e-h1"), call("r2", "2019-06-12T09:00:00", "e2e-h1"),
               call("r3", "2019-06-12T10:00:00", None)]  # fmt: skip
    batch = data_of(await gql(gateway, CALLS, {"records": records}, headers=CITY))["submitRecords"]
    assert batch["status"] == "done" and batch["counts"] == {"new": 3, "skipped": 0}
    assert batch["repeatCallers"] == {"sourceFlag": 0, "computed": 2, "computedRepeats": 1, "noCallerHash": 1,
                                      "otherCallsChanged": 0}  # fmt: skip
    body = {"units": ["GD-GZ"], "measures": ["calls.repeat", "calls.answered"], "from": "2019-06-01",
            "to": "2019-06-30", "by": "total"}  # fmt: skip
    answer = (await ingest_http.post("/measures/query", json=body, headers=CITY)).json()
    assert answer["rows"] == [["GD-GZ", "total", [1.0, 3.0]]]
