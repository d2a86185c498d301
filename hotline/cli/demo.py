"""Demo data: the unit tree of one province with five cities, their departments, districts and agents, and
real public records (bank call-centre calls, Boston 311 cases, a government message board) loaded through
the ingest service's own batch path with the shipped column mappings."""

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


# (file under services/ingest/demo/data, record kind, source system, mapping name)
DEMO_RECORDS = [
    ("bank_calls_1999-02_every8th.tsv", "call", "technion-anonymous-bank", "technion-bank-calls"),
    ("boston311_closed_cases_2500.csv", "work_order", "boston-311", "boston-311-cases"),
    ("gov_message_board_ids_times.csv", "work_order", "taidibei-2020-message-board", "gov-message-board"),
]


def demo_mappings() -> dict[str, dict]:
    import json

    folder = resources.files("services.ingest").joinpath("demo/mappings")
    return {
        p.name.removesuffix(".json"): json.loads(p.read_text("utf-8"))
        for p in folder.iterdir()
        if p.name.endswith(".json")
    }


async def load_demo_records(database_url: str) -> dict[str, dict[str, int]]:
    """Save the shipped mappings and load the real data files as batches (a second load changes nothing)."""
    from services.ingest import store
    from services.ingest.batches import Submission, submit

    database = Database.from_url(database_url)
    out: dict[str, dict[str, int]] = {}
    try:
        async with database.unit_of_work() as session:
            for name, spec in demo_mappings().items():
                await store.save_mapping(session, DEMO_ADMIN, name, spec, spec.get("description", ""))
        folder = resources.files("services.ingest").joinpath("demo/data")
        for filename, kind, source, mapping in DEMO_RECORDS:
            with folder.joinpath(filename).open("rb") as handle:
                sub = Submission(kind=kind, source=source, mapping_name=mapping, filename=filename)
                report = await submit(database, DEMO_ADMIN, sub, binary=handle)
            out[filename] = report["counts"]
    finally:
        await database.dispose()
    return out


def load_demo(database_url: str) -> dict[str, object]:
    units = asyncio.run(load_demo_units(database_url))
    return {"units": units, "records": asyncio.run(load_demo_records(database_url))}
