from tests.ingest.records_support import register_tree, send, to_csv, measures, values

CALLS = [
    {"record_id": "c1", "unit_id": "GZ-T1-A001", "started_at": "2025-01-02 09:00:00", "direction": "inbound", "outcome": "answered", "queue_seconds": "10", "talk_seconds": "100"},
    {"record_id": "c2", "unit_id": "GZ-T1-A001", "started_at": "2025-01-02 09:05:00", "direction": "inbound", "outcome": "abandoned", "queue_seconds": "30"},
]


async def test_smoke(ingest):
    await register_tree(ingest)
    r = await send(ingest, "call", to_csv(CALLS))
    assert r.status_code == 200, r.text
    print(r.json())
    m = await measures(ingest, ["GZ-T1-A001", "GD"], ["calls.offered", "calls.answered", "calls.talk_seconds", "unit.population"])
    print(m)
    assert values(m)["GD"]["calls.offered"] == 2
