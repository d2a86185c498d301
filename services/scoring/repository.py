"""Scoped reads: every query joins the unit-directory read model and filters by the caller's scope in SQL."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import and_, exists, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.scope import Scope, in_scope
from services.scoring.detail import Expander
from services.scoring.models import Alert, EvaluationRun, ResultRevision, RunRevision, UnitRef, UnitResult

UNIT = UnitRef.alias("result_unit")
ORG = UnitRef.alias("organizer_unit")


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def public_peer_run(scope: Scope):
    """SQL condition on ``EvaluationRun``: the run is published, its scheme makes its ranking public, and the
    caller's subtree has a result in it — the run's other units are then the caller's public peers
    (``hotline.kit.policy``)."""
    own = UnitResult.__table__.alias("own_result")
    mine = UnitRef.alias("own_unit")
    has_own_result = exists(
        select(1)
        .select_from(own.join(mine, mine.c.id == own.c.unit_id))
        .where(own.c.run_id == EvaluationRun.id, in_scope(mine.c.path, scope))
    )
    return and_(
        EvaluationRun.published_at.isnot(None),
        EvaluationRun.scheme_document["rankings_public"].as_boolean().is_(True),
        has_own_result,
    )


def visible_results(scope: Scope, *, peers: bool = True):
    """Results the caller may see — the one rule behind every read of results (ranking, ``run.results``,
    ``unitResult``, ``Unit.results``, ``resultChanges``, REST ``GET /results/{id}``, reports): the organizer's
    side (a scope covering the run's organizer) sees every result of the run, before publication too; a unit
    sees its subtree's results once published; and, with ``peers`` (people reading; never a service acting
    for a unit), the results of its public peers (``public_peer_run``)."""
    own = and_(in_scope(UNIT.c.path, scope), EvaluationRun.published_at.isnot(None))
    granted = [in_scope(ORG.c.path, scope), own]
    if peers:
        granted.append(public_peer_run(scope))
    return (
        select(UnitResult, EvaluationRun)
        .join(EvaluationRun, EvaluationRun.id == UnitResult.run_id)
        .join(UNIT, UNIT.c.id == UnitResult.unit_id)
        .join(ORG, ORG.c.id == EvaluationRun.organizer_id)
        .where(or_(*granted))
    )


async def public_peers(session: AsyncSession, scope: Scope) -> list[str]:
    """Ids of the caller's public peers: units outside its subtree with a result in a run where
    ``public_peer_run`` holds (what other services ask through ``GET /visibility/public-peers``)."""
    rows = await session.scalars(
        select(UnitResult.unit_id)
        .join(EvaluationRun, EvaluationRun.id == UnitResult.run_id)
        .join(UNIT, UNIT.c.id == UnitResult.unit_id)
        .where(public_peer_run(scope), ~in_scope(UNIT.c.path, scope))
        .distinct()
        .order_by(UnitResult.unit_id)
    )
    return list(rows)


def visible_runs(scope: Scope):
    """Runs whose organizer is in the caller's scope, or published runs with a result the caller may see."""
    own = UnitResult.__table__.alias("own_result")
    mine = UnitRef.alias("own_unit")
    has_own_result = exists(
        select(1)
        .select_from(own.join(mine, mine.c.id == own.c.unit_id))
        .where(own.c.run_id == EvaluationRun.id, in_scope(mine.c.path, scope))
    )
    return (
        select(EvaluationRun)
        .join(ORG, ORG.c.id == EvaluationRun.organizer_id)
        .where(or_(in_scope(ORG.c.path, scope), and_(EvaluationRun.published_at.isnot(None), has_own_result)))
    )


async def list_runs(
    session: AsyncSession, scope: Scope, *, after: tuple[date, uuid.UUID] | None, limit: int
) -> list[EvaluationRun]:
    """Visible runs, newest period first and then by id: a total order, so keyset pages never skip or repeat."""
    query = visible_runs(scope)
    if after is not None:
        period_from, run_id = after
        query = query.where(
            or_(
                EvaluationRun.period_from < period_from,
                and_(EvaluationRun.period_from == period_from, EvaluationRun.id > run_id),
            )
        )
    return list(await session.scalars(query.order_by(EvaluationRun.period_from.desc(), EvaluationRun.id).limit(limit)))


