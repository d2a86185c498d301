"""Uploads to POST /batches: the type is decided by the content (a PNG or an executable named .csv is
refused, nothing stored) and a file above the limit is refused with 413 (declared or streamed)."""

from __future__ import annotations

from tests.ingest.records_support import ADMIN, measures, register_tree, send

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
EXE = b"MZ\x90\x00" + b"\x00" * 200


async def test_files_of_the_wrong_type_are_refused_and_store_nothing(ingest):
    await register_tree(ingest)
    for name, content in (("calls.csv", PNG), ("calls.csv", EXE), ("calls.xlsx", PNG), ("calls.ndjson", EXE)):
        response = await send(ingest, "call", content, filename=name)
        assert response.status_code == 400, (name, response.text)
        batch = (await ingest.get(f"/batches/{response.json()['error']['details']['batchId']}", headers=ADMIN)).json()
        assert batch["status"] == "failed"
    assert (await measures(ingest, ["GD"], ["calls.answered"]))["days_with_data"] == {"GD": 0}


async def test_a_file_above_the_limit_is_refused_with_413(ingest, ingest_app, monkeypatch):
    await register_tree(ingest)
    monkeypatch.setattr(ingest_app.state.settings, "ingest_max_upload_bytes", 64 * 1024)
    big = b"record_id,unit_id\n" + b"x" * (128 * 1024)
    declared = await send(ingest, "call", big)
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks():
        for _ in range(4):
            yield b"x" * (32 * 1024 + 1)

    streamed = await ingest.post(
        "/batches",
        params={"kind": "call", "source": "s", "filename": "f.csv"},
        content=chunks(),
        headers={**ADMIN, "content-type": "application/octet-stream"},
    )
    assert streamed.status_code == 413, streamed.text
    multipart = await ingest.post(
        "/batches", params={"kind": "call", "source": "s"}, files={"file": ("f.csv", big)}, headers=ADMIN
    )
    assert multipart.status_code == 413, multipart.text
    listed = (await ingest.get("/batches", headers=ADMIN)).json()
    assert not (listed.get("batches") if isinstance(listed, dict) else listed), listed  # refused before any batch
