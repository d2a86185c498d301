"""The scoring subgraph: runs, results, expert scores, publication, incremental pull, alerts, weights."""

from __future__ import annotations

import datetime as dt
import enum

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.scalars import JSON

from hotline.domain.scheme_ref import SchemeRefError, parse_scheme_ref
from hotline.kit.auth import Role
from hotline.kit.graphql import RequestContext, federation_schema
from hotline.kit.pagination import CursorCodec, PageInfo, check_page_size
from hotline.kit.scope import scope_params
from services.scoring import alert_service, experts, repository, runs, suggestions, weights
from services.scoring.entities import EvaluationRun, SchemeVersion, Unit, UnitResult
from services.scoring.live import Subscription
from services.scoring.models import EvaluationRun as RunRow
from services.scoring.problems import Problem
from services.scoring.rollups import rollup
from services.scoring.types import CursorArg, PageSizeArg, ResultRollup, RunIdArg, ScoringProblem, described

Info = strawberry.Info[RequestContext, None]


@strawberry.enum(description="Kind of evaluation period.")
class PeriodKind(enum.Enum):
    MONTH = strawberry.enum_value("month", description="A calendar month (月度), e.g. 2025-03.")
    QUARTER = strawberry.enum_value("quarter", description="A calendar quarter (季度), e.g. 2025-Q1.")
    YEAR = strawberry.enum_value("year", description="A calendar year (年度).")
    CUSTOM = strawberry.enum_value(
        "custom", description="A custom date range, at least as long as the scheme's minimum period."
    )


@strawberry.input(description="Start a run of a published scheme version for a period.")
class StartRunInput:
    scheme_id: str = strawberry.field(
        description="The scheme: its id (uuid), or the `id` of one of its versions, `<uuid>:<version>` — then that "
        "version is run unless `schemeVersion` is given, which must then be the same."
    )
    scheme_version: int | None = strawberry.field(
        default=None, description="A published version of it; may be left out when `schemeId` names the version."
    )
    period_kind: PeriodKind = strawberry.field(description="Month, quarter, year or custom.")
    period: str | None = strawberry.field(default=None, description="`2025-03`, `2025-Q1` or `2025` (not for custom).")
    start_date: dt.date | None = strawberry.field(default=None, description="Custom periods: first day.")
    end_date: dt.date | None = strawberry.field(default=None, description="Custom periods: last day.")


@strawberry.type(description="Outcome of a command on a run: the run, or the problems that refused it.")
class RunPayload:
    run: EvaluationRun | None = strawberry.field(description="The run (null when refused before one existed).")
    existing: bool = strawberry.field(description="True when the same run already existed and nothing new was started.")
    problems: list[ScoringProblem] = strawberry.field(
        description="Every reason the command was refused; empty on success."
    )


@strawberry.type(description="Outcome of an expert score entry.")
class ExpertScorePayload:
    accepted: bool = strawberry.field(description="True when the score was stored.")
    problems: list[ScoringProblem] = strawberry.field(description="Every reason it was refused; empty on success.")


@strawberry.type(description="One run in a connection, with its cursor.")
class EvaluationRunEdge:
    cursor: str = strawberry.field(description="Opaque cursor; pass as `after` to continue after this run.")
    node: EvaluationRun = strawberry.field(description="The run.")


@strawberry.type(description="A page of evaluation runs, newest period first (then by id).")
class EvaluationRunConnection:
    edges: list[EvaluationRunEdge] = strawberry.field(description="The runs of this page.")
    page_info: PageInfo = strawberry.field(description="Whether there is a next page, and its cursor.")
    total_count: int = strawberry.field(description="Number of runs visible to the caller over all pages.")


# A connection costs its page size in the gateway's demand control (as `units` and `appeals`).
PAGE_COST = ListSize(slicing_arguments=["first"], sized_fields=["edges"], require_one_slicing_argument=False)


RUNS_CURSOR = CursorCodec("runs", CursorCodec.DATE, CursorCodec.UUID)


def _legacy_change(text: str) -> tuple[int]:
    """A `resultChanges` cursor written before the codec (base64url of the change number): provincial platforms
    keep it between pulls, so it stays valid."""
    if not (text.isascii() and text.isdigit() and len(text) < 19):
        raise ValueError("not a change number")
    return (int(text),)


