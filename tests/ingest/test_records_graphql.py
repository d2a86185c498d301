"""GraphQL for raw records: a small JSON batch, its report, data quality, scope, mappings."""

from __future__ import annotations

from tests.ingest.records_support import ADMIN, GZ, register_tree
from tests.support import auth, data_of, gql

SUBMIT = """mutation($records: [JSON!]!) {
  submitRecords(kind: "rating", source: "gz-survey", records: $records) {
    id status counts { read valid rejected new }
    problems { row field value reason }
    quality { precision { validShare } consistency { checks { check checked failed } } }
  }
}"""


async def test_small_json_batch_report_and_quality(ingest):
    await register_tree(ingest)
    records = [
        {"record_id": "r1", "unit_id": "GZ-HOUSING", "rated_at": "2025-01-08T10:00:00", "target": "outcome", "rating": 2,
         "reasons": ["too_slow"], "work_order_id": "w-none"},
        {"record_id": "r2", "unit_id": "GZ-HOUSING", "rated_at": "2025-01-08T10:00:00", "target": "outcome", "rating": 9},
    ]  # fmt: skip
    batch = data_of(await gql(ingest, SUBMIT, {"records": records}, headers=GZ))["submitRecords"]
    assert batch["status"] == "done"
    assert batch["counts"] == {"read": 2, "valid": 1, "rejected": 1, "new": 1}
    assert batch["problems"] == [{"row": 2, "field": "rating", "value": "9", "reason": "must be ≤ 5"}]
    assert batch["quality"]["consistency"]["checks"][0] == {
        "check": "the rated work order exists",
        "checked": 1,
        "failed": 1,
    }
    query = """query($id: ID!) { ingestBatch(id: $id) { status counts { new } submitterUnitId } }"""
    assert data_of(await gql(ingest, query, {"id": batch["id"]}, headers=ADMIN))["ingestBatch"]["status"] == "done"
    # Shenzhen sees neither the batch nor Guangzhou's quality
    sz = auth("GD-SZ", "organizer")
    assert data_of(await gql(ingest, query, {"id": batch["id"]}, headers=sz))["ingestBatch"] is None
    quality = """query($u: ID!) { dataQuality(unitId: $u, fromDate: "2025-01-01", toDate: "2025-01-31") {
        recordsByKind completeness { daysWithoutData } precision { rowsValid rowsRejected } } }"""
    got = data_of(await gql(ingest, quality, {"u": "GD-GZ"}, headers=GZ))["dataQuality"]
    assert got["recordsByKind"]["rating"] == 1 and len(got["completeness"]["daysWithoutData"]) == 30
    assert got["precision"] == {"rowsValid": 1, "rowsRejected": 1}
    assert data_of(await gql(ingest, quality, {"u": "GD-GZ"}, headers=sz))["dataQuality"] is None
    listed = data_of(await gql(ingest, "{ ingestBatches { id kind } }", headers=GZ))["ingestBatches"]
    assert [b["id"] for b in listed] == [batch["id"]]


async def test_withdraw_and_mappings_through_graphql(ingest):
    await register_tree(ingest)
    records = [{"record_id": "k1", "unit_id": "GD-GZ", "published_at": "2025-01-02T09:00:00"}]
    submit = 'mutation($r: [JSON!]!) { submitRecords(kind: "knowledge_update", source: "kb", records: $r) { id } }'
    batch_id = data_of(await gql(ingest, submit, {"r": records}, headers=GZ))["submitRecords"]["id"]
    withdrawn = data_of(
        await gql(ingest, "mutation($id: ID!) { withdrawBatch(id: $id) { status } }", {"id": batch_id}, headers=GZ)
    )
    assert withdrawn["withdrawBatch"]["status"] == "withdrawn"
    spec = {"kind": "smart_test", "fields": {"record_id": {"column": "id"}, "unit_id": {"value": "GD-GZ"},
            "tested_at": {"column": "when"}, "correct": {"column": "ok"}}}  # fmt: skip
    save = 'mutation($s: JSON!) { saveColumnMapping(name: "gz-bot-tests", spec: $s) { name kind } }'
    assert data_of(await gql(ingest, save, {"s": spec}, headers=GZ))["saveColumnMapping"]["kind"] == "smart_test"
    names = data_of(await gql(ingest, "{ columnMappings { name ownerUnitId } }", headers=GZ))["columnMappings"]
    assert {"name": "gz-bot-tests", "ownerUnitId": "GD-GZ"} in names
    bad = await gql(ingest, save.replace("gz-bot-tests", "bad"), {"s": {"kind": "call", "fields": {}}}, headers=GZ)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_several_record_fields_in_one_request(ingest):
    """Root fields resolve concurrently; they share the request's session without colliding."""
    await register_tree(ingest)
    query = """{ ingestBatches { id } columnMappings { name }
        dataQuality(unitId: "GD-GZ", fromDate: "2025-01-01", toDate: "2025-01-31") { recordsByKind }
        other: dataQuality(unitId: "GD", fromDate: "2025-01-01", toDate: "2025-01-31") { recordsByKind }
        ingestBatch(id: "1") { id } }"""
    data = data_of(await gql(ingest, query, headers=ADMIN))
    assert data["ingestBatches"] == [] and data["dataQuality"]["recordsByKind"]["call"] == 0


async def test_a_batch_id_that_is_no_number_is_a_bad_request_not_a_server_error(ingest):
    for bad in ("3f2b6c1e-0000-4000-8000-000000000000", "12abc", "9" * 40):
        answer = await gql(ingest, "mutation($id: ID!) { withdrawBatch(id: $id) { status } }", {"id": bad}, headers=GZ)
        [error] = answer["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST", error
        assert "a batch id is a whole number" in error["message"]
