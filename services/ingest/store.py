"""Database access for batches, their problems and column mappings. Reads that serve a caller are scoped."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.auth import Principal
from hotline.kit.errors import BadRequestError
from hotline.kit.scope import PATH_SEPARATOR, Scope
from services.ingest import coverage

# A batch is visible to a caller iff the unit that submitted it is inside the caller's subtree.
_BATCH_IN_SCOPE = "JOIN ingest.unit su ON su.id = b.submitter_unit_id WHERE (su.path = :path OR su.path LIKE :prefix)"


def _scope_params(scope: Scope) -> dict[str, str]:
    # A caller with an unknown unit gets a path no unit can have.
    path = scope.path if scope.path is not None else "\x00"
    return {"path": path, "prefix": path + PATH_SEPARATOR + "%"}


async def unit_ids_in_scope(session: AsyncSession, scope: Scope) -> set[str]:
    if scope.path is None:
        return set()
    rows = await session.execute(
        text("SELECT id FROM ingest.unit WHERE path = :path OR path LIKE :prefix"), _scope_params(scope)
    )
    return {r[0] for r in rows}


async def check_covers(session: AsyncSession, scope: Scope, covers: tuple[str, ...]) -> None:
    """Refuse declared units (``covers=``) that are not units of the caller's subtree — an unknown unit and one
    outside the subtree get the same answer, so that the refusal tells nothing of other subtrees."""
    if not covers:
        return
    result = await session.execute(
        text("SELECT id FROM ingest.unit WHERE id = ANY(:ids) AND (path = :path OR path LIKE :prefix)"),
        {**_scope_params(scope), "ids": list(covers)},
    )
    found = {r[0] for r in result}
    if refused := [u for u in covers if u not in found]:
        raise BadRequestError(
            f"covers names units that are not units of your subtree: {', '.join(refused)}; a batch declares it "
            "covers units it may send records for (each with its whole subtree)",
            covers=refused,
        )


async def batch_coverage(session: AsyncSession, batch_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What each of these batches covers (``coverage.py``), as shown in its report; a batch covering nothing is
    left out."""
    if not batch_ids:
        return {}
    rows = await session.execute(
        text(
            "SELECT c.batch_id, c.kind, c.first_day, c.last_day, c.days_declared, c.units_declared, c.fields, "
            "coalesce((SELECT array_agg(ARRAY[u.unit_id, u.role] ORDER BY u.role, u.unit_id) "
            "          FROM ingest.batch_coverage_unit u WHERE u.batch_id = c.batch_id AND u.role <> 'ancestor'), "
            "         '{}') AS units "
            "FROM ingest.batch_coverage c WHERE c.batch_id = ANY(:ids)"
        ),
        {"ids": list(batch_ids)},
    )
    out: dict[int, dict[str, Any]] = {}
    for r in rows.mappings():
        out[r["batch_id"]] = {
            "kind": r["kind"],
            "firstDay": r["first_day"].isoformat(),
            "lastDay": r["last_day"].isoformat(),
            "daysDeclared": r["days_declared"],
            "unitsDeclared": r["units_declared"],
            "units": [{"unit": unit, "how": how} for unit, how in r["units"]],
            "fields": list(r["fields"]),
            "measuresNotCovered": coverage.not_covered(r["kind"], r["fields"]),
        }
    return out


async def create_batch(session: AsyncSession, principal: Principal, sub, mapping, content_sha256: str | None) -> int:
    return await session.scalar(
        text(
            "INSERT INTO ingest.batch (kind, source, format, filename, time_zone, mapping_name, submitted_by, "
            "submitter_unit_id, period_from, period_to, expected_rows, content_sha256) VALUES (:kind, :source, :format, "
            ":filename, :tz, :mapping, :by, :unit, :pf, :pt, :expected, :sha) RETURNING id"
        ),
        {
            "kind": sub.kind,
            "source": sub.source,
            "format": sub.format or ("json" if sub.filename is None else None),
            "filename": sub.filename,
            "tz": sub.time_zone or (mapping.time_zone if mapping and mapping.time_zone else "Asia/Shanghai"),
            "mapping": sub.mapping_name,
            "by": principal.subject,
            "unit": principal.unit_id,
            "pf": sub.period_from,
            "pt": sub.period_to,
            "expected": sub.expected_rows,
            "sha": content_sha256,
        },
    )


