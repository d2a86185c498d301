"""Evaluation runs: starting (idempotent), publishing, settling, recomputing and revisions from appeals.

Expected refusals come back as ``problems`` (typed payloads in GraphQL); the request's session is
the unit of work — these functions only ``flush()``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.auth import Principal, Role
from hotline.kit.scope import PATH_SEPARATOR, Scope, in_scope
from hotline.kit.services import ServiceClients
from services.scoring import consequences, experts, repository, sources
from services.scoring.inputs import OUTCOME_FORMAT, evaluate
from services.scoring.models import (
    RESULT_CHANGE_SEQ,
    EvaluationRun,
    RunJob,
    RunRevision,
    UnitRef,
    UnitResult,
)
from services.scoring.periods import Period, PeriodError, parse_period
from services.scoring.problems import Problem
from services.scoring.scheme import SchemeError, parse_scheme
from services.scoring.store import diff_details, store_revision

ORGANIZER_ROLES = (Role.ORGANIZER, Role.ADMIN)
# The scheme's ``appeal:`` block with every setting explicit (contracts §5, §6); decision_days is optional.
DEFAULT_APPEAL_LIMITS = {
    "window_days": 7, "max_appeals_per_result": 3, "max_indicators_per_appeal": 5, "escalation_days": 5,
    "decision_days": 15,
}  # fmt: skip


def appeal_limits(document: dict) -> dict[str, int]:
    """The run's appeal limits: the scheme document's ``appeal:`` block over the defaults."""
    given = document.get("appeal") or {}
    return {name: int(given.get(name, default)) for name, default in DEFAULT_APPEAL_LIMITS.items()}


def peer_appeals(document: dict) -> dict[str, Any]:
    """Whether a unit whose result another unit's appeal moved may appeal that consequence, and within how many
    days of being told (scheme ``appeal.peer_appeals``, default yes; ``appeal.peer_window_days``, default the
    appeal window)."""
    given = document.get("appeal") or {}
    window = int(given.get("peer_window_days", appeal_limits(document)["window_days"]))
    return {"allowed": bool(given.get("peer_appeals", True)), "window_days": window}


@dataclass
class Outcome:
    """What a command did: the run (if any), whether it already existed, and every problem."""

    run: EvaluationRun | None = None
    existing: bool = False
    problems: list[Problem] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


SCHEME = "input.schemeId"  # where a problem of the scheme version the input names is reported


async def resolve_cohort(
    session: AsyncSession, cohort: dict, scope: Scope, organizer: str | None = None
) -> tuple[list[str], list[Problem]]:
    """The cohort's unit ids (sorted), resolved in the caller's scope against the directory read model.

    A cohort given by kind takes its units under ``cohort.under``, the organizer when the document names
    none (contracts §5; documents published before indicators stated it)."""
    if "units" in cohort:
        wanted = sorted(set(cohort["units"]))
        found = set(
            await session.scalars(select(UnitRef.c.id).where(UnitRef.c.id.in_(wanted), in_scope(UnitRef.c.path, scope)))
        )
        missing = [u for u in wanted if u not in found]
        return sorted(found), [
            Problem(SCHEME, "unknown_unit", f"cohort unit {u} is unknown or outside your scope") for u in missing
        ]
    under = cohort.get("under") or organizer
    parent = await session.scalar(select(UnitRef.c.path).where(UnitRef.c.id == under, in_scope(UnitRef.c.path, scope)))
    if parent is None:
        return [], [Problem(SCHEME, "unknown_unit", f"cohort root {under} is unknown or outside your scope")]
    query = select(UnitRef.c.id).where(UnitRef.c.path.like(parent + PATH_SEPARATOR + "%"), UnitRef.c.active.is_(True))
    if cohort.get("kind"):
        query = query.where(UnitRef.c.kind == cohort["kind"])
    units = sorted(await session.scalars(query))
    return units, [] if units else [Problem(SCHEME, "empty_cohort", f"no {cohort.get('kind') or 'unit'} under {under}")]


async def start_run(
    session: AsyncSession,
    services: ServiceClients,
    principal: Principal,
    scope: Scope,
    *,
    scheme_id: str,
    version: int,
    period_kind: str,
    period_value: str | None = None,
    period_start=None,
    period_end=None,
) -> Outcome:
    """Start (or find) the run of a published scheme version for a period; queue its computation."""
    if not principal.has_any(*ORGANIZER_ROLES):
        return Outcome(problems=[Problem("", "forbidden", "starting a run needs the role organizer or admin")])
    try:
        period = parse_period(period_kind, period_value, period_start, period_end)
    except PeriodError as exc:
        return Outcome(problems=[Problem(_period_path(period_kind, period_start), "invalid_period", str(exc))])
    try:
        document = await sources.scheme_document(services, scheme_id, version, acting_for=principal.unit_id)
    except sources.NotFoundError:
        message = f"scheme {scheme_id} version {version} is unknown or outside your scope"
        return Outcome(problems=[Problem(SCHEME, "not_found", message)])
    problems = _check_scheme(document, period)
    organizer = document.get("organizer")
    organizer_path = await session.scalar(
        select(UnitRef.c.path).where(UnitRef.c.id == organizer, in_scope(UnitRef.c.path, scope))
    )
    if organizer_path is None:
        problems.append(Problem(SCHEME, "outside_scope", f"the scheme's organizer {organizer} is outside your scope"))
    units, cohort_problems = await resolve_cohort(session, document.get("cohort") or {}, scope, organizer)
    problems += cohort_problems
    if problems:
        return Outcome(problems=problems)
    cohort_hash = hashlib.sha256(json.dumps(units).encode()).hexdigest()
    values = dict(
        id=uuid.uuid4(), scheme_id=scheme_id, scheme_version=version, scheme_document=document, organizer_id=organizer,
        cohort_units=units, cohort_hash=cohort_hash, period_kind=period.kind, period_from=period.start,
        period_to=period.end, status="queued", progress=0, current_revision=0, requested_by=principal.subject,
    )  # fmt: skip
    inserted = await session.scalar(
        insert(EvaluationRun).values(**values).on_conflict_do_nothing().returning(EvaluationRun.id)
    )
    if inserted is None:
        existing = await session.scalar(
            select(EvaluationRun).where(
                EvaluationRun.scheme_id == scheme_id, EvaluationRun.scheme_version == version,
                EvaluationRun.cohort_hash == cohort_hash, EvaluationRun.period_from == period.start,
                EvaluationRun.period_to == period.end,
            )
        )  # fmt: skip
        return Outcome(run=existing, existing=True)
    session.add(RunJob(run_id=inserted, kind="compute", reason="first computation", requested_by=principal.subject))
    await session.flush()
    return Outcome(run=await session.get(EvaluationRun, inserted))


def _period_path(kind: str, start) -> str:
    """The input field a period problem is about: the period text, or a custom period's dates."""
    if kind != "custom":
        return "input.period"
    return "input.startDate" if start is None else "input.endDate"


