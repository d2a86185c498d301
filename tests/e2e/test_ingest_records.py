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
