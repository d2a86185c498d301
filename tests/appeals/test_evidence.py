"""Evidence files over REST (multipart): type by content, size limit, duplicates, scope, concurrency."""

from __future__ import annotations

import hashlib

from services.appeals.evidence import MAX_FILE_BYTES
from tests.appeals.conftest import REQUEST_INFO, REVIEWER, TAKE, UNIT, auth, call, file_appeal
from tests.support import data_of, gql

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 32


async def _upload(appeals, appeal, content, *, name="shot.png", headers=UNIT, version=None):
    return await appeals.post(
        f"/appeals/{appeal['id']}/evidence",
        files={"file": (name, content, "application/octet-stream")},
        data={"expected_version": str(version if version is not None else appeal["version"])},
        headers=headers,
    )


async def test_upload_then_list_and_download(appeals):
    draft = (await file_appeal(appeals, submit=False))["appeal"]
    response = await _upload(appeals, draft, PNG)
    assert response.status_code == 200 and response.json()["ok"], response.text
    version = response.json()["appeal"]["version"]
    query = "query($id: ID!) { appeal(id: $id) { version evidenceFiles { filename mediaType sizeBytes sha256 downloadPath } } }"
    # A draft's evidence is its filer's alone (issue 17): the organizer sees it only once submitted.
    assert data_of(await gql(appeals, query, {"id": draft["id"]}, headers=auth("GD-GZ", "organizer")))["appeal"] is None
    seen = data_of(await gql(appeals, query, {"id": draft["id"]}, headers=UNIT))["appeal"]
    [file] = seen["evidenceFiles"]
    assert seen["version"] == version
    assert file["mediaType"] == "image/png" and file["sizeBytes"] == len(PNG)
    assert file["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (await appeals.get(file["downloadPath"], headers=UNIT)).content == PNG
    again = await _upload(appeals, draft, PNG, version=version)
    assert [p["code"] for p in again.json()["problems"]] == ["DUPLICATE_FILE"]


async def test_refusals(appeals):
    draft = (await file_appeal(appeals, submit=False))["appeal"]
    exe = await _upload(appeals, draft, b"MZ\x90\x00" + b"\x00" * 64, name="report.pdf")
    assert exe.status_code == 200 and [p["code"] for p in exe.json()["problems"]] == ["FILE_TYPE_REFUSED"]
    big = await _upload(appeals, draft, b"a" * (MAX_FILE_BYTES + 1), name="big.txt")
    assert [p["code"] for p in big.json()["problems"]] == ["FILE_TOO_LARGE"]
    foreign = await _upload(appeals, draft, PNG, headers=auth("GZ-WATER", "unit"))
    assert foreign.status_code == 404
    # The organizer cannot even see a draft (issue 17); once it may, it still may not add the unit's evidence.
    organizer = await _upload(appeals, draft, PNG, headers=auth("GD-GZ", "organizer"))
    assert organizer.status_code == 404
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    asked = await call(appeals, REQUEST_INFO, {"id": appeal["id"], "v": taken["version"], "m": "logs?"}, REVIEWER)
    organizer = await _upload(appeals, asked["appeal"], PNG, headers=auth("GD-GZ", "organizer"))
    assert [p["code"] for p in organizer.json()["problems"]] == ["FORBIDDEN_ROLE"]
    stale = await _upload(appeals, draft, PNG, version=draft["version"] - 1)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "CONFLICT"
    assert (await _upload(appeals, draft, PNG, headers={})).status_code == 401


async def test_evidence_only_while_the_unit_may_add_it(appeals):
    appeal = (await file_appeal(appeals))["appeal"]  # submitted
    refused = await _upload(appeals, appeal, PNG)
    assert [p["code"] for p in refused.json()["problems"]] == ["INVALID_TRANSITION"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    asked = await call(appeals, REQUEST_INFO, {"id": appeal["id"], "v": taken["version"], "m": "logs?"}, REVIEWER)
    assert (await _upload(appeals, asked["appeal"], PNG)).json()["ok"]
