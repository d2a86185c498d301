"""REST endpoints of the ingest service (bulk files; documented in its OpenAPI at /docs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile

from hotline.kit.app import DatabaseDep, PrincipalDep
from hotline.kit.errors import BadRequestError
from services.ingest.registration import parse_unit_file, register_units

router = APIRouter(prefix="/units", tags=["units"])
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@router.post(
    "/bulk",
    summary="Register or update units from a CSV or JSON file",
    description=(
        'Upload a file (multipart field `file`) or send JSON (`[{...}]` or `{"units": [...]}`) as the body. '
        "CSV columns: id, parent_id, kind, name_zh, name_en, population, active, valid_from, valid_to "
        "(UTF-8, UTF-8 with BOM or GB18030). Idempotent. Every row is reported: created, updated, moved, "
        "unchanged, or rejected with its problems; rejected rows change nothing. Roles: admin or organizer."
    ),
)
async def bulk_register_units(
    request: Request,
    principal: PrincipalDep,
    database: DatabaseDep,
    file: Annotated[UploadFile | None, File(description="CSV or JSON file of units")] = None,
    dry_run: Annotated[bool, Query(description="Report what would happen without writing")] = False,
) -> dict[str, Any]:
    if file is not None:
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        filename, content_type = file.filename, file.content_type
    else:
        content_type = request.headers.get("content-type") or ""
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            # The form has been read (and holds no field `file`); its body cannot be read again.
            raise BadRequestError("a form upload carries the file in the field `file`")
        data = await request.body()
        filename = None
    if len(data) > MAX_UPLOAD_BYTES:
        raise BadRequestError(f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    rows = parse_unit_file(data, filename=filename, content_type=content_type)
    async with database.unit_of_work() as session:
        report = await register_units(session, principal, rows, dry_run=dry_run)
    return report.to_dict()
