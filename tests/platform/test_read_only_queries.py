"""A GraphQL query reads outside any transaction and may not write (``hotline.kit.graphql.UnitOfWork``,
``hotline.kit.db.READ_ONLY``); a mutation keeps its one transaction. Proved on a real engine over a real PostgreSQL,
through a subgraph app built by the platform (``create_service_app``), over HTTP in process."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import strawberry
from sqlalchemy import Column, MetaData, Table, Text, insert, text

from hotline.kit.app import create_service_app
from hotline.kit.auth import mint_token
from hotline.kit.db import Database
from hotline.kit.graphql import RequestContext, federation_schema
from hotline.kit.settings import DEVELOPMENT_JWT_SECRET, Settings

Info = strawberry.Info[RequestContext, None]
TABLE = "public.read_only_probe"
PROBE = Table("read_only_probe", MetaData(schema="public"), Column("note", Text))


async def _two_clocks(info: Info) -> bool:
    """Whether two statements a moment apart saw the same transaction start (``now()``): one transaction."""
    first = await info.context.session.scalar(text("SELECT now()"))
    await asyncio.sleep(0.02)
    second = await info.context.session.scalar(text("SELECT now()"))
    return first == second


@strawberry.type(description="Probe queries.")
class Query:
    @strawberry.field(description="Whether the query's statements ran in one transaction.")
    async def one_transaction(self, info: Info) -> bool:
        return await _two_clocks(info)

    @strawberry.field(description="A query that (wrongly) writes.")
    async def writes(self, info: Info) -> bool:
        await info.context.session.execute(insert(PROBE).values(note="from a query"))
        return True


@strawberry.type(description="Probe mutations.")
class Mutation:
    @strawberry.mutation(description="Whether the mutation's statements ran in one transaction.")
    async def one_transaction(self, info: Info) -> bool:
        return await _two_clocks(info)

    @strawberry.mutation(description="A mutation that writes.")
    async def write(self, info: Info) -> bool:
        await info.context.session.execute(text(f"INSERT INTO {TABLE} (note) VALUES ('from a mutation')"))
        return True


@pytest.fixture
async def probe_app(database_url):
    database = Database.from_url(database_url)
    async with database.bind.begin() as connection:
        await connection.execute(text(f"CREATE TABLE IF NOT EXISTS {TABLE} (note text)"))
        await connection.execute(text(f"TRUNCATE {TABLE}"))
    settings = Settings(database_url=database_url, jwt_secret=DEVELOPMENT_JWT_SECRET, env="development")
    app = create_service_app(
        name="probe", schema=federation_schema(query=Query, mutation=Mutation), settings=settings, database=database
    )
    try:
        async with app.router.lifespan_context(app):
            yield app, database
    finally:
        async with database.bind.begin() as connection:
            await connection.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        await database.dispose()


async def _post(app, query: str) -> dict:
    token = mint_token(secret=DEVELOPMENT_JWT_SECRET, unit_id="GD", roles=["admin"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe") as client:
        response = await client.post("/graphql", json={"query": query}, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


async def _notes(database: Database) -> list[str]:
    async with database.bind.connect() as connection:
        return list(await connection.scalars(text(f"SELECT note FROM {TABLE} ORDER BY note")))


async def test_a_query_reads_statement_by_statement_and_a_mutation_in_one_transaction(probe_app):
    app, _database = probe_app
    query = await _post(app, "{ oneTransaction }")
    assert query == {"data": {"oneTransaction": False}}, query  # autocommit: each statement its own start
    mutation = await _post(app, "mutation { oneTransaction }")
    assert mutation == {"data": {"oneTransaction": True}}, mutation


async def test_a_query_that_writes_is_refused_and_leaves_nothing_behind(probe_app):
    app, database = probe_app
    answer = await _post(app, "{ writes }")
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR", answer
    assert await _notes(database) == []
    written = await _post(app, "mutation { write }")
    assert written == {"data": {"write": True}}, written
    assert await _notes(database) == ["from a mutation"]
