"""Consequences for peers: when a decision's revision moves another unit's result (a reference or a cohort mean
moved, a rank changed), that unit is recorded, told (inbox and webhook, with the figures before and after and
the cause) and, when the scheme lets it, given a window of its own to appeal the consequence (rules in
``consequence_rules``). Read paths are scoped in SQL like appeals: the unit it moved (its subtree) and the side
that organizes or decided the run."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.scope import Scope
from services.appeals import consequence_rules
from services.appeals.consequence_rules import ConsequenceFacts
from services.appeals.models import Appeal, PeerConsequence
from services.appeals.notifications import notify_consequence
from services.appeals.repository import unit_in_scope
from services.appeals.scoring import RevisionAnswer
from services.appeals.workflow import Actor


def visible(scope: Scope) -> ColumnElement[bool]:
    """A consequence is visible to the subtree of the unit it moved and to the side that organizes or decided."""
    return or_(
        unit_in_scope(PeerConsequence.unit_id, scope),
        unit_in_scope(PeerConsequence.organizer_id, scope),
        unit_in_scope(PeerConsequence.deciding_unit_id, scope),
    )


def facts(row: PeerConsequence) -> ConsequenceFacts:
    return ConsequenceFacts(
        unit_id=row.unit_id,
        result_id=row.result_id,
        appealable=row.appealable,
        appealable_indicators=frozenset(row.appealable_indicators),
        appealable_until=row.appealable_until,
    )


def payload_data(row: PeerConsequence) -> dict[str, Any]:
    """What the webhook body's ``data`` says of a consequence (and what GraphQL shows as its fields)."""
    return {
        **row.figures,
        "references": row.reference_moves,
        "cause": {
            "appeal_id": str(row.cause_appeal_id),
            "level": row.cause_level,
            "indicators": sorted(row.cause_targets),
        },
        "appealable": row.appealable,
        "appealable_indicators": list(row.appealable_indicators),
        "appealable_until": row.appealable_until.isoformat() if row.appealable_until else None,
        "explanation": explanation(row),
    }


def explanation(row: PeerConsequence) -> dict[str, str]:
    return consequence_rules.explain(
        row.figures,
        row.reference_moves,
        cause_appeal_id=str(row.cause_appeal_id),
        revision=row.revision,
        corrected=sorted(row.cause_targets),
        appealable=row.appealable_indicators,
        until=row.appealable_until,
    )


async def record(
    session: AsyncSession,
    appeal: Appeal,
    *,
    level: int,
    answer: RevisionAnswer,
    adjustments: Sequence[dict[str, Any]],
    actor: Actor,
    now: datetime,
) -> list[PeerConsequence]:
    """Record and tell every unit other than the appellant whose result the revision moved."""
    peers = appeal.score_at_filing.get("peer_appeals") or {}
    allowed = bool(peers.get("allowed", True))
    window_days = int(peers.get("window_days", (appeal.window_closes_at - appeal.published_at).days or 7))
    targets = {a["indicator"]: a["unit"] for a in adjustments}
    made = []
    for entry in answer.consequences:
        if entry["unit"] == appeal.unit_id or not consequence_rules.is_change(entry):
            continue
        changed = [i["indicator"] for i in entry.get("indicators", [])]
        figures = {k: entry.get(k) for k in (
            "total_before", "total_after", "rank_before", "rank_after", "grade_before", "grade_after"
        )}  # fmt: skip
        row = PeerConsequence(
            id=uuid.uuid4(),
            run_id=appeal.run_id,
            revision=answer.revision,
            result_id=str(entry["result_id"]),
            unit_id=str(entry["unit"]),
            organizer_id=appeal.organizer_id,
            cause_appeal_id=appeal.id,
            cause_level=level,
            cause_targets=targets,
            deciding_unit_id=actor.unit_id,
            decided_by=actor.subject,
            figures={**figures, "indicators": entry.get("indicators", [])},
            reference_moves=list(answer.references),
            appealable=allowed,
            appealable_indicators=consequence_rules.appealable_indicators(changed, targets),
            appealable_until=consequence_rules.appealable_until(allowed, now, window_days),
            created_at=now,
        )
        session.add(row)
        made.append(row)
    await session.flush()
    for row in made:
        await notify_consequence(session, row, payload_data(row))
    return made


async def by_ids(session: AsyncSession, scope: Scope, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PeerConsequence]:
    if not ids:
        return {}
    rows = await session.scalars(select(PeerConsequence).where(PeerConsequence.id.in_(list(ids)), visible(scope)))
    return {r.id: r for r in rows}


async def of_decisions(
    session: AsyncSession, scope: Scope, keys: Sequence[tuple[uuid.UUID, int]]
) -> dict[tuple[uuid.UUID, int], list[PeerConsequence]]:
    """The visible consequences of decisions, by (cause appeal, level), in unit order."""
    out: dict[tuple[uuid.UUID, int], list[PeerConsequence]] = {k: [] for k in keys}
    if not keys:
        return out
    rows = await session.scalars(
        select(PeerConsequence)
        .where(PeerConsequence.cause_appeal_id.in_([k[0] for k in keys]), visible(scope))
        .order_by(PeerConsequence.unit_id)
    )
    for row in rows:
        if (row.cause_appeal_id, row.cause_level) in out:
            out[(row.cause_appeal_id, row.cause_level)].append(row)
    return out


async def windows_of_run(session: AsyncSession, run_id: str) -> list[datetime]:
    """When each appealable consequence's window on the run closes (the run's finality waits for them)."""
    rows = await session.scalars(
        select(PeerConsequence.appealable_until).where(
            PeerConsequence.run_id == run_id, PeerConsequence.appealable.is_(True)
        )
    )
    return [r for r in rows if r is not None]
