"""Finality: a run's results are final once its appeal window has closed, every appeal on it is settled, and
every window a decision opened for a unit it moved (a consequence) has closed (``workflow.run_is_final``);
scoring is then told (``POST /runs/{id}/settled``).

Checked on each decision and by a periodic sweep (the worker): the sweep also learns from scoring the
runs whose window has closed, so a run without any appeal becomes final too.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.db import Database
from hotline.kit.errors import ApiError
from services.appeals import consequences, repository
from services.appeals.models import Appeal, RunSettlement
from services.appeals.scoring import ScoringClient
from services.appeals.workflow import run_is_final

logger = logging.getLogger("hotline.appeals.settlement")


async def settle_if_final(session: AsyncSession, scoring: ScoringClient, run_id: str, *, now: datetime) -> bool:
    """Tell scoring the run is final if it is (once). A failure is logged: the sweep tries again."""
    run = await session.get(RunSettlement, run_id, with_for_update=True)
    if run is None or run.settled_at is not None:
        return False
    appeals = list(await session.scalars(select(Appeal).where(Appeal.run_id == run_id)))
    windows = await consequences.windows_of_run(session, run_id)
    facts = [repository.facts(a) for a in appeals]
    if not run_is_final(run.window_closes_at, facts, now=now, consequence_windows=windows):
        return False
    summary = {
        "settled_at": now.isoformat(),
        "appeals": {"total": len(appeals), **Counter(a.outcome or a.status for a in appeals)},
    }
    try:
        await scoring.settle(run_id, acting_for=run.organizer_id, summary=summary)
    except ApiError as exc:
        logger.warning("could not tell scoring that run %s is final: %s", run_id, exc.message)
        return False
    await session.execute(update(RunSettlement).where(RunSettlement.run_id == run_id).values(settled_at=now))
    return True


async def sweep(database: Database, scoring: ScoringClient, *, now: datetime) -> list[str]:
    """Learn the runs awaiting settlement from scoring, then settle every known run that is final."""
    try:
        awaiting = await scoring.awaiting_settlement()
    except ApiError as exc:
        logger.warning("scoring did not list the runs awaiting settlement: %s", exc.message)
        awaiting = []
    settled = []
    async with database.unit_of_work() as session:
        for run in awaiting:
            await session.execute(
                text(
                    "INSERT INTO appeals.run_settlement (run_id, organizer_id, window_closes_at) "
                    "VALUES (:r, :o, :w) ON CONFLICT (run_id) DO NOTHING"
                ),
                {
                    "r": run["run_id"],
                    "o": run["organizer"],
                    "w": datetime.fromisoformat(run["appeal_window_closes_at"]),
                },
            )
        due = await session.scalars(
            select(RunSettlement.run_id).where(
                RunSettlement.settled_at.is_(None), RunSettlement.window_closes_at <= now
            )
        )
        for run_id in list(due):
            if await settle_if_final(session, scoring, run_id, now=now):
                settled.append(run_id)
    return settled
