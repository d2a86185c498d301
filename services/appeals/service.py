"""What every appeal action shares: its dependencies, its outcome, and loading an appeal in scope with
the caller's version. The actions are in ``filing`` (the appellant's) and ``review`` (the reviewers').

Every action returns the appeal (as it is now) and the problems that refused it; nothing is written
when there is a problem. A concurrent change raises ``CONFLICT`` (the unit of work then rolls back).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.auth import Principal
from hotline.kit.scope import Scope
from services.appeals import repository, workflow
from services.appeals.models import Appeal
from services.appeals.scoring import ScoringClient
from services.appeals.workflow import Actor, Ask, Problem


@dataclass
class Deps:
    """What an action needs: the request's session, the caller, its scope, the clock and scoring."""

    session: AsyncSession
    actor: Actor
    scope: Scope
    now: datetime
    scoring: ScoringClient


@dataclass
class Done:
    appeal: Appeal | None
    problems: list[Problem]
    # What the actor should know although nothing was refused (e.g. a value accepted beyond anything observed).
    warnings: list[Problem] = field(default_factory=list)


def actor_of(principal: Principal) -> Actor:
    return Actor(
        subject=principal.subject, unit_id=principal.unit_id, roles=frozenset(r.value for r in principal.roles)
    )


NOT_FOUND = Problem("NOT_FOUND", "no such appeal (or it is not visible to you)")


def ask_to_json(ask: Ask) -> dict[str, Any]:
    return {
        "indicator": ask.indicator,
        "kind": ask.kind.value,
        "records": [{"source": s, "record_id": r} for s, r in ask.records],
        "value": ask.value,
    }


def ask_from_json(row: dict[str, Any]) -> Ask:
    return Ask(
        indicator=row["indicator"],
        kind=workflow.RequestKind(row["kind"]),
        records=tuple((r["source"], r["record_id"]) for r in row.get("records", [])),
        value=row.get("value"),
    )


async def load_for_change(deps: Deps, appeal_id: str, expected_version: int) -> Appeal | None:
    """The visible appeal; ``CONFLICT`` if it moved past the version the caller acted on (whatever the
    rules would say about the new state, the caller's view is stale). The write re-checks the version."""
    try:
        key = uuid.UUID(appeal_id)
    except ValueError:
        return None
    appeal = (await repository.appeals_by_ids(deps.session, deps.scope, [key])).get(key)
    if appeal is not None and appeal.version != expected_version:
        repository.raise_conflict(appeal.id, expected_version, appeal.version)
    return appeal


async def load_visible(deps: Deps, appeal_id: str) -> Appeal | None:
    """The appeal if the caller may see it (for reads that change nothing, such as a decision's preview)."""
    try:
        key = uuid.UUID(appeal_id)
    except ValueError:
        return None
    return (await repository.appeals_by_ids(deps.session, deps.scope, [key])).get(key)
