"""The organizer statistics as GraphQL types, and the scoped query behind them (``analytics`` computes)."""

from __future__ import annotations

import strawberry
from sqlalchemy import select

from services.appeals import analytics, repository
from services.appeals.graphql_types import Info
from services.appeals.models import Appeal as AppealRow
from services.appeals.models import AppealDecision


@strawberry.type(name="AppealCount", description="A count under a key.")
class Count:
    key: str = strawberry.field(description="Status, indicator, reason category or unit id.")
    count: int = strawberry.field(description="Number of appeals.")


@strawberry.type(
    name="AppealOverturnRate", description="How often decisions overturned (upheld at least in part) a disputed score."
)
class OverturnRate:
    key: str = strawberry.field(description="Indicator code or reviewer.")
    decided: int = strawberry.field(description="Decisions counted.")
    overturned: int = strawberry.field(description="Of which upheld (fully or for this indicator).")
    rate: float | None = strawberry.field(description="overturned / decided; null when nothing was decided.")


@strawberry.type(description="Appeal statistics of the runs the caller organizes (申诉统计).")
class AppealStatistics:
    total: int = strawberry.field(description="Appeals counted.")
    by_status: list[Count] = strawberry.field(description="Appeals per status.")
    by_indicator: list[Count] = strawberry.field(description="Appeals disputing each indicator.")
    by_reason: list[Count] = strawberry.field(description="Appeals per reason category.")
    by_unit: list[Count] = strawberry.field(description="Appeals per appellant unit.")
    overturn_by_indicator: list[OverturnRate] = strawberry.field(
        description="Final decisions upholding each indicator."
    )
    overturn_by_reviewer: list[OverturnRate] = strawberry.field(description="Each reviewer's decisions upholding.")
    reversed_on_escalation_by_reviewer: list[OverturnRate] = strawberry.field(
        description="Per reviewer: first decisions that were escalated (`decided`) and of those, how many the "
        "parent unit reversed by upholding more (`overturned`)."
    )
    decided: int = strawberry.field(description="Appeals with a decision.")
    mean_hours_to_decision: float | None = strawberry.field(description="Mean hours from submission to decision.")
    median_hours_to_decision: float | None = strawberry.field(description="Median hours from submission to decision.")
    decided_late: int = strawberry.field(description="Appeals with a decision made after it was due.")
    late_appeal_ids: list[strawberry.ID] = strawberry.field(description="Those appeals.")


def _counts(d: dict[str, int]) -> list[Count]:
    return [Count(key=k, count=v) for k, v in d.items()]


def _rates(rates: list[analytics.Rate]) -> list[OverturnRate]:
    return [OverturnRate(key=r.key, decided=r.decided, overturned=r.overturned, rate=r.rate) for r in rates]


async def statistics_for(info: Info, run_id: strawberry.ID | None) -> AppealStatistics:
    """Appeals on runs organized inside the caller's subtree (or escalated into it), optionally one run."""
    session, scope = info.context.session, await info.context.scope()
    query = select(AppealRow).where(repository.organized_by(scope))
    if run_id:
        query = query.where(AppealRow.run_id == str(run_id))
    appeals = list(await session.scalars(query))
    decisions = await session.scalars(
        select(AppealDecision).where(AppealDecision.appeal_id.in_([a.id for a in appeals]))
    )
    s = analytics.compute(
        [
            analytics.AppealRow(str(a.id), a.unit_id, a.status, a.reason_category, a.indicators, a.submitted_at)
            for a in appeals
        ],
        [
            analytics.DecisionRow(
                str(d.appeal_id), d.level, d.outcome, d.upheld_indicators, d.decided_by, d.decided_at, d.due_at
            )
            for d in decisions
        ],
    )
    return AppealStatistics(
        total=s.total,
        by_status=_counts(s.by_status),
        by_indicator=_counts(s.by_indicator),
        by_reason=_counts(s.by_reason),
        by_unit=_counts(s.by_unit),
        overturn_by_indicator=_rates(s.overturn_by_indicator),
        overturn_by_reviewer=_rates(s.overturn_by_reviewer),
        reversed_on_escalation_by_reviewer=_rates(s.reversed_on_escalation_by_reviewer),
        decided=s.decided,
        mean_hours_to_decision=s.mean_hours_to_decision,
        median_hours_to_decision=s.median_hours_to_decision,
        decided_late=s.decided_late,
        late_appeal_ids=[strawberry.ID(i) for i in s.late_appeal_ids],
    )