CHANGES_CURSOR = CursorCodec("resultChanges", CursorCodec.COUNT, legacy=_legacy_change)


def _run_cursor(run: RunRow) -> str:
    return RUNS_CURSOR.encode(run.period_from, run.id)


@strawberry.input(description="One score of an expert's sheet (专家评分表).")
class ExpertScoreInput:
    unit_id: str = strawberry.field(description="The unit scored: a unit of the run's cohort in the expert's subtree.")
    indicator: str = strawberry.field(description="An expert-scored indicator (rule `expert`) of the run's scheme.")
    score: float = strawberry.field(description="The score, from 0 to the indicator's points.")
    justification: str = strawberry.field(description="Why this score (required, 评分理由).")


@strawberry.type(description="Outcome of an expert's sheet: every score stored, or none with every problem.")
class ExpertScoresPayload:
    accepted: int = strawberry.field(description="How many scores were stored (all of the sheet, or 0 when refused).")
    revision_queued: bool = strawberry.field(
        description="True when the sheet queued a recomputation; false when refused, or when one already waiting "
        "or running takes the sheet in (a running one is followed by another that does)."
    )
    run: EvaluationRun | None = strawberry.field(description="The run (null when it was not found).")
    problems: list[ScoringProblem] = strawberry.field(
        description="Every reason the sheet was refused (an entry's at `scores[i].<field>`); empty on success."
    )


@strawberry.type(description="A page of changed results for a provincial platform's incremental pull.")
class ResultChanges:
    results: list[UnitResult] = strawberry.field(description="Results changed after the cursor, in change order.")
    cursor: str = strawberry.field(description="Pass it as `after` next time (unchanged when nothing new).")
    has_more: bool = strawberry.field(description="Whether another page is waiting now.")


@strawberry.type(description="Suggested weights for a scheme's indicators, or why none could be given.")
class WeightSuggestion:
    method: str = strawberry.field(description="`entropy`, `critic`, `pca` or `ahp`.")
    indicators: list[str] = strawberry.field(description="Indicator codes, in the order of the weights.")
    weights: list[float] = strawberry.field(description="Weights adding up to 1 (empty when refused).")
    consistency_ratio: float | None = strawberry.field(description="AHP: the consistency ratio (refused above 0.1).")
    problems: list[ScoringProblem] = strawberry.field(description="Why no weights were suggested; empty otherwise.")


@strawberry.type(description="An alert (预警) raised by a rule over daily measures, addressed to the unit's parent.")
class Alert:
    id: strawberry.ID = strawberry.field(description="Alert id.")
    rule: str = strawberry.field(description="Rule code, e.g. `satisfaction_below_peers`.")
    unit_id: str = strawberry.field(description="The unit (or agent) concerned.")
    notify_unit_id: str = strawberry.field(description="The parent unit it is addressed to.")
    first_day: dt.date = strawberry.field(description="First day of the streak.")
    last_day: dt.date = strawberry.field(description="Last day of the streak.")
    detail: JSON = strawberry.field(description="Per day: the unit's rate, the peers' average and the gap.")
    raised_at: dt.datetime = strawberry.field(description="When it was raised.")
    acknowledged_at: dt.datetime | None = strawberry.field(description="When it was acknowledged.")
    acknowledged_by: str | None = strawberry.field(description="Who acknowledged it.")
    acknowledgement_note: str | None = strawberry.field(description="The note left when acknowledging.")

    @classmethod
    def from_row(cls, r) -> Alert:
        return cls(
            id=strawberry.ID(str(r.id)), rule=r.rule, unit_id=r.unit_id, notify_unit_id=r.notify_unit_id,
            first_day=r.first_day, last_day=r.last_day, detail=r.detail, raised_at=r.raised_at,
            acknowledged_at=r.acknowledged_at, acknowledged_by=r.acknowledged_by, acknowledgement_note=r.acknowledgement_note,
        )  # fmt: skip


@strawberry.type(description="Outcome of an alert check or acknowledgement.")
class AlertPayload:
    alerts: list[Alert] = strawberry.field(description="The alerts raised or acknowledged.")
    problems: list[ScoringProblem] = strawberry.field(description="Every reason it was refused; empty on success.")


async def _organizer_run(info: Info, run_id: strawberry.ID) -> RunRow | None:
    return await runs.organizer_run(info.context.session, await info.context.scope(), str(run_id))


