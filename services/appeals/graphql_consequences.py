"""GraphQL of consequences for peers (issue 17): what a decision on one unit's appeal did to other units'
results, and the preview of a decision before it is made (scoring's dry run). Rules live in
``consequence_rules``, the records in ``consequences``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import strawberry
from sqlalchemy import func, select
from strawberry.scalars import JSON

from hotline.kit.pagination import CursorCodec, check_page_size
from services.appeals import consequences, repository
from services.appeals.graphql_enums import Info
from services.appeals.graphql_types import Appeal, AppealProblem
from services.appeals.models import PeerConsequence


@strawberry.type(description="An indicator of a unit's result before and after a revision.")
class AppealIndicatorChange:
    indicator: str = strawberry.field(description="Indicator code.")
    value_before: float | None = strawberry.field(description="The unit's value before (null: not applicable).")
    value_after: float | None = strawberry.field(description="The unit's value after.")
    score_before: float | None = strawberry.field(description="The unit's score before.")
    score_after: float | None = strawberry.field(description="The unit's score after.")

    @classmethod
    def of(cls, row: dict[str, Any]) -> AppealIndicatorChange:
        return cls(
            indicator=row["indicator"],
            value_before=row.get("value_before"),
            value_after=row.get("value_after"),
            score_before=row.get("score_before"),
            score_after=row.get("score_after"),
        )


@strawberry.type(description="A cohort reference that a revision moved (best in cohort, cohort mean).")
class AppealReferenceMove:
    indicator: str = strawberry.field(description="Indicator code.")
    policy: str | None = strawberry.field(description="How the reference is set, e.g. `best_in_cohort`.")
    before: float | None = strawberry.field(description="The reference before.")
    after: float | None = strawberry.field(description="The reference after.")
    set_by_before: str | None = strawberry.field(description="The unit whose value was the reference before.")
    set_by_after: str | None = strawberry.field(description="The unit whose value is the reference after.")

    @classmethod
    def of(cls, row: dict[str, Any]) -> AppealReferenceMove:
        return cls(
            indicator=row["indicator"],
            policy=row.get("policy"),
            before=row.get("before"),
            after=row.get("after"),
            set_by_before=row.get("set_by_before"),
            set_by_after=row.get("set_by_after"),
        )


@strawberry.type(description="A plain explanation, in Chinese and English.")
class AppealExplanation:
    zh: str = strawberry.field(description="中文说明.")
    en: str = strawberry.field(description="English explanation.")


@strawberry.type(description="One unit's result as a revision would move (or moved) it.")
class AppealResultEffect:
    unit_id: strawberry.ID = strawberry.field(description="The unit.")
    result_id: strawberry.ID = strawberry.field(description="Its result (scoring's `UnitResult.id`).")
    adjusted: bool = strawberry.field(description="True when the decision's adjustments name this unit itself.")
    total_before: float | None = strawberry.field(description="Total before.")
    total_after: float | None = strawberry.field(description="Total after.")
    rank_before: int | None = strawberry.field(description="Rank before.")
    rank_after: int | None = strawberry.field(description="Rank after.")
    grade_before: str | None = strawberry.field(description="Grade code before.")
    grade_after: str | None = strawberry.field(description="Grade code after.")
    indicator_changes: list[AppealIndicatorChange] = strawberry.field(description="Each indicator that moved.")

    @classmethod
    def of(cls, row: dict[str, Any]) -> AppealResultEffect:
        return cls(
            unit_id=strawberry.ID(str(row["unit"])),
            result_id=strawberry.ID(str(row["result_id"])),
            adjusted=bool(row.get("adjusted")),
            total_before=row.get("total_before"),
            total_after=row.get("total_after"),
            rank_before=row.get("rank_before"),
            rank_after=row.get("rank_after"),
            grade_before=row.get("grade_before"),
            grade_after=row.get("grade_after"),
            indicator_changes=[AppealIndicatorChange.of(i) for i in row.get("indicators", [])],
        )


@strawberry.type(
    description="A consequence for a unit of a decision on another unit's appeal (连带影响): the revision the "
    "decision made moved this unit's result — a reference or a cohort mean moved, or a rank. The unit is told "
    "(inbox `peer_result_changed`, webhook) and, when the scheme lets it, may appeal it until `appealableUntil` "
    "(`fileAppeal(consequenceId:)`); the run's results are final only once that window has closed. Visible to the "
    "unit's subtree and to the side that organizes or decided the run."
)
class AppealConsequence:
    id: strawberry.ID = strawberry.field(description="Consequence id.")
    run_id: strawberry.ID = strawberry.field(description="The evaluation run.")
    revision: int = strawberry.field(description="The run revision that moved the result.")
    result_id: strawberry.ID = strawberry.field(description="The result it moved (scoring's `UnitResult.id`).")
    unit_id: strawberry.ID = strawberry.field(description="The unit it moved.")
    cause_appeal_id: strawberry.ID = strawberry.field(
        description="The appeal whose decision caused it (its content stays its parties')."
    )
    cause_level: int = strawberry.field(description="That decision's level: 0 the organizer's, 1 after escalation.")
    corrected_indicators: list[str] = strawberry.field(description="The indicators that decision corrected.")
    deciding_unit_id: strawberry.ID = strawberry.field(description="The unit that decided.")
    decided_by: str = strawberry.field(description="The reviewer who decided (token subject).")
    total_before: float | None = strawberry.field(description="The unit's total before.")
    total_after: float | None = strawberry.field(description="The unit's total after.")
    rank_before: int | None = strawberry.field(description="The unit's rank before.")
    rank_after: int | None = strawberry.field(description="The unit's rank after.")
    grade_before: str | None = strawberry.field(description="The unit's grade code before.")
    grade_after: str | None = strawberry.field(description="The unit's grade code after.")
    indicator_changes: list[AppealIndicatorChange] = strawberry.field(description="The unit's indicators that moved.")
    reference_moves: list[AppealReferenceMove] = strawberry.field(description="The references the revision moved.")
    appealable: bool = strawberry.field(description="Whether the scheme lets the unit appeal this consequence.")
    appealable_indicators: list[str] = strawberry.field(description="What such an appeal may dispute.")
    appealable_until: dt.datetime | None = strawberry.field(description="Until when (null when not appealable).")
    explanation: AppealExplanation = strawberry.field(description="What moved, why, and what the unit may do.")
    created_at: dt.datetime = strawberry.field(description="When the decision was made and the unit told.")
    key: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Appeals of this consequence the caller may see.")
    async def appeals(self, info: Info) -> list[Appeal]:
        rows = await repository.list_appeals(
            info.context.session, await info.context.scope(), consequence_ids=[self.key]
        )
        return [Appeal.of(r) for r in rows]

    @classmethod
    def of(cls, row: PeerConsequence) -> AppealConsequence:
        figures = row.figures
        explanation = consequences.explanation(row)
        return cls(
            id=strawberry.ID(str(row.id)),
            run_id=strawberry.ID(row.run_id),
            revision=row.revision,
            result_id=strawberry.ID(row.result_id),
            unit_id=strawberry.ID(row.unit_id),
            cause_appeal_id=strawberry.ID(str(row.cause_appeal_id)),
            cause_level=row.cause_level,
            corrected_indicators=sorted(row.cause_targets),
            deciding_unit_id=strawberry.ID(row.deciding_unit_id),
            decided_by=row.decided_by,
            total_before=figures.get("total_before"),
            total_after=figures.get("total_after"),
            rank_before=figures.get("rank_before"),
            rank_after=figures.get("rank_after"),
            grade_before=figures.get("grade_before"),
            grade_after=figures.get("grade_after"),
            indicator_changes=[AppealIndicatorChange.of(i) for i in figures.get("indicators", [])],
            reference_moves=[AppealReferenceMove.of(m) for m in row.reference_moves],
            appealable=row.appealable,
            appealable_indicators=list(row.appealable_indicators),
            appealable_until=row.appealable_until,
            explanation=AppealExplanation(zh=explanation["zh"], en=explanation["en"]),
            created_at=row.created_at,
            key=row.id,
        )


@strawberry.type(description="One consequence in a connection.")
class AppealConsequenceEdge:
    cursor: str = strawberry.field(description="Opaque cursor; pass as `after` to continue after this one.")
    node: AppealConsequence = strawberry.field(description="The consequence.")


@strawberry.type(description="A page of consequences, newest first.")
class AppealConsequenceConnection:
    edges: list[AppealConsequenceEdge] = strawberry.field(description="The consequences of this page.")
    has_next_page: bool = strawberry.field(description="Whether more follow.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")
    total_count: int = strawberry.field(description="Matching consequences over all pages.")


# `appealConsequences`: (created at, id) of the last consequence.
CONSEQUENCES_CURSOR = CursorCodec("appealConsequences", CursorCodec.TIMESTAMP, CursorCodec.UUID)


async def consequences_of_decision(info: Info, key: tuple[uuid.UUID, int]) -> list[AppealConsequence]:
    ctx = info.context

    async def load(keys: list[tuple[uuid.UUID, int]]) -> list[list[AppealConsequence]]:
        found = await consequences.of_decisions(ctx.session, await ctx.scope(), keys)
        return [[AppealConsequence.of(r) for r in found[k]] for k in keys]

    return await ctx.loader("consequences_of_decision", load).load(key)


async def consequence_by_id(info: Info, consequence_id: str) -> AppealConsequence | None:
    try:
        key = uuid.UUID(str(consequence_id))
    except ValueError:
        return None
    ctx = info.context

    async def load(keys: list[uuid.UUID]) -> list[AppealConsequence | None]:
        found = await consequences.by_ids(ctx.session, await ctx.scope(), keys)
        return [AppealConsequence.of(found[k]) if k in found else None for k in keys]

    return await ctx.loader("consequence_by_id", load).load(key)


async def consequence_page(
    info: Info, *, run_id: str | None, unit_id: str | None, first: int, after: str | None
) -> AppealConsequenceConnection:
    """Visible consequences, newest first; the keyset cursor is ``<created_at iso>|<id>``."""
    check_page_size(first)
    session, scope = info.context.session, await info.context.scope()
    query = select(PeerConsequence).where(consequences.visible(scope))
    if run_id:
        query = query.where(PeerConsequence.run_id == run_id)
    if unit_id:
        query = query.where(PeerConsequence.unit_id == unit_id)
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    if after is not None:
        position = CONSEQUENCES_CURSOR.decode(after)
        query = query.where(func.row(PeerConsequence.created_at, PeerConsequence.id) < func.row(*position))
    rows = list(
        await session.scalars(
            query.order_by(PeerConsequence.created_at.desc(), PeerConsequence.id.desc()).limit(first + 1)
        )
    )
    edges = [
        AppealConsequenceEdge(cursor=CONSEQUENCES_CURSOR.encode(r.created_at, r.id), node=AppealConsequence.of(r))
        for r in rows[:first]
    ]
    return AppealConsequenceConnection(
        edges=edges, has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None, total_count=total
    )


@strawberry.type(
    description="What a decision would do, before it is made (a dry run in scoring; nothing is stored): the "
    "problems that would refuse it, the warnings it would carry, the adjustments, and every result the revision "
    "would move — the appellant's and other units' — with the references it would move."
)
class AppealDecisionPreview:
    problems: list[AppealProblem] = strawberry.field(description="Why the decision would be refused; empty if not.")
    warnings: list[AppealProblem] = strawberry.field(
        description="What deserves a second look (a value beyond anything observed, a value other than asked)."
    )
    adjustments: JSON = strawberry.field(description="The adjustments scoring would apply (contracts §6).")
    revision: int | None = strawberry.field(description="The revision it would make (null when it makes none).")
    appellant: AppealResultEffect | None = strawberry.field(description="The appellant's result, before and after.")
    other_units: list[AppealResultEffect] = strawberry.field(
        description="Every other unit whose total, rank, grade or scores it would move (each would be told)."
    )
    reference_moves: list[AppealReferenceMove] = strawberry.field(description="The references it would move.")

    @classmethod
    def of(cls, preview) -> AppealDecisionPreview:
        answer, appeal = preview.answer, preview.appeal
        entries = answer.consequences if answer is not None else []
        mine = next((e for e in entries if appeal is not None and e["unit"] == appeal.unit_id), None)
        return cls(
            problems=[AppealProblem.of(p) for p in preview.problems],
            warnings=[AppealProblem.of(p) for p in preview.warnings],
            adjustments=preview.adjustments,
            revision=answer.revision if answer is not None else None,
            appellant=AppealResultEffect.of(mine) if mine is not None else None,
            other_units=[AppealResultEffect.of(e) for e in entries if e is not mine],
            reference_moves=[AppealReferenceMove.of(m) for m in (answer.references if answer else [])],
        )
