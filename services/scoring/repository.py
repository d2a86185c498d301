"""Scoped reads: every query joins the unit-directory read model and filters by the caller's scope in SQL."""

from __future__ import annotations

import functools
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import Integer, Select, and_, bindparam, exists, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value

from hotline.kit.scope import Scope, in_caller_scope, in_scope, scope_params
from services.scoring.detail import Expander
from services.scoring.models import Alert, EvaluationRun, ResultRevision, RunRevision, UnitRef, UnitResult

UNIT = UnitRef.alias("result_unit")
ORG = UnitRef.alias("organizer_unit")
# The caller's own result and its unit, in the EXISTS of ``public_peer_run`` and ``visible_runs``: made once, since
# building an alias and its column collection costs more than the rest of building such a query.
OWN_RESULT = UnitResult.__table__.alias("own_result")
OWN_UNIT = UnitRef.alias("own_unit")


# A run's scheme document and cohort are written when it starts and never change (``runs.start``); they are the
# largest part of its row (a province's cohort: thousands of ids). Scoped reads leave them out of the row
# (``LIGHT_RUN``) and ``complete_runs`` puts them back from this process's copy, read once per run, so a ranking
# page no longer decodes them once per result row.
LIGHT_RUN = (defer(EvaluationRun.scheme_document), defer(EvaluationRun.cohort_units))
_RUN_DOCUMENTS: OrderedDict[uuid.UUID, tuple[dict, list]] = OrderedDict()
RUN_DOCUMENTS_KEPT = 256


async def run_documents(session: AsyncSession, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[dict, list]]:
    """(scheme document, cohort units) of each run: from this process's copy, the missing ones in one query."""
    found, missing = {}, []
    for run_id in dict.fromkeys(run_ids):
        known = _RUN_DOCUMENTS.get(run_id)
        if known is None:
            missing.append(run_id)
        else:
            _RUN_DOCUMENTS.move_to_end(run_id)
            found[run_id] = known
    if missing:
        rows = await session.execute(
            select(EvaluationRun.id, EvaluationRun.scheme_document, EvaluationRun.cohort_units).where(
                EvaluationRun.id.in_(missing)
            )
        )
        for run_id, document, cohort in rows:
            found[run_id] = _RUN_DOCUMENTS[run_id] = (document, cohort)
        while len(_RUN_DOCUMENTS) > RUN_DOCUMENTS_KEPT:
            _RUN_DOCUMENTS.popitem(last=False)
    return found


async def complete_runs(session: AsyncSession, runs) -> None:
    """Give runs read with ``LIGHT_RUN`` their scheme document and cohort back (read-only: shared per process)."""
    light = [r for r in {id(r): r for r in runs}.values() if _unloaded(r)]
    if not light:
        return
    documents = await run_documents(session, [r.id for r in light])
    for run in light:
        document, cohort = documents[run.id]
        set_committed_value(run, "scheme_document", document)
        set_committed_value(run, "cohort_units", cohort)


async def lock_run(session: AsyncSession, run: EvaluationRun) -> None:
    """Read the run's row again and hold it until the transaction ends (``FOR UPDATE``); its scheme document and
    cohort, which never change, stay as they were read."""
    await session.refresh(run, with_for_update=True)
    await complete_runs(session, [run])


def _unloaded(run: EvaluationRun) -> bool:
    return "scheme_document" not in run.__dict__ or "cohort_units" not in run.__dict__


def _has_own_result():
    """SQL condition on ``EvaluationRun``: the caller's subtree has a result in the run."""
    return exists(
        select(1)
        .select_from(OWN_RESULT.join(OWN_UNIT, OWN_UNIT.c.id == OWN_RESULT.c.unit_id))
        .where(OWN_RESULT.c.run_id == EvaluationRun.id, in_caller_scope(OWN_UNIT.c.path))
    )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def public_peer_run():
    """SQL condition on ``EvaluationRun``: the run is published, its scheme makes its ranking public, and the
    caller's subtree has a result in it — the run's other units are then the caller's public peers
    (``hotline.kit.policy``). The caller's scope is a parameter (``scope_params``)."""
    return and_(
        EvaluationRun.published_at.isnot(None),
        EvaluationRun.scheme_document["rankings_public"].as_boolean().is_(True),
        _has_own_result(),
    )


@functools.cache
def _visible_results(peers: bool) -> Select:
    own = and_(in_caller_scope(UNIT.c.path), EvaluationRun.published_at.isnot(None))
    granted = [in_caller_scope(ORG.c.path), own]
    if peers:
        granted.append(public_peer_run())
    return (
        select(UnitResult, EvaluationRun)
        .join(EvaluationRun, EvaluationRun.id == UnitResult.run_id)
        .join(UNIT, UNIT.c.id == UnitResult.unit_id)
        .join(ORG, ORG.c.id == EvaluationRun.organizer_id)
        .where(or_(*granted))
        .options(*LIGHT_RUN)
    )


