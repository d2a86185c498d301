"""Weight suggestions from a run's stored indicator values (the edge around ``weights``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository
from services.scoring.models import EvaluationRun, UnitResult
from services.scoring.problems import Problem
from services.scoring.scheme import parse_scheme
from services.scoring.weights import WeightError, critic_weights, entropy_weights


async def from_run(
    session: AsyncSession, run: EvaluationRun, method: str
) -> tuple[list[str], list[float], list[Problem]]:
    """Entropy or CRITIC weights over the units with every non-expert indicator applicable."""
    if method not in ("entropy", "critic"):
        message = f"unknown method {method!r}: entropy or critic (AHP takes judgements)"
        return [], [], [Problem("method", "unknown_method", message)]
    scheme = parse_scheme(run.scheme_document)
    items = [i for i in scheme.items if i.rule.type != "expert"]
    from sqlalchemy import select

    rows = await session.execute(
        select(UnitResult.id, UnitResult.revision).where(UnitResult.run_id == run.id).order_by(UnitResult.unit_id)
    )
    found = await repository.details(session, [(r, v) for r, v in rows])
    matrix = []
    for detail in (found[k] for k in sorted(found, key=lambda k: found[k]["unit"])):
        values = {i["indicator"]: i["value"] for i in detail["indicators"] if i["applicable"]}
        if all(i.code in values for i in items):
            matrix.append([values[i.code] for i in items])
    codes = [i.code for i in items]
    lower = [i.direction == "lower_better" for i in items]
    try:
        w = entropy_weights(matrix, lower) if method == "entropy" else critic_weights(matrix, lower)
    except WeightError as exc:
        return codes, [], [Problem("runId", exc.code, str(exc))]
    return codes, w, []