def _check_scheme(document: dict, period: Period) -> list[Problem]:
    problems = []
    if document.get("status") != "published":
        message = "only a published scheme version can be run (it must be published to the units first)"
        problems.append(Problem(SCHEME, "not_published", message))
    try:
        scheme = parse_scheme(document)
    except SchemeError as exc:
        return problems + [Problem(SCHEME, "invalid_scheme", p) for p in exc.problems]
    if period.kind != "custom" and period.kind != scheme.granularity and scheme.granularity != "custom":
        message = f"the scheme evaluates by {scheme.granularity}, not by {period.kind}"
        problems.append(Problem("input.periodKind", "period_mismatch", message))
    if period.full_months < scheme.minimum_months:
        message = f"a {scheme.kind} evaluation needs at least {scheme.minimum_months} months of data"
        problems.append(Problem(_period_path(period.kind, period.start), "period_too_short", message))
    return problems


def run_visibility(scope: Scope, organizer_path, *, require_published: bool = False):
    """SQL: the caller's scope covers the run's organizer (organizer side), or the run is published."""
    covers_organizer = in_scope(organizer_path, scope)
    return covers_organizer if not require_published else and_(covers_organizer, EvaluationRun.published_at.isnot(None))


def result_visibility(scope: Scope, unit_path, organizer_path):
    """SQL: a result is visible iff its unit is in the caller's subtree and either the run is published
    or the caller stands on the organizer's side (its scope covers the organizer)."""
    return and_(
        in_scope(unit_path, scope), or_(EvaluationRun.published_at.isnot(None), in_scope(organizer_path, scope))
    )


async def organizer_run(session: AsyncSession, scope: Scope, run_id: str) -> EvaluationRun | None:
    """A run whose organizer is inside the caller's scope (for organizer commands); None otherwise."""
    try:
        rid = uuid.UUID(str(run_id))
    except ValueError:
        return None
    org = UnitRef.alias("org")
    return await session.scalar(
        select(EvaluationRun)
        .join(org, org.c.id == EvaluationRun.organizer_id)
        .where(EvaluationRun.id == rid, in_scope(org.c.path, scope))
    )


async def publish(session: AsyncSession, principal: Principal, run: EvaluationRun) -> list[Problem]:
    """Publish a finished run's results to its cohort and open the appeal window."""
    if not principal.has_any(*ORGANIZER_ROLES):
        return [Problem("", "forbidden", "publishing needs the role organizer or admin")]
    if run.status != "done":
        return [Problem("runId", "not_finished", f"only a finished run can be published (this one is {run.status})")]
    if run.published_at is not None:
        return [Problem("runId", "already_published", "the run is already published")]
    now = datetime.now(UTC)
    window = appeal_limits(run.scheme_document)["window_days"]
    run.published_at, run.published_by = now, principal.subject
    run.appeal_window_closes_at = now + timedelta(days=window)
    await _touch_results(session, run)
    return []