def visible_results(*, peers: bool = True) -> Select:
    """Results the caller may see — the one rule behind every read of results (ranking, ``run.results``,
    ``unitResult``, ``Unit.results``, ``resultChanges``, REST ``GET /results/{id}``, reports): the organizer's
    side (a scope covering the run's organizer) sees every result of the run, before publication too; a unit
    sees its subtree's results once published; and, with ``peers`` (people reading; never a service acting
    for a unit), the results of its public peers (``public_peer_run``). Executed with ``scope_params(scope)``;
    built once (the statements below that add to it, once each too)."""
    return _visible_results(peers)


async def public_peers(session: AsyncSession, scope: Scope) -> list[str]:
    """Ids of the caller's public peers: units outside its subtree with a result in a run where
    ``public_peer_run`` holds (what other services ask through ``GET /visibility/public-peers``)."""
    rows = await session.scalars(
        select(UnitResult.unit_id)
        .join(EvaluationRun, EvaluationRun.id == UnitResult.run_id)
        .join(UNIT, UNIT.c.id == UnitResult.unit_id)
        .where(public_peer_run(), ~in_caller_scope(UNIT.c.path))
        .distinct()
        .order_by(UnitResult.unit_id),
        scope_params(scope),
    )
    return list(rows)


@functools.cache
def visible_runs() -> Select:
    """Runs whose organizer is in the caller's scope, or published runs with a result the caller may see.
    Executed with ``scope_params(scope)``."""
    return (
        select(EvaluationRun)
        .join(ORG, ORG.c.id == EvaluationRun.organizer_id)
        .where(or_(in_caller_scope(ORG.c.path), and_(EvaluationRun.published_at.isnot(None), _has_own_result())))
        .options(*LIGHT_RUN)
    )


@functools.cache
def _runs_by_ids() -> Select:
    return visible_runs().where(EvaluationRun.id.in_(bindparam("ids", expanding=True)))


@functools.cache
def _results_by_ids(peers: bool) -> Select:
    return visible_results(peers=peers).where(UnitResult.id.in_(bindparam("ids", expanding=True)))


@functools.cache
def _results_of_units() -> Select:
    return (
        visible_results()
        .where(UnitResult.unit_id.in_(bindparam("unit_ids", expanding=True)))
        .order_by(EvaluationRun.period_from.desc(), EvaluationRun.id)
    )


@functools.cache
def _results_of_run(after: bool) -> Select:
    query = visible_results().where(UnitResult.run_id == bindparam("run_id"))
    if after:
        query = query.where(UnitResult.unit_id > bindparam("after_unit"))
    return query.order_by(UnitResult.unit_id).limit(bindparam("limit", type_=Integer))


@functools.cache
def _public_ranking() -> Select:
    return (
        visible_results()
        .where(UnitResult.run_id == bindparam("run_id"), or_(in_caller_scope(ORG.c.path), public_peer_run()))
        .order_by(UnitResult.rank.asc().nulls_last(), UnitResult.unit_id)
    )


async def list_runs(
    session: AsyncSession, scope: Scope, *, after: tuple[date, uuid.UUID] | None, limit: int
) -> list[EvaluationRun]:
    """Visible runs, newest period first and then by id: a total order, so keyset pages never skip or repeat."""
    query = visible_runs()
    if after is not None:
        period_from, run_id = after
        query = query.where(
            or_(
                EvaluationRun.period_from < period_from,
                and_(EvaluationRun.period_from == period_from, EvaluationRun.id > run_id),
            )
        )
    query = query.order_by(EvaluationRun.period_from.desc(), EvaluationRun.id).limit(limit)
    runs = list(await session.scalars(query, scope_params(scope)))
    await complete_runs(session, runs)
    return runs


async def count_runs(session: AsyncSession, scope: Scope) -> int:
    return await session.scalar(select(func.count()).select_from(visible_runs().subquery()), scope_params(scope))


async def runs_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[str]) -> dict[str, EvaluationRun]:
    keys = [k for k in (_uuid(i) for i in ids) if k is not None]
    rows = list(await session.scalars(_runs_by_ids(), {**scope_params(scope), "ids": keys}))
    await complete_runs(session, rows)
    return {str(r.id): r for r in rows}


