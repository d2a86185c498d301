"""The appeals subgraph: queries, the federation extensions ``UnitResult.appeals`` and ``Unit.appeals``, and the
schema (mutations in ``graphql_mutations``). Resolvers only translate: rules live in ``workflow``, actions in
``filing`` and ``review``."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from strawberry.federation.schema_directives import ListSize

from hotline.kit.graphql import federation_schema
from hotline.kit.pagination import CursorCodec, check_page_size
from services.appeals import live, repository, review, workflow
from services.appeals.graphql_consequences import (
    AppealConsequence,
    AppealConsequenceConnection,
    AppealDecisionPreview,
    consequence_by_id,
    consequence_page,
)
from services.appeals.graphql_enums import Info, OutcomeEnum, StatusEnum
from services.appeals.graphql_mutations import AcceptedValues, AppealId, Mutation, WebhookInfo, accepted_of, deps_of
from services.appeals.graphql_statistics import AppealStatistics, SideEnum, statistics_for
from services.appeals.graphql_types import Appeal
from services.appeals.models import Notification, Webhook

PAGE_COST = ListSize(slicing_arguments=["first"], sized_fields=["edges"], require_one_slicing_argument=False)
# `appeals`: (filed at, id) of the last appeal; `appealInbox`: the last entry's id.
APPEALS_CURSOR = CursorCodec("appeals", CursorCodec.TIMESTAMP, CursorCodec.UUID)
INBOX_CURSOR = CursorCodec("appealInbox", CursorCodec.COUNT)


def _arg(description: str):
    return strawberry.argument(description=description)


RunId = Annotated[strawberry.ID | None, _arg("Only this evaluation run.")]
PageSize = Annotated[int, _arg("Page size, 1–500.")]
Cursor = Annotated[str | None, _arg("Cursor to continue after (an `endCursor` or `cursor` this API gave).")]


def _scoped_by(info: Info, name: str, column: str):
    """A per-request loader of visible appeals keyed by result id or unit id (federation fields)."""
    ctx = info.context

    async def load(keys: list[str]) -> list[list[Appeal]]:
        rows = await repository.list_appeals(ctx.session, await ctx.scope(), **{column: keys})
        grouped: dict[str, list[Appeal]] = {k: [] for k in keys}
        for row in rows:
            for key in row.result_ids if column == "result_ids" else [row.unit_id]:
                if key in grouped:
                    grouped[key].append(Appeal.of(row))
        return [grouped[k] for k in keys]

    return ctx.loader(name, load)


@strawberry.federation.type(keys=["id"], description="A unit's result in an evaluation run (owned by scoring).")
class UnitResult:
    id: strawberry.ID = strawberry.field(description="Result id, as scoring issues it.")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> UnitResult:
        return cls(id=id)

    @strawberry.field(
        description="Appeals the caller may see that were filed against this result or whose decision produced it "
        "(a revision made for another appeal does not carry appeals over)."
    )
    async def appeals(self, info: Info) -> list[Appeal]:
        return await _scoped_by(info, "appeals_by_result", "result_ids").load(str(self.id))


@strawberry.federation.type(keys=["id"], description="A unit of the evaluation tree (owned by ingest).")
class Unit:
    id: strawberry.ID = strawberry.field(description="Stable unit code.")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Unit:
        return cls(id=id)

    @strawberry.field(description="Appeals this unit filed that the caller may see.")
    async def appeals(self, info: Info) -> list[Appeal]:
        return await _scoped_by(info, "appeals_by_unit", "unit_ids").load(str(self.id))


@strawberry.type(description="One appeal in a connection.")
class AppealEdge:
    cursor: str = strawberry.field(
        description="Opaque cursor; pass as `after` to continue after this appeal.", resolver=lambda root: root.at()
    )
    node: Appeal = strawberry.field(description="The appeal.")
    # The appeal's position (filed at, id): its cursor is written only when asked for.
    _position: strawberry.Private[tuple[dt.datetime, Any]]

    def at(self) -> str:
        return APPEALS_CURSOR.encode(*self._position)


@strawberry.type(description="A page of appeals, newest first.")
class AppealConnection:
    edges: list[AppealEdge] = strawberry.field(description="The appeals of this page.")
    has_next_page: bool = strawberry.field(description="Whether more follow.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")
    _scope: strawberry.Private[Any]
    _filters: strawberry.Private[dict]

    @strawberry.field(description="Matching appeals over all pages.")
    async def total_count(self, info: Info) -> int:
        # Counted only when asked for: a portal's list page seldom does, and the count is a query of its own.
        return await repository.count_visible(info.context.session, self._scope, **self._filters)


@strawberry.type(
    name="AppealInboxEntry",
    description="An entry in a unit's inbox: one step of one of its appeals, or a consequence for it of a decision "
    "on another unit's appeal (`peer_result_changed`).",
)
class InboxEntry:
    id: strawberry.ID = strawberry.field(description="Entry id.")
    cursor: str = strawberry.field(description="Opaque cursor; pass as `after` to continue with older entries.")
    appeal_id: strawberry.ID = strawberry.field(
        description="The appeal; for `peer_result_changed`, the other unit's appeal whose decision moved your result "
        "(its content stays its parties')."
    )
    kind: str = strawberry.field(description="The step (an appeal event kind), or `peer_result_changed`.")
    created_at: dt.datetime = strawberry.field(description="When.")
    read_at: dt.datetime | None = strawberry.field(description="When the unit marked it read.")
    consequence_id: strawberry.ID | None = strawberry.field(description="For `peer_result_changed`: the consequence.")

    @strawberry.field(description="For `peer_result_changed`: what moved, why, and until when it may be appealed.")
    async def consequence(self, info: Info) -> AppealConsequence | None:
        return await consequence_by_id(info, self.consequence_id) if self.consequence_id else None

    @classmethod
    def of(cls, n: Notification) -> InboxEntry:
        return cls(
            id=strawberry.ID(str(n.id)),
            cursor=INBOX_CURSOR.encode(n.id),
            appeal_id=strawberry.ID(str(n.appeal_id)),
            kind=n.kind,
            created_at=n.created_at,
            read_at=n.read_at,
            consequence_id=strawberry.ID(str(n.consequence_id)) if n.consequence_id else None,
        )


@strawberry.type(description="Queries of the appeals service.")
class Query:
    @strawberry.field(description="An appeal by id; null if it does not exist or is not visible to the caller.")
    async def appeal(self, info: Info, id: AppealId) -> Appeal | None:
        return await Appeal.resolve_reference(info, id)

    @strawberry.field(
        description="Appeals the caller may see, newest first (a draft only by its filing unit)."
        " Null only with a `BAD_REQUEST` error, when `first` or `after` is invalid (a sibling field keeps its data).",
        directives=[PAGE_COST],
    )
    async def appeals(
        self,
        info: Info,
        status: Annotated[StatusEnum | None, _arg("Only appeals in this status.")] = None,
        run_id: RunId = None,
        unit_id: Annotated[strawberry.ID | None, _arg("Only appeals of this appellant unit.")] = None,
        deciding_unit_id: Annotated[
            strawberry.ID | None, _arg("Only appeals this unit decides now (a reviewers' queue).")
        ] = None,
        first: PageSize = 50,
        after: Cursor = None,
    ) -> AppealConnection | None:
        check_page_size(first)
        scope = await info.context.scope()
        filters = dict(
            status=status.value if status else None, run_id=run_id, unit_id=unit_id, deciding_unit_id=deciding_unit_id
        )
        rows = await repository.list_appeals(
            info.context.session,
            scope,
            **filters,
            after=APPEALS_CURSOR.decode(after) if after is not None else None,
            limit=first + 1,
        )
        edges = [AppealEdge(_position=(r.filed_at, r.id), node=Appeal.of(r)) for r in rows[:first]]
        return AppealConnection(
            edges=edges,
            has_next_page=len(rows) > first,
            end_cursor=edges[-1].at() if edges else None,
            _scope=scope,
            _filters=filters,
        )

    @strawberry.field(
        description="The caller's unit's inbox, newest first: every step of its appeals (of a draft, only the "
        "filing unit's own) and every consequence for it of decisions on other units' appeals."
        " Null only with a `BAD_REQUEST` error, when `first` or `after` is invalid (a sibling field keeps its data)."
    )
    async def appeal_inbox(
        self,
        info: Info,
        unread_only: Annotated[bool, _arg("Only entries not marked read.")] = False,
        first: PageSize = 50,
        after: Cursor = None,
    ) -> list[InboxEntry] | None:
        check_page_size(first)
        query = select(Notification).where(Notification.unit_id == info.context.principal.unit_id)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        if after is not None:
            query = query.where(Notification.id < INBOX_CURSOR.decode_one(after))
        rows = await info.context.session.scalars(query.order_by(Notification.id.desc()).limit(first))
        return [InboxEntry.of(n) for n in rows]

    @strawberry.field(description="The caller's unit's webhook, if one is registered.")
    async def appeal_webhook(self, info: Info) -> WebhookInfo | None:
        row = await info.context.session.get(Webhook, info.context.principal.unit_id)
        return (
            WebhookInfo(url=row.url, registered_by=row.registered_by, registered_at=row.registered_at) if row else None
        )

    @strawberry.field(
        description="Appeal statistics (申诉统计). The organizer's side (roles organizer, reviewer, admin, viewer): "
        "submitted appeals on runs organized in the caller's subtree or escalated into it. A unit (role unit "
        "alone): its own appeals. Drafts count only in their filing unit's own figures."
    )
    async def appeal_statistics(
        self,
        info: Info,
        run_id: RunId = None,
        side: Annotated[
            SideEnum | None, _arg("Whose figures: ORGANIZER or APPELLANT; by default the caller's roles decide.")
        ] = None,
    ) -> AppealStatistics:
        return await statistics_for(info, run_id, side)

    @strawberry.field(description="A consequence of another unit's appeal; null if unknown or not visible.")
    async def appeal_consequence(
        self, info: Info, id: Annotated[strawberry.ID, _arg("The consequence's id.")]
    ) -> AppealConsequence | None:
        return await consequence_by_id(info, str(id))

    @strawberry.field(
        description="Consequences of decisions on appeals the caller may see, newest first: a unit's own (what other "
        "units' appeals did to its results), or, on the organizer's side, everyone's."
        " Null only with a `BAD_REQUEST` error, when `first` or `after` is invalid (a sibling field keeps its data).",
        directives=[PAGE_COST],
    )
    async def appeal_consequences(
        self,
        info: Info,
        run_id: RunId = None,
        unit_id: Annotated[strawberry.ID | None, _arg("Only consequences for this unit.")] = None,
        first: PageSize = 50,
        after: Cursor = None,
    ) -> AppealConsequenceConnection | None:
        return await consequence_page(
            info, run_id=str(run_id) if run_id else None, unit_id=unit_id, first=first, after=after
        )

    @strawberry.field(
        description="What a decision would do before it is made (a reviewer of the deciding unit): its problems and "
        "warnings, and scoring's dry run of its revision — the appellant's result and every other unit's it would "
        "move, with the references it would move. Nothing is stored."
    )
    async def appeal_decision_preview(
        self,
        info: Info,
        id: AppealId,
        outcome: Annotated[OutcomeEnum, _arg("The outcome considered.")],
        upheld_indicators: Annotated[list[str] | None, _arg("For partly upheld: the indicators upheld.")] = None,
        accepted_values: AcceptedValues = None,
        reason: Annotated[str, _arg("The reason considered (optional for a preview).")] = "",
    ) -> AppealDecisionPreview:
        preview = await review.preview_decision(
            await deps_of(info),
            str(id),
            workflow.Outcome(outcome),
            reason,
            upheld_indicators or [],
            accepted_of(accepted_values),
        )
        return AppealDecisionPreview.of(preview)


@strawberry.type(
    description="Subscriptions of the appeals service (server-sent events or graphql-ws through the gateway); a "
    "subscription ends with `UNAUTHENTICATED` when the caller's token expires."
)
class Subscription:
    @strawberry.subscription(
        description="The caller's unit's inbox entries as they are written (a reviewer's: its deciding unit's), "
        "each as `appealInbox` lists it (a step of its appeals, or a consequence for it of another unit's appeal) "
        "— never a step taken while the appeal was a draft. To catch up after a reconnection, read `appealInbox`."
    )
    async def appeal_inbox_events(self, info: Info) -> AsyncGenerator[InboxEntry, None]:
        async with aclosing(live.inbox_entries(info.context)) as entries:
            async for entry in entries:
                yield InboxEntry.of(entry)


schema = federation_schema(query=Query, mutation=Mutation, subscription=Subscription, types=[Appeal, UnitResult, Unit])

__all__ = ["Mutation", "Query", "Unit", "UnitResult", "schema"]
