"""Scope on every entry point: appeal, appeals, Unit.appeals, UnitResult.appeals, _entities, downloads."""

from __future__ import annotations

import base64

from tests.appeals.conftest import DECIDE, ESCALATE, REVIEWER, TAKE, UNIT, as_user, auth, call, file_appeal
from tests.support import data_of, error_codes, gql

CITY_SZ = auth("GD-SZ", "organizer")
WATER = auth("GZ-WATER", "unit")
PROVINCE = auth("GD", "organizer")


async def _two_appeals(appeals):
    gz = (await file_appeal(appeals))["appeal"]
    sz = (await file_appeal(appeals, result="R-SZ", headers=auth("SZ-HOUSING", "unit")))["appeal"]
    return gz, sz


async def test_appeal_and_appeals_are_scoped(appeals):
    gz, sz = await _two_appeals(appeals)
    query = "query($id: ID!) { appeal(id: $id) { id } appeals { totalCount edges { node { id } } } }"
    expectations = [
        (UNIT, gz, {gz["id"]}),  # the appellant: its own
        (auth("GD-GZ", "organizer"), gz, {gz["id"]}),  # the organizer: appeals on its runs
        (PROVINCE, gz, {gz["id"], sz["id"]}),  # the parent: everything under it
        (CITY_SZ, sz, {sz["id"]}),
    ]
    for headers, own, ids in expectations:
        data = data_of(await gql(appeals, query, {"id": own["id"]}, headers=headers))
        assert data["appeal"] == {"id": own["id"]}
        assert {e["node"]["id"] for e in data["appeals"]["edges"]} == ids
        assert data["appeals"]["totalCount"] == len(ids)
    for headers, foreign in ((WATER, gz), (CITY_SZ, gz), (UNIT, sz)):
        data = data_of(await gql(appeals, query, {"id": foreign["id"]}, headers=headers))
        assert data["appeal"] is None and foreign["id"] not in {e["node"]["id"] for e in data["appeals"]["edges"]}


async def test_entities_are_scoped_for_appeals_units_and_results(appeals):
    gz, sz = await _two_appeals(appeals)
    query = """query($reps: [_Any!]!) { _entities(representations: $reps) {
        ... on Appeal { id } ... on Unit { id appeals { id } } ... on UnitResult { id appeals { id } } } }"""
    reps = [
        {"__typename": "Appeal", "id": gz["id"]},
        {"__typename": "Appeal", "id": sz["id"]},
        {"__typename": "Unit", "id": "GZ-HOUSING"},
        {"__typename": "Unit", "id": "SZ-HOUSING"},
        {"__typename": "UnitResult", "id": "R-HOUSING"},
        {"__typename": "UnitResult", "id": "R-SZ"},
    ]
    city = data_of(await gql(appeals, query, {"reps": reps}, headers=auth("GD-GZ", "organizer")))["_entities"]
    assert city == [
        {"id": gz["id"]},
        None,
        {"id": "GZ-HOUSING", "appeals": [{"id": gz["id"]}]},
        {"id": "SZ-HOUSING", "appeals": []},
        {"id": "R-HOUSING", "appeals": [{"id": gz["id"]}]},
        {"id": "R-SZ", "appeals": []},
    ]
    province = data_of(await gql(appeals, query, {"reps": reps}, headers=PROVINCE))["_entities"]
    assert province[1] == {"id": sz["id"]} and province[3]["appeals"] == [{"id": sz["id"]}]
    # No token, no entities.
    assert error_codes(await gql(appeals, query, {"reps": reps})) == ["UNAUTHENTICATED"]


async def test_a_parent_sees_what_was_escalated_to_it(appeals):
    # The province finds what was escalated to it in its queue (status filter, escalatedTo).
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    decided = (
        await call(
            appeals,
            DECIDE,
            {"id": appeal["id"], "v": taken["version"], "o": "REJECTED", "reason": "no", "up": []},
            REVIEWER,
        )
    )["appeal"]
    escalated = (await call(appeals, ESCALATE, {"id": appeal["id"], "v": decided["version"]}, UNIT))["appeal"]
    query = "{ appeals(status: ESCALATED) { edges { node { id escalatedTo } } } }"
    data = data_of(await gql(appeals, query, headers=auth("GD", "reviewer")))
    assert data["appeals"]["edges"] == [{"node": {"id": escalated["id"], "escalatedTo": "GD"}}]


async def test_evidence_downloads_are_scoped(appeals):
    draft = (await file_appeal(appeals, submit=False))["appeal"]
    mutation = """mutation($id: ID!, $v: Int!, $f: String!, $c: String!) {
        addEvidenceFile(id: $id, expectedVersion: $v, filename: $f, contentBase64: $c) {
          ok problems { code } appeal { evidenceFiles { id mediaType sha256 downloadPath } } } }"""
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
    added = data_of(
        await gql(
            appeals,
            mutation,
            {"id": draft["id"], "v": draft["version"], "f": "logs.pdf", "c": base64.b64encode(pdf).decode()},
            headers=UNIT,
        )
    )
    [file] = added["addEvidenceFile"]["appeal"]["evidenceFiles"]
    assert file["mediaType"] == "application/pdf"
    own = await appeals.get(file["downloadPath"], headers=UNIT)
    assert own.status_code == 200 and own.content == pdf
    assert own.headers["content-type"] == "application/pdf" and own.headers["x-content-type-options"] == "nosniff"
    assert own.headers["content-disposition"].startswith("attachment")
    # A draft's evidence is the filer's alone (issue 17); once submitted, the organizer may download it.
    assert (await appeals.get(file["downloadPath"], headers=auth("GD-GZ", "organizer"))).status_code == 404
    version = data_of(await gql(appeals, "query($id: ID!) { appeal(id: $id) { version } }", {"id": draft["id"]},
                                headers=UNIT))["appeal"]["version"]  # fmt: skip
    submit = "mutation($id: ID!, $v: Int!) { submitAppeal(id: $id, expectedVersion: $v) { ok } }"
    assert data_of(await gql(appeals, submit, {"id": draft["id"], "v": version}, headers=UNIT))["submitAppeal"]["ok"]
    assert (await appeals.get(file["downloadPath"], headers=auth("GD-GZ", "organizer"))).status_code == 200
    for headers in (WATER, CITY_SZ, as_user("GD-SZ", "x", "reviewer")):
        response = await appeals.get(file["downloadPath"], headers=headers)
        assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"
    assert (await appeals.get(file["downloadPath"])).status_code == 401


async def test_a_reviewers_queue_is_what_its_unit_decides_now(appeals):
    gz, _sz = await _two_appeals(appeals)
    query = "query($d: ID) { appeals(decidingUnitId: $d) { totalCount edges { node { id } } } }"
    queue = data_of(await gql(appeals, query, {"d": "GD-GZ"}, headers=PROVINCE))["appeals"]
    assert queue["totalCount"] == 1 and queue["edges"] == [{"node": {"id": gz["id"]}}]
    foreign = data_of(await gql(appeals, query, {"d": "GD-SZ"}, headers=auth("GD-GZ", "reviewer")))["appeals"]
    assert foreign["totalCount"] == 0  # another city's queue stays out of scope
