"""Mutations of the appeals subgraph. Resolvers only translate: rules live in ``workflow``, ``values`` and
``consequence_rules``, actions in ``filing`` and ``review``. Files come as GraphQL multipart uploads (the
GraphQL multipart request spec, through the gateway up to the limit the README states) or, for small files,
base64."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from sqlalchemy import update
from strawberry.file_uploads import Upload

from hotline.kit.auth import Role
from services.appeals import filing, notifications, review, service, workflow
from services.appeals.evidence import MAX_FILE_BYTES
from services.appeals.graphql_decisions import AcceptedValueInput
from services.appeals.graphql_enums import Info, OutcomeEnum, ReasonEnum
from services.appeals.graphql_types import AppealAskInput, AppealPayload, AppealProblem, RecordRefInput, runtime
from services.appeals.models import Notification, Webhook


def _arg(description: str):
    return strawberry.argument(description=description)


AppealId = Annotated[strawberry.ID, _arg("The appeal's id.")]
Version = Annotated[int, _arg("The appeal's `version` as you last read it (optimistic concurrency).")]
Reason = Annotated[str, _arg("The reason, in writing.")]
Message = Annotated[str, _arg("The message to the other party.")]
Records = Annotated[list[RecordRefInput] | None, _arg("Records named as evidence, as (source, record id).")]
Indicators = Annotated[list[str], _arg("Codes of the disputed indicators (at most the scheme's limit).")]
Asks = Annotated[list[AppealAskInput] | None, _arg("What the unit asks for, per disputed indicator.")]
Files = Annotated[
    list[Upload] | None,
    _arg("Evidence files as GraphQL multipart uploads (each ≤ 10 MiB; PDF, PNG, JPEG, DOCX, XLSX, UTF-8 text)."),
]
AcceptedValues = Annotated[
    list[AcceptedValueInput] | None,
    _arg("Values accepted for upheld value requests, when other than the ones asked for (the decision says so)."),
]


async def deps_of(info: Info) -> service.Deps:
    rt = runtime(info)
    return service.Deps(
        session=info.context.session,
        actor=service.actor_of(info.context.principal),
        scope=await info.context.scope(),
        now=rt.clock(),
        scoring=rt.scoring,
    )


async def read_upload(upload) -> tuple[str, bytes]:
    """An uploaded file's name and content, read up to one byte past the limit (so too large is told, not read)."""
    return str(getattr(upload, "filename", "") or ""), await upload.read(MAX_FILE_BYTES + 1)


def accepted_of(values: list[AcceptedValueInput] | None) -> dict[str, float]:
    return {v.indicator: v.value for v in values or []}


@strawberry.type(name="AppealWebhook", description="The caller's unit's webhook (the secret is never shown).")
class WebhookInfo:
    url: str = strawberry.field(description="Where notifications are POSTed.")
    registered_by: str = strawberry.field(description="Who registered it.")
    registered_at: dt.datetime = strawberry.field(description="When.")


