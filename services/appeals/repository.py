"""Database access of the appeals service. Every read that serves a caller filters by scope in SQL."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    Text,
    Uuid,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.errors import ConflictError
from hotline.kit.scope import Scope, in_caller_scope, in_scope, scope_params
from services.appeals.models import Appeal, AppealDecision, AppealEvent, EvidenceFile, RunSettlement, UnitRef
from services.appeals.notifications import notify
from services.appeals.workflow import Actor, AppealFacts, Status


def unit_in_scope(unit_column: ColumnElement[str], scope: Scope) -> ColumnElement[bool]:
    return exists().where(UnitRef.c.id == unit_column, in_scope(UnitRef.c.path, scope))


def unit_in_caller_scope(unit_column: ColumnElement[str]) -> ColumnElement[bool]:
    """``unit_in_scope`` with the caller's scope as parameters (``visible_params``)."""
    return exists().where(UnitRef.c.id == unit_column, in_caller_scope(UnitRef.c.path))


CALLER_UNIT_PARAM = "caller_unit"


def submitted_or_own() -> ColumnElement[bool]:
    """A draft — an appeal never submitted, withdrawn ones included — is its filing unit's alone."""
    return or_(Appeal.submitted_at.isnot(None), Appeal.unit_id == bindparam(CALLER_UNIT_PARAM, type_=String))


@functools.cache
def visible_rule() -> ColumnElement[bool]:
    """An appeal is visible to its appellant's subtree, its organizer's subtree, and the unit it was
    escalated to (each an EXISTS on the unit-directory read model, so the filter is in SQL) — once it is
    submitted; before that, to the filing unit only. The caller is a parameter (``visible_params``): the rule is
    built once, and a query written with it is compiled once."""
    return and_(
        or_(
            unit_in_caller_scope(Appeal.unit_id),
            unit_in_caller_scope(Appeal.organizer_id),
            unit_in_caller_scope(Appeal.escalated_to),
        ),
        submitted_or_own(),
    )


def visible_params(scope: Scope) -> dict[str, str | None]:
    """The values of ``visible_rule``'s parameters for the caller."""
    return {**scope_params(scope), CALLER_UNIT_PARAM: scope.unit_id}


def organized_by(scope: Scope) -> ColumnElement[bool]:
    """Submitted appeals on runs the caller (or a unit under it) organizes, or escalated into its subtree."""
    return and_(
        or_(unit_in_scope(Appeal.organizer_id, scope), unit_in_scope(Appeal.escalated_to, scope)),
        Appeal.submitted_at.isnot(None),
    )


def facts(appeal: Appeal) -> AppealFacts:
    return AppealFacts(
        status=Status(appeal.status),
        unit_id=appeal.unit_id,
        organizer_id=appeal.organizer_id,
        filed_by=appeal.filed_by,
        window_closes_at=appeal.window_closes_at,
        deciding_unit_id=appeal.deciding_unit_id,
        escalated_to=appeal.escalated_to,
        decided_at=appeal.decided_at,
        escalation_days=appeal.escalation_days,
        upheld_indicators=frozenset(appeal.upheld_indicators or ()),
        submitted=appeal.submitted_at is not None,
        is_consequence_appeal=appeal.consequence_id is not None,
    )


@functools.cache
def _visible_appeals() -> Select:
    return select(Appeal).where(visible_rule())


@functools.cache
def _appeals_by_ids() -> Select:
    return _visible_appeals().where(Appeal.id.in_(bindparam("ids", expanding=True)))


@functools.cache
def _events_for() -> Select:
    return (
        select(AppealEvent)
        .where(AppealEvent.appeal_id.in_(bindparam("appeal_ids", expanding=True)))
        .order_by(AppealEvent.id)
    )


async def appeals_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Appeal]:
    if not ids:
        return {}
    rows = await session.scalars(_appeals_by_ids(), {**visible_params(scope), "ids": list(ids)})
    return {a.id: a for a in rows}


