"""Expert scores (专家评分): entering them, the revision they lead to, and what still awaits them.

An expert-scored item (rule ``expert``) with no score for a unit is not applicable, awaiting expert
scores, in the revision that lacks it. An expert enters a whole sheet at once (``enter_expert_scores``):
it is checked whole, stored whole or not at all, and queues one recomputation — never one per score. A
recomputation already waiting takes the sheet in; one already running is followed by another when it
finished without the sheet (the worker's ``follow_up_if_scores_changed``): both sides hold the run's row
lock, so a sheet is never lost between them. A single score (``enter_expert_score``) is kept for the next
revision (a sheet, or the organizer's ``recomputeRun``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.auth import Principal, Role
from hotline.kit.scope import Scope, in_scope
from services.scoring import repository
from services.scoring.models import EvaluationRun, ExpertScore, RunJob, RunRevision, UnitRef
from services.scoring.problems import Problem
from services.scoring.scheme import Item, parse_scheme

MAX_SCORES_PER_SHEET = 2000  # a province's cities × the expert items, with room; larger sheets are split


@dataclass(frozen=True, slots=True)
class ExpertScoreInput:
    """One score of a sheet: a unit of the run's cohort, an expert-scored item, the score and why."""

    unit_id: str
    indicator: str
    score: float
    justification: str


@dataclass(frozen=True, slots=True)
class Awaiting:
    """An expert-scored item and the units (in the caller's subtree) the current revision has no score for."""

    item: Item
    units: list[str]


async def _entry_problems(
    session: AsyncSession, scope: Scope, run: EvaluationRun, entries: list[ExpertScoreInput]
) -> list[list[tuple[str, str, str]]]:
    """Each entry's problems as (its field, code, message); empty when it may be stored."""
    items = {i.code: i for i in parse_scheme(run.scheme_document).expert_items}
    wanted = sorted({e.unit_id for e in entries} & set(run.cohort_units))
    visible = set(
        await session.scalars(select(UnitRef.c.id).where(UnitRef.c.id.in_(wanted), in_scope(UnitRef.c.path, scope)))
    )
    found, seen = [], set()
    for entry in entries:
        problems = []
        if not entry.justification.strip():
            problems.append(("justification", "required", "a written justification is required"))
        item = items.get(entry.indicator)
        if item is None:
            message = f"{entry.indicator} is not an expert-scored indicator of this scheme"
            problems.append(("indicator", "not_expert_scored", message))
        elif not 0 <= entry.score <= item.points:
            problems.append(("score", "out_of_range", f"the score must be between 0 and {item.points:g}"))
        if entry.unit_id not in visible:
            message = f"{entry.unit_id} is not a unit of this run's cohort in your scope"
            problems.append(("unitId", "not_in_cohort", message))
        if (entry.unit_id, entry.indicator) in seen:
            message = f"{entry.unit_id} is scored on {entry.indicator} twice in this sheet"
            problems.append(("indicator", "duplicate", message))
        seen.add((entry.unit_id, entry.indicator))
        found.append(problems)
    return found


async def _store(session: AsyncSession, principal: Principal, run: EvaluationRun, entries: list[ExpertScoreInput]):
    """Upsert the entries (an expert scoring a unit's item again replaces the earlier score)."""
    statement = insert(ExpertScore).values(
        [
            {"run_id": run.id, "unit_id": e.unit_id, "indicator": e.indicator, "expert": principal.subject,
             "score": e.score, "justification": e.justification.strip()}
            for e in entries
        ]
    )  # fmt: skip
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["run_id", "unit_id", "indicator", "expert"],
            set_={
                "score": statement.excluded.score,
                "justification": statement.excluded.justification,
                "entered_at": datetime.now(UTC),
            },
        )
    )


def _refusals(principal: Principal, run: EvaluationRun) -> tuple[list[Problem], list[Problem]]:
    """Problems of the whole request: before the entries' (the role) and after them (finality)."""
    before = (
        []
        if principal.has_any(Role.EXPERT)
        else [Problem("", "forbidden", "entering expert scores needs the role expert")]
    )
    after = [Problem("runId", "results_final", "the run's results are final")] if run.final_at is not None else []
    return before, after


async def enter_expert_score(
    session: AsyncSession, principal: Principal, scope: Scope, run: EvaluationRun, *, unit_id: str, indicator: str,
    score: float, justification: str,
) -> list[Problem]:  # fmt: skip
    """One expert's score of one unit's expert-scored indicator, with a written justification; kept for the
    next revision (``enter_expert_scores`` or a recomputation)."""
    entry = ExpertScoreInput(unit_id, indicator, score, justification)
    before, after = _refusals(principal, run)
    found = (await _entry_problems(session, scope, run, [entry]))[0]
    problems = before + [Problem(path, code, message) for path, code, message in found] + after
    if not problems:
        await _store(session, principal, run, [entry])
    return problems