async def count_runs(session: AsyncSession, scope: Scope) -> int:
    return await session.scalar(select(func.count()).select_from(visible_runs(scope).subquery()))


async def runs_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[str]) -> dict[str, EvaluationRun]:
    keys = [k for k in (_uuid(i) for i in ids) if k is not None]
    rows = await session.scalars(visible_runs(scope).where(EvaluationRun.id.in_(keys)))
    return {str(r.id): r for r in rows}


async def results_by_ids(
    session: AsyncSession, scope: Scope, ids: Sequence[str], *, peers: bool = True
) -> dict[str, tuple[UnitResult, EvaluationRun]]:
    keys = [k for k in (_uuid(i) for i in ids) if k is not None]
    rows = await session.execute(visible_results(scope, peers=peers).where(UnitResult.id.in_(keys)))
    return {str(r.id): (r, run) for r, run in rows}


async def unpublished_result_in_subtree(
    session: AsyncSession, scope: Scope, result_id: str
) -> tuple[UnitResult, EvaluationRun] | None:
    """A result of a not yet published run whose unit is in scope (for service callers: appeals must be able
    to say *not published yet* instead of *not found*; its figures stay hidden)."""
    key = _uuid(result_id)
    if key is None:
        return None
    row = (
        await session.execute(
            select(UnitResult, EvaluationRun)
            .join(EvaluationRun, EvaluationRun.id == UnitResult.run_id)
            .join(UNIT, UNIT.c.id == UnitResult.unit_id)
            .where(UnitResult.id == key, in_scope(UNIT.c.path, scope), EvaluationRun.published_at.is_(None))
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def results_of_units(
    session: AsyncSession, scope: Scope, unit_ids: Sequence[str]
) -> dict[str, list[tuple[UnitResult, EvaluationRun]]]:
    rows = await session.execute(
        visible_results(scope)
        .where(UnitResult.unit_id.in_(list(unit_ids)))
        .order_by(EvaluationRun.period_from.desc(), EvaluationRun.id)
    )
    found: dict[str, list] = {u: [] for u in unit_ids}
    for result, run in rows:
        found[result.unit_id].append((result, run))
    return found


async def results_of_run(
    session: AsyncSession, scope: Scope, run_id, *, after_unit: str | None, limit: int
) -> list[tuple[UnitResult, EvaluationRun]]:
    query = visible_results(scope).where(UnitResult.run_id == run_id)
    if after_unit:
        query = query.where(UnitResult.unit_id > after_unit)
    rows = await session.execute(query.order_by(UnitResult.unit_id).limit(limit))
    return [tuple(r) for r in rows]


async def public_ranking(session: AsyncSession, scope: Scope, run: EvaluationRun) -> list[UnitResult]:
    """The run's whole ranking, in rank order, where the caller may see the whole cohort's results
    (``visible_results``): the organizer's side always, the cohort's units once published with a public
    ranking; else empty (a unit then reads its own result, not a ranking of one). Decided in SQL."""
    query = (
        visible_results(scope)
        .where(UnitResult.run_id == run.id, or_(in_scope(ORG.c.path, scope), public_peer_run(scope)))
        .order_by(UnitResult.rank.asc().nulls_last(), UnitResult.unit_id)
    )
    return [result for result, _run in await session.execute(query)]


# Expanders of run revisions, by (run, revision, outcome digest): a stored revision never changes (a new
# computation is a new revision), so its scheme document and cohort summary are read, decoded and parsed once per
# process instead of once per request. Bounded: the least recently used are dropped.
_EXPANDERS: OrderedDict[tuple[uuid.UUID, int, str], Expander] = OrderedDict()
EXPANDERS_KEPT = 256


def _remember_expander(key: tuple[uuid.UUID, int, str], expander: Expander) -> None:
    _EXPANDERS[key] = expander
    while len(_EXPANDERS) > EXPANDERS_KEPT:
        _EXPANDERS.popitem(last=False)


async def details(session: AsyncSession, keys: Sequence[tuple[uuid.UUID, int]]) -> dict[tuple[uuid.UUID, int], dict]:
    """Full result documents by (result id, revision) — one query for any number of results when their run
    revisions were read before (``_EXPANDERS``), else three: the stored results (compact details, or heads and
    figures) with their revisions' digests, then the runs' scheme documents and the revisions' cohort summaries
    that restore the shared fields (``detail.Expander``)."""
    if not keys:
        return {}
    rows = (
        await session.execute(
            select(
                ResultRevision.result_id,
                ResultRevision.revision,
                ResultRevision.detail,
                ResultRevision.head,
                ResultRevision.extras,
                ResultRevision.figures,
                UnitResult.run_id,
                RunRevision.outcome_sha256,
            )
            .join(UnitResult, UnitResult.id == ResultRevision.result_id)
            .join(
                RunRevision,
                and_(RunRevision.run_id == UnitResult.run_id, RunRevision.revision == ResultRevision.revision),
            )
            .where(tuple_(ResultRevision.result_id, ResultRevision.revision).in_(list(keys)))
        )
    ).all()
    if not rows:
        return {}
    expanders: dict[tuple[uuid.UUID, int], Expander] = {}
    missing: set[tuple[uuid.UUID, int, str]] = set()
    for r in rows:
        key = (r.run_id, r.revision, r.outcome_sha256)
        known = _EXPANDERS.get(key)
        if known is None:
            missing.add(key)
        else:
            _EXPANDERS.move_to_end(key)
            expanders[(r.run_id, r.revision)] = known
    if missing:
        run_ids = sorted({run_id for run_id, _, _ in missing})
        documents = dict(
            (
                await session.execute(
                    select(EvaluationRun.id, EvaluationRun.scheme_document).where(EvaluationRun.id.in_(run_ids))
                )
            ).all()
        )
        pairs = sorted({(run_id, revision) for run_id, revision, _ in missing})
        summaries = {
            (run_id, revision): summary
            for run_id, revision, summary in await session.execute(
                select(RunRevision.run_id, RunRevision.revision, RunRevision.cohort_summary).where(
                    tuple_(RunRevision.run_id, RunRevision.revision).in_(pairs)
                )
            )
        }
        for run_id, revision, sha in missing:
            expander = Expander(documents[run_id], summaries[(run_id, revision)])
            expanders[(run_id, revision)] = expander
            _remember_expander((run_id, revision, sha), expander)
    found = {}
    for r in rows:
        expander = expanders[(r.run_id, r.revision)]
        if r.detail is not None:
            found[(r.result_id, r.revision)] = expander.expand(r.detail)
        else:
            found[(r.result_id, r.revision)] = expander.expand_figures(r.head, r.extras, r.figures)
    return found


async def appeal_effects(
    session: AsyncSession, run_ids: Sequence[str]
) -> dict[str, list[tuple[int, str | None, dict]]]:
    """The stored effects of the runs' appeal revisions (``RunRevision.consequences``), oldest first."""
    keys = [k for k in (_uuid(r) for r in run_ids) if k is not None]
    rows = await session.execute(
        select(RunRevision.run_id, RunRevision.revision, RunRevision.appeal_id, RunRevision.consequences)
        .where(RunRevision.run_id.in_(keys), RunRevision.consequences.isnot(None))
        .order_by(RunRevision.run_id, RunRevision.revision)
    )
    out: dict[str, list[tuple[int, str | None, dict]]] = {}
    for run_id, revision, appeal_id, stored in rows:
        out.setdefault(str(run_id), []).append((revision, appeal_id, stored))
    return out


async def revisions_of(session: AsyncSession, run_id) -> list[RunRevision]:
    return list(
        await session.scalars(select(RunRevision).where(RunRevision.run_id == run_id).order_by(RunRevision.revision))
    )


async def changes_since(
    session: AsyncSession, scope: Scope, after_seq: int, limit: int
) -> list[tuple[UnitResult, EvaluationRun]]:
    """Published results changed after ``after_seq`` (the incremental pull), in change order."""
    rows = await session.execute(
        visible_results(scope)
        .where(EvaluationRun.published_at.isnot(None), UnitResult.change_seq > after_seq)
        .order_by(UnitResult.change_seq, UnitResult.id)
        .limit(limit)
    )
    return [tuple(r) for r in rows]


def visible_alerts(scope: Scope):
    """Alerts addressed to a unit in the caller's scope (the parent and its ancestors see them)."""
    notify = UnitRef.alias("notify_unit")
    return select(Alert).join(notify, notify.c.id == Alert.notify_unit_id).where(in_scope(notify.c.path, scope))