async def set_progress(session: AsyncSession, batch_id: int, status: str, rows_read: int | None) -> None:
    await session.execute(
        text("UPDATE ingest.batch SET status = :status, rows_read = coalesce(:rows, rows_read) WHERE id = :id"),
        {"id": batch_id, "status": status, "rows": rows_read},
    )


async def finish_batch(
    apg, batch_id: int, counts, quality: dict[str, Any], repeat_callers: dict[str, int] | None = None
) -> None:
    await apg.execute(
        "UPDATE ingest.batch SET status = 'done', finished_at = now(), rows_read = $2, rows_valid = $3, "
        "rows_rejected = $4, rows_new = $5, rows_corrected = $6, rows_duplicate = $7, rows_repeated_in_file = $8, "
        "quality = $9::jsonb, rows_skipped = $10, repeat_callers = $11::jsonb WHERE id = $1",
        batch_id,
        counts.rows_read,
        counts.rows_valid,
        counts.rows_rejected,
        counts.rows_new,
        counts.rows_corrected,
        counts.rows_duplicate,
        counts.rows_repeated_in_file,
        json.dumps(quality),
        counts.rows_skipped,
        None if repeat_callers is None else json.dumps(repeat_callers),
    )
    if counts.problems:
        await apg.copy_records_to_table(
            "batch_problem",
            schema_name="ingest",
            records=[(batch_id, p.row, p.field, p.value, p.reason) for p in counts.problems],
            columns=["batch_id", "row_no", "field", "value", "reason"],
        )


# Advisory-lock class of "batch being loaded": the load transaction holds (class, batch id) until it ends, so
# a batch left unfinished with the lock free was interrupted (process killed, database restarted).
BATCH_LOAD_LOCK = 7301
INTERRUPTED = (
    "interrupted (the service or the database stopped during the load); nothing was stored — send the file again"
)


