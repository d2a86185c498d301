"""The unit-directory read model other services keep: snapshot, conditional refresh, moves, outages."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import MetaData, text

from hotline.kit.directory import DirectorySync, create_unit_ref_tables, directory_scope
from hotline.kit.scope import in_scope
from hotline.kit.services import ServiceClients, ServiceUnavailableError
from tests.support import TREE, auth

SCHEMA = "directory_test"


class _SessionOp:
    """Just enough of Alembic's ``op`` to run the migration helper inside the test's transaction."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def execute(self, statement: str) -> None:
        self.statements.append(statement)


@pytest.fixture
async def read_model(db, settings, service_transports, ingest):
    response = await ingest.post("/units/bulk", json=TREE, headers=auth("GD", "admin"))
    assert response.json()["counts"]["created"] == len(TREE)
    op = _SessionOp()
    create_unit_ref_tables(op, SCHEMA)
    async with db.unit_of_work() as session:
        await session.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
        for statement in op.statements:
            await session.execute(text(statement))
    clients = ServiceClients(settings, caller="test", transports=service_transports)
    yield DirectorySync(db, clients, schema=SCHEMA, ttl_seconds=0)
    await clients.aclose()


async def paths(db) -> dict[str, str]:
    async with db.session() as session:
        rows = await session.execute(text(f'SELECT id, path FROM "{SCHEMA}".unit_ref'))
        return dict(rows.all())


async def test_the_read_model_copies_the_tree_and_then_answers_not_modified(db, read_model):
    assert await read_model.refresh() is True
    copied = await paths(db)
    assert len(copied) == len(TREE)
    assert copied["GZ-T1-A001"] == "GD/GD-GZ/GZ-T1/GZ-T1-A001"
    assert await read_model.refresh() is False  # 304: same version


async def test_a_move_reaches_the_read_model_with_the_whole_subtree(db, read_model, ingest):
    await read_model.refresh()
    moved = await ingest.post("/units/bulk", json=[{"id": "GZ-T1", "parent_id": "GD-SZ"}], headers=auth("GD", "admin"))
    assert moved.json()["counts"]["moved"] == 1
    assert await read_model.refresh() is True
    copied = await paths(db)
    assert copied["GZ-T1"] == "GD/GD-SZ/GZ-T1"
    assert copied["GZ-T1-A001"] == "GD/GD-SZ/GZ-T1/GZ-T1-A001"


async def test_scope_from_the_read_model_filters_in_sql(db, read_model):
    async with db.session() as session:
        scope = await directory_scope(session, read_model, "GD-GZ")
        assert scope.path == "GD/GD-GZ"
        visible = await session.scalars(
            read_model.table.select()
            .with_only_columns(read_model.table.c.id)
            .where(in_scope(read_model.table.c.path, scope))
        )
        assert set(visible) == {r["id"] for r in TREE if r["id"] == "GD-GZ" or r["id"].startswith("GZ-")}
        assert (await directory_scope(session, read_model, "NOWHERE")).path is None


async def test_the_snapshot_is_for_services_only(ingest):
    assert (await ingest.get("/units/snapshot")).status_code == 401
    for headers in (auth("GD", "admin"), auth("GD-GZ", "service")):  # user tokens, even with role service
        response = await ingest.get("/units/snapshot", headers=headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "FORBIDDEN"


async def test_an_unreachable_directory(db, read_model, settings):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    down = ServiceClients(settings, caller="test", transports={"ingest": httpx.MockTransport(refuse)}, attempts=2)
    never_synced = DirectorySync(db, down, schema=SCHEMA, ttl_seconds=0)
    with pytest.raises(ServiceUnavailableError):
        await never_synced.ensure_fresh()
    await read_model.refresh()  # synced once: an outage then serves the last copy
    synced_before = DirectorySync(db, down, schema=SCHEMA, ttl_seconds=0)
    await synced_before.ensure_fresh()
    assert (await paths(db))["GD-GZ"] == "GD/GD-GZ"
    await down.aclose()


async def test_an_older_snapshot_never_overwrites_a_newer_one(db, read_model):
    await read_model.refresh()
    async with db.unit_of_work() as session:
        await session.execute(text(f"UPDATE \"{SCHEMA}\".unit_ref_state SET version = '999999'"))
    stale = DirectorySync(db, read_model._services, schema=SCHEMA, ttl_seconds=0)
    await stale._replace("1", [])
    assert len(await paths(db)) == len(TREE)


def test_metadata_helper_builds_the_same_table():
    from hotline.kit.directory import unit_ref_table

    table = unit_ref_table(MetaData(schema="x"))
    assert table.fullname == "x.unit_ref" and "path" in table.c


async def test_directory_checks_are_counted_by_outcome(read_model):
    from prometheus_client import REGISTRY

    def checks(outcome: str) -> float:
        value = REGISTRY.get_sample_value("hotline_directory_checks_total", {"service": SCHEMA, "outcome": outcome})
        return value or 0.0

    replaced, unchanged = checks("replaced"), checks("unchanged")
    await read_model.ensure_fresh()
    await read_model.ensure_fresh()
    assert (checks("replaced"), checks("unchanged")) == (replaced + 1, unchanged + 1)
    assert REGISTRY.get_sample_value("hotline_directory_units", {"service": SCHEMA}) == len(TREE)
