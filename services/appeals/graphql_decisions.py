"""GraphQL types of decisions (申诉决定): the outcome, the values accepted, the scores before and after, and the
other units the decision's revision moved."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated

import strawberry

from services.appeals import models, workflow
from services.appeals.graphql_enums import Info, OutcomeEnum

if TYPE_CHECKING:
    from services.appeals.graphql_consequences import AppealConsequence

CONSEQUENCES = "services.appeals.graphql_consequences"


@strawberry.type(
    name="AppealScoreChange", description="An indicator's score before and after the revision a decision caused."
)
class IndicatorScoreChange:
    indicator: str = strawberry.field(description="Indicator code.")
    score_before: float | None = strawberry.field(description="Score in the revision the appeal disputed.")
    score_after: float | None = strawberry.field(description="Score in the new revision.")


@strawberry.type(
    name="AppealAcceptedValue",
    description="A value a decision accepted for an upheld request: the one asked for, or another it names.",
)
class AcceptedValue:
    indicator: str = strawberry.field(description="Indicator code.")
    asked: float | None = strawberry.field(description="The value the unit asked for (null if it named none).")
    accepted: float | None = strawberry.field(description="The value the decision accepted and scoring applied.")
    differs: bool = strawberry.field(description="True when the decision accepted another value than the one asked.")


@strawberry.input(name="AppealAcceptedValueInput", description="Accept this value for an upheld request.")
class AcceptedValueInput:
    indicator: str = strawberry.field(description="An indicator the decision upholds with a value request.")
    value: float = strawberry.field(description="The value accepted (within what the indicator can take).")


@strawberry.type(description="A decision on an appeal (申诉决定), always with a written reason.")
class AppealDecision:
    level: int = strawberry.field(description="0: the organizer's decision; 1: the parent unit's after escalation.")
    outcome: OutcomeEnum = strawberry.field(
        description="Upheld, partly upheld or rejected. At level 1, rejected rejects the escalation: the first "
        "decision stands (`firstDecisionStands`)."
    )
    first_decision_stands: bool = strawberry.field(
        description="True for an escalation rejected: the organizer's decision stands as it was (not an overturn)."
    )
    reason: str = strawberry.field(description="The written reason.")
    upheld_indicators: list[str] = strawberry.field(description="Indicators this decision upheld.")
    accepted_values: list[AcceptedValue] = strawberry.field(
        description="Each value this decision accepted, and whether it differs from the one asked for."
    )
    information_waited_hours: float = strawberry.field(
        description="Hours the appeal had waited for the unit's information by this decision (not the reviewers')."
    )
    decided_by: str = strawberry.field(description="The reviewer (token subject).")
    deciding_unit_id: str = strawberry.field(description="The unit that decided.")
    decided_at: dt.datetime = strawberry.field(description="When.")
    due_at: dt.datetime | None = strawberry.field(description="When the decision was due.")
    late: bool = strawberry.field(description="Whether it was decided after it was due.")
    new_revision: int | None = strawberry.field(description="The run revision scoring made for it (null if none).")
    total_before: float | None = strawberry.field(description="The result's total score before the decision.")
    total_after: float | None = strawberry.field(description="The total after (equal to before when nothing changed).")
    indicator_changes: list[IndicatorScoreChange] = strawberry.field(description="Each changed indicator's score.")
    decision_key: strawberry.Private[tuple[uuid.UUID, int]]

    @strawberry.field(
        description="Other units this decision's revision moved (score, rank or grade), as far as the caller may "
        "see them: the organizer's side sees every one, a unit those in its subtree."
    )
    async def consequences(self, info: Info) -> list[Annotated[AppealConsequence, strawberry.lazy(CONSEQUENCES)]]:
        from services.appeals.graphql_consequences import consequences_of_decision

        return await consequences_of_decision(info, self.decision_key)

    @classmethod
    def of(cls, d: models.AppealDecision, total_until_now: float | None) -> AppealDecision:
        change = d.score_change or {}
        before = change.get("total_before", total_until_now)
        return cls(
            level=d.level,
            outcome=workflow.Outcome(d.outcome),
            first_decision_stands=d.level == 1 and d.outcome == workflow.Outcome.REJECTED.value,
            reason=d.reason,
            upheld_indicators=d.upheld_indicators,
            accepted_values=[
                AcceptedValue(
                    indicator=v["indicator"],
                    asked=v.get("asked"),
                    accepted=v.get("accepted"),
                    differs=v.get("asked") != v.get("accepted"),
                )
                for v in d.accepted_values or []
            ],
            information_waited_hours=round((d.information_waited_seconds or 0.0) / 3600, 2),
            decision_key=(d.appeal_id, d.level),
            decided_by=d.decided_by,
            deciding_unit_id=d.deciding_unit_id,
            decided_at=d.decided_at,
            due_at=d.due_at,
            late=d.due_at is not None and d.decided_at > d.due_at,
            new_revision=d.new_revision,
            total_before=before,
            total_after=change.get("total_after", before),
            indicator_changes=[
                IndicatorScoreChange(
                    indicator=i["indicator"], score_before=i.get("score_before"), score_after=i.get("score_after")
                )
                for i in change.get("indicators", [])
            ],
        )