@strawberry.type(name="AppealWebhookPayload", description="The outcome of registering a webhook.")
class WebhookPayload:
    webhook: WebhookInfo | None = strawberry.field(description="The webhook now registered.")
    problems: list[AppealProblem] = strawberry.field(description="Why it was refused; empty on success.")


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
        consequence_id: Annotated[
            strawberry.ID | None,
            _arg(
                "Appeal this consequence of another unit's appeal (`AppealConsequence`): within its own window, on "
                "its `appealableIndicators`, asking `CONTEST_CONSEQUENCE`; `resultId` is its result."
            ),
        ] = None,
    ) -> AppealPayload:
        deps = await deps_of(info)
        done = await filing.file_appeal(
            deps,
            result_id=str(result_id),
            indicators=indicators,
            category=workflow.ReasonCategory(reason_category),
            reason=reason,
            asks=[a.to_ask() for a in asks or []],
            evidence_records=[r.to_json() for r in evidence_records or []],
            consequence_id=str(consequence_id) if consequence_id is not None else None,
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
        return AppealPayload.of(await filing.edit_appeal(await deps_of(info), str(id), expected_version, changes))

    @strawberry.mutation(description="Submit a draft to the organizer (inside the appeal window).")
    async def submit_appeal(self, info: Info, id: AppealId, expected_version: Version) -> AppealPayload:
        return AppealPayload.of(await filing.submit_appeal(await deps_of(info), str(id), expected_version))

    @strawberry.mutation(
        description="Attach an evidence file while the appeal is a draft or information is requested: `file` as a "
        "GraphQL multipart upload (the way for large files; through the gateway a file of up to 10 MiB), or "
        "`contentBase64` (small files: a JSON request body is limited to 1 MiB). The type is judged by content "
        "(PDF, PNG, JPEG, DOCX, XLSX, UTF-8 text), ≤ 10 MiB."
    )
    async def add_evidence_file(
        self,
        info: Info,
        id: AppealId,
        expected_version: Version,
        filename: Annotated[
            str | None, _arg("The file's name (no path); defaults to the uploaded file's own name.")
        ] = None,
        content_base64: Annotated[str | None, _arg("The file's content, base64 (instead of `file`).")] = None,
        file: Annotated[
            Upload | None, _arg("The file, as a GraphQL multipart upload (instead of `contentBase64`).")
        ] = None,
    ) -> AppealPayload:
        deps = await deps_of(info)
        if (file is None) == (content_base64 is None):
            problem = workflow.Problem("BAD_CONTENT", "give the file once: as `file` (an upload) or `contentBase64`")
            return AppealPayload.of(service.Done(None, [problem]))
        if file is not None:
            uploaded_name, content = await read_upload(file)
        else:
            uploaded_name, content = "", filing.decode_base64(content_base64 or "")
        name = filename if filename is not None else uploaded_name
        done = await filing.add_evidence_file(deps, str(id), expected_version, name, content)
        return AppealPayload.of(done)

    @strawberry.mutation(description="A reviewer of the deciding unit takes the appeal (it is assigned to them).")
    async def take_appeal(self, info: Info, id: AppealId, expected_version: Version) -> AppealPayload:
        return AppealPayload.of(await review.assign_appeal(await deps_of(info), str(id), expected_version))

    @strawberry.mutation(description="Ask the unit for more information; its reply is due in `replyDays` days.")
    async def request_information(
        self,
        info: Info,
        id: AppealId,
        expected_version: Version,
        message: Message,
        reply_days: Annotated[int, _arg("Days the unit has to reply (1–60).")] = 5,
    ) -> AppealPayload:
        done = await review.request_information(await deps_of(info), str(id), expected_version, message, reply_days)
        return AppealPayload.of(done)

    @strawberry.mutation(
        description="The unit gives the information asked for, and may name more records and attach files (all "
        "checked together: one refused file refuses the reply, nothing is stored)."
    )
    async def give_information(
        self,
        info: Info,
        id: AppealId,
        expected_version: Version,
        message: Message,
        evidence_records: Records = None,
        files: Files = None,
    ) -> AppealPayload:
        records = [r.to_json() for r in evidence_records or []]
        uploads = [await read_upload(f) for f in files or []]
        return AppealPayload.of(
            await filing.give_information(await deps_of(info), str(id), expected_version, message, records, uploads)
        )

    @strawberry.mutation(
        description="Decide with a written reason; upheld indicators are revised by scoring, and the decision shows "
        "the score before and after. Only indicators the appeal asks something for can be upheld; a value is "
        "accepted within what the indicator can take (`acceptedValues` when other than asked; the decision says "
        "so). After an escalation, REJECTED lets the first decision stand. Every other unit the revision moves is "
        "told (see `appealDecisionPreview` to know them before deciding)."
    )
    async def decide_appeal(
        self,
        info: Info,
        id: AppealId,
        expected_version: Version,
        outcome: Annotated[OutcomeEnum, _arg("Upheld, partly upheld or rejected.")],
        reason: Reason,
        upheld_indicators: Annotated[list[str] | None, _arg("For partly upheld: the indicators upheld.")] = None,
        accepted_values: AcceptedValues = None,
    ) -> AppealPayload:
        done = await review.decide_appeal(
            await deps_of(info),
            str(id),
            expected_version,
            workflow.Outcome(outcome),
            reason,
            upheld_indicators or [],
            accepted_of(accepted_values),
        )
        return AppealPayload.of(done)

    @strawberry.mutation(description="Escalate a decision once to the organizer's parent unit, in time.")
    async def escalate_appeal(
        self, info: Info, id: AppealId, expected_version: Version, reason: Reason
    ) -> AppealPayload:
        return AppealPayload.of(await filing.escalate_appeal(await deps_of(info), str(id), expected_version, reason))

    @strawberry.mutation(description="Withdraw the appeal (the appellant, until it is decided).")
    async def withdraw_appeal(
        self, info: Info, id: AppealId, expected_version: Version, reason: Annotated[str, _arg("Why (optional).")] = ""
    ) -> AppealPayload:
        return AppealPayload.of(await filing.withdraw_appeal(await deps_of(info), str(id), expected_version, reason))

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
