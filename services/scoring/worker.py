"""The run worker: claims queued jobs (``FOR UPDATE SKIP LOCKED``), fetches, computes and stores.

Status moves queued → fetching → computing → done (or failed), each step committed so a client
polling the run sees it. Several workers (replicas) never take the same job.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit import metrics
from hotline.kit.db import Database
from hotline.kit.services import ServiceClients
from hotline.kit.settings import get_settings
from services.scoring import experts, sources
from services.scoring.inputs import evaluate, needed_measures
from services.scoring.models import EvaluationRun, RunJob, RunRevision, UnitResult
from services.scoring.periods import Period, earlier_periods
from services.scoring.scheme import parse_scheme
from services.scoring.store import store_revision

RUN_DURATION = metrics.histogram(
    "scoring_run_duration_seconds",
    "Wall time of an evaluation run's job, from claim to stored revision, by outcome",
    ["outcome"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
RUNS_QUEUED = metrics.gauge("scoring_runs_queued", "Evaluation-run jobs waiting for a worker")

logger = logging.getLogger("hotline.scoring.worker")


def stale_after() -> timedelta:
    """A job still "running" this long after it started lost its worker (a crash, a killed pod): take it
    again. ``HOTLINE_SCORING_JOB_STALE_SECONDS`` (default 30 minutes)."""
    return timedelta(seconds=get_settings().scoring_job_stale_seconds)


async def claim_job(database: Database, stale: timedelta | None = None) -> tuple[int, uuid.UUID] | None:
    """Take the oldest queued (or stale running) job, mark it running and commit; None when there is none."""
    limit = stale if stale is not None else stale_after()
    async with database.unit_of_work() as session:
        stale_running = and_(RunJob.status == "running", RunJob.started_at < datetime.now(UTC) - limit)
        job = await session.scalar(
            select(RunJob)
            .where(or_(RunJob.status == "queued", stale_running))
            .order_by(RunJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if job is None:
            return None
        job.status, job.started_at = "running", datetime.now(UTC)
        await _set_status(session, job.run_id, "fetching", 10)
        return job.id, job.run_id


async def _set_status(session: AsyncSession, run_id, status: str, progress: int, error: str | None = None) -> None:
    values = {"status": status, "progress": progress, "error": error}
    if status in ("done", "failed"):
        values["finished_at"] = datetime.now(UTC)
    await session.execute(update(EvaluationRun).where(EvaluationRun.id == run_id).values(**values))


async def process_next(database: Database, services: ServiceClients) -> bool:
    """Run one queued job to its end; False when there was none."""
    claimed = await claim_job(database)
    if claimed is None:
        return False
    job_id, run_id = claimed
    started = time.perf_counter()
    try:
        async with database.session() as session:
            run = await session.get(EvaluationRun, run_id)
            job = await session.get(RunJob, job_id)
            inputs = await gather_inputs(session, services, run)
        async with database.unit_of_work() as session:
            await _set_status(session, run_id, "computing", 60)
        fetched = time.perf_counter()
        outcome, sha = await asyncio.to_thread(evaluate, run.scheme_document, inputs)
        computed = time.perf_counter()
        async with database.unit_of_work() as session:
            run = await session.get(EvaluationRun, run_id, with_for_update=True)  # expert sheets wait (experts.py)
            await store_revision(
                session, run, revision=run.current_revision + 1, inputs=inputs, outcome=outcome, sha256=sha,
                reason=job.reason, created_by=job.requested_by,
            )  # fmt: skip
            await _set_status(session, run_id, "done", 100)
            await session.execute(
                update(RunJob).where(RunJob.id == job_id).values(status="done", finished_at=datetime.now(UTC))
            )
            await experts.follow_up_if_scores_changed(session, run, inputs["expert_entries"], job.requested_by)
        RUN_DURATION.labels(outcome="done").observe(time.perf_counter() - started)
        logger.info(
            "run %s: %d units fetched in %.2f s, computed in %.2f s, stored in %.2f s",
            run_id, len(inputs["units"]), fetched - started, computed - fetched, time.perf_counter() - computed,
        )  # fmt: skip
    except Exception as exc:
        RUN_DURATION.labels(outcome="failed").observe(time.perf_counter() - started)
        logger.exception("run %s failed", run_id)
        async with database.unit_of_work() as session:
            await _set_status(session, run_id, "failed", 100, error=f"{type(exc).__name__}: {exc}"[:2000])
            await session.execute(
                update(RunJob)
                .where(RunJob.id == job_id)
                .values(status="failed", error=str(exc)[:2000], finished_at=datetime.now(UTC))
            )
    return True


async def drain(database: Database, services: ServiceClients) -> int:
    """Process jobs until the queue is empty (tests, the benchmark); returns how many ran."""
    count = 0
    while await process_next(database, services):
        count += 1
    return count


async def queued_jobs(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(RunJob).where(RunJob.status == "queued")))


async def worker_loop(database: Database, services: ServiceClients, *, poll_seconds: float = 1.0) -> None:
    """The background task of the app's lifespan."""
    while True:
        try:
            RUNS_QUEUED.set(await queued_jobs(database))
            if not await process_next(database, services):
                await asyncio.sleep(poll_seconds)
        except asyncio.CancelledError:
            raise
        except Exception:  # a failing poll must not kill the worker
            logger.exception("run worker poll failed")
            await asyncio.sleep(poll_seconds)


