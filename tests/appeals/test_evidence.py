"""Evidence files over REST (multipart): type by content, size limit, duplicates, scope, concurrency."""

from __future__ import annotations

import hashlib
import json

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
    downloaded = await appeals.get(file["downloadPath"], headers=UNIT)
    assert downloaded.content == PNG
    # A file never changes: its digest is its validator, and a client holding it is answered 304 (issue 16).
    assert downloaded.headers["etag"] == f'"{file["sha256"]}"'
    assert downloaded.headers["cache-control"] == "private, no-cache"
    held = await appeals.get(file["downloadPath"], headers={**UNIT, "if-none-match": downloaded.headers["etag"]})
    assert held.status_code == 304 and held.content == b""
    # Not to a caller who may not see it, tag or no tag.
    foreign = {**auth("GZ-WATER", "unit"), "if-none-match": downloaded.headers["etag"]}
    assert (await appeals.get(file["downloadPath"], headers=foreign)).status_code == 404
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


UPLOAD = """mutation($id: ID!, $v: Int!, $f: Upload!) { addEvidenceFile(id: $id, expectedVersion: $v, file: $f) {
  ok problems { code field } appeal { version evidenceFiles { filename mediaType sizeBytes downloadPath } } } }"""


async def _multipart(appeals, query: str, variables: dict, files: dict[str, tuple[str, bytes]], headers=UNIT):
    """A GraphQL multipart request (the GraphQL multipart request spec): ``files`` maps variable paths to files."""
    paths = list(files)
    return await appeals.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": query, "variables": variables}),
            "map": json.dumps({str(i): [f"variables.{p}"] for i, p in enumerate(paths)}),
        },
        files={str(i): (files[p][0], files[p][1], "application/octet-stream") for i, p in enumerate(paths)},
        headers=headers,
    )


async def test_a_large_file_as_a_graphql_multipart_upload(appeals):
    # Issue 17: a base64 file in a JSON body is limited by the 1 MiB GraphQL body limit; an upload is not.
    draft = (await file_appeal(appeals, submit=False))["appeal"]
    pdf = b"%PDF-1.4\n" + b"7" * (3 * 1024 * 1024) + b"\n%%EOF\n"
    response = await _multipart(appeals, UPLOAD, {"id": draft["id"], "v": draft["version"], "f": None},
                                {"f": ("scan.pdf", pdf)})  # fmt: skip
    assert response.status_code == 200, response.text
    added = response.json()["data"]["addEvidenceFile"]
    assert added["ok"], added
    [file] = added["appeal"]["evidenceFiles"]
    assert (file["filename"], file["mediaType"], file["sizeBytes"]) == ("scan.pdf", "application/pdf", len(pdf))
    assert (await appeals.get(file["downloadPath"], headers=UNIT)).content == pdf
    # Neither or both of `file` and `contentBase64`: a clear problem, nothing stored.
    both = """mutation($id: ID!, $v: Int!, $f: Upload!) { addEvidenceFile(id: $id, expectedVersion: $v, file: $f,
      contentBase64: "aGVsbG8=") { ok problems { code } } }"""
    refused = await _multipart(appeals, both, {"id": draft["id"], "v": added["appeal"]["version"], "f": None},
                               {"f": ("a.txt", b"hello")})  # fmt: skip
    assert [p["code"] for p in refused.json()["data"]["addEvidenceFile"]["problems"]] == ["BAD_CONTENT"]
    # A body above the upload limit (a file and its framing) is refused before it is read.
    huge = await _multipart(appeals, UPLOAD, {"id": draft["id"], "v": 2, "f": None},
                            {"f": ("huge.pdf", b"%PDF-" + b"0" * (12 * 1024 * 1024))})  # fmt: skip
    assert huge.status_code == 413 and huge.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_information_given_with_files_and_every_file_checked(appeals):
    appeal = (await file_appeal(appeals))["appeal"]
    taken = (await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER))["appeal"]
    asked = (await call(appeals, REQUEST_INFO, {"id": appeal["id"], "v": taken["version"], "m": "logs?"}, REVIEWER))[
        "appeal"
    ]
    give = """mutation($id: ID!, $v: Int!, $files: [Upload!]) { giveInformation(id: $id, expectedVersion: $v,
      message: "the closure logs", files: $files) { ok problems { code field } appeal { status version
      evidenceFiles { filename } events { kind } } } }"""
    variables = {"id": appeal["id"], "v": asked["version"], "files": [None, None]}
    # One file refused (an executable): the reply is refused whole, nothing stored.
    bad = await _multipart(appeals, give, variables,
                           {"files.0": ("log.png", PNG), "files.1": ("tool.pdf", b"MZ\x90\x00" + b"\x00" * 64)})  # fmt: skip
    payload = bad.json()["data"]["giveInformation"]
    assert payload["problems"] == [{"code": "FILE_TYPE_REFUSED", "field": "files[1]"}]
    assert payload["appeal"]["status"] == "INFORMATION_REQUESTED" and payload["appeal"]["evidenceFiles"] == []
    good = await _multipart(appeals, give, variables,
                            {"files.0": ("log.png", PNG), "files.1": ("log.txt", b"closed 09:30")})  # fmt: skip
    payload = good.json()["data"]["giveInformation"]
    assert payload["ok"], payload
    assert [f["filename"] for f in payload["appeal"]["evidenceFiles"]] == ["log.png", "log.txt"]
    assert [e["kind"] for e in payload["appeal"]["events"]][-3:] == ["evidence_added", "evidence_added",
                                                                   "information_given"]  # fmt: skip


async def test_rest_errors_come_in_the_platforms_body(appeals):
    draft = (await file_appeal(appeals, submit=False))["appeal"]
    # Issue 17: FastAPI's bare 422 {"detail": …} became the platform's error body, naming the field.
    response = await appeals.post(
        f"/appeals/{draft['id']}/evidence", files={"file": ("a.png", PNG, "image/png")}, headers=UNIT
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST" and error["details"]["problems"] == [
        {"field": "expected_version", "message": "Field required"}
    ]
    # Statuses are spelled as in GraphQL.
    ok = await _upload(appeals, draft, PNG)
    assert ok.json()["appeal"]["status"] == "DRAFT"
