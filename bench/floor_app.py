"""A bare app on the decided stack for ``bench/stack_floor.py``: the least FastAPI, Strawberry, SQLAlchemy async and
asyncpg spend to answer reads shaped like the portal's ranking and a city's units.

Nothing of hotline-eval is in it on purpose: no authentication, no middleware, no scope rule, no loaders; Strawberry's parser and validation caches; one Core
statement per read over one pooled connection; every field a plain attribute. Its data (a run of 5 results with 2
dimension subtotals each, 50 units under GD-GZ) is written at start-up into the database ``FLOOR_DATABASE_URL``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import strawberry
from fastapi import FastAPI
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, bindparam, insert, select
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.fastapi import GraphQLRouter

METADATA = MetaData()
RESULTS = Table(
    "floor_result", METADATA,
    Column("run_id", UUID(as_uuid=True), nullable=False), Column("unit_id", String, nullable=False),
    Column("total", Float), Column("rank", Integer), Column("grade", String), Column("dimensions", JSONB),
)  # fmt: skip
UNITS = Table(
    "floor_unit", METADATA,
    Column("id", String, primary_key=True), Column("parent_id", String), Column("name_zh", String),
)  # fmt: skip
RUN = uuid.UUID("00000000-0000-0000-0000-000000000001")

RESULTS_OF_RUN = (
    select(RESULTS.c.unit_id, RESULTS.c.total, RESULTS.c.rank, RESULTS.c.grade, RESULTS.c.dimensions)
    .where(RESULTS.c.run_id == bindparam("run_id"))
    .order_by(RESULTS.c.unit_id)
    .limit(bindparam("limit"))
)
UNITS_UNDER = (
    select(UNITS.c.id, UNITS.c.name_zh)
    .where(UNITS.c.parent_id == bindparam("under"))
    .order_by(UNITS.c.id)
    .limit(bindparam("limit"))
)

ENGINE: AsyncEngine | None = None


@strawberry.type(description="A grade band.")
class Grade:
    code: str = strawberry.field(description="Its code.")


@strawberry.type(description="A dimension subtotal.")
class Dimension:
    dimension: str = strawberry.field(description="The dimension.")
    score: float | None = strawberry.field(description="Its score.")
    points: float | None = strawberry.field(description="Its points.")


@strawberry.type(description="A unit's result.")
class Result:
    unit_id: strawberry.ID = strawberry.field(description="The unit.")
    total: float | None = strawberry.field(description="The total.")
    rank: int | None = strawberry.field(description="The rank.")
    grade: Grade | None = strawberry.field(description="The grade.")
    dimensions: list[Dimension] = strawberry.field(description="Dimension subtotals.")


@strawberry.type(description="An edge.")
class ResultEdge:
    node: Result = strawberry.field(description="The result.")


@strawberry.type(description="A page of results.")
class ResultConnection:
    edges: list[ResultEdge] = strawberry.field(description="The results.")


@strawberry.type(description="A run.")
class Run:
    id: strawberry.ID = strawberry.field(description="The run.")

    @strawberry.field(description="Its results, one statement.")
    async def results(self, first: int = 100) -> ResultConnection:
        async with ENGINE.connect() as connection:
            rows = (await connection.execute(RESULTS_OF_RUN, {"run_id": uuid.UUID(self.id), "limit": first})).all()
        return ResultConnection(
            edges=[
                ResultEdge(
                    node=Result(
                        unit_id=strawberry.ID(r.unit_id),
                        total=r.total,
                        rank=r.rank,
                        grade=Grade(code=r.grade),
                        dimensions=[Dimension(**d) for d in r.dimensions],
                    )
                )
                for r in rows
            ]
        )


@strawberry.type(description="A unit.")
class Unit:
    id: strawberry.ID = strawberry.field(description="Its code.")
    name_zh: str = strawberry.field(description="Its name.")


@strawberry.type(description="An edge.")
class UnitEdge:
    node: Unit = strawberry.field(description="The unit.")


@strawberry.type(description="A page of units.")
class UnitConnection:
    edges: list[UnitEdge] = strawberry.field(description="The units.")


@strawberry.type(description="The reads.")
class Query:
    @strawberry.field(description="A run, without a statement.")
    def run(self, id: strawberry.ID) -> Run:
        return Run(id=id)

    @strawberry.field(description="Units under a unit, one statement.")
    async def units(self, under: strawberry.ID, first: int = 50) -> UnitConnection:
        async with ENGINE.connect() as connection:
            rows = (await connection.execute(UNITS_UNDER, {"under": str(under), "limit": first})).all()
        return UnitConnection(edges=[UnitEdge(node=Unit(id=strawberry.ID(r.id), name_zh=r.name_zh)) for r in rows])


async def _fill(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.drop_all)
        await connection.run_sync(METADATA.create_all)
        cities = [("GD-DG", 99.06, 2), ("GD-FS", 98.32, 3), ("GD-GZ", 77.94, 5), ("GD-SZ", 99.5, 1), ("GD-ZH", 90.1, 4)]
        await connection.execute(
            insert(RESULTS),
            [
                {
                    "run_id": RUN,
                    "unit_id": unit,
                    "total": total,
                    "rank": rank,
                    "grade": "excellent",
                    "dimensions": [
                        {"dimension": "service_response", "score": 49.71, "points": 50.0},
                        {"dimension": "resolution_quality", "score": 49.35, "points": 50.0},
                    ],
                }
                for unit, total, rank in cities
            ],
        )
        await connection.execute(
            insert(UNITS),
            [{"id": f"GD-GZ-D{i:03d}", "parent_id": "GD-GZ", "name_zh": f"广州市第{i}承办单位"} for i in range(50)],
        )


@contextlib.asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    global ENGINE
    url = os.environ["FLOOR_DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url, pool_size=10, max_overflow=10)
    await _fill(engine)
    # Reads in autocommit on the pool, as the services read (no BEGIN/ROLLBACK round trips).
    ENGINE = engine.execution_options(isolation_level="AUTOCOMMIT")
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)
# A Federation 2 subgraph (so that bench/floor_gateway.mjs composes it as the stack's gateway composes the services),
# with Strawberry's own caches: a query text is parsed and validated once per process, as the services do theirs.
SCHEMA = strawberry.federation.Schema(
    query=Query, extensions=[ParserCache(), ValidationCache()], federation_version="2.9"
)
app.include_router(GraphQLRouter(SCHEMA), prefix="/graphql")
