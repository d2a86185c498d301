"""Demo data: the unit tree of one province with five cities, their departments, districts and agents."""

from __future__ import annotations

import asyncio
from importlib import resources

from hotline.kit.auth import Principal, Role
from hotline.kit.db import Database

DEMO_ADMIN = Principal(subject="hotline-demo-loader", unit_id="GD", roles=frozenset({Role.ADMIN}))


def demo_units_csv() -> bytes:
    return resources.files("services.ingest").joinpath("demo/units.csv").read_bytes()


async def load_demo_units(database_url: str) -> dict[str, int]:
    """Register the demo units (idempotent: a second load reports every row unchanged)."""
    # The CLI drives the ingest service's own registration code, as its bulk endpoint does.
    from services.ingest.registration import parse_unit_file, register_units

    rows = parse_unit_file(demo_units_csv(), filename="units.csv", content_type="text/csv")
    database = Database.from_url(database_url)
    try:
        async with database.unit_of_work() as session:
            report = await register_units(session, DEMO_ADMIN, rows)
    finally:
        await database.dispose()
    if report.count("rejected"):
        problems = [(o.row, [p.message for p in o.problems]) for o in report.outcomes if o.problems]
        raise RuntimeError(f"demo units rejected: {problems[:5]}")
    return {a: report.count(a) for a in ("created", "updated", "moved", "unchanged")}


def load_demo(database_url: str) -> dict[str, int]:
    return asyncio.run(load_demo_units(database_url))
