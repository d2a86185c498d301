"""GraphQL for raw records: batches with status and report, data quality, small JSON batches, mappings."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from hotline.kit.errors import BadRequestError
from hotline.kit.graphql import RequestContext, described_enum
from services.ingest import batches, coverage, quality, repository, store
from services.ingest.batches import Submission
from services.ingest.records import KINDS

Info = strawberry.Info[RequestContext, None]


@strawberry.type(description="Why one input row was rejected (行号, 字段, 值, 原因).")
class RecordProblem:
    row: int = strawberry.field(
        description="1-based data row of the file or position in the batch (header not counted)."
    )
    field: str | None = strawberry.field(description="The offending canonical field; null when the whole row is bad.")
    value: str | None = strawberry.field(description="The offending value, as given (truncated to 200 characters).")
    reason: str = strawberry.field(description="What is wrong and what was expected.")


@strawberry.type(description="Row counts of a batch.")
class BatchCounts:
    read: int = strawberry.field(description="Data rows read.")
    valid: int = strawberry.field(description="Rows that passed every check.")
    rejected: int = strawberry.field(description="Rows rejected; see `problems`.")
    new: int = strawberry.field(description="Valid rows stored as new records.")
    corrected: int = strawberry.field(
        description="Valid rows that replaced a stored record with the same (source, record_id)."
    )
    duplicate: int = strawberry.field(description="Valid rows identical to a stored record: nothing changed.")
    repeated_in_file: int = strawberry.field(description="Identical repeats of an earlier row of the same batch.")
    skipped: int = strawberry.field(
        description="Rows the column mapping left out (`skip_when` / `keep_when`): read, neither checked nor stored, "
        "not rejected."
    )


@strawberry.type(
    description="How a call batch's calls got their repeat-caller flag (重复来电, 7-day look-back; docs/contracts.md "
    "§7). Counts the calls the batch stored (new and corrected); duplicates keep the flag they had."
)
class RepeatCallers:
    source_flag: int = strawberry.field(description="Calls whose source set `repeat_caller` (used as given).")
    computed: int = strawberry.field(
        description="Calls without a source flag but with a `caller_hash`: judged by ingest from the hashed caller."
    )
    computed_repeats: int = strawberry.field(
        description="Of those, the calls judged repeats (the same caller called the same hotline body in the 168 "
        "hours before)."
    )
    no_caller_hash: int = strawberry.field(
        description="Calls with neither a source flag nor a caller hash: not available, counted as no repeat."
    )
    other_calls_changed: int = strawberry.field(
        description="Stored calls of other batches whose judged flag this batch moved (it brought, replaced or "
        "removed a call in their 7-day look-back); their measures were recomputed with the batch's."
    )
    other_calls_changed_by_withdrawal: int | None = strawberry.field(
        description="When the batch was withdrawn: stored calls whose judged flag the withdrawal moved."
    )


@strawberry.type(
    description="Completeness (完整性/召回率, spec 5.2.7): rows received against the expected count; days without data."
)
class Completeness:
    expected_rows: int | None = strawberry.field(description="Rows the source declared it sent, if it did.")
    rows_received: int = strawberry.field(description="Rows received.")
    received_share: float | None = strawberry.field(description="rows_received / expected_rows.")
    days_without_data: list[dt.date] = strawberry.field(description="Days of the declared period with no valid record.")


@strawberry.type(description="Precision (准确率): the share of valid rows.")
class Precision:
    rows_valid: int = strawberry.field(description="Valid rows.")
    rows_rejected: int = strawberry.field(description="Rejected rows.")
    valid_share: float | None = strawberry.field(
        description="rows_valid / rows checked (rows read, less those the column mapping skipped)."
    )


@strawberry.type(description="One cross-record check (一致性), e.g. a rating's work order exists.")
class ConsistencyCheck:
    kind: str = strawberry.field(description="Record type checked.")
    check: str = strawberry.field(description="What is checked.")
    checked: int = strawberry.field(description="Records the check applies to.")
    failed: int = strawberry.field(description="Records that fail it.")


@strawberry.type(description="Consistency (一致性): cross-record checks and time-order violations.")
class Consistency:
    checks: list[ConsistencyCheck] = strawberry.field(description="Each cross-record check.")
    time_order_violations: int = strawberry.field(
        description="Rows rejected because a later time precedes an earlier one (closed < received …)."
    )
    consistent_share: float | None = strawberry.field(description="Share of checked records passing every check.")


@strawberry.type(description="Relevance (相关性): rows inside the declared period and the caller's scope.")
class Relevance:
    out_of_period: int = strawberry.field(description="Valid rows dated outside the declared period (kept, flagged).")
    out_of_scope: int = strawberry.field(description="Rows naming a unit outside the caller's scope (rejected).")
    relevant_share: float | None = strawberry.field(description="Rows in period and scope / rows with a known unit.")


@strawberry.type(description="Data quality by the four dimensions of spec 5.2.7.")
class DataQuality:
    completeness: Completeness = strawberry.field(description="Completeness / recall.")
    precision: Precision = strawberry.field(description="Precision: valid rows.")
    consistency: Consistency = strawberry.field(description="Cross-record consistency.")
    relevance: Relevance = strawberry.field(description="Period and scope relevance.")
    records_by_kind: JSON | None = strawberry.field(
        description="For a unit and period: stored records per record type."
    )


def quality_from_dict(q: dict[str, Any] | None) -> DataQuality | None:
    if not q:
        return None
    c, p, k, r = q["completeness"], q["precision"], q["consistency"], q["relevance"]
    return DataQuality(
        completeness=Completeness(
            expected_rows=c["expectedRows"],
            rows_received=c["rowsReceived"],
            received_share=c["receivedShare"],
            days_without_data=[dt.date.fromisoformat(d) for d in c["daysWithoutData"]],
        ),
        precision=Precision(rows_valid=p["rowsValid"], rows_rejected=p["rowsRejected"], valid_share=p["validShare"]),
        consistency=Consistency(
            checks=[ConsistencyCheck(**x) for x in k["checks"]],
            time_order_violations=k["timeOrderViolations"],
            consistent_share=k["consistentShare"],
        ),
        relevance=Relevance(
            out_of_period=r["outOfPeriod"], out_of_scope=r["outOfScope"], relevant_share=r["relevantShare"]
        ),
        records_by_kind=q.get("recordsByKind"),
    )


CoverageHowEnum = described_enum(
    coverage.CoverageHow,
    name="CoverageHow",
    description="How a batch came to cover a unit.",
    values={
        "DECLARED": "Named by the submitter (`covers`): the unit, its whole subtree and its ancestors are covered.",
        "INFERRED": "The batch's stored rows are attributed to it: the unit and its ancestors are covered.",
    },
)


@strawberry.type(description="A unit a batch covers, and how.")
class CoveredUnit:
    unit_id: strawberry.ID = strawberry.field(description="The unit.")
    how: CoverageHowEnum = strawberry.field(description="Declared with the batch, or inferred from its rows.")


@strawberry.type(
    description="What a batch covers (数据覆盖范围): for its record type, its days and units, a measure whose fields it "
    "supplied is counted there — a 0 is a true zero, not absent data (docs/contracts.md §4)."
)
class BatchCoverage:
    kind: str = strawberry.field(description="Record type.")
    first_day: dt.date = strawberry.field(description="First day covered.")
    last_day: dt.date = strawberry.field(description="Last day covered.")
    days_declared: bool = strawberry.field(
        description="True if the days are the declared period; false if they are the first and last day of the "
        "rows the batch stored."
    )
    units_declared: bool = strawberry.field(description="True if the submitter declared the units (`covers`).")
    units: list[CoveredUnit] = strawberry.field(
        description="The units covered, declared or inferred (their ancestors are covered too, and a declared "
        "unit's subtree)."
    )
    fields: list[str] = strawberry.field(description="The canonical fields the batch supplied.")
    measures_not_covered: list[str] = strawberry.field(
        description="Measures of its record type the batch cannot cover: a field they need was not supplied."
    )


def coverage_from_dict(c: dict[str, Any] | None) -> BatchCoverage | None:
    if not c:
        return None
    return BatchCoverage(
        kind=c["kind"],
        first_day=dt.date.fromisoformat(c["firstDay"]),
        last_day=dt.date.fromisoformat(c["lastDay"]),
        days_declared=c["daysDeclared"],
        units_declared=c["unitsDeclared"],
        units=[CoveredUnit(unit_id=strawberry.ID(u["unit"]), how=CoverageHowEnum(u["how"])) for u in c["units"]],
        fields=c["fields"],
        measures_not_covered=c["measuresNotCovered"],
    )


@strawberry.type(description="A batch of raw records (数据批次) and its report: status, counts, quality, problems.")
class IngestBatch:
    id: strawberry.ID = strawberry.field(description="Batch id.")
    kind: str = strawberry.field(description="Record type: " + ", ".join(KINDS) + ".")
    source: str = strawberry.field(description="Sending system.")
    status: str = strawberry.field(
        description="received → validating → loading → aggregating → done; or failed, withdrawn."
    )
    filename: str | None = strawberry.field(description="Original file name, if a file.")
    mapping: str | None = strawberry.field(description="Column mapping used, if any.")
    time_zone: str = strawberry.field(description="Zone naive timestamps were read in.")
    submitted_by: str = strawberry.field(description="Subject of the submitting token.")
    submitter_unit_id: strawberry.ID = strawberry.field(
        description="The submitting unit (decides who may see the batch)."
    )
    received_at: dt.datetime = strawberry.field(description="When the batch arrived.")
    finished_at: dt.datetime | None = strawberry.field(description="When it was done or failed.")
    withdrawn_at: dt.datetime | None = strawberry.field(description="When it was withdrawn.")
    error: str | None = strawberry.field(description="Why a failed batch failed (the file could not be read).")
    counts: BatchCounts = strawberry.field(description="Row counts.")
    repeat_callers: RepeatCallers | None = strawberry.field(
        description="Calls only (null for other record types, and until done): how the repeat-caller flag was set."
    )
    quality: DataQuality | None = strawberry.field(description="Data quality of the batch (null until done).")
    coverage: BatchCoverage | None = strawberry.field(
        description="What the applied batch covers; null if it covers nothing (not done, withdrawn, or no row "
        "stored and no unit and period declared)."
    )
    problems: list[RecordProblem] = strawberry.field(description="Rejected rows' problems (first 1,000).")


def batch_from_report(r: dict[str, Any]) -> IngestBatch:
    c = r["counts"]
    return IngestBatch(
        id=strawberry.ID(str(r["batchId"])),
        kind=r["kind"],
        source=r["source"],
        status=r["status"],
        filename=r["filename"],
        mapping=r["mapping"],
        time_zone=r["timeZone"],
        submitted_by=r["submittedBy"],
        submitter_unit_id=strawberry.ID(r["submitterUnitId"]),
        received_at=dt.datetime.fromisoformat(r["receivedAt"]),
        finished_at=dt.datetime.fromisoformat(r["finishedAt"]) if r["finishedAt"] else None,
        withdrawn_at=dt.datetime.fromisoformat(r["withdrawnAt"]) if r["withdrawnAt"] else None,
        error=r["error"],
        counts=BatchCounts(
            read=c["read"],
            valid=c["valid"],
            rejected=c["rejected"],
            new=c["new"],
            corrected=c["corrected"],
            duplicate=c["duplicate"],
            repeated_in_file=c["repeatedInFile"],
            skipped=c["skipped"],
        ),
        repeat_callers=_repeat_callers(r.get("repeatCallers")),
        quality=quality_from_dict(r["quality"]),
        coverage=coverage_from_dict(r.get("coverage")),
        problems=[RecordProblem(**p) for p in r["problems"]],
    )


def _repeat_callers(report: dict[str, int] | None) -> RepeatCallers | None:
    if not report:
        return None
    return RepeatCallers(
        source_flag=report["sourceFlag"],
        computed=report["computed"],
        computed_repeats=report["computedRepeats"],
        no_caller_hash=report["noCallerHash"],
        other_calls_changed=report["otherCallsChanged"],
        other_calls_changed_by_withdrawal=report.get("otherCallsChangedByWithdrawal"),
    )


@strawberry.type(description="A saved column mapping (字段映射).")
class ColumnMappingType:
    name: str = strawberry.field(description="Name it is used by (`mapping=` on upload).")
    kind: str = strawberry.field(description="Record type it produces.")
    description: str = strawberry.field(description="What layout it reads.")
    spec: JSON = strawberry.field(
        description="The mapping document (renames, constants, date formats, durations, value maps, conditional "
        "fields, skipped rows, unit look-up; docs/contracts.md §7)."
    )
    owner_unit_id: strawberry.ID = strawberry.field(description="Unit that saved it.")


def _session_lock(info: Info) -> asyncio.Lock:
    """One request's session serves one operation at a time: root fields resolve concurrently."""
    return info.context.cache.setdefault("session_lock", asyncio.Lock())