async def settle(session: AsyncSession, run: EvaluationRun) -> list[str]:
    """Appeals says every appeal is decided and the window has closed: the results become final."""
    if run.published_at is None:
        return ["the run is not published"]
    if run.final_at is None:
        run.final_at = datetime.now(UTC)
        await _touch_results(session, run)
    return []


async def _touch_results(session: AsyncSession, run: EvaluationRun) -> None:
    await session.execute(
        update(UnitResult)
        .where(UnitResult.run_id == run.id)
        .values(change_seq=RESULT_CHANGE_SEQ.next_value(), changed_at=datetime.now(UTC))
    )
    await session.flush()


async def queue_recompute(
    session: AsyncSession, principal: Principal, run: EvaluationRun, reason: str
) -> list[Problem]:
    """Queue a recomputation with fresh data and the current expert scores (a new revision)."""
    if not principal.has_any(*ORGANIZER_ROLES):
        return [Problem("", "forbidden", "recomputing needs the role organizer or admin")]
    await experts.lock(session, run)  # an expert's sheet queueing its own recomputation is seen, not doubled
    if run.status not in ("done", "failed"):
        return [Problem("runId", "not_finished", f"the run is still {run.status}")]
    if run.final_at is not None:
        return [Problem("runId", "results_final", "the run's results are final")]
    if not reason.strip():
        return [Problem("reason", "required", "a reason is required")]
    run.status, run.progress = "queued", 0
    session.add(RunJob(run_id=run.id, kind="recompute", reason=reason, requested_by=principal.subject))
    await session.flush()
    return []


async def revision_details(session: AsyncSession, run_id, revision: int) -> dict[str, dict]:
    """Every unit's full result in one revision of a run, by unit id."""
    ids = dict(
        (await session.execute(select(UnitResult.id, UnitResult.unit_id).where(UnitResult.run_id == run_id))).all()
    )
    found = await repository.details(session, [(result_id, revision) for result_id in ids])
    return {ids[result_id]: detail for (result_id, _), detail in found.items()}


