"""The appeals subgraph: queries, mutations, and the federation extensions ``UnitResult.appeals`` and
``Unit.appeals``. Resolvers only translate: rules live in ``workflow``, actions in ``filing`` and ``review``."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

import strawberry
from sqlalchemy import select, update
from strawberry.federation.schema_directives import ListSize

from hotline.kit.auth import Role
from hotline.kit.graphql import federation_schema
from hotline.kit.pagination import check_page_size, decode_cursor, encode_cursor
from services.appeals import filing, live, notifications, repository, review, service, workflow
from services.appeals.graphql_statistics import AppealStatistics, statistics_for
from services.appeals.graphql_types import (
    Appeal,
    AppealAskInput,
    AppealPayload,
    AppealProblem,
    Info,
    OutcomeEnum,
    ReasonEnum,
    RecordRefInput,
    StatusEnum,
    runtime,
)
from services.appeals.models import Notification, Webhook

PAGE_COST = ListSize(slicing_arguments=["first"], sized_fields=["edges"], require_one_slicing_argument=False)


def _arg(description: str):
    return strawberry.argument(description=description)


AppealId = Annotated[strawberry.ID, _arg("The appeal's id.")]
Version = Annotated[int, _arg("The appeal's `version` as you last read it (optimistic concurrency).")]
Reason = Annotated[str, _arg("The reason, in writing.")]
Message = Annotated[str, _arg("The message to the other party.")]
Records = Annotated[list[RecordRefInput] | None, _arg("Records named as evidence, as (source, record id).")]
Indicators = Annotated[list[str], _arg("Codes of the disputed indicators (at most the scheme's limit).")]
Asks = Annotated[list[AppealAskInput] | None, _arg("What the unit asks for, per disputed indicator.")]
RunId = Annotated[strawberry.ID | None, _arg("Only this evaluation run.")]


async def _deps(info: Info) -> service.Deps:
    rt = runtime(info)
    return service.Deps(
        session=info.context.session,
        actor=service.actor_of(info.context.principal),
        scope=await info.context.scope(),
        now=rt.clock(),
        scoring=rt.scoring,
    )


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
    cursor: str = strawberry.field(description="Opaque cursor; pass as `after` to continue after this appeal.")
    node: Appeal = strawberry.field(description="The appeal.")


@strawberry.type(description="A page of appeals, newest first.")
class AppealConnection:
    edges: list[AppealEdge] = strawberry.field(description="The appeals of this page.")
    has_next_page: bool = strawberry.field(description="Whether more follow.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")
    total_count: int = strawberry.field(description="Matching appeals over all pages.")


@strawberry.type(name="AppealInboxEntry", description="An entry in a unit's inbox: one step of one appeal.")
class InboxEntry:
    id: strawberry.ID = strawberry.field(description="Entry id.")
    appeal_id: strawberry.ID = strawberry.field(description="The appeal.")
    kind: str = strawberry.field(description="The step (an appeal event kind).")
    created_at: dt.datetime = strawberry.field(description="When.")
    read_at: dt.datetime | None = strawberry.field(description="When the unit marked it read.")

    @classmethod
    def of(cls, n: Notification) -> InboxEntry:
        return cls(
            id=strawberry.ID(str(n.id)),
            appeal_id=strawberry.ID(str(n.appeal_id)),
            kind=n.kind,
            created_at=n.created_at,
            read_at=n.read_at,
        )


@strawberry.type(name="AppealWebhook", description="The caller's unit's webhook (the secret is never shown).")
class WebhookInfo:
    url: str = strawberry.field(description="Where notifications are POSTed.")
    registered_by: str = strawberry.field(description="Who registered it.")
    registered_at: dt.datetime = strawberry.field(description="When.")


@strawberry.type(name="AppealWebhookPayload", description="The outcome of registering a webhook.")
class WebhookPayload:
    webhook: WebhookInfo | None = strawberry.field(description="The webhook now registered.")
    problems: list[AppealProblem] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="Queries of the appeals service.")
class Query:
    @strawberry.field(description="An appeal by id; null if it does not exist or is not visible to the caller.")
    async def appeal(self, info: Info, id: AppealId) -> Appeal | None:
        return await Appeal.resolve_reference(info, id)

    @strawberry.field(description="Appeals the caller may see, newest first.", directives=[PAGE_COST])
    async def appeals(
        self,
        info: Info,
        status: Annotated[StatusEnum | None, _arg("Only appeals in this status.")] = None,
        run_id: RunId = None,
        unit_id: Annotated[strawberry.ID | None, _arg("Only appeals of this appellant unit.")] = None,
        deciding_unit_id: Annotated[
            strawberry.ID | None, _arg("Only appeals this unit decides now (a reviewers' queue).")
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size, 1–500.")] = 50,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> AppealConnection:
        check_page_size(first)
        scope = await info.context.scope()
        filters = dict(
            status=status.value if status else None, run_id=run_id, unit_id=unit_id, deciding_unit_id=deciding_unit_id
        )
        rows = await repository.list_appeals(
            info.context.session, scope, **filters, after=decode_cursor(after) if after else None, limit=first + 1
        )
        edges = [
            AppealEdge(cursor=encode_cursor(f"{r.filed_at.isoformat()}|{r.id}"), node=Appeal.of(r))
            for r in rows[:first]
        ]
        return AppealConnection(
            edges=edges,
            has_next_page=len(rows) > first,
            end_cursor=edges[-1].cursor if edges else None,
            total_count=await repository.count_visible(info.context.session, scope, **filters),
        )

    @strawberry.field(description="The caller's unit's inbox: every step of its appeals, newest first.")
    async def appeal_inbox(
        self,
        info: Info,
        unread_only: Annotated[bool, _arg("Only entries not marked read.")] = False,
        first: Annotated[int, strawberry.argument(description="Page size, 1–500.")] = 50,
        after: Annotated[
            strawberry.ID | None, strawberry.argument(description="Continue after this entry id (older entries).")
        ] = None,
    ) -> list[InboxEntry]:
        check_page_size(first)
        query = select(Notification).where(Notification.unit_id == info.context.principal.unit_id)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        if after is not None:
            query = query.where(Notification.id < int(after))
        rows = await info.context.session.scalars(query.order_by(Notification.id.desc()).limit(first))
        return [InboxEntry.of(n) for n in rows]

    @strawberry.field(description="The caller's unit's webhook, if one is registered.")
    async def appeal_webhook(self, info: Info) -> WebhookInfo | None:
        row = await info.context.session.get(Webhook, info.context.principal.unit_id)
        return (
            WebhookInfo(url=row.url, registered_by=row.registered_by, registered_at=row.registered_at) if row else None
        )

    @strawberry.field(description="Statistics of appeals on the runs the caller organizes (or escalated to it).")
    async def appeal_statistics(self, info: Info, run_id: RunId = None) -> AppealStatistics:
        return await statistics_for(info, run_id)


@strawberry.type(
    description="Mutations of the appeals service. Changes take `expectedVersion`; a concurrent "
    "change answers the GraphQL error `CONFLICT`. Refusals come back as `problems`."
)
class Mutation:
    @strawberry.mutation(
        description="File an appeal against the caller's unit's published result (a draft; "
        "`submit: true` submits it at once). Role unit, inside the appeal window."
    )
    async def file_appeal(
        self,
        info: Info,
        result_id: Annotated[strawberry.ID, _arg("The disputed result (scoring's UnitResult id).")],
        indicators: Indicators,
        reason_category: Annotated[ReasonEnum, _arg("Category of the reason.")],
        reason: Reason,
        asks: Asks = None,
        evidence_records: Records = None,
        submit: Annotated[bool, _arg("Submit at once instead of keeping a draft.")] = False,
    ) -> AppealPayload:
        deps = await _deps(info)
        done = await filing.file_appeal(
            deps,
            result_id=str(result_id),
            indicators=indicators,
            category=workflow.ReasonCategory(reason_category),
            reason=reason,
            asks=[a.to_ask() for a in asks or []],
            evidence_records=[r.to_json() for r in evidence_records or []],
        )
        if submit and done.appeal is not None and not done.problems:
            done = await filing.submit_appeal(deps, str(done.appeal.id), done.appeal.version)
        return AppealPayload.of(done)

    @strawberry.mutation(description="Edit a draft (omitted arguments keep their value).")
    async def edit_appeal(
        self,
        info: Info,
        id: AppealId,
        expected_version: Version,
        indicators: Annotated[list[str] | None, _arg("New disputed indicators.")] = None,
        reason_category: Annotated[ReasonEnum | None, _arg("New reason category.")] = None,
        reason: Annotated[str | None, _arg("New reason text.")] = None,
        asks: Asks = None,
        evidence_records: Records = None,
    ) -> AppealPayload:
        changes: dict = {}
        if indicators is not None:
            changes["indicators"] = indicators
        if reason_category is not None:
            changes["category"] = workflow.ReasonCategory(reason_category)
        if reason is not None:
            changes["reason"] = reason
        if asks is not None:
            changes["asks"] = [a.to_ask() for a in asks]
        if evidence_records is not None:
            changes["evidence_records"] = [r.to_json() for r in evidence_records]
        return AppealPayload.of(await filing.edit_appeal(await _deps(info), str(id), expected_version, changes))

    @strawberry.mutation(description="Submit a draft to the organizer (inside the appeal window).")
    async def submit_appeal(self, info: Info, id: AppealId, expected_version: Version) -> AppealPayload:
        return AppealPayload.of(await filing.submit_appeal(await _deps(info), str(id), expected_version))

    @strawberry.mutation(description="Attach an evidence file (base64; ≤ 10 MiB; PDF, PNG, JPEG, DOCX, XLSX, text).")
    async def add_evidence_file(
        self,
        info: Info,
        id: AppealId,
        expected_version: Version,
        filename: Annotated[str, _arg("The file's name (no path).")],
        content_base64: Annotated[str, _arg("The file's content, base64.")],
    ) -> AppealPayload:
        content = filing.decode_base64(content_base64)
        done = await filing.add_evidence_file(await _deps(info), str(id), expected_version, filename, content)
        return AppealPayload.of(done)

    @strawberry.mutation(description="A reviewer of the deciding unit takes the appeal (it is assigned to them).")
    async def take_appeal(self, info: Info, id: AppealId, expected_version: Version) -> AppealPayload:
        return AppealPayload.of(await review.assign_appeal(await _deps(info), str(id), expected_version))

    @strawberry.mutation(description="Ask the unit for more information; its reply is due in `replyDays` days.")
    async def request_information(
        self,
        info: Info,
        id: AppealId,
        expected_version: Version,
        message: Message,
        reply_days: Annotated[int, _arg("Days the unit has to reply (1–60).")] = 5,
    ) -> AppealPayload:
        done = await review.request_information(await _deps(info), str(id), expected_version, message, reply_days)
        return AppealPayload.of(done)

    @strawberry.mutation(description="The unit gives the information asked for (and may name more records).")
    async def give_information(
        self,
        info: Info,
        id: AppealId,
        expected_version: Version,
        message: Message,
        evidence_records: Records = None,
    ) -> AppealPayload:
        records = [r.to_json() for r in evidence_records or []]
        return AppealPayload.of(
            await filing.give_information(await _deps(info), str(id), expected_version, message, records)
        )

    @strawberry.mutation(
        description="Decide with a written reason; upheld indicators are revised by scoring, and "
        "the decision shows the score before and after."
    )
    async def decide_appeal(
        self,
        info: Info,
        id: AppealId,
        expected_version: Version,
        outcome: Annotated[OutcomeEnum, _arg("Upheld, partly upheld or rejected.")],
        reason: Reason,
        upheld_indicators: Annotated[list[str] | None, _arg("For partly upheld: the indicators upheld.")] = None,
    ) -> AppealPayload:
        done = await review.decide_appeal(
            await _deps(info), str(id), expected_version, workflow.Outcome(outcome), reason, upheld_indicators or []
        )
        return AppealPayload.of(done)

    @strawberry.mutation(description="Escalate a decision once to the organizer's parent unit, in time.")
    async def escalate_appeal(
        self, info: Info, id: AppealId, expected_version: Version, reason: Reason
    ) -> AppealPayload:
        return AppealPayload.of(await filing.escalate_appeal(await _deps(info), str(id), expected_version, reason))

    @strawberry.mutation(description="Withdraw the appeal (the appellant, until it is decided).")
    async def withdraw_appeal(
        self, info: Info, id: AppealId, expected_version: Version, reason: Annotated[str, _arg("Why (optional).")] = ""
    ) -> AppealPayload:
        return AppealPayload.of(await filing.withdraw_appeal(await _deps(info), str(id), expected_version, reason))

    @strawberry.mutation(
        description="Register (or replace) the caller's unit's webhook. Roles unit, organizer, reviewer or admin."
    )
    async def register_appeal_webhook(
        self,
        info: Info,
        url: Annotated[str, _arg("Where to POST (https to a public host in production).")],
        secret: Annotated[str, _arg("Shared secret for the HMAC signature (at least 16 characters).")],
    ) -> WebhookPayload:
        p = info.context.principal
        production = info.context.request.app.state.settings.env == "production"
        problems = notifications.check_webhook(url, secret, production=production)
        if not p.has_any(Role.UNIT, Role.ORGANIZER, Role.REVIEWER, Role.ADMIN):
            problems.append(workflow.Problem("FORBIDDEN_ROLE", "registering a webhook needs a role of the unit"))
        if problems:
            return WebhookPayload(webhook=None, problems=[AppealProblem.of(x) for x in problems])
        now = runtime(info).clock()
        session = info.context.session
        row = await session.get(Webhook, p.unit_id)
        if row is None:
            row = Webhook(unit_id=p.unit_id, url=url, secret=secret, registered_by=p.subject, registered_at=now)
            session.add(row)
        else:
            row.url, row.secret, row.registered_by, row.registered_at = url, secret, p.subject, now
        await session.flush()
        info_ = WebhookInfo(url=row.url, registered_by=row.registered_by, registered_at=row.registered_at)
        return WebhookPayload(webhook=info_, problems=[])

    @strawberry.mutation(description="Mark inbox entries of the caller's unit as read; returns how many changed.")
    async def mark_appeal_inbox_read(
        self, info: Info, ids: Annotated[list[strawberry.ID], _arg("Inbox entry ids.")]
    ) -> int:
        result = await info.context.session.execute(
            update(Notification)
            .where(
                Notification.id.in_([int(i) for i in ids]),
                Notification.unit_id == info.context.principal.unit_id,
                Notification.read_at.is_(None),
            )
            .values(read_at=runtime(info).clock())
        )
        return result.rowcount


@strawberry.type(
    description="Subscriptions of the appeals service (server-sent events or graphql-ws through the gateway); a "
    "subscription ends with `UNAUTHENTICATED` when the caller's token expires."
)
class Subscription:
    @strawberry.subscription(
        description="The caller's unit's inbox entries as they are written (a reviewer's: its deciding unit's), "
        "each as `appealInbox` lists it, of an appeal the caller may see — never a step taken while the appeal "
        "was a draft. To catch up after a reconnection, read `appealInbox`."
    )
    async def appeal_inbox_events(self, info: Info) -> AsyncGenerator[InboxEntry, None]:
        async with aclosing(live.inbox_entries(info.context)) as entries:
            async for entry in entries:
                yield InboxEntry.of(entry)


schema = federation_schema(query=Query, mutation=Mutation, subscription=Subscription, types=[Appeal, UnitResult, Unit])
