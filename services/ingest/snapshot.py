"""``GET /units/snapshot``: the whole unit tree for the other services' read models (service tokens
only: a user token, even one with the role ``service``, is refused — the tree beyond its scope is not its).

The ETag is the directory's version, the id of its last recorded change; a move writes a change for
the moved unit in the same transaction that rewrites its subtree's paths, so any change to any path
moves the version. ``If-None-Match`` with the current version answers ``304``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from hotline.kit.app import DatabaseDep, PrincipalDep
from services.ingest.models import Unit, UnitChange

router = APIRouter(prefix="/units", tags=["units"])


@router.get(
    "/snapshot",
    summary="The whole unit tree with materialized paths (for the other services only: service tokens)",
    description="Rows of `[id, parent_id, path, kind, name_zh, name_en, active, valid_from, valid_to]` and the "
    "directory's `version` (also the ETag). Send `If-None-Match` to get `304` when nothing changed.",
)
async def unit_snapshot(request: Request, principal: PrincipalDep, database: DatabaseDep) -> Response:
    principal.require_internal()
    async with database.session() as session:
        version = str(await session.scalar(select(func.coalesce(func.max(UnitChange.id), 0))))
        if request.headers.get("if-none-match") == f'"{version}"':
            return Response(status_code=304, headers={"etag": f'"{version}"'})
        # The rows and their version in one statement, so they are one consistent snapshot.
        current = select(func.coalesce(func.max(UnitChange.id), 0)).scalar_subquery().label("version")
        rows = (
            await session.execute(
                select(
                    current, Unit.id, Unit.parent_id, Unit.path, Unit.kind, Unit.name_zh, Unit.name_en,
                    Unit.active, Unit.valid_from, Unit.valid_to,
                ).order_by(Unit.path)
            )
        ).all()  # fmt: skip
    if rows:
        version = str(rows[0].version)
    units = [
        [r.id, r.parent_id, r.path, r.kind, r.name_zh, r.name_en, r.active, r.valid_from.isoformat(),
         r.valid_to.isoformat() if r.valid_to else None]
        for r in rows
    ]  # fmt: skip
    return JSONResponse({"version": version, "units": units}, headers={"etag": f'"{version}"'})
