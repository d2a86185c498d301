"""REST endpoints for raw records: formats, bulk batches (streamed upload), batch reports, withdrawal, mappings."""

from __future__ import annotations

import re
import tempfile
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import PlainTextResponse

from hotline.kit.app import DatabaseDep, PrincipalDep
from hotline.kit.auth import Role
from hotline.kit.errors import BadRequestError, ForbiddenError, NotFoundError, PayloadTooLargeError
from services.ingest import batches, coverage, repository, store
from services.ingest.batches import Submission
from services.ingest.mapping import check_mapping
from services.ingest.records import KINDS, csv_header, json_schema

router = APIRouter(tags=["records"])
MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024
SPOOL_BYTES = 8 * 1024 * 1024


@router.get("/records/formats", summary="Canonical formats of every record type (JSON Schema and CSV header)")
async def record_formats() -> dict[str, Any]:
    return {
        name: {
            "nameZh": kind.name_zh,
            "description": kind.description,
            "dayField": kind.day_field,
            "csvHeader": csv_header(kind),
            "jsonSchema": json_schema(kind),
        }
        for name, kind in KINDS.items()
    }


@router.get(
    "/records/formats/{kind}.csv",
    summary="An empty CSV with the canonical header of a record type",
    response_class=PlainTextResponse,
)
async def record_csv_template(kind: Annotated[str, Path(description="Record type")]) -> str:
    if kind not in KINDS:
        raise NotFoundError(f"unknown record kind {kind!r}")
    return ",".join(csv_header(KINDS[kind])) + "\n"


def _max_upload(request: Request) -> int:
    settings = getattr(request.app.state, "settings", None)
    return settings.ingest_max_upload_bytes if settings is not None else MAX_UPLOAD_BYTES


