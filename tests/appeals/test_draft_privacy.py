"""A draft is its filer's own until it is submitted: no other unit reads it, its evidence or its record, and no
event about it reaches anyone else — on every read path (appeal, appeals, entities, downloads, inbox, webhooks,
statistics). Written before the fix (issue 17): the city's reviewers saw drafts and got their events."""

from __future__ import annotations

import base64
import json

from tests.appeals.conftest import REVIEWER, UNIT, WITHDRAW, as_user, auth, call, file_appeal
from tests.support import data_of, gql

CITY_ORGANIZER = as_user("GD-GZ", "organizer-chen", "organizer")
PROVINCE = auth("GD", "organizer")
SIBLING_UNIT = auth("GZ-WATER", "unit")
OUTSIDERS = {"city organizer": CITY_ORGANIZER, "city reviewer": REVIEWER, "province": PROVINCE, "sibling": SIBLING_UNIT}
CITY_HOOK = "https://hooks.gd-gz.example/appeals"
UNIT_HOOK = "https://hooks.gz-housing.example/appeals"
SECRET = "s3cret-of-sufficient-length-01"
REGISTER = "mutation($u: String!, $s: String!) { registerAppealWebhook(url: $u, secret: $s) { problems { code } } }"
ADD_FILE = """mutation($id: ID!, $v: Int!, $c: String!) {
  addEvidenceFile(id: $id, expectedVersion: $v, filename: "closure-log.pdf", contentBase64: $c) {
    ok problems { code } appeal { version evidenceFiles { downloadPath } } } }"""
EDIT = """mutation($id: ID!, $v: Int!) { editAppeal(id: $id, expectedVersion: $v, reason: "two orders closed on time") {
  ok appeal { version } } }"""
READS = """query($id: ID!, $reps: [_Any!]!) {
  appeal(id: $id) { id }
  appeals(first: 50) { totalCount edges { node { id } } }
  appealInbox { kind appealId }
  appealStatistics(runId: "RUN-GZ") { total byStatus { key count } }
  _entities(representations: $reps) {
    ... on Appeal { id } ... on Unit { id appeals { id } } ... on UnitResult { id appeals { id } } } }"""
PDF = b"%PDF-1.4\n% closure log\n%%EOF\n"


async def _reads(appeals, appeal_id: str, headers) -> dict:
    reps = [
        {"__typename": "Appeal", "id": appeal_id},
        {"__typename": "Unit", "id": "GZ-HOUSING"},
        {"__typename": "UnitResult", "id": "R-HOUSING"},
    ]
    return data_of(await gql(appeals, READS, {"id": appeal_id, "reps": reps}, headers=headers))


async def test_a_draft_and_its_evidence_are_the_filers_alone_until_submitted(appeals_app, appeals, receiver, clock):
    for headers, url in ((CITY_ORGANIZER, CITY_HOOK), (UNIT, UNIT_HOOK)):
        registered = data_of(await gql(appeals, REGISTER, {"u": url, "s": SECRET}, headers=headers))
        assert registered["registerAppealWebhook"]["problems"] == []
    draft = (await file_appeal(appeals, submit=False))["appeal"]
    added = data_of(
        await gql(
            appeals,
            ADD_FILE,
            {"id": draft["id"], "v": draft["version"], "c": base64.b64encode(PDF).decode()},
            headers=UNIT,
        )
    )["addEvidenceFile"]
    assert added["ok"], added
    [file] = added["appeal"]["evidenceFiles"]
    edited = data_of(await gql(appeals, EDIT, {"id": draft["id"], "v": added["appeal"]["version"]}, headers=UNIT))
    version = edited["editAppeal"]["appeal"]["version"]
    # A second draft, withdrawn without ever being submitted, stays as private as a draft.
    abandoned = (await file_appeal(appeals, submit=False, indicators=["answer_rate"], asks=[]))["appeal"]
    withdrawn = await call(appeals, WITHDRAW, {"id": abandoned["id"], "v": abandoned["version"]}, UNIT)
    assert withdrawn["ok"], withdrawn

    for who, headers in OUTSIDERS.items():
        for appeal_id in (draft["id"], abandoned["id"]):
            data = await _reads(appeals, appeal_id, headers)
            assert data["appeal"] is None, who
            assert data["appeals"] == {"totalCount": 0, "edges": []}, who
            assert data["appealInbox"] == [], who
            assert data["appealStatistics"]["total"] == 0 and data["appealStatistics"]["byStatus"] == [], who
            assert data["_entities"][0] is None, who
            assert data["_entities"][1]["appeals"] == [] and data["_entities"][2]["appeals"] == [], who
        download = await appeals.get(file["downloadPath"], headers=headers)
        assert download.status_code == 404, who

    # The filer sees both drafts, the evidence and every step.
    own = await _reads(appeals, draft["id"], UNIT)
    assert own["appeal"] == {"id": draft["id"]} and own["appeals"]["totalCount"] == 2
    assert [e["kind"] for e in own["appealInbox"]] == ["withdrawn", "filed", "edited", "evidence_added", "filed"]
    assert (await appeals.get(file["downloadPath"], headers=UNIT)).content == PDF

    # No webhook about a draft reached anyone but the filer.
    await appeals_app.state.appeals.sender.deliver_due(clock())
    assert {str(r.url) for r in receiver.requests} == {UNIT_HOOK}

    # Once submitted, the appeal is the reviewers': the city sees it and is told of the submission only.
    receiver.requests.clear()
    submitted = await call(
        appeals,
        "mutation($id: ID!, $v: Int!) { submitAppeal(id: $id, expectedVersion: $v) { ok problems { code } } }",
        {"id": draft["id"], "v": version},
        UNIT,
    )
    assert submitted["ok"], submitted
    city = await _reads(appeals, draft["id"], CITY_ORGANIZER)
    assert city["appeal"] == {"id": draft["id"]} and city["appeals"]["totalCount"] == 1
    assert [(e["kind"], e["appealId"]) for e in city["appealInbox"]] == [("submitted", draft["id"])]
    assert city["appealStatistics"]["total"] == 1
    assert (await appeals.get(file["downloadPath"], headers=CITY_ORGANIZER)).content == PDF
    await appeals_app.state.appeals.sender.deliver_due(clock())
    to_city = [json.loads(r.content) for r in receiver.requests if str(r.url) == CITY_HOOK]
    assert [p["event"] for p in to_city] == ["submitted"]
    # The abandoned draft stays private for good.
    assert (await _reads(appeals, abandoned["id"], CITY_ORGANIZER))["appeal"] is None
