"""Batches: submit a file or rows, follow its status, read its report, withdraw it.

Status: received → validating → loading → aggregating → done, or failed (nothing of it stored), or
withdrawn. The batch row is committed first (``received``) so that a failure is recorded; the load
itself is one transaction, while status and rows read so far are written in short transactions of
their own, so a client polling ``GET /batches/{id}`` sees the progress. The load transaction touches
the batch row only at the end (no lock held against the progress writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hotline.kit import metrics
from hotline.kit.auth import Principal, Role
from hotline.kit.db import Database
from hotline.kit.errors import BadRequestError, ForbiddenError, NotFoundError
from hotline.kit.scope import Scope
from services.ingest import coverage, loader, newmonth, partitions, repeats, repository, store
from services.ingest import feed as feeds
from services.ingest import quality as quality_module
from services.ingest.mapping import ColumnMapping, MappingError
from services.ingest.reader import FileFormatError, detect_format, plain_csv_layout, read_rows
from services.ingest.records import KINDS

SUBMITTER_ROLES = (Role.ADMIN, Role.ORGANIZER, Role.UNIT, Role.SERVICE)
DEFAULT_TIME_ZONE = "Asia/Shanghai"
BATCH_COLUMNS = (
    "id, kind, source, status, format, filename, time_zone, mapping_name, submitted_by, submitter_unit_id, "
    "received_at, finished_at, withdrawn_at, period_from, period_to, expected_rows, rows_read, rows_valid, "
    "rows_rejected, rows_new, rows_corrected, rows_duplicate, rows_repeated_in_file, error, quality"
)
ROWS = metrics.counter(
    "ingest_rows",
    "Rows of loaded batches by record kind and outcome (throughput: rate of new rows)",
    ["kind", "outcome"],
)
BATCH_DURATION = metrics.histogram(
    "ingest_batch_duration_seconds",
    "Time to load a batch, by record kind and final status",
    ["kind", "status"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)


@dataclass(frozen=True, slots=True)
class Submission:
    """What a client says about a batch besides its rows."""

    kind: str
    source: str
    mapping_name: str | None = None
    time_zone: str | None = None
    period_from: date | None = None
    period_to: date | None = None
    expected_rows: int | None = None
    format: str | None = None
    filename: str | None = None
    content_type: str | None = None
    covers: tuple[str, ...] = ()  # the units the batch declares it covers, each with its subtree (``covers=``)


async def _driver(session: AsyncSession):
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def _resolve_mapping(session: AsyncSession, scope: Scope, sub: Submission) -> ColumnMapping | None:
    if sub.mapping_name is None:
        return None
    spec = await store.mapping_spec(session, scope, sub.mapping_name)
    if spec is None:
        raise BadRequestError(f"no column mapping named {sub.mapping_name!r} (see GET /mappings)")
    mapping = ColumnMapping(spec, name=sub.mapping_name)
    if mapping.kind.name != sub.kind:
        raise BadRequestError(f"mapping {sub.mapping_name!r} maps to {mapping.kind.name}, not {sub.kind}")
    return mapping


def _check(principal: Principal, sub: Submission) -> ZoneInfo:
    if not principal.has_any(*SUBMITTER_ROLES):
        raise ForbiddenError("submitting records needs one of the roles: admin, organizer, service, unit")
    if sub.kind not in KINDS:
        raise BadRequestError(f"unknown record kind {sub.kind!r}; expected one of {', '.join(KINDS)}")
    if not sub.source or len(sub.source) > 100:
        raise BadRequestError("source must name the sending system (1–100 characters)")
    if sub.period_from and sub.period_to and sub.period_to < sub.period_from:
        raise BadRequestError("period_to is before period_from")
    try:
        return ZoneInfo(sub.time_zone or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequestError(f"unknown time zone {sub.time_zone!r}") from None


async def submit(
    database: Database,
    principal: Principal,
    sub: Submission,
    *,
    binary: BinaryIO | None = None,
    rows: list | None = None,
) -> dict[str, Any]:
    """Load a file (``binary``) or a list of row objects (``rows``) as one batch; returns its report."""
    tz = _check(principal, sub)
    started = time.perf_counter()
    async with database.unit_of_work() as session:
        scope = await repository.scope_for(session, principal.unit_id)
        await store.check_covers(session, scope, sub.covers)
        mapping = await _resolve_mapping(session, scope, sub)
        sha = submission_digest(binary, sub, mapping, tz) if binary is not None else None
        batch_id = await store.create_batch(session, principal, sub, mapping, sha)
    try:
        async with database.unit_of_work() as session:
            await store.hold_load_lock(session, batch_id)  # a batch whose lock is free is not being loaded
            apg = await _driver(session)
            if sha is not None and await _resend_of_intact_batch(apg, sub, principal, sha, batch_id):
                timings: dict[str, Any] = {"identicalResend": True}
            else:
                loading = _Loading(database, apg, sub, tz, mapping, batch_id)
                timings = await loading.run(await store.unit_ids_in_scope(session, scope), binary, rows)
    except (FileFormatError, MappingError) as exc:
        BATCH_DURATION.labels(kind=sub.kind, status="failed").observe(time.perf_counter() - started)
        await _record_failure(database, batch_id, str(exc))
        raise BadRequestError(f"batch {batch_id} failed: {exc}", batchId=batch_id) from None
    except Exception:
        BATCH_DURATION.labels(kind=sub.kind, status="failed").observe(time.perf_counter() - started)
        # unexpected: the load rolled back; record that the batch failed, then let the error be masked and logged
        await _record_failure(database, batch_id, "unexpected error while loading; nothing was stored")
        raise
    async with database.session() as session:  # after the load's commit
        report = await batch_report(session, principal, batch_id)
    report["timingsSeconds"] = timings  # phases of this load (not stored)
    BATCH_DURATION.labels(kind=sub.kind, status=report.get("status", "done")).observe(time.perf_counter() - started)
    for outcome in ("new", "corrected", "duplicate", "rejected"):
        ROWS.labels(kind=sub.kind, outcome=outcome).inc(report["counts"].get(outcome, 0))
    return report


@dataclass
class _Loading:
    """One batch's load, inside the load's unit of work (``apg``: its asyncpg connection)."""

    database: Database
    apg: Any
    sub: Submission
    tz: ZoneInfo
    mapping: ColumnMapping | None
    batch_id: int

    async def run(self, units_in_scope: set[str], binary: BinaryIO | None, rows: list | None) -> dict[str, float]:
        """Read, check, store and aggregate the rows and record the batch's coverage; the phases' seconds."""
        sub, mapping = self.sub, self.mapping
        kind = KINDS[sub.kind]
        header, source_rows = _source_rows(binary, rows, sub, mapping)
        feed = feeds.RowFeed(
            kind=kind,
            tz=ZoneInfo(mapping.time_zone) if mapping and mapping.time_zone and not sub.time_zone else self.tz,
            source=sub.source,
            batch_id=self.batch_id,
            units_in_scope=units_in_scope,
            mapping=mapping,
            counts=feeds.LoadCounts(),
            period=(sub.period_from, sub.period_to),
            expected_rows=sub.expected_rows,
            covers=sub.covers,
            fields=coverage.supplied_fields(kind, header=header, mapping=mapping),
            fields_from_rows=mapping is None and header is None,  # JSON rows: their keys
        )
        plain = _plain_csv(binary, sub, mapping)
        second = _second_connection(self.database)
        report = await loader.load(self.apg, kind, feed, source_rows, self.set_status, plain, second)
        await store.finish_batch(self.apg, self.batch_id, feed.counts, report, feed.repeat_callers)
        return feed.timings

    async def set_status(self, status: str, rows_read: int | None = None) -> None:
        # its own short transaction (another connection in production): pollers see the progress
        async with self.database.unit_of_work() as progress_session:
            await store.set_progress(progress_session, self.batch_id, status, rows_read)


def _second_connection(database: Database):
    """Opens another connection of the pool (``newmonth``'s helper connections); ``None`` when the database is one
    connection (tests inside an outer transaction)."""
    if not isinstance(database.bind, AsyncEngine):
        return None
    engine = database.bind

    @contextlib.asynccontextmanager
    async def second():
        async with engine.connect() as connection:
            yield (await connection.get_raw_connection()).driver_connection

    return second


async def _record_failure(database: Database, batch_id: int, error: str, *, attempts: int = 30) -> None:
    """Mark the batch failed; when the database itself went away (a restart), retry for ~15 s. Should that
    fail too, the next start of the service marks it failed (``store.fail_interrupted``). The scratch table of a
    two-stream load goes too (``newmonth``)."""
    for attempt in range(attempts):
        try:
            async with database.unit_of_work() as session:
                await store.fail_batch(session, batch_id, error)
            async with database.unit_of_work() as session:
                await newmonth.drop_leftovers(await _driver(session))
            return
        except (OSError, DBAPIError, asyncpg.PostgresError, asyncpg.InterfaceError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)


def submission_digest(binary: BinaryIO, sub: Submission, mapping: ColumnMapping | None, tz: ZoneInfo) -> str:
    """SHA-256 of the file and of everything that decides how it is read."""
    digest = hashlib.sha256()
    settings = [sub.format, str(tz), str(sub.period_from), str(sub.period_to), str(sub.expected_rows)]
    if sub.covers:  # (only then: the digests of batches stored before ``covers`` existed stay what they were)
        settings.append(sorted(sub.covers))
    digest.update(json.dumps([settings, mapping.spec if mapping else None], sort_keys=True, default=str).encode())
    while chunk := binary.read(1 << 20):
        digest.update(chunk)
    binary.seek(0)
    return digest.hexdigest()


async def _resend_of_intact_batch(apg, sub: Submission, principal: Principal, sha: str, batch_id: int) -> bool:
    """A byte-identical re-send of a fully accepted batch whose rows are all still stored changes nothing:
    record it as all duplicates without re-reading the file (under the kind's lock, so no correction races).

    Its coverage is what a read of the file would record: it stores no row, so only a declared period and declared
    units cover anything (the same fields as the earlier batch: the same bytes, read the same way)."""
    lock = partitions.KIND_LOCK + sub.kind
    previous = await store.identical_intact_batch(
        apg, sub.kind, sub.source, principal.unit_id, sha, batch_id, lock=lock
    )
    if previous is None:
        return False
    quality = json.loads(previous["quality"]) if isinstance(previous["quality"], str) else dict(previous["quality"])
    checks = await quality_module.run_checks(apg, sub.kind, "r.batch_id = $1", previous["id"])
    quality["consistency"] = {**quality["consistency"], "checks": checks}
    await apg.execute(
        "UPDATE ingest.batch SET status = 'done', finished_at = now(), rows_read = $2, rows_valid = $3, "
        "rows_duplicate = $3, quality = $4::jsonb, rows_skipped = $5, "
        'repeat_callers = CASE WHEN $6 THEN \'{"sourceFlag": 0, "computed": 0, "computedRepeats": 0, '
        '"noCallerHash": 0, "otherCallsChanged": 0}\'::jsonb END WHERE id = $1',
        batch_id,
        previous["rows_read"],
        previous["rows_valid"],
        json.dumps(quality),
        previous["rows_skipped"],
        repeats.tracks(sub.kind),  # every row a duplicate: no call stored, no verdict moved
    )
    if sub.covers and sub.period_from and sub.period_to:  # else it covers nothing: it stores no row
        fields = await apg.fetchval("SELECT fields FROM ingest.batch_coverage WHERE batch_id = $1", previous["id"])
        supplied = set(fields or ()) | {f.name for f in KINDS[sub.kind].fields if f.required}
        period = (sub.period_from, sub.period_to)
        await coverage.record(apg, batch_id, sub.kind, sub.covers, period, supplied, brought=False)
    return True


def _plain_csv(binary: BinaryIO | None, sub: Submission, mapping: ColumnMapping | None) -> loader.PlainCsv | None:
    """A canonical CSV that PostgreSQL can parse and check itself (the bulk path), else ``None``."""
    if binary is None or mapping is not None:
        return None
    fmt = detect_format(sub.filename, sub.content_type, sub.format)
    position = binary.tell()
    # its data part is checked later, by the path that takes the file: the new-month path's check of every line
    # proves as much, without a pass of its own over the file
    layout = plain_csv_layout(binary, fmt)
    binary.seek(position)
    if layout is None:
        return None

    def reopen() -> Iterator:
        binary.seek(0)
        return _source_rows(binary, None, sub, None)[1]

    return loader.PlainCsv(binary, layout, reopen)


def _source_rows(
    binary: BinaryIO | None, rows: list | None, sub: Submission, mapping: ColumnMapping | None
) -> tuple[list[str] | None, Iterator]:
    """The file's header (``None`` for JSON rows, which have none) and its rows."""
    kind = KINDS[sub.kind]
    if rows is not None:
        if not rows:
            raise FileFormatError("the batch has no rows")
        return None, iter(enumerate((r if isinstance(r, dict) else {} for r in rows), start=1))
    assert binary is not None
    fmt = detect_format(sub.filename, sub.content_type, sub.format)
    header, iterator = read_rows(binary, fmt, mapping.delimiter if mapping else None)
    if header:  # NDJSON has no header; its rows are checked field by field
        if mapping is not None:
            if missing := mapping.missing_columns(header):
                raise FileFormatError(f"the header lacks the columns the mapping reads: {', '.join(missing)}")
        else:
            unknown = [h for h in header if h not in kind.field_names]
            missing = [f.name for f in kind.fields if f.required and f.name not in header and f.name != "source"]
            if unknown or missing:
                raise FileFormatError(
                    f"wrong header for {kind.name}: "
                    + (f"unknown columns {unknown}; " if unknown else "")
                    + (f"missing required columns {missing}; " if missing else "")
                    + "expected the canonical columns (GET /records/formats) or a mapping"
                )
    return header or None, iterator


async def batch_report(session: AsyncSession, principal: Principal, batch_id: int, problems_limit: int = 1000) -> dict:
    """A batch's status, counts, quality and first problems — if the batch is inside the caller's scope."""
    scope = await repository.scope_for(session, principal.unit_id)
    row = await store.batch_row(session, scope, batch_id)
    if row is None:
        raise NotFoundError(f"no batch {batch_id} in your scope")
    problems = await store.batch_problems(session, batch_id, problems_limit)
    covered = await store.batch_coverage(session, [batch_id])
    return batch_to_dict(row, problems, covered.get(batch_id))


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def batch_to_dict(row, problems: list[dict], covered: dict[str, Any] | None = None) -> dict[str, Any]:
    """A batch's report; ``covered``: what it covers (``store.batch_coverage``), ``None`` when nothing."""
    quality = row["quality"]
    return {
        "batchId": row["id"],
        "kind": row["kind"],
        "source": row["source"],
        "status": row["status"],
        "format": row["format"],
        "filename": row["filename"],
        "timeZone": row["time_zone"],
        "mapping": row["mapping_name"],
        "submittedBy": row["submitted_by"],
        "submitterUnitId": row["submitter_unit_id"],
        "receivedAt": row["received_at"].isoformat(),
        "finishedAt": row["finished_at"].isoformat() if row["finished_at"] else None,
        "withdrawnAt": row["withdrawn_at"].isoformat() if row["withdrawn_at"] else None,
        "error": row["error"],
        "counts": {
            "read": row["rows_read"],
            "valid": row["rows_valid"],
            "rejected": row["rows_rejected"],
            "new": row["rows_new"],
            "corrected": row["rows_corrected"],
            "duplicate": row["rows_duplicate"],
            "repeatedInFile": row["rows_repeated_in_file"],
            "skipped": row["rows_skipped"],
        },
        "repeatCallers": _json(row["repeat_callers"]),
        "quality": _json(quality),
        "coverage": covered,
        "problems": problems,
    }


async def withdraw(database: Database, principal: Principal, batch_id: int) -> dict[str, Any]:
    """Remove a batch's rows and recompute the measures they counted for."""
    if not principal.has_any(*SUBMITTER_ROLES):
        raise ForbiddenError("withdrawing a batch needs one of the roles: admin, organizer, service, unit")
    async with database.unit_of_work() as session:
        scope = await repository.scope_for(session, principal.unit_id)
        row = await store.batch_row(session, scope, batch_id, lock=True)
        if row is None:
            raise NotFoundError(f"no batch {batch_id} in your scope")
        if row["status"] != "done":
            raise BadRequestError(f"batch {batch_id} is {row['status']}; only a done batch can be withdrawn")
        apg = await _driver(session)
        removed, moved = await loader.withdraw_rows(apg, row["kind"], batch_id)
        await apg.execute(
            "UPDATE ingest.batch SET status = 'withdrawn', withdrawn_at = now(), withdrawn_by = $2, "
            "repeat_callers = CASE WHEN $3::int IS NULL THEN repeat_callers "
            "ELSE coalesce(repeat_callers, '{}') || jsonb_build_object('otherCallsChangedByWithdrawal', $3::int) END "
            "WHERE id = $1",
            batch_id,
            principal.subject,
            moved,
        )
    async with database.session() as session:
        report = await batch_report(session, principal, batch_id)
    report["rowsRemoved"] = removed
    return report