async def _spool(request: Request):
    """The request body on disk (beyond 8 MiB), read in chunks: the upload is never held whole in memory."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise BadRequestError("multipart upload without a `file` field")
        if (upload.size or 0) > _max_upload(request):
            raise PayloadTooLargeError(f"the file is larger than {_max_upload(request)} bytes")
        upload.file.seek(0)
        return upload.file, upload.filename, upload.content_type
    limit = _max_upload(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the file is larger than {limit} bytes")
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by the caller)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            spool.close()
            raise PayloadTooLargeError(f"the file is larger than {limit} bytes")
        spool.write(chunk)
    spool.seek(0)
    return spool, request.headers.get("x-filename"), content_type


# The body is read as a stream (not parsed by FastAPI), so its content types are declared by hand.
_FILE_BODY = {"schema": {"type": "string", "format": "binary"}}
BATCH_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file itself (streamed), or multipart/form-data with field `file`.",
        "content": {
            "text/csv": _FILE_BODY,
            "application/x-ndjson": _FILE_BODY,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _FILE_BODY,
            "application/octet-stream": _FILE_BODY,
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


@router.post(
    "/batches",
    openapi_extra=BATCH_REQUEST_BODY,
    summary="Submit a file of raw records (streamed) as one batch",
    description=(
        "Send the file as the request body (`Content-Type: text/csv`, `application/x-ndjson`, "
        "`application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`, or `application/octet-stream` "
        "with `format=`), streamed, or as multipart field `file`. CSV/TSV/NDJSON/XLSX in UTF-8, UTF-8 with BOM "
        "or GB18030/GBK. Without `mapping` the columns must be the canonical ones (`GET /records/formats`). "
        "Rows are validated, de-duplicated on (source, record_id), stored and aggregated into daily measures in "
        "one transaction; bad rows are reported (row, field, value, reason) and the good ones kept. "
        "Answers the batch report. A file that cannot be read at all answers 400 with the reason; the batch is "
        "then `failed` and stored nothing. Roles: admin, organizer, unit or service; every row's unit must be "
        "inside the caller's subtree."
    ),
)
async def submit_batch(
    request: Request,
    principal: PrincipalDep,
    database: DatabaseDep,
    kind: Annotated[str, Query(description="Record type: " + ", ".join(KINDS))],
    source: Annotated[str, Query(description="Sending system; the default `source` of rows that do not name one")],
    mapping: Annotated[str | None, Query(description="Name of a saved column mapping")] = None,
    format: Annotated[str | None, Query(description="csv, tsv, ndjson or xlsx (default: from file name/type)")] = None,
    filename: Annotated[
        str | None, Query(description="Original file name (for the report and format detection)")
    ] = None,
    time_zone: Annotated[str | None, Query(description="Time zone of naive timestamps (default Asia/Shanghai)")] = None,
    period_from: Annotated[date | None, Query(description="First day the batch declares to cover (relevance)")] = None,
    period_to: Annotated[date | None, Query(description="Last day the batch declares to cover")] = None,
    expected_rows: Annotated[int | None, Query(ge=0, description="Rows the source says it sent (completeness)")] = None,
    covers: Annotated[
        str | None,
        Query(
            description="Units the batch declares it covers, comma-separated (`GZ-T1,GZ-T2`): each with its whole "
            "subtree, for the batch's days (`period_from`…`period_to`, else those of its rows), so that a measure "
            "the batch's fields make and its rows leave at 0 is a true zero for every unit there. Each must be a "
            "unit of the caller's subtree. Without it, the batch covers the units its rows name (docs/contracts.md §4)."
        ),
    ] = None,
) -> dict[str, Any]:
    binary, upload_name, content_type = await _spool(request)
    try:
        sub = Submission(
            kind=kind,
            source=source,
            mapping_name=mapping,
            time_zone=time_zone,
            period_from=period_from,
            period_to=period_to,
            expected_rows=expected_rows,
            format=format,
            filename=filename or upload_name,
            content_type=content_type,
            covers=coverage.parse_covers(covers),
        )
        return await batches.submit(database, principal, sub, binary=binary)
    finally:
        binary.close()


@router.get("/batches", summary="Recent batches submitted inside the caller's subtree")
async def list_batches(
    principal: PrincipalDep,
    database: DatabaseDep,
    status: Annotated[str | None, Query(description="Only batches in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    async with database.session() as session:
        scope = await repository.scope_for(session, principal.unit_id)
        rows = await store.list_batches(session, scope, limit=limit, status=status)
        covered = await store.batch_coverage(session, [r["id"] for r in rows])
    return [batches.batch_to_dict(r, [], covered.get(r["id"])) for r in rows]


@router.get("/batches/{batch_id}", summary="A batch's status, counts, quality report and problems")
async def get_batch(
    principal: PrincipalDep,
    database: DatabaseDep,
    batch_id: int,
    problems: Annotated[int, Query(ge=0, le=10000, description="How many problems to list")] = 1000,
) -> dict[str, Any]:
    async with database.session() as session:
        return await batches.batch_report(session, principal, batch_id, problems)


@router.post("/batches/{batch_id}/withdraw", summary="Withdraw a batch: its rows leave and measures are recomputed")
async def withdraw_batch(principal: PrincipalDep, database: DatabaseDep, batch_id: int) -> dict[str, Any]:
    return await batches.withdraw(database, principal, batch_id)


@router.get("/mappings", summary="Saved column mappings the caller may use")
async def list_mappings(principal: PrincipalDep, database: DatabaseDep) -> list[dict[str, Any]]:
    async with database.session() as session:
        scope = await repository.scope_for(session, principal.unit_id)
        rows = await store.list_mappings(session, scope)
    return [
        {
            "name": r["name"],
            "kind": r["kind"],
            "description": r["description"],
            "spec": r["spec"],
            "ownerUnitId": r["owner_unit_id"],
            "updatedBy": r["updated_by"],
            "updatedAt": r["updated_at"].isoformat(),
        }
        for r in rows
    ]


@router.put("/mappings/{name}", summary="Save (create or replace) a named column mapping")
async def save_mapping(
    principal: PrincipalDep,
    database: DatabaseDep,
    name: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")],
    spec: Annotated[dict[str, Any], Body(description="The mapping document (see services/ingest/mapping.py)")],
    description: Annotated[str, Query(description="What layout it reads")] = "",
) -> dict[str, Any]:
    return await save_named_mapping(database, principal, name, spec, description)


async def save_named_mapping(database, principal, name: str, spec: dict, description: str) -> dict[str, Any]:
    if not principal.has_any(Role.ADMIN, Role.ORGANIZER, Role.UNIT, Role.SERVICE):
        raise ForbiddenError("saving a mapping needs one of the roles: admin, organizer, service, unit")
    # REST checks the name in its path; GraphQL passes it as an argument, checked here for both.
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,99}", name):
        raise BadRequestError("a mapping name is 1–100 of a–z, 0–9, _ . - (starting with a letter or digit)")
    if problems := check_mapping(spec):
        raise BadRequestError("the mapping is not usable", problems=problems)
    async with database.unit_of_work() as session:
        owner = await store.mapping_owner(session, name)
        if owner is not None:
            scope = await repository.scope_for(session, principal.unit_id)
            if owner not in await store.unit_ids_in_scope(session, scope):
                raise ForbiddenError(f"mapping {name!r} belongs to {owner}, outside your scope")
        await store.save_mapping(session, principal, name, spec, description)
    return {"name": name, "kind": spec["kind"], "saved": True}
