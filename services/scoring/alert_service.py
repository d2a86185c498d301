"""Alerts at the edge: daily measures from ingest, detection by ``alerts``, storage, listing, acknowledgement."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.auth import Principal, Role
from hotline.kit.scope import PATH_SEPARATOR, Scope, in_scope
from hotline.kit.services import ServiceClients
from services.scoring import repository, sources
from services.scoring.alerts import RULES, detect
from services.scoring.models import Alert, UnitRef
from services.scoring.problems import Problem

MAX_DAYS = 92


async def check(
    session: AsyncSession, services: ServiceClients, principal: Principal, scope: Scope, *, under: str, start: date,
    end: date, rule_code: str, kind: str | None,
) -> tuple[list[Alert], list[Problem]]:  # fmt: skip
    """Run a rule over the units below ``under`` (peers = same parent); store and return new alerts."""
    rule = RULES.get(rule_code)
    problems = (
        [] if rule else [Problem("rule", "unknown_rule", f"unknown rule {rule_code!r}: {', '.join(sorted(RULES))}")]
    )
    if end < start or (end - start).days >= MAX_DAYS:
        message = f"the range must run forwards and cover at most {MAX_DAYS} days"
        problems.append(Problem("endDate", "invalid_range", message))
    root = await session.scalar(select(UnitRef.c.path).where(UnitRef.c.id == under, in_scope(UnitRef.c.path, scope)))
    if root is None:
        problems.append(Problem("under", "unknown_unit", f"{under} is unknown or outside your scope"))
    if problems:
        return [], problems
    query = select(UnitRef.c.id, UnitRef.c.parent_id).where(
        UnitRef.c.path.like(root + PATH_SEPARATOR + "%"), UnitRef.c.active.is_(True)
    )
    if kind:
        query = query.where(UnitRef.c.kind == kind)
    parents = {u: p for u, p in (await session.execute(query.order_by(UnitRef.c.id))).all() if p}
    if not parents:
        return [], []
    answer = await sources.query_measures(
        services,
        sorted(parents),
        [rule.numerator, rule.denominator],
        start,
        end,
        by="day",
        acting_for=principal.unit_id,
    )
    raised = detect(rule, parents, sources.by_period(answer))
    stored = []
    for alert in raised:
        values = dict(
            id=uuid.uuid4(), rule=alert.rule, unit_id=alert.unit, notify_unit_id=alert.notify_unit,
            first_day=alert.first_day, last_day=alert.last_day, detail={"days": list(alert.days)},
        )  # fmt: skip
        statement = (
            insert(Alert)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["rule", "unit_id", "first_day"],
                set_={"last_day": alert.last_day, "detail": values["detail"]},
            )
        )
        alert_id = await session.scalar(statement.returning(Alert.id))
        stored.append(alert_id)
    await session.flush()
    rows = await session.scalars(select(Alert).where(Alert.id.in_(stored)).order_by(Alert.unit_id, Alert.first_day))
    return list(rows), []


SWEEP_DAYS = 7  # a sweep looks at the last week, so a three-day run is caught whatever the hour


async def sweep(database, services: ServiceClients, directory, *, today: date) -> dict[str, int]:
    """Check every rule over the whole tree, acting for each root unit (the seed's "automatically
    triggers supervisor attention"); returns alerts stored per root. Days already alerted are updated,
    never duplicated (``check`` upserts)."""
    await directory.ensure_fresh()
    stored: dict[str, int] = {}
    async with database.unit_of_work() as session:
        roots = list(await session.scalars(select(UnitRef.c.id).where(UnitRef.c.parent_id.is_(None))))
    start, end = date.fromordinal(today.toordinal() - SWEEP_DAYS), date.fromordinal(today.toordinal() - 1)
    for root in sorted(roots):
        actor = Principal(subject="service:scoring-alert-sweep", unit_id=root, roles=frozenset({Role.SERVICE}))
        async with database.unit_of_work() as session:
            scope = Scope(unit_id=root, path=root)
            total = 0
            for rule_code in sorted(RULES):
                alerts, _ = await check(
                    session, services, actor, scope, under=root, start=start, end=end, rule_code=rule_code, kind=None
                )
                total += len(alerts)
            stored[root] = total
    return stored


async def list_alerts(
    session: AsyncSession, scope: Scope, *, unit_id: str | None, rule: str | None, acknowledged: bool | None, limit: int
) -> list[Alert]:
    query = repository.visible_alerts(scope)
    if unit_id:
        query = query.where(Alert.unit_id == unit_id)
    if rule:
        query = query.where(Alert.rule == rule)
    if acknowledged is not None:
        query = query.where(Alert.acknowledged_at.isnot(None) if acknowledged else Alert.acknowledged_at.is_(None))
    return list(
        await session.scalars(query.order_by(Alert.raised_at.desc(), Alert.last_day.desc(), Alert.id).limit(limit))
    )


async def acknowledge(
    session: AsyncSession, principal: Principal, scope: Scope, alert_id: str, note: str
) -> Alert | None:
    try:
        key = uuid.UUID(alert_id)
    except ValueError:
        return None
    row = await session.scalar(repository.visible_alerts(scope).where(Alert.id == key))
    if row is None:
        return None
    if row.acknowledged_at is None:
        row.acknowledged_at, row.acknowledged_by, row.acknowledgement_note = datetime.now(UTC), principal.subject, note
        await session.flush()
    return row