async def hold_load_lock(session: AsyncSession, batch_id: int) -> None:
    """Take the batch's load lock for the session's transaction — through SQLAlchemy, which begins the transaction
    (it does so at its first statement: a statement sent to the asyncpg connection before would run, and release
    a transaction-level lock, on its own)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:lock, :id)"), {"lock": BATCH_LOAD_LOCK, "id": batch_id})


async def fail_interrupted(session: AsyncSession, *, received_grace_seconds: float = 60.0) -> list[int]:
    """Mark failed every unfinished batch whose load no transaction holds (safe beside live loads of other
    replicas); a batch still ``received`` gets ``received_grace_seconds`` to begin its load."""
    result = await session.execute(
        text(
            "UPDATE ingest.batch SET status = 'failed', finished_at = now(), error = :e "
            "WHERE status IN ('received', 'validating', 'loading', 'aggregating') "
            "AND (status <> 'received' OR received_at < now() - make_interval(secs => :grace)) "
            "AND pg_try_advisory_xact_lock(:lock, id::int) RETURNING id"
        ),
        {"e": INTERRUPTED, "grace": received_grace_seconds, "lock": BATCH_LOAD_LOCK},
    )
    return [row[0] for row in result]


async def fail_batch(session: AsyncSession, batch_id: int, error: str) -> None:
    await session.execute(
        text("UPDATE ingest.batch SET status = 'failed', finished_at = now(), error = :e WHERE id = :id"),
        {"id": batch_id, "e": error},
    )


async def batch_row(session: AsyncSession, scope: Scope, batch_id: int, *, lock: bool = False):
    result = await session.execute(
        text(
            "SELECT b.* FROM ingest.batch b "
            + _BATCH_IN_SCOPE
            + " AND b.id = :id"
            + (" FOR UPDATE OF b" if lock else "")
        ),
        {**_scope_params(scope), "id": batch_id},
    )
    row = result.mappings().first()
    return dict(row) if row else None


async def list_batches(
    session: AsyncSession, scope: Scope, *, limit: int = 50, status: str | None = None
) -> list[dict]:
    result = await session.execute(
        text(
            "SELECT b.* FROM ingest.batch b "
            + _BATCH_IN_SCOPE
            + " AND (CAST(:status AS text) IS NULL OR b.status = :status) "
            "ORDER BY b.id DESC LIMIT :limit"
        ),
        {**_scope_params(scope), "status": status, "limit": limit},
    )
    return [dict(r) for r in result.mappings()]


async def batch_problems(session: AsyncSession, batch_id: int, limit: int) -> list[dict[str, Any]]:
    result = await session.execute(
        text(
            "SELECT row_no, field, value, reason FROM ingest.batch_problem WHERE batch_id = :id "
            "ORDER BY row_no, field NULLS FIRST LIMIT :limit"
        ),
        {"id": batch_id, "limit": limit},
    )
    return [{"row": r[0], "field": r[1], "value": r[2], "reason": r[3]} for r in result]


async def mapping_spec(session: AsyncSession, scope: Scope, name: str) -> dict | None:
    """A saved mapping, if it was saved by the caller's subtree or one of the caller's ancestors."""
    result = await session.execute(
        text("SELECT spec, owner_unit_id FROM ingest.column_mapping WHERE name = :name"), {"name": name}
    )
    row = result.first()
    if row is None:
        return None
    if _mapping_visible(scope, row[1]) or row[1] in await unit_ids_in_scope(session, scope):
        return row[0]
    return None


def _mapping_visible(scope: Scope, owner_unit_id: str) -> bool:
    # Mappings are layouts, not data: a caller may use those saved by its own subtree or its ancestors.
    if scope.path is None:
        return False
    return owner_unit_id in scope.path.split(PATH_SEPARATOR) or owner_unit_id == scope.unit_id


async def list_mappings(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    result = await session.execute(
        text(
            "SELECT name, kind, description, spec, owner_unit_id, updated_by, updated_at FROM ingest.column_mapping ORDER BY name"
        )
    )
    rows = [dict(r) for r in result.mappings()]
    visible = await unit_ids_in_scope(session, scope)
    return [r for r in rows if _mapping_visible(scope, r["owner_unit_id"]) or r["owner_unit_id"] in visible]


async def save_mapping(session: AsyncSession, principal: Principal, name: str, spec: dict, description: str) -> None:
    await session.execute(
        text(
            "INSERT INTO ingest.column_mapping (name, kind, description, spec, owner_unit_id, updated_by) "
            "VALUES (:name, :kind, :description, CAST(:spec AS jsonb), :owner, :by) "
            "ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, description = excluded.description, "
            "spec = excluded.spec, updated_by = excluded.updated_by, updated_at = now()"
        ),
        {
            "name": name,
            "kind": spec["kind"],
            "description": description,
            "spec": json.dumps(spec),
            "owner": principal.unit_id,
            "by": principal.subject,
        },
    )


async def mapping_owner(session: AsyncSession, name: str) -> str | None:
    return await session.scalar(text("SELECT owner_unit_id FROM ingest.column_mapping WHERE name = :n"), {"n": name})


async def identical_intact_batch(
    apg, kind: str, source: str, submitter_unit_id: str, sha: str, batch_id: int, *, lock: str | None = None
):
    """An earlier batch with the same content digest, fully accepted, whose stored rows are all still in place.

    Re-sending it again would find every row a duplicate; ``None`` when that cannot be known without
    re-reading (some row rejected or deduplicated then, or since replaced or withdrawn). ``lock``: the advisory
    lock (the kind's writers') to take once an earlier batch with the digest is found, and look again under —
    only then: it is held to the end of the load's transaction, and a batch that is no re-send must not hold
    it while its file is read.
    """
    candidate = (
        "SELECT * FROM ingest.batch WHERE kind = $1 AND source = $2 AND content_sha256 = $3 AND submitter_unit_id = $4 "
        "AND status = 'done' AND rows_rejected = 0 AND rows_duplicate = 0 AND rows_repeated_in_file = 0 AND id <> $5 "
        "ORDER BY id DESC LIMIT 1"
    )
    previous = await apg.fetchrow(candidate, kind, source, sha, submitter_unit_id, batch_id)
    if previous is not None and lock is not None:
        await apg.execute("SELECT pg_advisory_xact_lock(hashtext($1))", lock)
        previous = await apg.fetchrow(candidate, kind, source, sha, submitter_unit_id, batch_id)
    if previous is None:
        return None
    stored = await apg.fetchval(f"SELECT count(*) FROM ingest.raw_{kind} WHERE batch_id = $1", previous["id"])
    return previous if stored == previous["rows_new"] + previous["rows_corrected"] else None
