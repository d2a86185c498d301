"""Live updates of the scoring subgraph: a run's progress, and results as they are published.

Migration ``scoring_0005`` makes every change of a run announce itself on the channel ``hotline_scoring``
(``{"run": id, "results": null | "published" | "revised" | "final"}``). A subscription only wakes on it: it reads
the run and its results again with the queries' own scoped SQL (``repository.runs_by_ids``, the ``run(id)``
look-up; ``repository.results_of_run``, ``EvaluationRun.results``), in a session of its own for each event — so a
caller receives exactly what it could query at that moment, and a run it may not see never produces an event.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator

import strawberry
from sqlalchemy import func, select

from hotline.kit.graphql import RequestContext
from hotline.kit.live import event_session, listening
from services.scoring import repository
from services.scoring.entities import EvaluationRun, UnitResult
from services.scoring.models import EvaluationRun as RunRow
from services.scoring.models import UnitResult as ResultRow
from services.scoring.types import RunIdArg

CHANNEL = "hotline_scoring"
TERMINAL = frozenset({"done", "failed"})
# A published run's results in one event; a cohort is a few hundred units at most (a province's agents).
MAX_RESULTS = 10_000

Info = strawberry.Info[RequestContext, None]


@strawberry.enum(description="What made a run's published results new.")
class PublishedResultsChange(enum.Enum):
    PUBLISHED = strawberry.enum_value("published", description="The organizer published the run (发布).")
    REVISED = strawberry.enum_value(
        "revised", description="A new revision of a published run (an appeal's decision, a recomputation)."
    )
    FINAL = strawberry.enum_value("final", description="The results became final (appeal window closed, all decided).")


@strawberry.type(description="New published results of a run, as far as the caller may see them.")
class PublishedResults:
    run: EvaluationRun = strawberry.field(description="The run, as it stands now.")
    change: PublishedResultsChange = strawberry.field(description="Publication, a new revision, or finality.")
    results: list[UnitResult] = strawberry.field(
        description="The run's results the caller may see (as `EvaluationRun.results` answers), by unit id."
    )


@strawberry.type(
    description="Subscriptions of the scoring service (server-sent events or graphql-ws through the gateway). "
    "Each event is read with the same scope as the queries; a subscription ends with `UNAUTHENTICATED` when the "
    "caller's token expires."
)
class Subscription:
    @strawberry.subscription(
        description="A run's status, progress, error and revision as they change, until the computation ends: the "
        "first event is the run as it stands, the last one `done` or `failed` (then the subscription completes; "
        "subscribed to a finished run, the one event is that). A recomputation queued later is followed by "
        "subscribing again. Null, once, if the run is unknown or not visible to the caller (as `run(id)`), or "
        "stops being visible."
    )
    async def run_progress(self, info: Info, run_id: RunIdArg) -> AsyncGenerator[EvaluationRun | None, None]:
        ctx = info.context
        key = repository._uuid(str(run_id))
        async with listening(ctx, lambda payload: payload.get("run") == str(key)) as listener:
            seen = None
            while True:
                async with event_session(ctx):
                    found = await repository.runs_by_ids(ctx.session, await ctx.scope(), [str(key)])
                    row = found.get(str(key))
                    if row is None:
                        yield None
                        return
                    state = (row.status, row.progress, row.error, row.current_revision)
                    if state != seen:
                        seen = state
                        yield EvaluationRun.from_row(row)
                    if row.status in TERMINAL:
                        return
                await listener.next()

    @strawberry.subscription(
        description="Results as they are published: an event each time a run the caller may see is published, "
        "revised while published, or made final, with the run's results the caller may see (a unit its own; the "
        "organizer's side the cohort in its subtree). Runs with no result visible to the caller send nothing. To "
        "catch up after a reconnection, read `resultChanges`."
    )
    async def results_published(self, info: Info) -> AsyncGenerator[PublishedResults, None]:
        ctx = info.context
        async with listening(ctx, lambda payload: bool(payload.get("results"))) as listener:
            async with event_session(ctx):
                since = await ctx.session.scalar(select(func.coalesce(func.max(ResultRow.change_seq), 0)))
            shown: dict[str, tuple[int, bool]] = {}  # run → (revision, final) last sent
            while True:
                batch = await listener.next()
                changed = {payload["run"]: payload["results"] for payload in batch.payloads}
                async with event_session(ctx):
                    scope = await ctx.scope()
                    if batch.resync:  # notifications may have been lost: whatever changed since we started
                        for run_id in await _changed_since(ctx, since):
                            changed.setdefault(run_id, None)
                    runs = await repository.runs_by_ids(ctx.session, scope, list(changed))
                    for run_id, announced in changed.items():
                        run = runs.get(run_id)
                        if run is None or run.published_at is None:
                            continue
                        state = (run.current_revision, run.final_at is not None)
                        if shown.get(run_id) == state:
                            continue
                        rows = await repository.results_of_run(
                            ctx.session, scope, run.id, after_unit=None, limit=MAX_RESULTS
                        )
                        if not rows:
                            continue
                        change = _change(announced, shown.get(run_id), state)
                        shown[run_id] = state
                        yield PublishedResults(
                            run=EvaluationRun.from_row(run),
                            change=change,
                            results=[UnitResult.from_rows(result, run_row) for result, run_row in rows],
                        )


def _change(announced: str | None, before: tuple[int, bool] | None, now: tuple[int, bool]) -> PublishedResultsChange:
    if announced is not None:
        return PublishedResultsChange(announced)
    # After a resync the notification is unknown: judge by what this subscription last sent.
    if now[1] and (before is None or not before[1]):
        return PublishedResultsChange.FINAL
    return PublishedResultsChange.PUBLISHED if before is None else PublishedResultsChange.REVISED


async def _changed_since(ctx: RequestContext, since: int) -> list[str]:
    """Runs whose published results changed after ``since`` (the incremental pull's sequence), oldest first."""
    rows = await ctx.session.execute(
        select(RunRow.id)
        .join(ResultRow, ResultRow.run_id == RunRow.id)
        .where(RunRow.published_at.isnot(None), ResultRow.change_seq > since)
        .group_by(RunRow.id)
        .order_by(func.min(ResultRow.change_seq))
    )
    return [str(run_id) for (run_id,) in rows]
