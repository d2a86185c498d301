"""REST endpoints of the indicators service: the scheme document scoring stores (contracts §5)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from hotline.kit.app import DatabaseDep, PrincipalDep
from hotline.kit.directory import directory_scope
from hotline.kit.errors import NotFoundError
from services.indicators import loaders, repository
from services.indicators.documents import to_yaml

router = APIRouter(prefix="/schemes", tags=["schemes"])


@router.get(
    "/{scheme_id}/versions/{version}/document",
    summary="The self-contained document of a scheme version",
    description=(
        "The scheme version with every indicator version spelled out (contracts §5). JSON by default; YAML with "
        "`Accept: application/yaml`. Any token whose scope holds the scheme (its organizers, the units of its "
        "cohort for a published version, or a service acting for one of them); otherwise 404."
    ),
)
async def scheme_document(
    scheme_id: str,
    version: int,
    request: Request,
    principal: PrincipalDep,
    database: DatabaseDep,
    accept: Annotated[str | None, Header()] = None,
):
    try:
        sid = uuid.UUID(scheme_id)
    except ValueError:
        raise NotFoundError("no such scheme version") from None
    async with database.session() as session:
        scope = await directory_scope(session, request.app.state.directory, principal.unit_id)
        unit = await repository.unit_info(session, principal.unit_id)
        rows = await repository.visible_versions(session, principal, scope, unit, keys=[(sid, version)])
        if not rows:
            raise NotFoundError("no such scheme version")
        row, scheme = rows[0]
        document = await loaders.build_document(
            session, str(scheme.id), row.version, row.status, scheme.organizer_id, row.body
        )
    if document is None:
        raise NotFoundError("this draft pins an indicator version that does not exist; it has no document yet")
    if accept and "yaml" in accept:
        return PlainTextResponse(to_yaml(document), media_type="application/yaml")
    return JSONResponse(document)
