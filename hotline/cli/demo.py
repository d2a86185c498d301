"""Demo data: the unit tree of one province with five cities, their departments, districts and agents, and
real public records (bank call-centre calls, Boston 311 cases, a government message board) loaded with the
shipped column mappings — through the ingest service's public REST API, as a user's client loads them
(`POST /units/bulk`, `PUT /mappings/{name}`, `POST /batches`; what `hotline units load` and `hotline ingest`
send). This module imports no service (import contract "The demo is a client of the services")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from hotline.kit.auth import Principal, Role, mint_token

# Who loads the demo: an administrator of the province (the root of the demo tree).
DEMO_ADMIN = Principal(subject="hotline-demo-loader", unit_id="GD", roles=frozenset({Role.ADMIN}))
# The files the ingest service ships as its demo data (read as files; no code of the service is imported).
DEMO_DIR = Path(__file__).resolve().parents[2] / "services" / "ingest" / "demo"

# (file under services/ingest/demo/data, record kind, source system, mapping name)
DEMO_RECORDS = [
    ("bank_calls_1999-02_every8th.tsv", "call", "technion-anonymous-bank", "technion-bank-calls"),
    ("boston311_closed_cases_2500.csv", "work_order", "boston-311", "boston-311-cases"),
    ("gov_message_board_ids_times.csv", "work_order", "taidibei-2020-message-board", "gov-message-board"),
]


class DemoLoadError(RuntimeError):
    """The ingest service refused part of the demo data (the message says which and why)."""


def demo_units_csv() -> bytes:
    return (DEMO_DIR / "units.csv").read_bytes()


def demo_mappings() -> dict[str, dict]:
    folder = DEMO_DIR / "mappings"
    return {p.stem: json.loads(p.read_text("utf-8")) for p in sorted(folder.glob("*.json"))}


def demo_headers(secret: str) -> dict[str, str]:
    """The demo loader's bearer token (HS256, development secret), as ``hotline token`` mints one."""
    roles = sorted(r.value for r in DEMO_ADMIN.roles)
    bearer = mint_token(
        secret=secret, unit_id=DEMO_ADMIN.unit_id, roles=roles, subject=DEMO_ADMIN.subject, ttl_seconds=3600
    )
    return {"authorization": f"Bearer {bearer}"}


def _answer(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise DemoLoadError(f"{what}: ingest answered {response.status_code}: {response.text[:500]}")
    return response.json()


async def load_demo_units(ingest: httpx.AsyncClient) -> dict[str, int]:
    """Register the demo units through ``POST /units/bulk`` (idempotent: a second load reports every row
    unchanged). ``ingest``: a client of the ingest service carrying the loader's authorization."""
    files = {"file": ("units.csv", demo_units_csv(), "text/csv")}
    report = _answer(await ingest.post("/units/bulk", files=files), "demo units")
    if report["counts"]["rejected"]:
        problems = [(r["row"], [p["message"] for p in r["problems"]]) for r in report["rows"] if r["problems"]]
        raise DemoLoadError(f"demo units rejected: {problems[:5]}")
    return {a: report["counts"][a] for a in ("created", "updated", "moved", "unchanged")}


async def load_demo_records(ingest: httpx.AsyncClient) -> dict[str, dict[str, int]]:
    """Save the shipped mappings (``PUT /mappings/{name}``) and send the real data files as batches
    (``POST /batches``, the file as the body); a second load changes nothing (every row a duplicate)."""
    for name, spec in demo_mappings().items():
        params = {"description": spec.get("description", "")}
        _answer(await ingest.put(f"/mappings/{name}", json=spec, params=params), f"demo mapping {name}")
    out: dict[str, dict[str, int]] = {}
    for filename, kind, source, mapping in DEMO_RECORDS:
        params = {"kind": kind, "source": source, "mapping": mapping, "filename": filename}
        body = (DEMO_DIR / "data" / filename).read_bytes()
        headers = {"content-type": "application/octet-stream"}
        report = _answer(
            await ingest.post("/batches", params=params, content=body, headers=headers), f"demo records {filename}"
        )
        out[filename] = report["counts"]
    return out


async def load_demo(ingest_url: str, secret: str) -> dict[str, object]:
    """The demo units, then the demo records, into the running ingest service at ``ingest_url``."""
    async with httpx.AsyncClient(base_url=ingest_url, headers=demo_headers(secret), timeout=300) as ingest:
        units = await load_demo_units(ingest)
        return {"units": units, "records": await load_demo_records(ingest)}
