"""What a value of an indicator can plausibly be, for the appeals service to check a corrected value against
(contracts §6, ``GET /results/{id}``): the range its unit allows, and the best value observed in the cohort —
in this run as first computed (before any appeal corrected it) and in the earlier periods of the same scheme.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.models import EvaluationRun, RunRevision
from services.scoring.periods import Period
from services.scoring.scheme import parse_scheme

EARLIER_PERIODS = 3  # how many earlier published runs of the scheme are looked at


def bounds(unit: str, points: float) -> dict[str, float | None]:
    """The values an indicator's unit can take: a percentage 0–100, an expert's points 0–the item's points,
    every other unit (seconds, hours, counts, per 10,000) from 0 up."""
    if unit == "percent":
        return {"min": 0.0, "max": 100.0}
    if unit == "points":
        return {"min": 0.0, "max": float(points)}
    return {"min": 0.0, "max": None}


def _best(direction: str, values: dict[str, Any]) -> float | None:
    if not values.get("count"):
        return None
    if direction == "higher_better":
        return values.get("max")
    if direction == "lower_better":
        return values.get("min")
    return None  # a target band has no "best" end


async def observed(session: AsyncSession, run: EvaluationRun) -> dict[str, dict[str, Any]]:
    """Per indicator code: ``{"best": value or None, "periods": [labels]}`` — the best value of any unit of
    the cohort in the first revision of this run and of up to three earlier published runs of the scheme."""
    earlier = list(
        await session.scalars(
            select(EvaluationRun)
            .where(
                EvaluationRun.scheme_id == run.scheme_id,
                EvaluationRun.period_to < run.period_from,
                EvaluationRun.published_at.isnot(None),
            )
            .order_by(EvaluationRun.period_to.desc())
            .limit(EARLIER_PERIODS)
        )
    )
    runs = [run, *earlier]
    summaries = dict(
        (
            await session.execute(
                select(RunRevision.run_id, RunRevision.cohort_summary).where(
                    RunRevision.run_id.in_([r.id for r in runs]), RunRevision.revision == 1
                )
            )
        ).all()
    )
    directions = {item.code: item.direction for item in parse_scheme(run.scheme_document).items}
    out: dict[str, dict[str, Any]] = {}
    for code, direction in directions.items():
        candidates, periods = [], []
        for r in runs:
            summary = summaries.get(r.id)
            values = ((summary or {}).get("cohort", {}).get("indicators", {}).get(code) or {}).get("values") or {}
            best = _best(direction, values)
            if best is not None:
                candidates.append(best)
                periods.append(Period(r.period_kind, r.period_from, r.period_to).label)
        best = (min if direction == "lower_better" else max)(candidates) if candidates else None
        out[code] = {"best": best, "periods": periods}
    return out