async def _visible_run(info: Info, run_id: strawberry.ID) -> RunRow | None:
    """A run the caller may see (an expert of the organizer's subtree, or of a unit with a published result)."""
    key = repository._uuid(str(run_id))
    if key is None:
        return None
    scope = await info.context.scope()
    run = await info.context.session.scalar(repository.visible_runs().where(RunRow.id == key), scope_params(scope))
    if run is not None:
        await repository.complete_runs(info.context.session, [run])
    return run


def _problems(problems: list[Problem]) -> list[ScoringProblem]:
    return [ScoringProblem.of(p) for p in problems]


def _payload(run: RunRow | None, problems: list[Problem], existing: bool = False) -> RunPayload:
    return RunPayload(
        run=EvaluationRun.from_row(run) if run is not None else None, existing=existing, problems=_problems(problems)
    )


RUN_NOT_FOUND = Problem("runId", "not_found", "run not found")


@strawberry.type(description="Queries of the scoring service.")
class Query:
    @strawberry.field(description="A run by id; null if unknown or not visible to the caller.")
    async def run(self, info: Info, id: RunIdArg) -> EvaluationRun | None:
        return await EvaluationRun.resolve_reference(info, id)

    @strawberry.field(
        description="Runs visible to the caller (its subtree organizes them, or published with a result of its "
        "subtree), newest period first and then by id, with cursor pagination."
        " Null only with a `BAD_REQUEST` error, when `first` or `after` is invalid (a sibling field keeps its data).",
        directives=[PAGE_COST],
    )
    async def runs(
        self, info: Info, first: PageSizeArg = 50, after: CursorArg = None
    ) -> EvaluationRunConnection | None:
        check_page_size(first)
        position = RUNS_CURSOR.decode(after) if after is not None else None
        session, scope = info.context.session, await info.context.scope()
        rows = await repository.list_runs(session, scope, after=position, limit=first + 1)
        edges = [EvaluationRunEdge(cursor=_run_cursor(r), node=EvaluationRun.from_row(r)) for r in rows[:first]]
        return EvaluationRunConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None),
            total_count=await repository.count_runs(session, scope),
        )

    @strawberry.field(description="A result by id; null if unknown or not visible to the caller.")
    async def unit_result(self, info: Info, id: described(strawberry.ID, "Id of the result.")) -> UnitResult | None:
        return await UnitResult.resolve_reference(info, id)

    @strawberry.field(
        description="Incremental pull for provincial platforms: published results changed after the cursor "
        "(publication, revision, finalisation), oldest change first."
        " Null only with a `BAD_REQUEST` error, when `first` or `after` is invalid (a sibling field keeps its data)."
    )
    async def result_changes(
        self, info: Info, after: CursorArg = None, first: PageSizeArg = 100
    ) -> ResultChanges | None:
        check_page_size(first)
        since = CHANGES_CURSOR.decode_one(after) if after is not None else 0
        rows = await repository.changes_since(info.context.session, await info.context.scope(), since, first + 1)
        page = rows[:first]
        cursor = CHANGES_CURSOR.encode(page[-1][0].change_seq if page else since)
        return ResultChanges(
            results=[UnitResult.from_rows(r, run) for r, run in page], cursor=cursor, has_more=len(rows) > first
        )

    @strawberry.field(description="A roll-up of a run's results under a parent unit in the caller's scope.")
    async def result_rollup(
        self, info: Info, run_id: RunIdArg, under: described(strawberry.ID, "The parent unit to roll up under.")
    ) -> ResultRollup | None:
        return await rollup(info, str(run_id), str(under))

    @strawberry.field(description="Alerts addressed to units in the caller's scope, newest first.")
    async def alerts(
        self,
        info: Info,
        unit_id: described(str | None, "Only alerts about this unit.") = None,
        rule: described(str | None, "Only alerts of this rule.") = None,
        acknowledged: described(bool | None, "Filter by acknowledgement.") = None,
        first: PageSizeArg = 100,
    ) -> list[Alert]:
        check_page_size(first)
        rows = await alert_service.list_alerts(
            info.context.session,
            await info.context.scope(),
            unit_id=unit_id,
            rule=rule,
            acknowledged=acknowledged,
            limit=first,
        )
        return [Alert.from_row(r) for r in rows]

    @strawberry.field(
        description="Weights suggested from a run's indicator values: `entropy`, `critic` or `pca` (principal "
        "components, seed 001) (organizer side)."
    )
    async def suggested_weights(
        self, info: Info, run_id: RunIdArg, method: described(str, "`entropy`, `critic` or `pca`.")
    ) -> WeightSuggestion:
        run = await _organizer_run(info, run_id)
        if run is None:
            return WeightSuggestion(
                method=method, indicators=[], weights=[], consistency_ratio=None, problems=_problems([RUN_NOT_FOUND])
            )
        codes, w, problems = await suggestions.from_run(info.context.session, run, method)
        return WeightSuggestion(
            method=method, indicators=codes, weights=w, consistency_ratio=None, problems=_problems(problems)
        )

    @strawberry.field(
        description="AHP weights from pairwise judgements (row i vs column j); refused when the consistency ratio exceeds 0.1."
    )
    def ahp_weights(
        self,
        indicators: described(list[str], "Indicator codes, in the order of the matrix rows."),
        judgements: described(
            list[list[float]], "Pairwise matrix: how much more important row i is than column j (1–9, reciprocal)."
        ),
    ) -> WeightSuggestion:
        problems = []
        if len(indicators) != len(judgements):
            message = f"{len(indicators)} indicator codes for a judgement matrix of {len(judgements)} rows"
            problems.append(Problem("indicators", "size_mismatch", message))
        try:
            result = weights.ahp_weights(judgements)
        except weights.WeightError as exc:
            problems.append(Problem("judgements", exc.code, str(exc)))
        if problems:
            return WeightSuggestion(
                method="ahp", indicators=indicators, weights=[], consistency_ratio=None, problems=_problems(problems)
            )
        return WeightSuggestion(
            method="ahp",
            indicators=indicators,
            weights=result.weights,
            consistency_ratio=result.consistency_ratio,
            problems=[],
        )