def _database(info: Info):
    return info.context.request.app.state.database


@strawberry.type(description="Raw-record queries of the ingest service.")
class RecordsQuery:
    @strawberry.field(description="A batch's status and report; null if unknown or outside the caller's scope.")
    async def ingest_batch(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Batch id.")]
    ) -> IngestBatch | None:
        try:
            async with _session_lock(info):
                report = await batches.batch_report(info.context.session, info.context.principal, int(id))
        except Exception as exc:  # NotFound and a non-numeric id read the same: no such batch
            if getattr(exc, "code", None) == "NOT_FOUND" or isinstance(exc, ValueError):
                return None
            raise
        return batch_from_report(report)

    @strawberry.field(description="Recent batches submitted inside the caller's subtree, newest first.")
    async def ingest_batches(
        self,
        info: Info,
        status: Annotated[str | None, strawberry.argument(description="Only batches in this status.")] = None,
        first: Annotated[int, strawberry.argument(description="How many, 1–200.")] = 20,
    ) -> list[IngestBatch]:
        session = info.context.session
        async with _session_lock(info):
            scope = await repository.scope_for(session, info.context.principal.unit_id)
            rows = await store.list_batches(session, scope, limit=max(1, min(first, 200)), status=status)
            covered = await store.batch_coverage(session, [r["id"] for r in rows])
        return [batch_from_report(batches.batch_to_dict(r, [], covered.get(r["id"]))) for r in rows]

    @strawberry.field(description="Data quality (spec 5.2.7) of everything stored for a unit's subtree over a period.")
    async def data_quality(
        self,
        info: Info,
        unit_id: Annotated[strawberry.ID, strawberry.argument(description="The unit; its whole subtree counts.")],
        from_date: Annotated[dt.date, strawberry.argument(description="First day of the period.")],
        to_date: Annotated[dt.date, strawberry.argument(description="Last day of the period.")],
    ) -> DataQuality | None:
        session = info.context.session
        async with _session_lock(info):
            scope = await repository.scope_for(session, info.context.principal.unit_id)
            units = await repository.units_by_ids(session, scope, [str(unit_id)])
            if str(unit_id) not in units:
                return None
            connection = await session.connection()
            apg = (await connection.get_raw_connection()).driver_connection
            report = await quality.unit_quality(apg, scope, units[str(unit_id)].path, (from_date, to_date))
        return quality_from_dict(report)

    @strawberry.field(description="Saved column mappings the caller may use.")
    async def column_mappings(self, info: Info) -> list[ColumnMappingType]:
        session = info.context.session
        async with _session_lock(info):
            scope = await repository.scope_for(session, info.context.principal.unit_id)
            mappings = await store.list_mappings(session, scope)
        return [
            ColumnMappingType(
                name=r["name"],
                kind=r["kind"],
                description=r["description"],
                spec=r["spec"],
                owner_unit_id=strawberry.ID(r["owner_unit_id"]),
            )
            for r in mappings
        ]


