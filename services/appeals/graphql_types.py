"""GraphQL types of the appeals subgraph (the schema is the documentation portal teams read)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from hotline.kit.graphql import RequestContext, described_enum
from services.appeals import models, plausibility, repository, workflow
from services.appeals.spelling import spelled_data

if TYPE_CHECKING:
    from services.appeals.graphql_consequences import AppealConsequence
    from services.appeals.runtime import Runtime
    from services.appeals.schema import UnitResult

CONSEQUENCES = "services.appeals.graphql_consequences"

Info = strawberry.Info[RequestContext, None]

StatusEnum = described_enum(
    workflow.Status,
    name="AppealStatus",
    description="Where an appeal stands: draft 草稿, submitted 已提交, in_review 审核中, information_requested "
    "待补充材料, decided 已决定, escalated 已提请上级复核, withdrawn 已撤回.",
    values={
        "DRAFT": "草稿: being written by the unit; editable, not yet seen by reviewers.",
        "SUBMITTED": "已提交: filed within the appeal window; waiting for a reviewer.",
        "IN_REVIEW": "审核中: a reviewer has taken it up.",
        "INFORMATION_REQUESTED": "待补充材料: the reviewer asked the unit for more information; the reply clock runs.",
        "DECIDED": "已决定: upheld, partly upheld or rejected, with a written reason.",
        "ESCALATED": "已提请上级复核: the unit asked the parent unit to review the decision (once).",
        "WITHDRAWN": "已撤回: withdrawn by the unit before a decision.",
    },
)
OutcomeEnum = described_enum(
    workflow.Outcome,
    name="AppealOutcome",
    description="A decision: upheld 支持, partly_upheld 部分支持, rejected 驳回.",
    values={
        "UPHELD": "支持: every request of the appeal is granted; the run is recomputed as asked.",
        "PARTLY_UPHELD": "部分支持: some indicators' requests are granted, the others refused, each with a reason.",
        "REJECTED": "驳回: nothing is granted; the result stands.",
    },
)
ReasonEnum = described_enum(
    workflow.ReasonCategory,
    name="AppealReasonCategory",
    description="Why the unit disputes its result: wrong data 数据错误, wrong unit attribution 责任单位错误, formula or "
    "rule misapplied 规则适用错误, force majeure 不可抗力, other 其他.",
    values={
        "WRONG_DATA": "数据错误: records behind the score are wrong, duplicated or missing.",
        "WRONG_ATTRIBUTION": "责任单位错误: records were attributed to the wrong unit.",
        "RULE_MISAPPLIED": "规则适用错误: the indicator's formula, reference or scoring rule was misapplied.",
        "FORCE_MAJEURE": "不可抗力: events outside the unit's control (disaster, system outage) affected the data.",
        "OTHER": "其他: any other reason, explained in the appeal's text.",
    },
)
AskKindEnum = described_enum(
    workflow.RequestKind,
    name="AppealAskKind",
    description="What the unit asks for: exclude records 剔除记录, correct a value 更正数值, re-score an expert item "
    "重新评分, or (appealing a consequence of another unit's appeal) reconsider the correction that moved it.",
    values={
        "EXCLUDE_RECORDS": "剔除记录: leave the named records out of the indicator's measures.",
        "CORRECT_VALUE": "更正数值: replace the indicator's value with the one the unit gives and justifies.",
        "RESCORE_EXPERT_ITEM": "重新评分: have an expert-scored item scored again.",
        "CONTEST_CONSEQUENCE": "对连带影响提出异议: in an appeal of a consequence only — reconsider the correction of "
        "another unit's value that moved this unit's result; `value` is the value proposed for that correction "
        "(optional: the deciding unit sets it).",
    },
)


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
    field: str | None = strawberry.field(description="The input field to blame, if one is.")

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