@strawberry.type(description="Mutations of the scoring service.")
class Mutation:
    @strawberry.mutation(
        description="Start a run (organizer or admin, inside their subtree). Starting the same run twice returns the existing one; the computation is queued."
    )
    async def start_run(self, info: Info, input: described(StartRunInput, "Scheme version and period.")) -> RunPayload:
        ctx = info.context
        try:
            ref = parse_scheme_ref(input.scheme_id, input.scheme_version, version_name="schemeVersion")
        except SchemeRefError as exc:
            return _payload(None, [Problem("input.schemeId", exc.code, exc.message)])
        if ref.version is None:
            message = "name the scheme version: `schemeVersion`, or `schemeId` as `<uuid>:<version>`"
            return _payload(None, [Problem("input.schemeVersion", "version_required", message)])
        outcome = await runs.start_run(
            ctx.session, ctx.services, ctx.principal, await ctx.scope(), scheme_id=ref.scheme_id,
            version=ref.version, period_kind=input.period_kind.value, period_value=input.period,
            period_start=input.start_date, period_end=input.end_date,
        )  # fmt: skip
        return _payload(outcome.run, outcome.problems, outcome.existing)

    @strawberry.mutation(description="Publish a finished run to its cohort; the appeal window opens.")
    async def publish_run(self, info: Info, run_id: RunIdArg) -> RunPayload:
        run = await _organizer_run(info, run_id)
        if run is None:
            return _payload(None, [RUN_NOT_FOUND])
        return _payload(run, await runs.publish(info.context.session, info.context.principal, run))

    @strawberry.mutation(
        description="Recompute a run with fresh data and the current expert scores: a new revision (queued)."
    )
    async def recompute_run(
        self, info: Info, run_id: RunIdArg, reason: described(str, "Why (recorded with the revision).")
    ) -> RunPayload:
        run = await _organizer_run(info, run_id)
        if run is None:
            return _payload(None, [RUN_NOT_FOUND])
        return _payload(run, await runs.queue_recompute(info.context.session, info.context.principal, run, reason))

    @strawberry.mutation(
        description="An expert (role expert) scores a unit's expert-scored indicator, with a written justification. "
        "The score waits for the run's next revision (`recomputeRun`, or an `enterExpertScores` sheet); enter a "
        "whole sheet with `enterExpertScores` to have it applied at once."
    )
    async def enter_expert_score(
        self,
        info: Info,
        run_id: RunIdArg,
        unit_id: described(str, "The unit scored."),
        indicator: described(str, "An expert-scored indicator of the run's scheme."),
        score: described(float, "The score, from 0 to the indicator's points."),
        justification: described(str, "Why this score (required, 评分理由)."),
    ) -> ExpertScorePayload:
        ctx = info.context
        scope = await ctx.scope()
        run = await _visible_run(info, run_id)
        if run is None:
            return ExpertScorePayload(accepted=False, problems=_problems([RUN_NOT_FOUND]))
        problems = await experts.enter_expert_score(
            ctx.session,
            ctx.principal,
            scope,
            run,
            unit_id=unit_id,
            indicator=indicator,
            score=score,
            justification=justification,
        )
        return ExpertScorePayload(accepted=not problems, problems=_problems(problems))

    @strawberry.mutation(
        description="An expert (role expert) enters a sheet of scores (专家评分表): units of the run's cohort in "
        "their subtree, expert-scored indicators, each with a written justification. All are stored or none; "
        "entering a unit's indicator again replaces the expert's earlier score. One recomputation follows per "
        "sheet — a new revision in which the scored items are no longer awaiting expert scores (not for final "
        f"results). At most {experts.MAX_SCORES_PER_SHEET} scores a sheet."
    )
    async def enter_expert_scores(
        self,
        info: Info,
        run_id: RunIdArg,
        scores: described(list[ExpertScoreInput], "The sheet: one score per unit and indicator."),
    ) -> ExpertScoresPayload:
        ctx = info.context
        scope = await ctx.scope()
        run = await _visible_run(info, run_id)
        if run is None:
            return ExpertScoresPayload(accepted=0, revision_queued=False, run=None, problems=_problems([RUN_NOT_FOUND]))
        entries = [experts.ExpertScoreInput(s.unit_id, s.indicator, s.score, s.justification) for s in scores]
        problems, queued = await experts.enter_expert_scores(ctx.session, ctx.principal, scope, run, entries)
        return ExpertScoresPayload(
            accepted=0 if problems else len(entries), revision_queued=queued, run=EvaluationRun.from_row(run),
            problems=_problems(problems),
        )  # fmt: skip

    @strawberry.mutation(
        description="Check an alert rule over the daily measures of the units under `under` for a date range; new alerts are stored (organizer or admin)."
    )
    async def check_alerts(
        self,
        info: Info,
        under: described(str, "Check the units below this one (peers are units with the same parent)."),
        start_date: described(dt.date, "First day."),
        end_date: described(dt.date, "Last day (at most 92 days after the first)."),
        rule: described(str, "Rule code.") = "satisfaction_below_peers",
        kind: described(str | None, "Only units of this kind, e.g. `agent` or `undertaking_unit`.") = None,
    ) -> AlertPayload:
        ctx = info.context
        if not ctx.principal.has_any(Role.ORGANIZER, Role.ADMIN):
            forbidden = Problem("", "forbidden", "checking alerts needs the role organizer or admin")
            return AlertPayload(alerts=[], problems=_problems([forbidden]))
        rows, problems = await alert_service.check(
            ctx.session,
            ctx.services,
            ctx.principal,
            await ctx.scope(),
            under=under,
            start=start_date,
            end=end_date,
            rule_code=rule,
            kind=kind,
        )
        return AlertPayload(alerts=[Alert.from_row(r) for r in rows], problems=_problems(problems))

    @strawberry.mutation(description="Acknowledge an alert addressed to a unit in the caller's scope.")
    async def acknowledge_alert(
        self,
        info: Info,
        id: described(strawberry.ID, "Id of the alert."),
        note: described(str, "What was done about it.") = "",
    ) -> AlertPayload:
        ctx = info.context
        row = await alert_service.acknowledge(ctx.session, ctx.principal, await ctx.scope(), str(id), note)
        if row is None:
            return AlertPayload(alerts=[], problems=_problems([Problem("id", "not_found", "alert not found")]))
        return AlertPayload(alerts=[Alert.from_row(row)], problems=[])


schema = federation_schema(
    query=Query, mutation=Mutation, subscription=Subscription, types=[UnitResult, EvaluationRun, Unit, SchemeVersion]
)