@strawberry.type(description="Raw-record mutations of the ingest service.")
class RecordsMutation:
    @strawberry.mutation(
        description="Submit a small batch of records as JSON objects in the canonical format (at most 5,000; larger "
        "ones go to REST `POST /batches`). Answers the batch report; bad rows are listed in `problems`."
    )
    async def submit_records(
        self,
        info: Info,
        kind: Annotated[str, strawberry.argument(description="Record type.")],
        source: Annotated[str, strawberry.argument(description="Sending system (default `source` of the rows).")],
        records: Annotated[list[JSON], strawberry.argument(description="The rows, as canonical JSON objects.")],
        time_zone: Annotated[str | None, strawberry.argument(description="Zone of naive timestamps.")] = None,
        covers: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(
                description="Units the batch declares it covers, each with its whole subtree (units of the caller's "
                "subtree): a measure whose fields the rows supply and that they leave at 0 is then a true zero "
                "there. Without it, the batch covers the units its rows name."
            ),
        ] = None,
        period_from: Annotated[
            dt.date | None, strawberry.argument(description="First day the batch declares to cover.")
        ] = None,
        period_to: Annotated[
            dt.date | None, strawberry.argument(description="Last day the batch declares to cover.")
        ] = None,
    ) -> IngestBatch:
        if len(records) > 5000:
            from hotline.kit.errors import BadRequestError

            raise BadRequestError("at most 5,000 records per mutation; use POST /batches for files")
        sub = Submission(
            kind=kind,
            source=source,
            time_zone=time_zone,
            period_from=period_from,
            period_to=period_to,
            covers=coverage.parse_covers([str(u) for u in covers] if covers is not None else None),
        )
        report = await batches.submit(_database(info), info.context.principal, sub, rows=list(records))
        return batch_from_report(report)

    @strawberry.mutation(
        description="Withdraw a batch: its rows leave and the measures they counted for are recomputed."
    )
    async def withdraw_batch(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Batch id.")]
    ) -> IngestBatch:
        if not (str(id).isdigit() and len(str(id)) <= 18):  # a malformed id is the client's error, never a 500
            raise BadRequestError(
                f"invalid batch id {str(id)[:40]!r}: a batch id is a whole number, as submitBatch gave it"
            )
        report = await batches.withdraw(_database(info), info.context.principal, int(id))
        return batch_from_report(report)

    @strawberry.mutation(description="Save (create or replace) a named column mapping.")
    async def save_column_mapping(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="Name to save it under (a–z, 0–9, _ . -).")],
        spec: Annotated[JSON, strawberry.argument(description="The mapping document.")],
        description: Annotated[str, strawberry.argument(description="What layout it reads.")] = "",
    ) -> ColumnMappingType:
        from services.ingest.batch_endpoints import save_named_mapping

        await save_named_mapping(_database(info), info.context.principal, name, spec, description)
        return ColumnMappingType(
            name=name, kind=spec["kind"], description=description, spec=spec,
            owner_unit_id=strawberry.ID(info.context.principal.unit_id),
        )  # fmt: skip