# ``list_appeals``' statement per shape (which filters are given, a position to continue after, a limit), built once
# per process with every value a bound parameter: building the filters and the order afresh for every request cost
# more than running them.
_LISTINGS: dict[tuple[bool, ...], Select] = {}
_FILTERS = {
    "status": lambda: Appeal.status == bindparam("status", type_=String),
    "run_id": lambda: Appeal.run_id == bindparam("run_id", type_=String),
    "unit_id": lambda: Appeal.unit_id == bindparam("unit_id", type_=String),
    "deciding_unit_id": lambda: Appeal.deciding_unit_id == bindparam("deciding_unit_id", type_=String),
    "result_ids": lambda: Appeal.result_ids.overlap(bindparam("result_ids", type_=ARRAY(Text))),
    "unit_ids": lambda: Appeal.unit_id.in_(bindparam("unit_ids", expanding=True)),
    "consequence_ids": lambda: Appeal.consequence_id.in_(bindparam("consequence_ids", expanding=True)),
    "after": lambda: (
        func.row(Appeal.filed_at, Appeal.id)
        < func.row(bindparam("after_at", type_=DateTime(timezone=True)), bindparam("after_id", type_=Uuid))
    ),
}


def _listing(given: dict[str, bool], limited: bool) -> Select:
    key = (*given.values(), limited)
    statement = _LISTINGS.get(key)
    if statement is None:
        statement = _visible_appeals().where(*(_FILTERS[name]() for name, on in given.items() if on))
        statement = statement.order_by(Appeal.filed_at.desc(), Appeal.id.desc())
        if limited:
            statement = statement.limit(bindparam("limit", type_=Integer))
        _LISTINGS[key] = statement
    return statement


async def list_appeals(
    session: AsyncSession,
    scope: Scope,
    *,
    status: str | None = None,
    run_id: str | None = None,
    unit_id: str | None = None,
    deciding_unit_id: str | None = None,
    result_ids: Sequence[str] | None = None,
    unit_ids: Sequence[str] | None = None,
    consequence_ids: Sequence[uuid.UUID] | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
) -> list[Appeal]:
    """Visible appeals, newest filing first, keyset-paginated after the position ``(filed_at, id)``."""
    values: dict[str, Any] = {
        "status": status or None, "run_id": run_id or None, "unit_id": unit_id or None,
        "deciding_unit_id": deciding_unit_id or None,
        "result_ids": list(result_ids) if result_ids is not None else None,
        "unit_ids": list(unit_ids) if unit_ids is not None else None,
        "consequence_ids": list(consequence_ids) if consequence_ids is not None else None,
    }  # fmt: skip
    given = {name: value is not None for name, value in values.items()}
    given["after"] = after is not None
    parameters = {name: value for name, value in values.items() if value is not None}
    if after is not None:
        parameters["after_at"], parameters["after_id"] = after
    if limit is not None:
        parameters["limit"] = limit
    statement = _listing(given, limit is not None)
    return list(await session.scalars(statement, {**visible_params(scope), **parameters}))


async def count_visible(session: AsyncSession, scope: Scope, **filters: Any) -> int:
    query = select(func.count()).select_from(Appeal).where(visible_rule())
    for name, value in filters.items():
        if value:
            query = query.where(getattr(Appeal, name) == value)
    return int(await session.scalar(query, visible_params(scope)) or 0)


async def appeals_on_result(session: AsyncSession, run_id: str, unit_id: str) -> int:
    """Appeals a unit has on a run (every revision's result), withdrawn ones and appeals of consequences of
    other units' appeals (which have limits of their own) not counted."""
    query = select(func.count()).where(
        Appeal.run_id == run_id,
        Appeal.unit_id == unit_id,
        Appeal.status != Status.WITHDRAWN.value,
        Appeal.consequence_id.is_(None),
    )
    return int(await session.scalar(query) or 0)


async def appeals_on_consequence(session: AsyncSession, consequence_id: uuid.UUID) -> int:
    """Appeals filed against a consequence, withdrawn ones not counted (one may be open at a time)."""
    query = select(func.count()).where(Appeal.consequence_id == consequence_id, Appeal.status != Status.WITHDRAWN.value)
    return int(await session.scalar(query) or 0)