async def apply_adjustments(
    session: AsyncSession, services: ServiceClients, run: EvaluationRun, *, adjustments: list[dict], appeal_id: str | None,
    reason: str, requested_by: str, dry_run: bool = False,
) -> Outcome:  # fmt: skip
    """Appeal adjustments (contract §6) → a new revision computed from the current one's stored inputs.

    ``appeal_id`` is the idempotency key: when a revision of the run already carries it, that
    revision's changes are answered again (``extra["repeated"]``) and nothing new is made. ``dry_run``
    computes the revision and its effects on the cohort and stores nothing (the organizer's preview)."""
    # One revision at a time per run: concurrent decisions wait here, and a repeated key sees the first.
    if not dry_run:
        await repository.lock_run(session, run)
    if appeal_id and not dry_run:
        made = await session.scalar(
            select(RunRevision).where(RunRevision.run_id == run.id, RunRevision.appeal_id == appeal_id)
        )
        if made is not None:
            return Outcome(run=run, extra=await _revision_changes(session, run, made))
    problems = []
    if run.status != "done":
        problems.append(Problem("", "not_finished", f"the run is {run.status}; only a finished run can be revised"))
    if run.final_at is not None:
        problems.append(Problem("", "results_final", "the run's results are final"))
    if problems:
        return Outcome(run=run, problems=problems)
    current = await session.get(RunRevision, (run.id, run.current_revision))
    inputs = json.loads(json.dumps(current.inputs))  # a deep copy: the stored revision never changes
    codes = {i.code: i for i in parse_scheme(run.scheme_document).items}
    for number, adj in enumerate(adjustments):
        kind, unit, indicator = adj.get("kind"), adj.get("unit"), adj.get("indicator")
        where = f"adjustments[{number}]"
        if unit not in run.cohort_units:
            problems.append(
                Problem(f"{where}.unit", "not_in_cohort", f"adjustment {number}: {unit} is not in the run's cohort")
            )
        if indicator not in codes:
            message = f"adjustment {number}: {indicator} is not an indicator of the scheme"
            problems.append(Problem(f"{where}.indicator", "unknown_indicator", message))
        if kind == "exclude_records":
            records = adj.get("records") or []
            answer = (
                await sources.contributions(services, records, acting_for=run.organizer_id)
                if records
                else {"contributions": [], "not_found": []}
            )
            contribution = answer["contributions"]
            for r in answer.get("not_found", []):
                message = (
                    f"adjustment {number}: record {r['source']}/{r['record_id']} is unknown to ingest "
                    "(or outside the organizer's scope)"
                )
                problems.append(Problem(f"{where}.records", "unknown_records", message))
            inputs.setdefault("exclusions", []).append(
                {"unit": unit, "indicator": indicator, "records": records, "contribution": contribution}
            )
        elif kind == "correct_value":
            inputs.setdefault("value_overrides", {}).setdefault(unit, {})[indicator] = float(adj["value"])
        elif kind == "expert_score":
            inputs.setdefault("expert_overrides", {}).setdefault(unit, {})[indicator] = float(adj["score"])
        else:
            message = f"adjustment {number}: unknown kind {kind!r} (exclude_records, correct_value, expert_score)"
            problems.append(Problem(f"{where}.kind", "unknown_kind", message))
    if problems:
        return Outcome(run=run, problems=problems)
    inputs.setdefault("adjustments", []).append({"appeal_id": appeal_id, "reason": reason, "adjustments": adjustments})
    before = await revision_details(session, run.id, run.current_revision)
    # An appeal changes what it touches and nothing else: a revision of a run computed in formats 1 or 2 keeps
    # their arithmetic (stored as figures, format 2); a recomputation with fresh data takes the current one.
    arithmetic = OUTCOME_FORMAT if current.outcome_format >= 3 else 2
    outcome, sha = evaluate(run.scheme_document, inputs, outcome_format=arithmetic)
    new_revision = run.current_revision + 1
    adjusted = {a["unit"] for a in adjustments}
    after = {u["unit"]: u for u in outcome["units"]}
    if dry_run:
        ids = await _result_ids(session, run)
    else:
        ids = await store_revision(
            session, run, revision=new_revision, inputs=inputs, outcome=outcome, sha256=sha, reason=reason,
            created_by=requested_by, appeal_id=appeal_id,
        )  # fmt: skip
    made = consequences.effects(
        before, after, ids, before_cohort=current.cohort_summary["cohort"], after_cohort=outcome["cohort"],
        adjusted=adjusted,
    )  # fmt: skip
    if not dry_run:
        await session.execute(
            update(RunRevision)
            .where(RunRevision.run_id == run.id, RunRevision.revision == new_revision)
            .values(consequences={"appeal_id": appeal_id, **made})
        )
    results = _changes(before, after, ids, adjusted)
    extra = {"revision": new_revision, "repeated": False, "results": results, **made}
    return Outcome(run=run, extra={**extra, "dry_run": True} if dry_run else extra)


async def _result_ids(session: AsyncSession, run: EvaluationRun) -> dict[str, uuid.UUID]:
    rows = await session.execute(select(UnitResult.unit_id, UnitResult.id).where(UnitResult.run_id == run.id))
    return dict(rows.all())


async def _revision_changes(session: AsyncSession, run: EvaluationRun, made: RunRevision) -> dict[str, Any]:
    """What an earlier appeal revision changed, recomputed from the stored revisions (for a repeated key)."""
    before = await revision_details(session, run.id, made.revision - 1)
    after = await revision_details(session, run.id, made.revision)
    entry = next(
        (a for a in made.inputs.get("adjustments", []) if a.get("appeal_id") == made.appeal_id), {"adjustments": []}
    )
    ids = dict(
        (await session.execute(select(UnitResult.unit_id, UnitResult.id).where(UnitResult.run_id == run.id))).all()
    )
    adjusted = {a["unit"] for a in entry["adjustments"]}
    stored = made.consequences
    if stored is None:  # a revision made before its effects were stored: recomputed from both revisions
        previous = await session.get(RunRevision, (run.id, made.revision - 1))
        stored = consequences.effects(
            before, after, ids, before_cohort=previous.cohort_summary["cohort"],
            after_cohort=made.cohort_summary["cohort"], adjusted=adjusted,
        )  # fmt: skip
    return {"revision": made.revision, "repeated": True, "results": _changes(before, after, ids, adjusted),
            "references": stored["references"], "consequences": stored["consequences"]}  # fmt: skip


def _changes(before: dict, after: dict, ids: dict, adjusted: set[str]) -> list[dict[str, Any]]:
    """Each result the revision changed (or that an adjustment named): totals and indicator scores before/after."""
    affected = sorted(
        (adjusted | {c["unit"] for c in diff_details(before, after) if c["field"] == "total"}) & set(after)
    )
    return [
        {"result_id": str(ids[u]), "unit": u, "total_before": before[u]["total"], "total_after": after[u]["total"],
         "indicators": [
             {"indicator": i["indicator"], "score_before": b["score"], "score_after": i["score"]}
             for i, b in zip(after[u]["indicators"], before[u]["indicators"], strict=True)
             if i["score"] != b["score"] or i["value"] != b["value"]
         ]}
        for u in affected
    ]  # fmt: skip
