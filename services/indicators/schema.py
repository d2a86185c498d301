"""The indicators subgraph: evaluation dimensions (the catalog and schemes follow in their issue)."""

from __future__ import annotations

import strawberry
from sqlalchemy import select

from hotline.kit.graphql import RequestContext, federation_schema
from services.indicators import models


@strawberry.federation.type(
    keys=["code"],
    description="An evaluation dimension (评价维度) of the 12345 standard, e.g. 服务响应 service response.",
)
class Dimension:
    code: strawberry.ID = strawberry.field(description="Stable code, e.g. `service_response`.")
    position: int = strawberry.field(description="Order of the dimension in the standard (1–7).")
    clause: str = strawberry.field(description="Clause of the 12345 specification that defines it, e.g. `6.1`.")
    name_zh: str = strawberry.field(description="Chinese name.")
    name_en: str = strawberry.field(description="English name.")
    description: str = strawberry.field(description="What the dimension evaluates.")

    @classmethod
    def from_row(cls, row: models.Dimension) -> Dimension:
        return cls(
            code=strawberry.ID(row.code),
            position=row.position,
            clause=row.clause,
            name_zh=row.name_zh,
            name_en=row.name_en,
            description=row.description,
        )

    @classmethod
    async def resolve_reference(
        cls, info: strawberry.Info[RequestContext, None], code: strawberry.ID
    ) -> Dimension | None:
        return await _dimension_loader(info).load(str(code))


def _dimension_loader(info: strawberry.Info[RequestContext, None]):
    ctx = info.context

    async def load(codes: list[str]) -> list[Dimension | None]:
        rows = await ctx.session.scalars(select(models.Dimension).where(models.Dimension.code.in_(codes)))
        found = {r.code: Dimension.from_row(r) for r in rows}
        return [found.get(c) for c in codes]

    return ctx.loader("dimension_by_code", load)


@strawberry.type(description="Queries of the indicators service.")
class Query:
    @strawberry.field(description="The seven evaluation dimensions, in the standard's order.")
    async def dimensions(self, info: strawberry.Info[RequestContext, None]) -> list[Dimension]:
        rows = await info.context.session.scalars(select(models.Dimension).order_by(models.Dimension.position))
        return [Dimension.from_row(r) for r in rows]

    @strawberry.field(description="One dimension by code; null if there is none.")
    async def dimension(self, info: strawberry.Info[RequestContext, None], code: strawberry.ID) -> Dimension | None:
        return await _dimension_loader(info).load(str(code))


schema = federation_schema(query=Query, types=[Dimension])
