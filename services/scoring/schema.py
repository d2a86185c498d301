"""The scoring subgraph: runs, results, expert scores, publication, incremental pull, alerts, weights."""

from __future__ import annotations

import datetime as dt
import enum

import strawberry
from strawberry.scalars import JSON

from hotline.kit.auth import Role
from hotline.kit.graphql import RequestContext, federation_schema
from hotline.kit.pagination import check_page_size, decode_cursor, encode_cursor
from services.scoring import alert_service, repository, runs, suggestions, weights
from services.scoring.entities import EvaluationRun, SchemeVersion, Unit, UnitResult
from services.scoring.models import EvaluationRun as RunRow
from services.scoring.rollups import rollup
from services.scoring.types import CursorArg, PageSizeArg, ResultRollup, RunIdArg, described

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
    scheme_id: str = strawberry.field(description="The scheme (uuid).")
    scheme_version: int = strawberry.field(description="A published version of it.")
    period_kind: PeriodKind = strawberry.field(description="Month, quarter, year or custom.")
    period: str | None = strawberry.field(default=None, description="`2025-03`, `2025-Q1` or `2025` (not for custom).")
    start_date: dt.date | None = strawberry.field(default=None, description="Custom periods: first day.")
    end_date: dt.date | None = strawberry.field(default=None, description="Custom periods: last day.")


@strawberry.type(description="Outcome of a command on a run: the run, or the problems that refused it.")
class RunPayload:
    run: EvaluationRun | None = strawberry.field(description="The run (null when refused before one existed).")
    existing: bool = strawberry.field(description="True when the same run already existed and nothing new was started.")
    problems: list[str] = strawberry.field(description="Why the command was refused; empty on success.")


@strawberry.type(description="Outcome of an expert score entry.")
class ExpertScorePayload:
    accepted: bool = strawberry.field(description="True when the score was stored.")
    problems: list[str] = strawberry.field(description="Why it was refused.")


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
    problems: list[str] = strawberry.field(description="Why no weights were suggested.")


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
    problems: list[str] = strawberry.field(description="Why it was refused.")


async def _organizer_run(info: Info, run_id: strawberry.ID) -> RunRow | None:
    return await runs.organizer_run(info.context.session, await info.context.scope(), str(run_id))


def _payload(run: RunRow | None, problems: list[str], existing: bool = False) -> RunPayload:
    return RunPayload(
        run=EvaluationRun.from_row(run) if run is not None else None, existing=existing, problems=problems
    )


@strawberry.type(description="Queries of the scoring service.")
class Query:
    @strawberry.field(description="A run by id; null if unknown or not visible to the caller.")
    async def run(self, info: Info, id: RunIdArg) -> EvaluationRun | None:
        return await EvaluationRun.resolve_reference(info, id)

    @strawberry.field(description="Runs visible to the caller, newest period first.")
    async def runs(self, info: Info, first: PageSizeArg = 50) -> list[EvaluationRun]:
        check_page_size(first)
        query = (
            repository.visible_runs(await info.context.scope())
            .order_by(RunRow.period_from.desc(), RunRow.id)
            .limit(first)
        )
        return [EvaluationRun.from_row(r) for r in await info.context.session.scalars(query)]

    @strawberry.field(description="A result by id; null if unknown or not visible to the caller.")
    async def unit_result(self, info: Info, id: described(strawberry.ID, "Id of the result.")) -> UnitResult | None:
        return await UnitResult.resolve_reference(info, id)

    @strawberry.field(
        description="Incremental pull for provincial platforms: published results changed after the cursor (publication, revision, finalisation), oldest change first."
    )
    async def result_changes(self, info: Info, after: CursorArg = None, first: PageSizeArg = 100) -> ResultChanges:
        check_page_size(first)
        since = int(decode_cursor(after)) if after else 0
        rows = await repository.changes_since(info.context.session, await info.context.scope(), since, first + 1)
        page = rows[:first]
        cursor = encode_cursor(str(page[-1][0].change_seq)) if page else (after or encode_cursor("0"))
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
                method=method, indicators=[], weights=[], consistency_ratio=None, problems=["run not found"]
            )
        codes, w, problems = await suggestions.from_run(info.context.session, run, method)
        return WeightSuggestion(method=method, indicators=codes, weights=w, consistency_ratio=None, problems=problems)

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
        try:
            result = weights.ahp_weights(judgements)
        except weights.WeightError as exc:
            return WeightSuggestion(
                method="ahp", indicators=indicators, weights=[], consistency_ratio=None, problems=[str(exc)]
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
        outcome = await runs.start_run(
            ctx.session, ctx.services, ctx.principal, await ctx.scope(), scheme_id=input.scheme_id,
            version=input.scheme_version, period_kind=input.period_kind.value, period_value=input.period,
            period_start=input.start_date, period_end=input.end_date,
        )  # fmt: skip
        return _payload(outcome.run, outcome.problems, outcome.existing)

    @strawberry.mutation(description="Publish a finished run to its cohort; the appeal window opens.")
    async def publish_run(self, info: Info, run_id: RunIdArg) -> RunPayload:
        run = await _organizer_run(info, run_id)
        if run is None:
            return _payload(None, ["run not found"])
        return _payload(run, await runs.publish(info.context.session, info.context.principal, run))

    @strawberry.mutation(
        description="Recompute a run with fresh data and the current expert scores: a new revision (queued)."
    )
    async def recompute_run(
        self, info: Info, run_id: RunIdArg, reason: described(str, "Why (recorded with the revision).")
    ) -> RunPayload:
        run = await _organizer_run(info, run_id)
        if run is None:
            return _payload(None, ["run not found"])
        return _payload(run, await runs.queue_recompute(info.context.session, info.context.principal, run, reason))

    @strawberry.mutation(
        description="An expert (role expert) scores a unit's expert-scored indicator, with a written justification."
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
        run = (
            await ctx.session.scalar(repository.visible_runs(scope).where(RunRow.id == repository._uuid(str(run_id))))
            if repository._uuid(str(run_id))
            else None
        )
        if run is None:
            return ExpertScorePayload(accepted=False, problems=["run not found"])
        problems = await runs.enter_expert_score(
            ctx.session,
            ctx.principal,
            scope,
            run,
            unit_id=unit_id,
            indicator=indicator,
            score=score,
            justification=justification,
        )
        return ExpertScorePayload(accepted=not problems, problems=problems)

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
            return AlertPayload(alerts=[], problems=["checking alerts needs the role organizer or admin"])
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
        return AlertPayload(alerts=[Alert.from_row(r) for r in rows], problems=problems)

    @strawberry.mutation(description="Acknowledge an alert addressed to a unit in the caller's scope.")
    async def acknowledge_alert(
        self,
        info: Info,
        id: described(strawberry.ID, "Id of the alert."),
        note: described(str, "What was done about it.") = "",
    ) -> AlertPayload:
        ctx = info.context
        row = await alert_service.acknowledge(ctx.session, ctx.principal, await ctx.scope(), str(id), note)
        return AlertPayload(alerts=[Alert.from_row(row)] if row else [], problems=[] if row else ["alert not found"])


schema = federation_schema(query=Query, mutation=Mutation, types=[UnitResult, EvaluationRun, Unit, SchemeVersion])
