"""The statistics as GraphQL types, and the scoped query behind them (``analytics`` computes): the organizer's
side sees the submitted appeals on runs it organizes (or escalated to it); a unit sees its own appeals."""

from __future__ import annotations

import enum

import strawberry
from sqlalchemy import select

from hotline.kit.auth import Role
from hotline.kit.errors import ForbiddenError
from hotline.kit.graphql import described_enum
from services.appeals import analytics, repository
from services.appeals.graphql_enums import Info
from services.appeals.models import Appeal as AppealRow
from services.appeals.models import AppealDecision
from services.appeals.spelling import spelled


class Side(enum.StrEnum):
    ORGANIZER = "organizer"
    APPELLANT = "appellant"


SideEnum = described_enum(
    Side,
    name="AppealStatisticsSide",
    description="Whose statistics: the organizer's side (the appeals it decides) or an appellant's (its own).",
    values={
        "ORGANIZER": "评价组织方: submitted appeals on runs organized in the caller's subtree or escalated into it "
        "(roles organizer, reviewer, admin, viewer).",
        "APPELLANT": "申诉方: the appeals the caller's own unit filed, its drafts included.",
    },
)
ORGANIZER_SIDE_ROLES = (Role.ORGANIZER, Role.REVIEWER, Role.ADMIN, Role.VIEWER)


@strawberry.type(name="AppealCount", description="A count under a key.")
class Count:
    key: str = strawberry.field(
        description="Status (spelled as `AppealStatus`), indicator, reason category or unit id."
    )
    count: int = strawberry.field(description="Number of appeals.")


@strawberry.type(
    name="AppealOverturnRate", description="How often decisions overturned (upheld at least in part) a disputed score."
)
class OverturnRate:
    key: str = strawberry.field(description="Indicator code or reviewer.")
    decided: int = strawberry.field(description="Decisions counted.")
    overturned: int = strawberry.field(description="Of which upheld (fully or for this indicator).")
    rate: float | None = strawberry.field(description="overturned / decided; null when nothing was decided.")


@strawberry.type(description="Appeal statistics (申诉统计) of one side: the organizer's, or a unit's own.")
class AppealStatistics:
    side: SideEnum = strawberry.field(description="Whose figures these are.")
    total: int = strawberry.field(description="Appeals counted.")
    by_status: list[Count] = strawberry.field(description="Appeals per status.")
    by_indicator: list[Count] = strawberry.field(description="Appeals disputing each indicator.")
    by_reason: list[Count] = strawberry.field(description="Appeals per reason category.")
    by_unit: list[Count] = strawberry.field(description="Appeals per appellant unit.")
    overturn_by_indicator: list[OverturnRate] = strawberry.field(
        description="Per indicator: decided appeals disputing it (`decided`) and of those, how many have it upheld "
        "(`overturned`: a real change; an escalation rejected leaves the first decision's standing)."
    )
    overturn_by_reviewer: list[OverturnRate] = strawberry.field(
        description="Per reviewer: decisions made, and those that upheld something not upheld before (a "
        "restatement of the first decision or a rejected escalation is no overturn)."
    )
    reversed_on_escalation_by_reviewer: list[OverturnRate] = strawberry.field(
        description="Per reviewer: first decisions that were escalated (`decided`) and of those, how many the "
        "parent unit reversed by upholding more (`overturned`)."
    )
    decided: int = strawberry.field(description="Appeals with a decision.")
    escalations_decided: int = strawberry.field(description="Escalations the parent unit has decided.")
    escalations_rejected: int = strawberry.field(
        description="Of those, escalations rejected: the first decision stands (not counted as overturns)."
    )
    mean_hours_to_decision: float | None = strawberry.field(
        description="Mean hours from submission to the first decision, excluding the time waiting for the unit's "
        "information (see `meanHoursWaitingForInformation`)."
    )
    median_hours_to_decision: float | None = strawberry.field(
        description="Median hours from submission to the first decision, excluding the time waiting for the "
        "unit's information."
    )
    mean_hours_waiting_for_information: float | None = strawberry.field(
        description="Mean hours those appeals waited for the unit's information before the first decision."
    )
    decided_late: int = strawberry.field(description="Appeals with a decision made after it was due.")
    late_appeal_ids: list[strawberry.ID] = strawberry.field(description="Those appeals.")


def _counts(d: dict[str, int]) -> list[Count]:
    return [Count(key=k, count=v) for k, v in d.items()]


def _rates(rates: list[analytics.Rate]) -> list[OverturnRate]:
    return [OverturnRate(key=r.key, decided=r.decided, overturned=r.overturned, rate=r.rate) for r in rates]


async def statistics_for(info: Info, run_id: strawberry.ID | None, side: Side | None) -> AppealStatistics:
    """Appeals on runs organized inside the caller's subtree (or escalated into it), or a unit's own appeals;
    optionally of one run."""
    principal = info.context.principal
    organizer_side = principal.has_any(*ORGANIZER_SIDE_ROLES)
    side = Side(side) if side is not None else (Side.ORGANIZER if organizer_side else Side.APPELLANT)
    if side is Side.ORGANIZER and not organizer_side:
        raise ForbiddenError("the organizer's statistics need a role of the organizer's side (organizer, reviewer, …)")
    session, scope = info.context.session, await info.context.scope()
    if side is Side.ORGANIZER:
        query = select(AppealRow).where(repository.organized_by(scope))
    else:
        query = select(AppealRow).where(AppealRow.unit_id == principal.unit_id)
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
                str(d.appeal_id),
                d.level,
                d.outcome,
                d.upheld_indicators,
                d.decided_by,
                d.decided_at,
                d.due_at,
                d.information_waited_seconds or 0.0,
            )
            for d in decisions
        ],
    )
    return AppealStatistics(
        side=side,
        total=s.total,
        by_status=_counts({spelled(k): v for k, v in s.by_status.items()}),
        by_indicator=_counts(s.by_indicator),
        by_reason=_counts(s.by_reason),
        by_unit=_counts(s.by_unit),
        overturn_by_indicator=_rates(s.overturn_by_indicator),
        overturn_by_reviewer=_rates(s.overturn_by_reviewer),
        reversed_on_escalation_by_reviewer=_rates(s.reversed_on_escalation_by_reviewer),
        decided=s.decided,
        escalations_decided=s.escalations_decided,
        escalations_rejected=s.escalations_rejected,
        mean_hours_to_decision=s.mean_hours_to_decision,
        median_hours_to_decision=s.median_hours_to_decision,
        mean_hours_waiting_for_information=s.mean_hours_waiting_for_information,
        decided_late=s.decided_late,
        late_appeal_ids=[strawberry.ID(i) for i in s.late_appeal_ids],
    )