async def remember_run(
    session: AsyncSession, run_id: str, organizer_id: str, window_closes_at: datetime, revision: int | None
) -> None:
    """Know a run (its window, for settlement) and the latest revision of it learned so far."""
    statement = insert(RunSettlement).values(
        run_id=run_id, organizer_id=organizer_id, window_closes_at=window_closes_at, latest_revision=revision
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[RunSettlement.run_id],
            set_={"latest_revision": func.greatest(RunSettlement.latest_revision, statement.excluded.latest_revision)},
        )
    )


async def latest_revisions(session: AsyncSession, run_ids: Sequence[str]) -> dict[str, int | None]:
    rows = await session.execute(
        select(RunSettlement.run_id, RunSettlement.latest_revision).where(RunSettlement.run_id.in_(list(run_ids)))
    )
    return dict(rows.all())


async def parent_of(session: AsyncSession, unit_id: str) -> str | None:
    return await session.scalar(select(UnitRef.c.parent_id).where(UnitRef.c.id == unit_id))


async def save(session: AsyncSession, appeal: Appeal, expected_version: int, now: datetime, **values: Any) -> Appeal:
    """Optimistic concurrency: the change applies only if nobody changed the appeal since ``expected_version``."""
    row = (
        await session.execute(
            update(Appeal)
            .where(Appeal.id == appeal.id, Appeal.version == expected_version)
            .values(**values, version=Appeal.version + 1, updated_at=now)
            .returning(Appeal)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if row is None:
        raise_conflict(
            appeal.id, expected_version, await session.scalar(select(Appeal.version).where(Appeal.id == appeal.id))
        )
    await session.refresh(row)
    return row


def raise_conflict(appeal_id: uuid.UUID, expected_version: int, current: int | None) -> None:
    raise ConflictError(
        f"the appeal changed since version {expected_version} (it is now at version {current}): "
        "reload it and try again",
        appeal_id=str(appeal_id),
        current_version=current,
    )


async def record(
    session: AsyncSession, appeal: Appeal, kind: str, actor: Actor, now: datetime, **data: Any
) -> AppealEvent:
    """Append an event to the appeal's record and notify the parties (same transaction)."""
    event = AppealEvent(
        appeal_id=appeal.id,
        kind=kind,
        actor_subject=actor.subject,
        actor_unit_id=actor.unit_id,
        occurred_at=now,
        data=data,
    )
    session.add(event)
    await session.flush()
    await notify(session, appeal, event)
    return event


async def events_for(session: AsyncSession, appeal_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[AppealEvent]]:
    rows = await session.scalars(_events_for(), {"appeal_ids": list(appeal_ids)})
    out: dict[uuid.UUID, list[AppealEvent]] = defaultdict(list)
    for row in rows:
        out[row.appeal_id].append(row)
    return out


async def decisions_for(
    session: AsyncSession, appeal_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[AppealDecision]]:
    rows = await session.scalars(
        select(AppealDecision).where(AppealDecision.appeal_id.in_(list(appeal_ids))).order_by(AppealDecision.level)
    )
    out: dict[uuid.UUID, list[AppealDecision]] = defaultdict(list)
    for row in rows:
        out[row.appeal_id].append(row)
    return out


FILE_COLUMNS = (
    EvidenceFile.id,
    EvidenceFile.appeal_id,
    EvidenceFile.filename,
    EvidenceFile.media_type,
    EvidenceFile.size_bytes,
    EvidenceFile.sha256,
    EvidenceFile.uploaded_by,
    EvidenceFile.uploaded_at,
)


async def files_for(session: AsyncSession, appeal_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    """Evidence files' metadata (never the content, which only the download endpoint reads)."""
    rows = await session.execute(
        select(*FILE_COLUMNS).where(EvidenceFile.appeal_id.in_(list(appeal_ids))).order_by(EvidenceFile.uploaded_at)
    )
    out: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in rows:
        out[row.appeal_id].append(row)
    return out


async def file_content(session: AsyncSession, scope: Scope, appeal_id: uuid.UUID, file_id: uuid.UUID):
    """One evidence file with its content, if its appeal is visible to the caller."""
    return (
        await session.execute(
            select(EvidenceFile)
            .join(Appeal, Appeal.id == EvidenceFile.appeal_id)
            .where(EvidenceFile.id == file_id, EvidenceFile.appeal_id == appeal_id, visible_rule()),
            visible_params(scope),
        )
    ).scalar_one_or_none()