async def results_by_ids(
    session: AsyncSession, scope: Scope, ids: Sequence[str], *, peers: bool = True
) -> dict[str, tuple[UnitResult, EvaluationRun]]:
    keys = [k for k in (_uuid(i) for i in ids) if k is not None]
    rows = (await session.execute(_results_by_ids(peers), {**scope_params(scope), "ids": keys})).all()
    await complete_runs(session, [run for _r, run in rows])
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
    rows = (await session.execute(_results_of_units(), {**scope_params(scope), "unit_ids": list(unit_ids)})).all()
    await complete_runs(session, [run for _r, run in rows])
    found: dict[str, list] = {u: [] for u in unit_ids}
    for result, run in rows:
        found[result.unit_id].append((result, run))
    return found


async def results_of_run(
    session: AsyncSession, scope: Scope, run_id, *, after_unit: str | None, limit: int
) -> list[tuple[UnitResult, EvaluationRun]]:
    params = {**scope_params(scope), "run_id": run_id, "limit": limit}
    if after_unit:
        params["after_unit"] = after_unit
    rows = [tuple(r) for r in await session.execute(_results_of_run(bool(after_unit)), params)]
    await complete_runs(session, [run for _r, run in rows])
    return rows


async def public_ranking(session: AsyncSession, scope: Scope, run: EvaluationRun) -> list[UnitResult]:
    """The run's whole ranking, in rank order, where the caller may see the whole cohort's results
    (``visible_results``): the organizer's side always, the cohort's units once published with a public
    ranking; else empty (a unit then reads its own result, not a ranking of one). Decided in SQL."""
    rows = (await session.execute(_public_ranking(), {**scope_params(scope), "run_id": run.id})).all()
    await complete_runs(session, [run for _r, run in rows])
    return [result for result, _run in rows]


# Expanders of run revisions, by (run, revision, outcome digest): a stored revision never changes (a new
# computation is a new revision), so its scheme document and cohort summary are read, decoded and parsed once per
# process instead of once per request. Bounded: the least recently used are dropped.
_EXPANDERS: OrderedDict[tuple[uuid.UUID, int, str], Expander] = OrderedDict()
EXPANDERS_KEPT = 256


# Expanded result documents by (result id, revision): a stored revision of a result never changes either, and
# readers never mutate a result document (``detail.Expander``), so a ranking page read again costs no query for
# its subtotals and explanations. Bounded like the expanders.
_DETAILS: OrderedDict[tuple[uuid.UUID, int], dict] = OrderedDict()
DETAILS_KEPT = 8192


def kept_detail(key: tuple[uuid.UUID, int]) -> dict | None:
    """The expanded document of a result revision if this process keeps it (``_DETAILS``), without a query."""
    return _DETAILS.get(key)


def _remember_expander(key: tuple[uuid.UUID, int, str], expander: Expander) -> None:
    _EXPANDERS[key] = expander
    while len(_EXPANDERS) > EXPANDERS_KEPT:
        _EXPANDERS.popitem(last=False)


async def details(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, int]], *, remember: bool = False
) -> dict[tuple[uuid.UUID, int], dict]:
    """Full result documents by (result id, revision) — one query for any number of results when their run
    revisions were read before (``_EXPANDERS``), else three: the stored results (compact details, or heads and
    figures) with their revisions' digests, then the runs' scheme documents and the revisions' cohort summaries
    that restore the shared fields (``detail.Expander``). With ``remember`` (a read-only operation, which sees
    only committed revisions) the documents are kept for later reads (``_DETAILS``)."""
    if not keys:
        return {}
    found: dict[tuple[uuid.UUID, int], dict] = {}
    for key in keys:
        known = _DETAILS.get(key)
        if known is not None:
            _DETAILS.move_to_end(key)
            found[key] = known
    keys = [k for k in keys if k not in found]
    if not keys:
        return found
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
        return found
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
        documents = {run_id: doc for run_id, (doc, _cohort) in (await run_documents(session, run_ids)).items()}
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
    for r in rows:
        expander = expanders[(r.run_id, r.revision)]
        if r.detail is not None:
            document = expander.expand(r.detail)
        else:
            document = expander.expand_figures(r.head, r.extras, r.figures)
        found[(r.result_id, r.revision)] = document
        if remember:
            _DETAILS[(r.result_id, r.revision)] = document
    while len(_DETAILS) > DETAILS_KEPT:
        _DETAILS.popitem(last=False)
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
        visible_results()
        .where(EvaluationRun.published_at.isnot(None), UnitResult.change_seq > after_seq)
        .order_by(UnitResult.change_seq, UnitResult.id)
        .limit(limit),
        scope_params(scope),
    )
    rows = [tuple(r) for r in rows]
    await complete_runs(session, [run for _r, run in rows])
    return rows


def visible_alerts(scope: Scope):
    """Alerts addressed to a unit in the caller's scope (the parent and its ancestors see them)."""
    notify = UnitRef.alias("notify_unit")
    return select(Alert).join(notify, notify.c.id == Alert.notify_unit_id).where(in_scope(notify.c.path, scope))
