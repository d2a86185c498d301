"""REST endpoints of the scoring service: the appeals contract (contracts §6) and report downloads."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from hotline.kit.app import DatabaseDep, PrincipalDep
from hotline.kit.conditional import etag_of, matches, not_modified, with_validators
from hotline.kit.directory import directory_scope
from hotline.kit.errors import BadRequestError, ConflictError, NotFoundError
from hotline.kit.policy import PUBLIC_PEERS_PATH, peers_apply
from services.scoring import plausibility, reports, repository, runs
from services.scoring.models import EvaluationRun, RunRevision, UnitResult
from services.scoring.problems import messages
from services.scoring.report_pdf import pdf_report

router = APIRouter(tags=["scoring"])
logger = logging.getLogger("hotline.scoring.appeals")


class Adjustment(BaseModel):
    kind: str = Field(description="`exclude_records`, `correct_value` or `expert_score`.")
    unit: str
    indicator: str
    records: list[dict[str, str]] | None = Field(default=None, description="exclude_records: [{source, record_id}]")
    value: float | None = Field(default=None, description="correct_value: the corrected indicator value")
    score: float | None = Field(default=None, description="expert_score: the expert score that replaces the mean")


class RevisionRequest(BaseModel):
    appeal_id: str = Field(description="The idempotency key (appeals sends `<appeal id>:<decision level>`).")
    reason: str
    adjustments: list[Adjustment]


class SettlementRequest(BaseModel):
    settled_at: str | None = Field(default=None, description="When appeals found the run final (ISO 8601).")
    appeals: dict[str, int] = Field(default_factory=dict, description="Appeals on the run by outcome or status.")


async def _scope(request: Request, session, principal):
    return await directory_scope(session, request.app.state.directory, principal.unit_id)


@router.get(PUBLIC_PEERS_PATH, summary="The acting unit's public peers (visibility policy), for other services")
async def get_public_peers(request: Request, principal: PrincipalDep, database: DatabaseDep) -> dict[str, Any]:
    """Units outside the acting unit's subtree whose results it may read because they stand with its own in a
    published run whose ranking is public (``hotline.kit.policy``): ingest shows their identity from this."""
    principal.require_internal()
    async with database.session() as session:
        scope = await _scope(request, session, principal)
        return {"units": await repository.public_peers(session, scope)}


@router.get(
    "/results/{result_id}",
    summary="A result for the appeals service (or any caller in scope); unpublished: figures withheld",
)
async def get_result(result_id: str, request: Request, principal: PrincipalDep, database: DatabaseDep) -> Response:
    """The answer carries an ``ETag`` (``If-None-Match`` → 304) and ``Cache-Control: private, no-cache``
    (``hotline.kit.conditional``): it changes only with a new revision, publication, finality or other runs'
    observed values."""
    body = await _result_body(result_id, request, principal, database)
    etag = etag_of(body)
    if matches(request, etag):
        return not_modified(etag)
    return with_validators(JSONResponse(body), etag)


async def _result_body(result_id: str, request: Request, principal, database) -> dict[str, Any]:
    async with database.session() as session:
        scope = await _scope(request, session, principal)
        found = await repository.results_by_ids(session, scope, [result_id], peers=peers_apply(principal))
        if result_id not in found:
            pending = (
                await repository.unpublished_result_in_subtree(session, scope, result_id)
                if principal.internal
                else None
            )
            if pending is None:
                raise NotFoundError(f"result {result_id} not found")
            return _unpublished(*pending)
        row, run = found[result_id]
        detail = (await repository.details(session, [(row.id, row.revision)]))[(row.id, row.revision)]
        seen = await plausibility.observed(session, run)
    return {
        "id": str(row.id), "unit": row.unit_id, "run_id": str(run.id), "revision": row.revision,
        "organizer": run.organizer_id, "scheme": {"id": run.scheme_id, "version": run.scheme_version},
        "published_at": run.published_at.isoformat() if run.published_at else None,
        "appeal_window_closes_at": run.appeal_window_closes_at.isoformat() if run.appeal_window_closes_at else None,
        "appeal_limits": runs.appeal_limits(run.scheme_document),
        "peer_appeals": runs.peer_appeals(run.scheme_document),
        "total": detail["total"], "grade": detail["grade"], "rank": detail["rank"],
        "indicators": [
            {"indicator": i["indicator"], "name_zh": i["name_zh"], "value": i["value"], "points": i["points"],
             "score": i["score"], "applicable": i["applicable"], "rule": i["rule"]["type"],
             "unit": i["unit"], "direction": i["direction"], "bounds": plausibility.bounds(i["unit"], i["points"]),
             "observed": seen.get(i["indicator"], {"best": None, "periods": []})}
            for i in detail["indicators"]
        ],
        "final": run.final_at is not None,
    }  # fmt: skip


def _unpublished(row: UnitResult, run: EvaluationRun) -> dict[str, Any]:
    """An unpublished result seen by a service acting for its unit: the facts, not the figures."""
    return {
        "id": str(row.id), "unit": row.unit_id, "run_id": str(run.id), "revision": row.revision,
        "organizer": run.organizer_id, "scheme": {"id": run.scheme_id, "version": run.scheme_version},
        "published_at": None, "appeal_window_closes_at": None,
        "appeal_limits": runs.appeal_limits(run.scheme_document),
        "peer_appeals": runs.peer_appeals(run.scheme_document),
        "total": None, "grade": None, "rank": None, "indicators": [], "final": False,
    }  # fmt: skip


async def _organizer_run(request, session, principal, run_id: str) -> EvaluationRun:
    run = await runs.organizer_run(session, await _scope(request, session, principal), run_id)
    if run is None:
        raise NotFoundError(f"run {run_id} not found")
    return run


@router.post(
    "/runs/{run_id}/revisions",
    summary="Apply adjustments from a decided appeal as a new revision, idempotent by appeal_id (services only)",
)
async def create_revision(
    run_id: str, body: RevisionRequest, request: Request, principal: PrincipalDep, database: DatabaseDep
) -> JSONResponse:
    principal.require_internal()
    async with database.unit_of_work() as session:
        run = await _organizer_run(request, session, principal, run_id)
        outcome = await runs.apply_adjustments(
            session, request.app.state.services, run, adjustments=[a.model_dump(exclude_none=True) for a in body.adjustments],
            appeal_id=body.appeal_id, reason=body.reason, requested_by=principal.subject,
        )  # fmt: skip
        if outcome.problems:
            raise ConflictError("the adjustments cannot be applied", problems=messages(outcome.problems))
    answer = {
        "run_id": str(run.id),
        **{k: outcome.extra[k] for k in ("revision", "results", "references", "consequences")},
    }
    # 201: a new revision; 200: the key was seen before and this is the revision it made then.
    return JSONResponse(answer, status_code=200 if outcome.extra["repeated"] else 201)


@router.post(
    "/runs/{run_id}/revisions/dry-run",
    summary="What a decision's adjustments would do, computed and not stored: the revision's answer (services only)",
)
async def dry_run_revision(
    run_id: str, body: RevisionRequest, request: Request, principal: PrincipalDep, database: DatabaseDep
) -> dict[str, Any]:
    principal.require_internal()
    async with database.session() as session:
        run = await _organizer_run(request, session, principal, run_id)
        outcome = await runs.apply_adjustments(
            session, request.app.state.services, run, adjustments=[a.model_dump(exclude_none=True) for a in body.adjustments],
            appeal_id=body.appeal_id, reason=body.reason, requested_by=principal.subject, dry_run=True,
        )  # fmt: skip
        if outcome.problems:
            raise ConflictError("the adjustments cannot be applied", problems=outcome.problems)
    return {"run_id": str(run.id), **outcome.extra}


@router.post(
    "/runs/{run_id}/settled",
    summary="Every appeal is decided and the window closed: results become final (services only)",
)
async def settle_run(
    run_id: str, request: Request, principal: PrincipalDep, database: DatabaseDep, body: SettlementRequest | None = None
) -> dict[str, Any]:
    principal.require_internal()
    async with database.unit_of_work() as session:
        run = await _organizer_run(request, session, principal, run_id)
        problems = await runs.settle(session, run)
        if problems:
            raise ConflictError(problems[0], problems=problems)
        if body is not None:  # the appeals service's summary goes to the log, not to a table
            logger.info("run %s settled by appeals at %s: %s", run.id, body.settled_at, body.appeals)
        return {"run_id": str(run.id), "final": True, "final_at": run.final_at.isoformat()}


@router.get(
    "/runs/awaiting-settlement",
    summary="Published runs whose appeal window has closed and that are not final yet (services only)",
)
async def awaiting_settlement(principal: PrincipalDep, database: DatabaseDep) -> dict[str, Any]:
    principal.require_internal()
    async with database.session() as session:
        rows = await session.execute(
            select(EvaluationRun.id, EvaluationRun.organizer_id, EvaluationRun.appeal_window_closes_at)
            .where(
                EvaluationRun.published_at.isnot(None),
                EvaluationRun.final_at.is_(None),
                EvaluationRun.appeal_window_closes_at <= datetime.now(UTC),
            )
            .order_by(EvaluationRun.appeal_window_closes_at, EvaluationRun.id)
        )
        return {
            "runs": [
                {"run_id": str(rid), "organizer": organizer, "appeal_window_closes_at": closes.isoformat()}
                for rid, organizer, closes in rows
            ]
        }


# Bump when a report's layout changes, so that clients holding an older rendering fetch the new one.
REPORT_LAYOUT = 1


async def _report(request, database, principal, run_id: str, kind: str, render) -> Response:
    """A report with a weak ``ETag`` over everything it is made from (the run's current revision and its digest,
    publication and finality, the units' names, the layout) — worked out before the results are read or the file
    rendered, so ``If-None-Match`` with it is answered 304 at the cost of three small queries."""
    async with database.session() as session:
        run = await _organizer_run(request, session, principal, run_id)
        if run.current_revision == 0:
            raise BadRequestError("the run has no results yet")
        digest = await session.scalar(
            select(RunRevision.outcome_sha256).where(
                RunRevision.run_id == run.id, RunRevision.revision == run.current_revision
            )
        )
        names = await reports.unit_names(session, run.cohort_units)
        etag = etag_of(
            "report", kind, REPORT_LAYOUT, str(run.id), run.current_revision, digest, run.published_at, run.final_at,
            run.appeal_window_closes_at, names, weak=True,
        )  # fmt: skip
        if matches(request, etag):
            return not_modified(etag)
        rows = await session.execute(select(UnitResult.id, UnitResult.revision).where(UnitResult.run_id == run.id))
        found = await repository.details(session, [(r, v) for r, v in rows])
        revisions = await repository.revisions_of(session, run.id)
    data = reports.ReportData(
        run_id=str(run.id), document=run.scheme_document, period_label=runs_period_label(run),
        results=sorted(found.values(), key=lambda d: (d["rank"] is None, d["rank"] or 0, d["unit"])),
        cohort=revisions[-1].cohort_summary["cohort"], revision=run.current_revision, unit_names=names,
    )  # fmt: skip
    return with_validators(await render(data), etag)


def runs_period_label(run: EvaluationRun) -> str:
    from services.scoring.periods import Period

    return Period(run.period_kind, run.period_from, run.period_to).label


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(content: bytes, run_id: str, extension: str, media_type: str) -> Response:
    """A report file, sent as an attachment named after the run."""
    filename = f"evaluation-{uuid.UUID(run_id)}.{extension}"
    return Response(
        content, media_type=media_type, headers={"content-disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/runs/{run_id}/report.xlsx", summary="The run's workbook: results, indicators, ranks (organizer side)")
async def report_xlsx(run_id: str, request: Request, principal: PrincipalDep, database: DatabaseDep) -> Response:
    async def render(data: reports.ReportData) -> Response:
        return _download(await run_in_threadpool(reports.workbook, data), run_id, "xlsx", XLSX_MEDIA_TYPE)

    return await _report(request, database, principal, run_id, "xlsx", render)


@router.get(
    "/runs/{run_id}/report.html",
    summary="The run's report with charts, problems found and rectification (organizer side)",
)
async def report_html(run_id: str, request: Request, principal: PrincipalDep, database: DatabaseDep) -> Response:
    async def render(data: reports.ReportData) -> Response:
        return HTMLResponse(await run_in_threadpool(reports.html_report, data))

    return await _report(request, database, principal, run_id, "html", render)


@router.get(
    "/runs/{run_id}/report.pdf",
    summary="The run's report as a PDF: the HTML report's sections and charts, for printing and filing (organizer side)",
)
async def report_pdf(run_id: str, request: Request, principal: PrincipalDep, database: DatabaseDep) -> Response:
    async def render(data: reports.ReportData) -> Response:
        return _download(await run_in_threadpool(pdf_report, data), run_id, "pdf", "application/pdf")

    return await _report(request, database, principal, run_id, "pdf", render)
