"""The ``hotline`` command: development tokens and the idempotent demo load."""

from __future__ import annotations

import jwt
from sqlalchemy import text
from typer.testing import CliRunner

from hotline.cli.demo import load_demo_units
from hotline.cli.main import app
from hotline.kit.db import Database
from hotline.kit.settings import DEVELOPMENT_JWT_SECRET


def test_token_prints_a_verifiable_development_token():
    result = CliRunner().invoke(app, ["token", "--unit", "GD-GZ", "--role", "organizer", "--role", "reviewer"])
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), DEVELOPMENT_JWT_SECRET, algorithms=["HS256"])
    assert claims["unit_id"] == "GD-GZ" and claims["roles"] == ["organizer", "reviewer"]


def test_token_refuses_unknown_roles():
    result = CliRunner().invoke(app, ["token", "--unit", "GD", "--role", "emperor"])
    assert result.exit_code != 0 and "roles are" in result.output


async def test_demo_units_load_once_and_then_are_unchanged(fresh_database):
    url = await fresh_database("hotline_demo")
    first = await load_demo_units(url)
    assert first["created"] >= 100 and first["unchanged"] == 0
    second = await load_demo_units(url)
    assert second == {"created": 0, "updated": 0, "moved": 0, "unchanged": first["created"]}
    database = Database.from_url(url)
    try:
        async with database.session() as session:
            kinds = dict((await session.execute(text("SELECT kind, count(*) FROM ingest.unit GROUP BY kind"))).all())
            cities_with_population = await session.scalar(
                text("SELECT count(*) FROM ingest.unit WHERE kind = 'city_body' AND population > 0")
            )
    finally:
        await database.dispose()
    assert set(kinds) == {"province_body", "city_body", "district", "undertaking_unit", "agent_team", "agent"}
    assert cities_with_population == kinds["city_body"] == 5


def test_ingest_streams_the_file_to_the_bulk_endpoint(tmp_path, monkeypatch):
    """``hotline ingest`` uploads the file in chunks with the kind, source and mapping, and prints the report."""
    import httpx

    seen = {}

    def fake_post(url, *, params, content, headers, timeout):
        seen.update(url=url, params=params, body=b"".join(content), auth=headers["authorization"])
        report = {"batchId": 7, "status": "done", "problems": [{"row": 2, "field": "outcome", "value": "x", "reason": "bad"}],
                  "counts": {"read": 2, "valid": 1, "rejected": 1, "new": 1}}  # fmt: skip
        return httpx.Response(200, json=report)

    monkeypatch.setattr(httpx, "post", fake_post)
    file = tmp_path / "calls.csv"
    file.write_bytes(b"record_id,unit_id\n" * 5000)
    result = CliRunner().invoke(app, ["ingest", str(file), "--kind", "call", "--source", "acd", "--mapping", "m1"])
    assert result.exit_code == 0, result.output
    assert seen["url"].endswith("/batches") and seen["body"] == file.read_bytes()
    assert seen["params"] == {"kind": "call", "source": "acd", "filename": "calls.csv", "mapping": "m1"}
    assert "batch 7: done" in result.output and "row 2: outcome='x': bad" in result.output
