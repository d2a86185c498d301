"""Bulk registration through the ingest service's REST endpoint and GraphQL mutation, on PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select, text

from services.ingest.models import Unit
from tests.support import TREE, auth, data_of, error_codes, gql

ADMIN = auth("GD", "admin")
COLUMNS = ["id", "parent_id", "kind", "name_zh", "name_en", "population", "active", "valid_from", "valid_to"]


def to_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in COLUMNS})
    return out.getvalue()


async def upload(client, content: bytes, *, filename="units.csv", headers=ADMIN, dry_run=False):
    return await client.post(
        "/units/bulk",
        params={"dry_run": str(dry_run).lower()},
        files={"file": (filename, content)},
        headers=headers,
    )


async def snapshot(db) -> list[tuple]:
    async with db.session() as session:
        rows = await session.execute(
            text("SELECT id, parent_id, path, kind, name_zh, population, active FROM ingest.unit ORDER BY id")
        )
        return [tuple(r) for r in rows]


async def test_csv_upload_registers_the_tree_and_a_resend_changes_nothing(ingest, db):
    first = await upload(ingest, to_csv(TREE).encode())
    assert first.status_code == 200, first.text
    assert first.json()["counts"] == {"created": 11, "updated": 0, "moved": 0, "unchanged": 0, "rejected": 0}
    stored = await snapshot(db)
    again = await upload(ingest, to_csv(TREE).encode())
    assert again.json()["counts"]["unchanged"] == 11
    assert await snapshot(db) == stored
    async with db.session() as session:
        agent = await session.get(Unit, "GZ-T1-A001")
        assert agent.path == "GD/GD-GZ/GZ-T1/GZ-T1-A001" and agent.depth == 3


async def test_gb18030_and_bom_files_are_read(ingest, db):
    gbk = await upload(ingest, to_csv(TREE).encode("gb18030"))
    assert gbk.json()["counts"]["created"] == 11, gbk.text
    bom = await upload(ingest, "\ufeff".encode() + to_csv(TREE).encode())
    assert bom.json()["counts"]["unchanged"] == 11, bom.text
    async with db.session() as session:
        assert (await session.get(Unit, "GZ-HOUSING")).name_zh == "广州市住房和城乡建设局"


async def test_json_body_is_accepted(ingest):
    response = await ingest.post(
        "/units/bulk", content=json.dumps({"units": TREE[:3]}), headers={**ADMIN, "content-type": "application/json"}
    )
    assert response.json()["counts"]["created"] == 3, response.text


async def test_rejected_rows_leave_the_directory_unchanged(ingest, db):
    await upload(ingest, to_csv(TREE).encode())
    before = await snapshot(db)
    bad = [
        {"id": "GZ-NEW", "parent_id": "GD-NOWHERE", "kind": "undertaking_unit", "name_zh": "无父"},
        {"id": "GZ-HOUSING", "parent_id": "GZ-HOUSING-SUB"},  # would make a cycle with the next row
        {"id": "GZ-HOUSING-SUB", "parent_id": "GZ-HOUSING", "kind": "undertaking_unit", "name_zh": "下属"},
        {"id": "GZ-WATER", "kind": "bureau"},
        {"id": "GZ-TIANHE", "population": "many"},
    ]
    response = await upload(ingest, to_csv(bad).encode())
    report = response.json()
    assert report["counts"]["rejected"] == 5
    problems = {row["row"]: row["problems"][0] for row in report["rows"]}
    assert problems[1] == {"field": "parent_id", "value": "GD-NOWHERE", "message": "unknown parent 'GD-NOWHERE'"}
    assert "cycle" in problems[2]["message"] and "cycle" in problems[3]["message"]
    assert problems[4]["field"] == "kind" and problems[4]["value"] == "bureau"
    assert problems[5]["field"] == "population"
    # Nothing of any rejected row was written.
    assert await snapshot(db) == before


async def test_good_rows_are_kept_beside_bad_ones(ingest, db):
    rows = [*TREE, {"id": "GZ-BAD", "parent_id": "GD-NOWHERE", "kind": "district", "name_zh": "坏"}]
    report = (await upload(ingest, to_csv(rows).encode())).json()
    assert report["counts"]["created"] == 11 and report["counts"]["rejected"] == 1
    async with db.session() as session:
        assert await session.get(Unit, "GZ-BAD") is None


async def test_moving_a_unit_rewrites_its_subtree_and_records_history(ingest, db):
    await upload(ingest, to_csv(TREE).encode())
    result = await gql(
        ingest,
        'mutation { registerUnits(units: [{id: "GZ-T1", parentId: "GD-SZ"}]) { moved rows { action changedFields } } }',
        headers=ADMIN,
    )
    assert data_of(result)["registerUnits"] == {
        "moved": 1,
        "rows": [{"action": "MOVED", "changedFields": ["parent_id"]}],
    }
    async with db.session() as session:
        paths = dict((await session.execute(select(Unit.id, Unit.path).where(Unit.id.like("GZ-T1%")))).all())
    assert paths == {"GZ-T1": "GD/GD-SZ/GZ-T1", "GZ-T1-A001": "GD/GD-SZ/GZ-T1/GZ-T1-A001"}
    history = await gql(ingest, '{ unit(id: "GZ-T1") { history { change before after } } }', headers=ADMIN)
    changes = data_of(history)["unit"]["history"]
    assert [c["change"] for c in changes] == ["created", "moved"]
    assert changes[1]["before"]["parent_id"] == "GD-GZ" and changes[1]["after"]["parent_id"] == "GD-SZ"


async def test_dry_run_writes_nothing(ingest, db):
    report = (await upload(ingest, to_csv(TREE).encode(), dry_run=True)).json()
    assert report["dryRun"] is True and report["counts"]["created"] == 11
    assert await snapshot(db) == []


async def test_only_admins_and_organizers_register(ingest, db):
    await upload(ingest, to_csv(TREE).encode())
    response = await upload(ingest, to_csv(TREE).encode(), headers=auth("GD", "viewer"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "FORBIDDEN"
    result = await gql(ingest, 'mutation { registerUnits(units: [{id: "GZ-WATER", nameEn: "x"}]) { updated } }',
                       headers=auth("GD-GZ", "unit"))  # fmt: skip
    assert error_codes(result) == ["FORBIDDEN"]


async def test_a_city_organizer_registers_inside_its_city_only(ingest, db):
    await upload(ingest, to_csv(TREE).encode())
    rows = [
        {"id": "GZ-TRANSPORT", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "广州市交通运输局"},
        {"id": "SZ-TRANSPORT", "parent_id": "GD-SZ", "kind": "undertaking_unit", "name_zh": "深圳市交通运输局"},
        {"id": "GZ-SZ-OFFICE", "parent_id": "GD-SZ", "kind": "undertaking_unit", "name_zh": "驻深办"},
    ]
    report = (await upload(ingest, to_csv(rows).encode(), headers=auth("GD-GZ", "organizer"))).json()
    assert [r["action"] for r in report["rows"]] == ["created", "rejected", "rejected"]
    # Shenzhen's namespace is not Guangzhou's (the visibility policy); inside its own, a foreign parent is unknown.
    assert report["rows"][1]["problems"] == [{"field": "id", "value": "SZ-TRANSPORT", "message": "id not available"}]
    assert report["rows"][2]["problems"][0]["message"] == "unknown parent 'GD-SZ'"


async def test_bad_files_get_clear_errors(ingest, db):
    cases = {
        b"": "the file is empty",
        b"name,kind\nx,y\n": "must include 'id'",
        b"id,colour\nGD,red\n": "unknown CSV columns ['colour']",
        b"id,parent_id,kind\nGD,,province_body,extra\n": "more fields than the header",
        b"id,parent_id,kind\nGD\n": "fewer fields than the header",
        b'[{"id": "GD"': "invalid JSON at line 1",
        b"\xff\xfe\x00\xd8": "cannot decode",
    }
    for content, message in cases.items():
        response = await upload(ingest, content)
        assert response.status_code == 400, (content, response.text)
        assert message in response.json()["error"]["message"], (content, response.text)
    assert await snapshot(db) == []


async def test_missing_or_bad_tokens_are_refused_on_rest(ingest):
    assert (await upload(ingest, b"id\nGD\n", headers={})).json()["error"]["code"] == "UNAUTHENTICATED"
    bad = {"authorization": "Bearer not-a-jwt"}
    assert (await upload(ingest, b"id\nGD\n", headers=bad)).status_code == 401
