"""Registering and updating units in bulk: parse, plan against the locked tree, apply accepted rows."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.auth import Principal, Role
from hotline.kit.errors import BadRequestError
from services.ingest import repository
from services.ingest.directory import FIELDS, RowOutcome, plan_registration

MAX_ROWS = 100_000
KNOWN_COLUMNS = {"id", *FIELDS}


@dataclass
class RegistrationReport:
    """The outcome of a bulk registration, one entry per input row."""

    dry_run: bool
    outcomes: list[RowOutcome]

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "counts": {a: self.count(a) for a in ("created", "updated", "moved", "unchanged", "rejected")},
            "rows": [
                {
                    "row": o.row,
                    "unitId": o.unit_id,
                    "action": o.action,
                    "changedFields": o.changed_fields,
                    "problems": [{"field": p.field, "value": p.value, "message": p.message} for p in o.problems],
                }
                for o in self.outcomes
            ],
        }


async def register_units(
    session: AsyncSession, principal: Principal, rows: list[dict[str, Any]], *, dry_run: bool = False
) -> RegistrationReport:
    """Apply the accepted rows (all or nothing for each row) and report every row."""
    principal.require_any(Role.ADMIN, Role.ORGANIZER)
    if len(rows) > MAX_ROWS:
        raise BadRequestError(f"at most {MAX_ROWS} rows per request, got {len(rows)}")
    await repository.lock_tree(session)
    existing = await repository.load_tree(session)
    scope = await repository.scope_for(session, principal.unit_id)
    plan = plan_registration(rows, existing, scope=scope, may_create_roots=principal.has_any(Role.ADMIN))
    if not dry_run:
        await repository.apply_plan(session, plan, existing, changed_by=principal.subject)
    return RegistrationReport(dry_run=dry_run, outcomes=plan.outcomes)


def decode_text(data: bytes) -> str:
    """Decode an uploaded file: UTF-8 (with or without BOM) or GB18030/GBK, as Chinese spreadsheets export."""
    if not data.strip():
        raise BadRequestError("the file is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise BadRequestError(
            f"cannot decode the file at byte {exc.start}: expected UTF-8, UTF-8 with BOM, or GB18030/GBK"
        ) from exc


def parse_unit_file(data: bytes, *, filename: str | None, content_type: str | None) -> list[dict[str, Any]]:
    """Rows of a unit file in CSV or JSON (an array of objects, or ``{"units": [...]}``)."""
    text_data = decode_text(data)
    stripped = text_data.lstrip()
    is_json = (content_type or "").startswith("application/json") or (filename or "").lower().endswith(".json")
    if is_json or stripped.startswith(("[", "{")):
        try:
            payload = json.loads(text_data)
        except json.JSONDecodeError as exc:
            raise BadRequestError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
        if isinstance(payload, dict):
            payload = payload.get("units")
        if not isinstance(payload, list) or not all(isinstance(r, dict) for r in payload):
            raise BadRequestError('expected a JSON array of unit objects, or {"units": [...]}')
        return payload
    reader = csv.DictReader(io.StringIO(text_data))
    header = reader.fieldnames or []
    if "id" not in header:
        raise BadRequestError(
            f"the CSV header must include 'id' (columns allowed: {', '.join(sorted(KNOWN_COLUMNS))}); got {header}"
        )
    unknown = [c for c in header if c not in KNOWN_COLUMNS]
    if unknown:
        raise BadRequestError(f"unknown CSV columns {unknown}; allowed: {', '.join(sorted(KNOWN_COLUMNS))}")
    rows = []
    for line in reader:
        if None in line:
            raise BadRequestError(f"CSV line {reader.line_num}: more fields than the header's {len(header)} columns")
        if any(v is None for v in line.values()):
            raise BadRequestError(f"CSV line {reader.line_num}: fewer fields than the header's {len(header)} columns")
        rows.append(dict(line))
    if not rows:
        raise BadRequestError("the CSV file has a header but no rows")
    return rows
