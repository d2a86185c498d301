"""REST endpoints of the appeals service: evidence files up (multipart, for large files) and down, scoped
like every read."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile

from hotline.kit.app import DatabaseDep, PrincipalDep
from hotline.kit.conditional import matches, not_modified, validator_headers
from hotline.kit.directory import directory_scope
from hotline.kit.errors import NotFoundError
from services.appeals import filing, repository
from services.appeals.evidence import MAX_FILE_BYTES
from services.appeals.service import Deps, actor_of
from services.appeals.spelling import spelled

router = APIRouter(prefix="/appeals", tags=["appeals"])


@router.get(
    "/{appeal_id}/evidence/{file_id}",
    summary="Download an evidence file of an appeal the caller may see",
    description="Served with its sniffed type, as an attachment, with `X-Content-Type-Options: nosniff`; a "
    "draft's files to its filing unit only. Also served by the gateway at the same path (the `downloadPath`).",
)
async def download_evidence(
    appeal_id: uuid.UUID, file_id: uuid.UUID, request: Request, principal: PrincipalDep, database: DatabaseDep
) -> Response:
    async with database.session() as session:
        scope = await directory_scope(session, request.app.state.directory, principal.unit_id)
        file = await repository.file_content(session, scope, appeal_id, file_id)
    if file is None:
        raise NotFoundError("no such evidence file (or it is not visible to you)")
    # A stored file never changes: its digest is its validator (checked after the caller's scope, as above).
    etag = f'"{file.sha256}"'
    if matches(request, etag):
        return not_modified(etag)
    safe_name = "".join(c if c.isalnum() or c in "._-" else "_" for c in file.filename)
    return Response(
        content=file.content,
        media_type=file.media_type,
        headers={
            "content-disposition": f"attachment; filename=\"{safe_name}\"; filename*=UTF-8''{safe_name}",
            "x-content-type-options": "nosniff",
            "x-content-sha256": file.sha256,
            **validator_headers(etag),
        },
    )


@router.post(
    "/{appeal_id}/evidence",
    summary="Attach an evidence file to an appeal (multipart field `file`, form field `expected_version`)",
    description="The appellant's unit only, while the appeal is a draft or information is requested. The type "
    "is judged by content (PDF, PNG, JPEG, DOCX, XLSX, UTF-8 text), at most 10 MiB. Answers the problems if "
    "refused, like the GraphQL mutation `addEvidenceFile`; a concurrent change answers 409 CONFLICT; a missing "
    "or malformed field 400 BAD_REQUEST in the platform's error body. Statuses are spelled as in GraphQL "
    "(`DRAFT`). Also served by the gateway at the same path.",
)
async def upload_evidence(
    appeal_id: uuid.UUID,
    request: Request,
    principal: PrincipalDep,
    database: DatabaseDep,
    file: Annotated[UploadFile, File(description="The evidence file")],
    expected_version: Annotated[int, Form(description="The appeal's version as last read")],
) -> dict[str, Any]:
    content = await file.read(MAX_FILE_BYTES + 1)
    runtime = request.app.state.appeals
    async with database.unit_of_work() as session:
        scope = await directory_scope(session, request.app.state.directory, principal.unit_id)
        deps = Deps(
            session=session, actor=actor_of(principal), scope=scope, now=runtime.clock(), scoring=runtime.scoring
        )
        done = await filing.add_evidence_file(deps, str(appeal_id), expected_version, file.filename or "", content)
    if done.appeal is None:
        raise NotFoundError("no such appeal (or it is not visible to you)")
    return {
        "ok": not done.problems,
        "problems": [{"code": p.code, "message": p.message, "field": p.field} for p in done.problems],
        "warnings": [{"code": p.code, "message": p.message, "field": p.field} for p in done.warnings],
        "appeal": {"id": str(done.appeal.id), "version": done.appeal.version, "status": spelled(done.appeal.status)},
    }
