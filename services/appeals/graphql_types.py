"""GraphQL types of the appeals subgraph (the schema is the documentation portal teams read)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from services.appeals import models, plausibility, repository, workflow
from services.appeals.graphql_decisions import AppealDecision
from services.appeals.graphql_enums import AskKindEnum, Info, OutcomeEnum, ReasonEnum, StatusEnum
from services.appeals.spelling import spelled_data

if TYPE_CHECKING:
    from services.appeals.graphql_consequences import AppealConsequence
    from services.appeals.runtime import Runtime
    from services.appeals.schema import UnitResult

CONSEQUENCES = "services.appeals.graphql_consequences"


def runtime(info: Info) -> Runtime:
    return info.context.request.app.state.appeals


@strawberry.type(
    name="AppealRecordRef",
    description="A raw record named by its source system and the source's own id (as ingest keys it).",
)
class RecordRef:
    source: str = strawberry.field(description="Source system code, e.g. `gz-12345-orders`.")
    record_id: str = strawberry.field(description="The record's id in that source, e.g. a work-order number.")
    note: str | None = strawberry.field(default=None, description="Why this record matters, in the unit's words.")


@strawberry.input(name="AppealRecordRefInput", description="A raw record named by source system and record id.")
class RecordRefInput:
    source: str = strawberry.field(description="Source system code.")
    record_id: str = strawberry.field(description="The record's id in that source.")
    note: str | None = strawberry.field(default=None, description="Why this record matters.")

    def to_json(self) -> dict:
        return {"source": self.source, "record_id": self.record_id, **({"note": self.note} if self.note else {})}


@strawberry.type(description="Why an action was refused (an expected problem, returned as data).")
class AppealProblem:
    code: str = strawberry.field(
        description="Stable code: NOT_FOUND, WRONG_UNIT, NOT_PUBLISHED, WINDOW_CLOSED, SELF_REVIEW, "
        "INVALID_TRANSITION, TOO_MANY_APPEALS, TOO_MANY_INDICATORS, ALREADY_ESCALATED, FILE_TYPE_REFUSED, "
        "NOTHING_ASKED, CANNOT_REVERSE, VALUE_OUT_OF_RANGE, NO_ACCEPTED_VALUE, NOT_A_VALUE_UPHELD, "
        "OUTSIDE_CONSEQUENCE, ALREADY_APPEALED, NOT_APPEALABLE, WRONG_ASK_KIND …; as a flag or warning: "
        "OUT_OF_RANGE, BETTER_THAN_OBSERVED, VALUE_DIFFERS."
    )
    message: str = strawberry.field(description="What is wrong, for people.")
    field: str | None = strawberry.field(
        description="The input field to blame, if one is (null: the whole request).",
        deprecation_reason="Use `path`, the name every payload of the API uses.",
    )

    @strawberry.field(
        description="The input field to blame, e.g. `indicators`, `reason` (empty: the whole request) — the same "
        "`path` as in scoring's and indicators' problems, so one client shape reads every payload."
    )
    def path(self) -> str:
        return self.field or ""

    @classmethod
    def of(cls, p: workflow.Problem) -> AppealProblem:
        return cls(code=p.code, message=p.message, field=p.field)


@strawberry.type(description="What the unit asks for on one disputed indicator.")
class AppealAsk:
    indicator: str = strawberry.field(description="Indicator code, e.g. `on_time_closure_rate`.")
    kind: AskKindEnum = strawberry.field(description="Exclude records, correct the value, or re-score an expert item.")
    records: list[RecordRef] = strawberry.field(description="The records to exclude (exclude_records only).")
    value: float | None = strawberry.field(description="The corrected value or the score asked for.")
    flags: list[AppealProblem] = strawberry.field(
        description="For the reviewer: the value asked for is outside what the indicator can take (`OUT_OF_RANGE`; "
        "it cannot be accepted as asked) or better than the best value observed in the cohort this period and "
        "the last ones (`BETTER_THAN_OBSERVED`; every unit scored against the best would lose points)."
    )


@strawberry.input(description="What the unit asks for on one disputed indicator.")
class AppealAskInput:
    indicator: str = strawberry.field(description="Indicator code (one of the appeal's disputed indicators).")
    kind: AskKindEnum = strawberry.field(description="What is asked for.")
    records: list[RecordRefInput] = strawberry.field(default_factory=list, description="Records to exclude.")
    value: float | None = strawberry.field(default=None, description="Corrected value, or the expert score asked for.")

    def to_ask(self) -> workflow.Ask:
        return workflow.Ask(
            indicator=self.indicator,
            kind=workflow.RequestKind(self.kind),
            records=tuple((r.source, r.record_id) for r in self.records),
            value=self.value,
        )


@strawberry.type(description="One step in an appeal's append-only record: who, when, what.")
class AppealEvent:
    id: strawberry.ID = strawberry.field(description="Event id; increases with time.")
    kind: str = strawberry.field(
        description="filed, edited, submitted, assigned, information_requested, information_given, decided, "
        "escalated, withdrawn, revision_applied, evidence_added."
    )
    actor_subject: str = strawberry.field(description="Who acted (the token's subject).")
    actor_unit_id: str = strawberry.field(description="The unit the actor acted for.")
    occurred_at: dt.datetime = strawberry.field(description="When, by the server's clock.")
    data: JSON = strawberry.field(
        description="What: the step's details (reason, outcome, scores, file hash …); statuses and outcomes spelled "
        "as the enums are (`PARTLY_UPHELD`)."
    )

    @classmethod
    def of(cls, e: models.AppealEvent) -> AppealEvent:
        return cls(
            id=strawberry.ID(str(e.id)),
            kind=e.kind,
            actor_subject=e.actor_subject,
            actor_unit_id=e.actor_unit_id,
            occurred_at=e.occurred_at,
            data=spelled_data(e.data),
        )


@strawberry.type(
    name="AppealEvidenceFile", description="A file of evidence: its type was judged by content; download it over REST."
)
class EvidenceFile:
    id: strawberry.ID = strawberry.field(description="File id.")
    filename: str = strawberry.field(description="The name it was uploaded with.")
    media_type: str = strawberry.field(description="Type sniffed from the content (PDF, PNG, JPEG, DOCX, XLSX, text).")
    size_bytes: int = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the content, hex.")
    uploaded_by: str = strawberry.field(description="Who uploaded it.")
    uploaded_at: dt.datetime = strawberry.field(description="When.")
    download_path: str = strawberry.field(
        description="GET this path on the gateway (or the appeals service) with the bearer token; served to the "
        "caller only if it may see the appeal."
    )


def _batched(info: Info, name: str, fetch):
    ctx = info.context

    async def load(ids: list[uuid.UUID]) -> list:
        found = await fetch(ctx.session, ids)
        return [found.get(i, []) for i in ids]

    return ctx.loader(name, load)


@strawberry.federation.type(
    keys=["id"],
    description="An appeal (申诉) of an evaluated unit against its published result. Visible to the appellant's "
    "subtree, the organizer's subtree and the unit it was escalated to.",
)
class Appeal:
    id: strawberry.ID = strawberry.field(description="Appeal id (uuid).")
    version: int = strawberry.field(description="Concurrency version: pass it as `expectedVersion` to change it.")
    status: StatusEnum = strawberry.field(description="Where the appeal stands.")
    result_id: strawberry.ID = strawberry.field(description="The disputed result (scoring's `UnitResult.id`).")
    run_id: strawberry.ID = strawberry.field(description="The evaluation run of the result.")
    revision: int = strawberry.field(
        description="The run revision the appeal was filed against (it never changes; see `currentRevision`)."
    )
    consequence_id: strawberry.ID | None = strawberry.field(
        description="For an appeal of a consequence of another unit's appeal: that consequence."
    )
    unit_id: strawberry.ID = strawberry.field(description="The appellant: the evaluated unit.")
    organizer_id: strawberry.ID = strawberry.field(description="The run's organizer (评价组织单位).")
    deciding_unit_id: strawberry.ID = strawberry.field(
        description="Who decides now: organizer, or parent if escalated."
    )
    escalated_to: strawberry.ID | None = strawberry.field(description="The parent unit it was escalated to, if any.")
    indicators: list[str] = strawberry.field(description="The disputed indicators' codes.")
    reason_category: ReasonEnum = strawberry.field(description="Category of the reason.")
    reason: str = strawberry.field(description="The unit's reason in its own words.")
    asks: list[AppealAsk] = strawberry.field(description="What the unit asks for, per indicator.")
    evidence_records: list[RecordRef] = strawberry.field(description="Records named as evidence.")
    published_at: dt.datetime = strawberry.field(description="When the result was published.")
    window_closes_at: dt.datetime = strawberry.field(description="End of the appeal window (申诉期限).")
    filed_by: str = strawberry.field(description="Who filed it.")
    filed_at: dt.datetime = strawberry.field(description="When it was filed (as a draft).")
    submitted_at: dt.datetime | None = strawberry.field(description="When it was submitted.")
    assigned_to: str | None = strawberry.field(description="The reviewer who took it.")
    information_due_at: dt.datetime | None = strawberry.field(description="When the unit's reply is due, if asked.")
    decision_due_at: dt.datetime | None = strawberry.field(description="When a decision is due.")
    decided_at: dt.datetime | None = strawberry.field(description="When it was (last) decided.")
    escalation_closes_at: dt.datetime | None = strawberry.field(description="Until when the decision may be escalated.")
    outcome: OutcomeEnum | None = strawberry.field(description="The current decision's outcome.")
    upheld_indicators: list[str] = strawberry.field(description="Indicators upheld so far.")
    score_total_at_filing: float | None = strawberry.field(description="The result's total when the appeal was filed.")
    information_waited_hours: float = strawberry.field(
        description="Hours spent waiting for the unit's information, all requests together."
    )
    appeal_key: strawberry.Private[uuid.UUID]
    filing_scores: strawberry.Private[dict]

    @strawberry.field(
        description="The run's latest revision that appeals has learned of (from results read and from the "
        "revisions decisions made); `result { revision }` asks scoring itself, recomputations included."
    )
    async def current_revision(self, info: Info) -> int:
        ctx = info.context

        async def load(run_ids: list[str]) -> list[int | None]:
            found = await repository.latest_revisions(ctx.session, run_ids)
            return [found.get(r) for r in run_ids]

        latest = await ctx.loader("latest_revision", load).load(str(self.run_id))
        return max(self.revision, latest or 0)

    @strawberry.field(description="For an appeal of a consequence of another unit's appeal: that consequence.")
    async def consequence(self, info: Info) -> Annotated[AppealConsequence, strawberry.lazy(CONSEQUENCES)] | None:
        from services.appeals.graphql_consequences import consequence_by_id

        return await consequence_by_id(info, str(self.consequence_id)) if self.consequence_id else None

    @strawberry.field(description="The disputed result, resolved by scoring (scoped by scoring as every read).")
    def result(self) -> Annotated[UnitResult, strawberry.lazy("services.appeals.schema")]:
        from services.appeals.schema import UnitResult

        return UnitResult(id=self.result_id)

    @classmethod
    def of(cls, a: models.Appeal) -> Appeal:
        facts = {
            code: plausibility.IndicatorFacts.from_json(row)
            for code, row in (a.score_at_filing.get("indicator_facts") or {}).items()
        }
        return cls(
            id=strawberry.ID(str(a.id)),
            version=a.version,
            status=workflow.Status(a.status),
            result_id=strawberry.ID(a.result_id),
            run_id=strawberry.ID(a.run_id),
            revision=a.revision,
            consequence_id=strawberry.ID(str(a.consequence_id)) if a.consequence_id else None,
            unit_id=strawberry.ID(a.unit_id),
            organizer_id=strawberry.ID(a.organizer_id),
            deciding_unit_id=strawberry.ID(a.deciding_unit_id),
            escalated_to=strawberry.ID(a.escalated_to) if a.escalated_to else None,
            indicators=list(a.indicators),
            reason_category=workflow.ReasonCategory(a.reason_category),
            reason=a.reason,
            asks=[
                AppealAsk(
                    indicator=x["indicator"],
                    kind=workflow.RequestKind(x["kind"]),
                    value=x.get("value"),
                    records=[RecordRef(source=r["source"], record_id=r["record_id"]) for r in x["records"]],
                    flags=[
                        AppealProblem(code=code, message=message, field="value")
                        for code, message in plausibility.flags(x.get("value"), facts.get(x["indicator"]))
                    ],
                )
                for x in a.asks
            ],
            evidence_records=[
                RecordRef(source=r["source"], record_id=r["record_id"], note=r.get("note")) for r in a.evidence_records
            ],
            published_at=a.published_at,
            window_closes_at=a.window_closes_at,
            filed_by=a.filed_by,
            filed_at=a.filed_at,
            submitted_at=a.submitted_at,
            assigned_to=a.assigned_to,
            information_due_at=a.information_due_at,
            decision_due_at=a.decision_due_at,
            decided_at=a.decided_at,
            escalation_closes_at=(
                workflow.escalation_closes_at(a.decided_at, a.escalation_days)
                if a.decided_at and not a.escalated_to
                else None
            ),
            outcome=workflow.Outcome(a.outcome) if a.outcome else None,
            upheld_indicators=list(a.upheld_indicators),
            score_total_at_filing=a.score_at_filing.get("total"),
            information_waited_hours=round((a.information_waited_seconds or 0.0) / 3600, 2),
            appeal_key=a.id,
            filing_scores=a.score_at_filing,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Appeal | None:
        # Entity look-ups are scoped like every other read path.
        try:
            key = uuid.UUID(str(id))
        except ValueError:
            return None

        async def load(keys: list[uuid.UUID]) -> list[Appeal | None]:
            found = await repository.appeals_by_ids(info.context.session, await info.context.scope(), keys)
            return [Appeal.of(found[k]) if k in found else None for k in keys]

        return await info.context.loader("appeal_by_id", load).load(key)

    @strawberry.field(description="The append-only record of every step, oldest first.")
    async def events(self, info: Info) -> list[AppealEvent]:
        rows = await _batched(info, "events", repository.events_for).load(self.appeal_key)
        return [AppealEvent.of(e) for e in rows]

    @strawberry.field(description="The decisions: the organizer's, and the parent's after an escalation.")
    async def decisions(self, info: Info) -> list[AppealDecision]:
        rows = await _batched(info, "decisions", repository.decisions_for).load(self.appeal_key)
        out, total = [], self.filing_scores.get("total")
        for row in rows:  # a decision that changed nothing shows the total the one before it left
            out.append(AppealDecision.of(row, total))
            total = out[-1].total_after
        return out

    @strawberry.field(description="Evidence files (metadata; the content is downloaded over REST).")
    async def evidence_files(self, info: Info) -> list[EvidenceFile]:
        rows = await _batched(info, "files", repository.files_for).load(self.appeal_key)
        return [
            EvidenceFile(
                id=strawberry.ID(str(f.id)),
                filename=f.filename,
                media_type=f.media_type,
                size_bytes=f.size_bytes,
                sha256=f.sha256,
                uploaded_by=f.uploaded_by,
                uploaded_at=f.uploaded_at,
                download_path=f"/appeals/{self.appeal_key}/evidence/{f.id}",
            )
            for f in rows
        ]


@strawberry.type(description="The outcome of an appeal action: the appeal as it is now, and any problems.")
class AppealPayload:
    appeal: Appeal | None = strawberry.field(description="The appeal (null if it does not exist or is not visible).")
    problems: list[AppealProblem] = strawberry.field(description="Why the action was refused; empty on success.")
    warnings: list[AppealProblem] = strawberry.field(
        description="What the action did that deserves attention (a value accepted beyond anything observed, or "
        "other than the one asked for); the action was applied."
    )
    ok: bool = strawberry.field(description="True when the action was applied.")

    @classmethod
    def of(cls, done) -> AppealPayload:
        return cls(
            appeal=Appeal.of(done.appeal) if done.appeal is not None else None,
            problems=[AppealProblem.of(p) for p in done.problems],
            warnings=[AppealProblem.of(p) for p in done.warnings],
            ok=not done.problems,
        )