async def enter_expert_scores(
    session: AsyncSession, principal: Principal, scope: Scope, run: EvaluationRun, entries: list[ExpertScoreInput]
) -> tuple[list[Problem], bool]:
    """An expert's sheet: every score stored, or none with every problem (at ``scores[i].<field>``, the
    message naming the unit and item). Returns the problems and whether a recomputation was queued (False
    when one was waiting already)."""
    await lock(session, run)  # first: the run's state (final?) as it stands, and the worker waits for the sheet
    before, after = _refusals(principal, run)
    if not entries:
        before.append(Problem("scores", "required", "the sheet holds no score"))
    if len(entries) > MAX_SCORES_PER_SHEET:
        message = f"a sheet holds at most {MAX_SCORES_PER_SHEET} scores; split it"
        return [*before, Problem("scores", "too_many", message)], False
    per_entry = await _entry_problems(session, scope, run, entries)
    problems = before + [
        Problem(f"scores[{i}].{path}", code, f"{e.unit_id}, {e.indicator}: {message}")
        for i, (e, found) in enumerate(zip(entries, per_entry, strict=True))
        for path, code, message in found
    ]
    problems += after
    if problems:
        return problems, False
    await _store(session, principal, run, entries)
    reason = f"expert scores entered by {principal.subject}: {len(entries)}"
    return [], await request_revision(session, run, reason=reason, requested_by=principal.subject)


async def lock(session: AsyncSession, run: EvaluationRun) -> None:
    """Hold the run's row until the transaction ends: sheets and the worker's store see each other whole."""
    await repository.lock_run(session, run)


async def request_revision(session: AsyncSession, run: EvaluationRun, *, reason: str, requested_by: str) -> bool:
    """Queue a recomputation unless one is waiting or running (the caller holds the run's lock)."""
    busy = await session.scalar(
        select(func.count()).where(RunJob.run_id == run.id, RunJob.status.in_(("queued", "running")))
    )
    if busy:
        return False
    run.status, run.progress = "queued", 0
    session.add(RunJob(run_id=run.id, kind="recompute", reason=reason, requested_by=requested_by))
    await session.flush()
    return True


def _entry_key(entry: dict) -> tuple:
    return entry["unit"], entry["indicator"], entry["expert"], float(entry["score"]), entry["justification"]


async def stored_entries(session: AsyncSession, run_id) -> list[dict]:
    """The run's expert scores as a revision's inputs record them (``expert_entries``), in entry order."""
    rows = await session.scalars(select(ExpertScore).where(ExpertScore.run_id == run_id).order_by(ExpertScore.id))
    return [
        {"unit": e.unit_id, "indicator": e.indicator, "expert": e.expert, "score": e.score,
         "justification": e.justification}
        for e in rows
    ]  # fmt: skip


async def _revision_entries(session: AsyncSession, run: EvaluationRun) -> tuple[list[dict], dict]:
    """The expert entries and expert overrides (appeals) the current revision was computed with."""
    if not run.current_revision:
        return [], {}
    row = (
        await session.execute(
            select(RunRevision.inputs["expert_entries"], RunRevision.inputs["expert_overrides"]).where(
                RunRevision.run_id == run.id, RunRevision.revision == run.current_revision
            )
        )
    ).first()
    return (row[0] or [], row[1] or {}) if row else ([], {})


async def _units_in_scope(session: AsyncSession, scope: Scope, run: EvaluationRun) -> list[str]:
    ids = select(UnitRef.c.id).where(UnitRef.c.id.in_(list(run.cohort_units)), in_scope(UnitRef.c.path, scope))
    return sorted(await session.scalars(ids))


async def scores_not_in_revision(session: AsyncSession, scope: Scope, run: EvaluationRun) -> int:
    """How many stored expert scores of units in ``scope`` the current revision does not hold (entered or
    changed since it was computed)."""
    applied = {_entry_key(e) for e in (await _revision_entries(session, run))[0]}
    units = set(await _units_in_scope(session, scope, run))
    return sum(1 for e in await stored_entries(session, run.id) if e["unit"] in units and _entry_key(e) not in applied)


async def awaiting(session: AsyncSession, scope: Scope, run: EvaluationRun) -> list[Awaiting]:
    """Expert-scored items with the units of the cohort (in ``scope``) the current revision holds no expert
    score for — there, the item is not applicable, awaiting expert scores. Before the first revision: all."""
    items = parse_scheme(run.scheme_document).expert_items
    if not items:
        return []
    entries, overrides = await _revision_entries(session, run)
    scored = {(e["unit"], e["indicator"]) for e in entries}
    scored |= {(unit, code) for unit, codes in overrides.items() for code in codes}
    units = await _units_in_scope(session, scope, run)
    found = [Awaiting(item, [u for u in units if (u, item.code) not in scored]) for item in items]
    return [a for a in found if a.units]


async def follow_up_if_scores_changed(session: AsyncSession, run: EvaluationRun, used: list[dict], requested_by: str):
    """After a computation (the caller holds the run's lock): queue another when expert scores were entered
    while it ran, so that a sheet that arrived mid-computation still gets its revision."""
    if {_entry_key(e) for e in await stored_entries(session, run.id)} != {_entry_key(e) for e in used}:
        await request_revision(
            session, run, reason="expert scores entered during the computation", requested_by=requested_by
        )
