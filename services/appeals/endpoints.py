"""REST endpoints of the appeals service: evidence file downloads (scoped like every read)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from hotline.kit.app import DatabaseDep, PrincipalDep
from hotline.kit.directory import directory_scope
from hotline.kit.errors import NotFoundError
from services.appeals import repository

router = APIRouter(prefix="/appeals", tags=["appeals"])


@router.get(
    "/{appeal_id}/evidence/{file_id}",
    summary="Download an evidence file of an appeal the caller may see",
    description="Served with its sniffed type, as an attachment, with `X-Content-Type-Options: nosniff`.",
)
async def download_evidence(
    appeal_id: uuid.UUID, file_id: uuid.UUID, request: Request, principal: PrincipalDep, database: DatabaseDep
) -> Response:
    async with database.session() as session:
        scope = await directory_scope(session, request.app.state.directory, principal.unit_id)
        file = await repository.file_content(session, scope, appeal_id, file_id)
    if file is None:
        raise NotFoundError("no such evidence file (or it is not visible to you)")
    safe_name = "".join(c if c.isalnum() or c in "._-" else "_" for c in file.filename)
    return Response(
        content=file.content,
        media_type=file.media_type,
        headers={
            "content-disposition": f"attachment; filename=\"{safe_name}\"; filename*=UTF-8''{safe_name}",
            "x-content-type-options": "nosniff",
            "x-content-sha256": file.sha256,
        },
    )
