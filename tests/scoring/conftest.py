"""Fixtures of the scoring tests: a unit tree in ingest, fake measures and schemes, the scoring app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.scoring import worker
from tests.scoring.example import MEASURES, example_scheme
from tests.scoring.fakes import FakeMeasures, FakeSchemes, RoutingTransport
from tests.support import auth

SCORING_TREE = [
    {"id": "GD", "kind": "province_body", "name_zh": "广东省"},
    {"id": "GD-GZ", "parent_id": "GD", "kind": "city_body", "name_zh": "广州市"},
    {"id": "GD-SZ", "parent_id": "GD", "kind": "city_body", "name_zh": "深圳市"},
    {"id": "UA", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "甲单位"},
    {"id": "UB", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "乙单位"},
    {"id": "UC", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "丙单位"},
    {"id": "UD", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "丁单位"},
    {"id": "SZ-HOUSING", "parent_id": "GD-SZ", "kind": "undertaking_unit", "name_zh": "深圳市住房和建设局"},
]
PATHS = {
    "GD": "GD", "GD-GZ": "GD/GD-GZ", "GD-SZ": "GD/GD-SZ", "UA": "GD/GD-GZ/UA", "UB": "GD/GD-GZ/UB",
    "UC": "GD/GD-GZ/UC", "UD": "GD/GD-GZ/UD", "SZ-HOUSING": "GD/GD-SZ/SZ-HOUSING",
}  # fmt: skip
EXAMPLE_DAY = "2025-03-10"


@pytest.fixture
async def tree(ingest):
    response = await ingest.post("/units/bulk", json=SCORING_TREE, headers=auth("GD", "admin"))
    assert response.json()["counts"]["created"] == len(SCORING_TREE), response.text


@pytest.fixture
def measures(tree) -> FakeMeasures:
    fake = FakeMeasures(PATHS)
    for unit, values in MEASURES.items():
        fake.put(unit, EXAMPLE_DAY, values)
    return fake


@pytest.fixture
def schemes() -> FakeSchemes:
    fake = FakeSchemes()
    fake.add(example_scheme(organizer="GD-GZ"))
    return fake


@pytest.fixture
async def scoring_app(db, settings, ingest_app, measures, schemes):
    from services.scoring.app import create_app

    transports = {
        "ingest": RoutingTransport(httpx.ASGITransport(app=ingest_app), measures),
        "indicators": httpx.MockTransport(schemes.handle),
    }
    app = create_app(settings=settings, database=db, service_transports=transports, run_worker=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def scoring(scoring_app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=scoring_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:
        yield client


@pytest.fixture
def drain(scoring_app):
    """Run the queued jobs now (the app's background worker is off in tests)."""

    async def run() -> int:
        return await worker.drain(scoring_app.state.database, scoring_app.state.services)

    return run
