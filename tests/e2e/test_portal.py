"""The reference portal (portal/) in a real browser — Playwright driving the system's Chromium — against the real
stack on the demo's data: services, a development gateway (GraphiQL, and the demo evaluation seeded through it) and
a production-like gateway in trusted-documents mode whose CORS allowlist is exactly the portal's origin, which is
all the portal talks to. The browser tests (portal/tests/portal.spec.ts) block every request off the loopback
interface. Screenshots land in portal/screenshots/ (``PORTAL_SCREENSHOTS`` elsewhere)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hotline.cli.demo import load_demo_records, load_demo_units
from hotline.cli.demo_evaluation import seed_demo_evaluation
from hotline.cli.main import DEMO_TOKENS
from hotline.cli.stack import PORTAL_DIR, REPO_ROOT, Stack
from hotline.kit.auth import mint_token
from tests.e2e.conftest import free_port, private_stack
from tests.support import TEST_SECRET, auth, data_of, gql

MANIFEST = REPO_ROOT / "gateway" / "persisted-documents.json"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PLAYWRIGHT = PORTAL_DIR / "node_modules" / ".bin" / "playwright"


@pytest.fixture(scope="module")
async def portal_system(fresh_database, tmp_path_factory) -> AsyncIterator[dict]:
    for needed, how in [
        (PORTAL_DIR / "dist" / "index.html", "build the portal: make install (cd portal && npm ci && npm run build)"),
        (PLAYWRIGHT, "install the portal's packages: make install (cd portal && npm ci)"),
        (Path(CHROMIUM), "install Chromium: apt-get install -y chromium (make test does)"),
    ]:
        assert needed.exists(), f"{needed} is missing: {how}"
    url = await fresh_database("hotline_portal_e2e")
    await load_demo_units(url)
    await load_demo_records(url)
    logs = tmp_path_factory.mktemp("portal-logs")
    system = private_stack(url, logs)
    portal_port = free_port()
    origin = f"http://127.0.0.1:{portal_port}"
    production = Stack(
        database_url=url, log_dir=logs / "production", jwt_secret=TEST_SECRET, ports=system.ports,
        gateway_port=free_port(), env="production",
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOTLINE_APPEALS_SWEEP_SECONDS", "1")
        env.setenv("HOTLINE_APPEALS_DELIVERY_SECONDS", "0.5")
        await asyncio.to_thread(system.start)
        try:
            seeded = await asyncio.to_thread(seed_demo_evaluation, system.gateway_url, TEST_SECRET)
            assert seeded["problems"] == [], seeded
            env.setenv("HOTLINE_GATEWAY_TRUSTED_DOCUMENTS", str(MANIFEST))
            env.setenv("HOTLINE_GATEWAY_CORS_ORIGINS", origin)
            env.setenv("HOTLINE_GATEWAY_RATE_LIMIT", "0")
            production.start_gateway()
            await asyncio.to_thread(production.wait_ready, "gateway", f"{production.gateway_url}/healthz", 90.0)
            tokens = logs / "tokens.txt"
            lines = []
            for unit_id, roles, label in DEMO_TOKENS:
                lines += [f"# {label}", mint_token(secret=TEST_SECRET, unit_id=unit_id, roles=roles), ""]
            tokens.write_text("\n".join(lines))
            production.start_portal(portal_port, production.gateway_url, tokens)
            await asyncio.to_thread(production.wait_ready, "portal", f"{origin}/config.json", 30.0)
            yield {"system": system, "production": production, "origin": origin, "run": seeded["run"]}
        finally:
            production.stop()
            system.stop()


async def housing_result(gateway_url: str, run_id: str) -> str:
    query = "query($id: ID!) { run(id: $id) { results(first: 20) { edges { node { id unitId } } } } }"
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        run = data_of(await gql(client, query, {"id": run_id}, headers=auth("GD-GZ", "organizer")))["run"]
    return next(e["node"]["id"] for e in run["results"]["edges"] if e["node"]["unitId"] == "GZ-HOUSING")


async def test_the_portal_in_a_browser_with_the_outside_network_blocked(portal_system):
    """Sign-in with each demo role, the overview, a result explained with its reports, the organizer's flow to a
    published run followed live, an appeal filed with evidence and decided live with the new revision seen by the
    unit, a sibling city that sees none of it, and GraphiQL — each in Chromium, nothing fetched off the machine."""
    system, production = portal_system["system"], portal_system["production"]
    shots = Path(os.environ.get("PORTAL_SCREENSHOTS", PORTAL_DIR / "screenshots"))
    await asyncio.to_thread(shots.mkdir, parents=True, exist_ok=True)
    env = dict(
        os.environ,
        PORTAL_URL=portal_system["origin"],
        GRAPHIQL_URL=f"{system.gateway_url}/graphql",
        DEMO_RUN_ID=portal_system["run"],
        HOUSING_RESULT_ID=await housing_result(system.gateway_url, portal_system["run"]),
        SCREENSHOT_DIR=str(shots),
        TIMINGS_FILE=str(shots / "timings.json"),
        CHROMIUM_PATH=CHROMIUM,
        PORTAL_TEST_OUTPUT=str(production.log_dir / "playwright"),
    )
    node = shutil.which("node")
    assert node, "node is not installed"
    done = await asyncio.to_thread(
        subprocess.run, [str(PLAYWRIGHT), "test"], cwd=PORTAL_DIR, env=env, capture_output=True, text=True, timeout=900
    )
    report = done.stdout[-12000:] + done.stderr[-4000:]
    assert done.returncode == 0, (
        f"browser tests failed:\n{report}\n--- gateway log ---\n{production.log_tail('gateway')}"
    )
    for name in ["sign-in", "overview", "result-explained", "organizer", "reviewer", "unit-appeal", "graphiql"]:
        assert (shots / f"{name}.png").stat().st_size > 10_000, name
    timings = json.loads((shots / "timings.json").read_text())
    assert timings["overview_first_load_ms"] < 15_000, timings


async def test_the_portal_is_refused_by_the_gateway_from_another_origin_and_with_operation_text(portal_system):
    """What the browser tests rely on, at the HTTP level: the production gateway answers the portal's origin (a
    registered operation, by hash) and gives any other origin no CORS header; operation text is refused."""
    production, origin = portal_system["production"], portal_system["origin"]
    manifest = json.loads(MANIFEST.read_text())
    me = next(h for h, text in manifest.items() if text.startswith("query Me"))
    headers = {**auth("GZ-HOUSING", "unit"), "origin": origin}
    async with httpx.AsyncClient(base_url=production.gateway_url, timeout=30) as client:
        ok = await client.post(
            "/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": me}}}, headers=headers
        )
        assert ok.status_code == 200 and ok.json()["data"]["me"]["unitId"] == "GZ-HOUSING"
        assert ok.headers["access-control-allow-origin"] == origin
        other = await client.post(
            "/graphql", json={"documentId": me}, headers={**headers, "origin": "http://127.0.0.1:1"}
        )
        assert "access-control-allow-origin" not in other.headers
        text = await client.post("/graphql", json={"query": "{ me { unitId } }"}, headers=headers)
        assert text.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_ONLY"
        preflight = await client.options(
            f"/runs/{portal_system['run']}/report.pdf",
            headers={
                "origin": origin,
                "access-control-request-method": "GET",
                "access-control-request-headers": "authorization",
            },
        )
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == origin
        report = await client.get(
            f"/runs/{portal_system['run']}/report.xlsx", headers={**auth("GD-GZ", "organizer"), "origin": origin}
        )
        assert report.status_code == 200 and report.content[:2] == b"PK"
        assert report.headers["access-control-allow-origin"] == origin
