"""REST endpoints of the measures API (docs/contracts.md §4): any token, scoped to the caller's subtree."""

from __future__ import annotations

import json
from datetime import date
from typing import Literal

from fastapi import APIRouter, Header
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from hotline.kit.app import DatabaseDep, PrincipalDep
from services.ingest import measures_api, repository

router = APIRouter(prefix="/measures", tags=["measures"])


class MeasureQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    units: list[str] = Field(description="Unit ids; each unit's values include its whole subtree")
    measures: list[str] = Field(description="Measure codes of the catalog (hotline/domain/measures.yaml)")
    from_: date = Field(alias="from", description="First day (inclusive)")
    to: date = Field(description="Last day (inclusive)")
    by: Literal["total", "month", "day"] = Field("total", description="One value per unit, per month or per day")


class SourcesQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    units: list[str]
    measures: list[str]
    from_: date = Field(alias="from")
    to: date


class RecordKey(BaseModel):
    source: str
    record_id: str


class ContributionQuery(BaseModel):
    records: list[RecordKey] = Field(description="Natural keys of the records")


def _json(payload: dict) -> Response:
    # Province-scale answers are large; plain json.dumps avoids FastAPI's per-value encoder.
    return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")


async def _driver(session):
    connection = await session.connection()
    return (await connection.get_raw_connection()).driver_connection


@router.post(
    "/query",
    summary="Measures of many units over a range: total, per month or per day",
    description="Values follow `measures` order; a unit–period without data has zeros; `unit.population` is the "
    "directory's value. Units unknown or outside the caller's subtree are listed in `missing`. `uncovered` says, "
    "per unit and period, which requested measures no batch covered (no source sent the data they need for that "
    "unit and time): their 0 is absent data, not a zero. A row is `[unit, period, values]` with period `total`, `YYYY-MM` or `YYYY-MM-DD`. With "
    "`Accept: application/vnd.hotline.measures-columns` the same answer comes as columns: a 4-byte little-endian "
    "header length, a JSON header (the answer without `rows`, plus `units` and `periods` per row), then the rows' "
    "values as little-endian float64 (docs/contracts.md §4).",
)
async def query_measures(
    body: MeasureQuery, principal: PrincipalDep, database: DatabaseDep, accept: str | None = Header(None)
) -> Response:
    async with database.session() as session:
        scope = await repository.scope_for(session, principal.unit_id)
        head, units, periods, values = await measures_api.query_columns(
            await _driver(session), scope, body.units, body.measures, body.from_, body.to, body.by
        )
    if accept and measures_api.COLUMNS_MEDIA_TYPE in accept:  # the compact answer (contracts §4)
        body_bytes = measures_api.encode_columns(head, units, periods, values)
        return Response(body_bytes, media_type=measures_api.COLUMNS_MEDIA_TYPE)
    rows = [[u, p, v] for u, p, v in zip(units, periods, values, strict=True)]
    return _json({**head, "rows": rows})


@router.post("/sources", summary="The batches and record counts behind measure values")
async def measure_sources(body: SourcesQuery, principal: PrincipalDep, database: DatabaseDep) -> Response:
    async with database.session() as session:
        scope = await repository.scope_for(session, principal.unit_id)
        result = await measures_api.sources(
            await _driver(session), scope, body.units, body.measures, body.from_, body.to
        )
    return _json(result)


@router.post(
    "/contribution",
    summary="Each record's contribution to the measures, rolled up as the measures are",
    description="For appeals that exclude records: subtracting a record's contributions from the values gives the "
    "values without it. Only units inside the caller's subtree are listed.",
)
async def measure_contribution(body: ContributionQuery, principal: PrincipalDep, database: DatabaseDep) -> Response:
    async with database.session() as session:
        scope = await repository.scope_for(session, principal.unit_id)
        result = await measures_api.contribution(await _driver(session), scope, [r.model_dump() for r in body.records])
    return _json(result)