async def gather_inputs(session: AsyncSession, services: ServiceClients, run: EvaluationRun) -> dict:
    """Everything the engine needs, fetched once and stored with the revision."""
    scheme = parse_scheme(run.scheme_document)
    period = Period(run.period_kind, run.period_from, run.period_to)
    units, measures = list(run.cohort_units), needed_measures(run.scheme_document)
    acting = run.organizer_id
    total = await sources.query_measures(
        services, units, measures, period.start, period.end, by="total", acting_for=acting
    )
    inputs: dict = {
        "period": {"kind": period.kind, "from": period.start.isoformat(), "to": period.end.isoformat(),
                   "label": period.label, "months": list(period.month_numbers)},
        "units": units,
        "measures": sources.totals_by_unit(total),
        "missing_units": sorted(total.get("missing", [])),
        "days_with_data": total.get("days_with_data", {}),
    }  # fmt: skip
    # Coverage (contracts §4): what no source covered is absent, not zero. Stored only when ingest answers
    # it, so a revision's inputs say whether it was applied (and the revision reproduces either way).
    uncovered = sources.uncovered_by_period(total)
    if uncovered is not None:
        inputs["uncovered"] = uncovered.get("total", {})
    if scheme.kind == "special":
        monthly = await sources.query_measures(
            services, units, measures, period.start, period.end, by="month", acting_for=acting
        )
        inputs["monthly"] = sources.by_period(monthly)
        monthly_uncovered = sources.uncovered_by_period(monthly)
        if monthly_uncovered is not None:
            inputs["monthly_uncovered"] = monthly_uncovered
    inputs["history"] = await _history(services, scheme, period, units, measures, acting)
    inputs["expert_entries"] = await experts.stored_entries(session, run.id)
    inputs["previous"] = await _previous(session, run)
    if run.current_revision:  # a recomputation keeps the appeal adjustments already applied
        keys = ("exclusions", "value_overrides", "expert_overrides", "adjustments")
        # Only these parts of the current revision's inputs (not its measures: megabytes for a province).
        kept = (
            await session.execute(
                select(*(RunRevision.inputs[key] for key in keys)).where(
                    RunRevision.run_id == run.id, RunRevision.revision == run.current_revision
                )
            )
        ).first()
        for key, value in zip(keys, kept or (), strict=False):
            if value is not None:
                inputs[key] = value
    return inputs


async def _history(services, scheme, period: Period, units, measures, acting) -> list[dict]:
    baselines = [i for i in scheme.items if i.reference.policy == "dynamic_baseline"]
    if not baselines or period.kind == "custom":
        return []
    lookback = max(i.reference.lookback_periods for i in baselines)
    same_month = any(i.reference.match == "same_month" for i in baselines)
    periods_per_year = max(1, 12 // period.month_count)
    count = lookback * periods_per_year if same_month else min(max(lookback, periods_per_year), 2 * periods_per_year)
    earlier = earlier_periods(period, count)
    answer = await sources.query_measures(
        services, units, measures, earlier[-1].start, earlier[0].end, by="month", acting_for=acting
    )
    months = sources.by_period(answer)
    uncovered = sources.uncovered_by_period(answer)
    history = []
    for p in earlier:
        summed: dict[str, dict[str, float]] = {}
        labels = [f"{y:04d}-{m:02d}" for y, m in p.months]
        for label in labels:
            for unit, values in months.get(label, {}).items():
                target = summed.setdefault(unit, {})
                for code, value in values.items():
                    target[code] = target.get(code, 0.0) + value
        entry = {"label": p.label, "months": list(p.month_numbers), "measures": summed}
        if uncovered is not None:
            entry["uncovered"] = _uncovered_throughout(uncovered, labels, units)
        history.append(entry)
    return history


def _uncovered_throughout(uncovered: dict, labels: list[str], units) -> dict[str, list[str]]:
    """Unit → the measures uncovered in every month of a period: a unit covered in one of its months is covered
    over the period (contracts §4: a batch whose days overlap the range)."""
    found = {}
    for unit in units:
        gaps = [set(uncovered.get(label, {}).get(unit, ())) for label in labels]
        common = set.intersection(*gaps) if gaps else set()
        if common:
            found[unit] = sorted(common)
    return found


async def _previous(session: AsyncSession, run: EvaluationRun) -> dict:
    """Totals and ranks of the previous period's run of the same scheme (for the change)."""
    previous = await session.scalar(
        select(EvaluationRun)
        .where(
            EvaluationRun.scheme_id == run.scheme_id,
            EvaluationRun.period_kind == run.period_kind,
            EvaluationRun.period_to < run.period_from,
            EvaluationRun.current_revision > 0,
        )
        .order_by(EvaluationRun.period_to.desc(), EvaluationRun.id)
        .limit(1)
    )
    if previous is None:
        return {}
    rows = await session.execute(
        select(UnitResult.unit_id, UnitResult.total, UnitResult.rank)
        .where(UnitResult.run_id == previous.id)
        .order_by(UnitResult.unit_id)
    )
    return {u: {"run_id": str(previous.id), "total": t, "rank": r} for u, t, r in rows}


async def alert_sweep_loop(database: Database, services: ServiceClients, directory, every_seconds: float) -> None:
    """The second background task: the alert rules over the whole tree, every ``every_seconds``."""
    from services.scoring.alert_service import sweep

    await asyncio.sleep(min(every_seconds, 60.0))  # let the other services finish starting first
    while True:
        try:
            stored = await sweep(database, services, directory, today=datetime.now(UTC).date())
            logger.info("alert sweep: %s", stored)
        except asyncio.CancelledError:
            raise
        except Exception:  # an unreachable ingest must not kill the sweep; the next one tries again
            logger.exception("alert sweep failed")
        await asyncio.sleep(every_seconds)
