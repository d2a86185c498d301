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
