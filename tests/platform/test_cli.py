"""The ``hotline`` command: development tokens and the idempotent demo load."""

from __future__ import annotations

import jwt
from sqlalchemy import text
from typer.testing import CliRunner

from hotline.cli.main import app
from hotline.kit.db import Database
from hotline.kit.settings import DEVELOPMENT_JWT_SECRET
from tests.demo_data import load_demo_units


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


def _record_posts(monkeypatch) -> list[str]:
    """Fake ``httpx.post``/``httpx.put`` that record the URLs and answer an empty, successful report."""
    import httpx

    urls: list[str] = []

    def fake_post(url, **kwargs):
        urls.append(url)
        if "content" in kwargs and not isinstance(kwargs["content"], bytes):
            b"".join(kwargs["content"])  # drain the streamed upload
        if url.endswith("/units/bulk"):
            return httpx.Response(200, json={"counts": {"created": 0, "rejected": 0}, "rows": []})
        return httpx.Response(200, json={"batchId": 1, "status": "done", "problems": [], "counts": {"rejected": 0}})

    monkeypatch.setattr(httpx, "post", fake_post)
    monkeypatch.setattr(httpx, "put", lambda url, **kwargs: urls.append(url) or httpx.Response(200, json={}))
    for variable in ("HOTLINE_INGEST_URL", "HOTLINE_INGEST_PORT", "HOTLINE_GATEWAY_PORT"):
        monkeypatch.delenv(variable, raising=False)
    return urls


def test_the_commands_that_call_ingest_go_where_the_stack_listens(tmp_path, monkeypatch):
    """``hotline units load`` and ``hotline ingest`` use --ingest-url, else HOTLINE_INGEST_URL, else
    HOTLINE_INGEST_PORT (what ``hotline up`` started ingest on), else 4101."""
    urls = _record_posts(monkeypatch)
    units = tmp_path / "units.csv"
    units.write_text("id,parent_id,kind,name_zh\n")
    calls = tmp_path / "calls.csv"
    calls.write_text("record_id\n")
    mapping = tmp_path / "m1.json"
    mapping.write_text("{}")
    load = ["units", "load", str(units)]
    ingest = ["ingest", str(calls), "--kind", "call", "--source", "acd", "--mapping", str(mapping)]

    def targets(args, **env) -> list[str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        urls.clear()
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        for name in env:
            monkeypatch.delenv(name)
        return list(urls)

    assert targets(load) == ["http://127.0.0.1:4101/units/bulk"]
    assert targets(load, HOTLINE_INGEST_PORT="4361") == ["http://127.0.0.1:4361/units/bulk"]
    assert targets(ingest, HOTLINE_INGEST_PORT="4361") == [
        "http://127.0.0.1:4361/mappings/m1",
        "http://127.0.0.1:4361/batches",
    ]
    assert targets(load, HOTLINE_INGEST_PORT="4361", HOTLINE_INGEST_URL="http://ingest.internal:8080/") == [
        "http://ingest.internal:8080/units/bulk"
    ]
    assert targets([*load, "--ingest-url", "http://10.0.0.5:9"], HOTLINE_INGEST_PORT="4361") == [
        "http://10.0.0.5:9/units/bulk"
    ]
    assert targets([*ingest, "--ingest-url", "http://10.0.0.5:9"]) == [
        "http://10.0.0.5:9/mappings/m1",
        "http://10.0.0.5:9/batches",
    ]


def test_a_port_that_is_not_one_is_refused_before_anything_is_sent(tmp_path, monkeypatch):
    urls = _record_posts(monkeypatch)
    units = tmp_path / "units.csv"
    units.write_text("id,parent_id,kind,name_zh\n")
    for bad in ("forty-one", "0", "70000"):
        monkeypatch.setenv("HOTLINE_INGEST_PORT", bad)
        result = CliRunner().invoke(app, ["units", "load", str(units)])
        assert result.exit_code != 0 and "HOTLINE_INGEST_PORT must be a port number" in result.output, result.output
    assert urls == []


def test_up_starts_services_and_gateway_on_the_ports_of_the_environment(monkeypatch, tmp_path):
    """``hotline up`` hands HOTLINE_<SERVICE>_PORT and HOTLINE_GATEWAY_PORT to the stack it starts, and with the
    portal built, lets exactly the portal's origin (HOTLINE_PORTAL_PORT) call the gateway."""
    import signal

    from hotline.cli import main, stack

    started = {}

    class FakeStack:
        def __init__(self, **kwargs):
            started.update(kwargs)

        def start(self, **_):
            raise stack.StartupError("stopped by the test")

        def stop(self):
            pass

    monkeypatch.setattr(main, "_resolve_database", lambda: ("postgresql://unused", None))
    monkeypatch.setattr(stack, "migrate_all", lambda url: None)
    monkeypatch.setattr(stack, "Stack", FakeStack)
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.html").write_text("<!doctype html>")
    monkeypatch.setattr(stack, "PORTAL_DIR", tmp_path)
    ports = {"GATEWAY": "4360", "INGEST": "4361", "INDICATORS": "4362", "SCORING": "4363", "APPEALS": "4364",
             "PORTAL": "4365"}  # fmt: skip
    for name, port in ports.items():
        monkeypatch.setenv(f"HOTLINE_{name}_PORT", port)
    result = CliRunner().invoke(app, ["up", "--no-demo"])
    assert result.exit_code == 1 and "stopped by the test" in result.output, result.output
    assert started["gateway_port"] == 4360
    assert started["ports"] == {"ingest": 4361, "indicators": 4362, "scoring": 4363, "appeals": 4364}
    assert started["cors_origins"] == "http://127.0.0.1:4365"
    monkeypatch.setenv("HOTLINE_PORTAL_PORT", "99999")
    bad_portal = CliRunner().invoke(app, ["up", "--no-demo"])
    assert bad_portal.exit_code != 0 and "HOTLINE_PORTAL_PORT must be a port number" in bad_portal.output
    monkeypatch.setenv("HOTLINE_PORTAL_PORT", "4365")
    monkeypatch.setenv("HOTLINE_SCORING_PORT", "x")
    refused = CliRunner().invoke(app, ["up", "--no-demo"])
    assert refused.exit_code != 0 and "HOTLINE_SCORING_PORT must be a port number" in refused.output


def test_an_ingest_that_does_not_answer_is_one_clear_line(tmp_path, monkeypatch):
    import httpx

    def refuse(url, **kwargs):
        raise httpx.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(httpx, "post", refuse)
    monkeypatch.delenv("HOTLINE_INGEST_URL", raising=False)
    monkeypatch.setenv("HOTLINE_INGEST_PORT", "4361")
    units = tmp_path / "units.csv"
    units.write_text("id,parent_id,kind,name_zh\n")
    result = CliRunner().invoke(app, ["units", "load", str(units)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "cannot reach the ingest service at http://127.0.0.1:4361" in result.output
    assert "HOTLINE_INGEST_PORT" in result.output
