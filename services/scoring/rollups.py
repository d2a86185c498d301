"""Roll-up of a run's results under a parent unit (a parent sees its children's results summarised)."""

from __future__ import annotations

import uuid
from collections import Counter

import strawberry
from sqlalchemy import select

from hotline.kit.graphql import RequestContext
from hotline.kit.scope import PATH_SEPARATOR
from services.scoring import repository
from services.scoring.models import UnitRef
from services.scoring.statistics import rounded_summary
from services.scoring.types import ResultRollup, Statistics

Info = strawberry.Info[RequestContext, None]


async def rollup(info: Info, run_id: str, under: str) -> ResultRollup | None:
    """Statistics of the visible results of ``run_id`` whose unit lies under ``under`` (in scope)."""
    session, scope = info.context.session, await info.context.scope()
    parent = await session.scalar(select(UnitRef.c.path).where(UnitRef.c.id == under))
    if parent is None or not (scope.covers(parent)):
        return None
    try:
        rid = uuid.UUID(run_id)
    except ValueError:
        return None
    rows = await repository.results_of_run(session, scope, rid, after_unit=None, limit=100000)
    paths = dict(
        (
            await session.execute(
                select(UnitRef.c.id, UnitRef.c.path).where(UnitRef.c.id.in_([r.unit_id for r, _ in rows]))
            )
        ).all()
    )
    chosen = [
        r
        for r, _ in rows
        if paths.get(r.unit_id, "").startswith(parent + PATH_SEPARATOR) or paths.get(r.unit_id) == parent
    ]
    details = await repository.details(session, [(r.id, r.revision) for r in chosen])
    # A withheld total (too little of the scheme applicable) takes no part: not in the totals, grades or means.
    kept = [r for r in chosen if details.get((r.id, r.revision), {}).get("withheld") is None]
    totals = {r.unit_id: r.total for r in kept if r.total is not None}
    dims: dict[str, list[float]] = {}
    for r in kept:
        for dim in details.get((r.id, r.revision), {}).get("dimensions", []):
            dims.setdefault(dim["dimension"], []).append(dim["score"])
    stats = rounded_summary(totals)
    return ResultRollup(
        under=under, run_id=strawberry.ID(run_id), units=len(kept), withheld=len(chosen) - len(kept),
        total=Statistics(**stats), grades=dict(sorted(Counter(r.grade for r in kept if r.grade).items())),
        dimensions={k: round(sum(v) / len(v), 4) for k, v in sorted(dims.items())},
    )  # fmt: skip
