"""The appeal actions: load in scope, check the rules (``workflow``), write with a version check, record.

Every action returns the appeal (as it is now) and the problems that refused it; nothing is written
when there is a problem. A concurrent change raises ``CONFLICT`` (the unit of work then rolls back).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.scope import Scope
from services.appeals import evidence, repository, workflow
from services.appeals.models import Appeal, AppealDecision, EvidenceFile
from services.appeals.scoring import ScoringClient
from services.appeals.settlement import settle_if_final
from services.appeals.workflow import Actor, Ask, Problem, Status


@dataclass
class Deps:
    """What an action needs: the request's session, the caller, its scope, the clock and scoring."""

    session: AsyncSession
    actor: Actor
    scope: Scope
    now: datetime
    scoring: ScoringClient


@dataclass
class Done:
    appeal: Appeal | None
    problems: list[Problem]


NOT_FOUND = Problem("NOT_FOUND", "no such appeal (or it is not visible to you)")


def ask_to_json(ask: Ask) -> dict[str, Any]:
    return {
        "indicator": ask.indicator,
        "kind": ask.kind.value,
        "records": [{"source": s, "record_id": r} for s, r in ask.records],
        "value": ask.value,
    }


def ask_from_json(row: dict[str, Any]) -> Ask:
    return Ask(
        indicator=row["indicator"],
        kind=workflow.RequestKind(row["kind"]),
        records=tuple((r["source"], r["record_id"]) for r in row.get("records", [])),
        value=row.get("value"),
    )


async def _load(deps: Deps, appeal_id: str, expected_version: int) -> Appeal | None:
    """The visible appeal; ``CONFLICT`` if it moved past the version the caller acted on (whatever the
    rules would say about the new state, the caller's view is stale). The write re-checks the version."""
    try:
        key = uuid.UUID(appeal_id)
    except ValueError:
        return None
    appeal = (await repository.appeals_by_ids(deps.session, deps.scope, [key])).get(key)
    if appeal is not None and appeal.version != expected_version:
        repository.raise_conflict(appeal.id, expected_version, appeal.version)
    return appeal


async def file_appeal(
    deps: Deps,
    *,
    result_id: str,
    indicators: Sequence[str],
    category: workflow.ReasonCategory | None,
    reason: str,
    asks: Sequence[Ask],
    evidence_records: Sequence[dict[str, str]],
) -> Done:
    """File a draft against a result; scoring is asked for the result as the caller may see it."""
    result = await deps.scoring.result(result_id, acting_for=deps.actor.unit_id)
    if result is None:
        return Done(None, [Problem("NOT_FOUND", f"no result {result_id} (or it is not visible to you)", "result_id")])
    # Serializes filings of one unit on one run, so the per-result limit holds under concurrency.
    await deps.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"appeals:{result.run_id}:{result.unit_id}"}
    )
    count = await repository.appeals_on_result(deps.session, result.run_id, result.unit_id)
    problems = workflow.check_filing(
        deps.actor, result, now=deps.now, appeals_on_result=count, indicators=indicators, asks=asks,
        category=category, reason=reason,
    )  # fmt: skip
    if problems:
        return Done(None, problems)
    assert result.published_at is not None
    appeal = Appeal(
        id=uuid.uuid4(), result_id=result.result_id, result_ids=[result.result_id], run_id=result.run_id, revision=result.revision,
        unit_id=result.unit_id, organizer_id=result.organizer_id, deciding_unit_id=result.organizer_id,
        status=Status.DRAFT.value, reason_category=category.value if category else "", reason=reason,
        indicators=list(dict.fromkeys(indicators)), asks=[ask_to_json(a) for a in asks],
        evidence_records=list(evidence_records), published_at=result.published_at,
        window_closes_at=workflow.window_closes_at(result.published_at, result.limits.window_days),
        escalation_days=result.limits.escalation_days, decision_days=result.limits.decision_days,
        score_at_filing={"total": result.total, "indicators": dict(result.indicator_scores),
                         "max_indicators_per_appeal": result.limits.max_indicators_per_appeal},
        filed_by=deps.actor.subject, filed_at=deps.now, upheld_indicators=[], version=1, updated_at=deps.now,
    )  # fmt: skip
    deps.session.add(appeal)
    await deps.session.flush()
    await _remember_run(deps.session, appeal)
    await repository.record(deps.session, appeal, "filed", deps.actor, deps.now, result_id=result.result_id,
                            revision=result.revision, indicators=appeal.indicators, reason_category=appeal.reason_category)  # fmt: skip
    return Done(appeal, [])


async def _remember_run(session: AsyncSession, appeal: Appeal) -> None:
    await session.execute(
        text(
            "INSERT INTO appeals.run_settlement (run_id, organizer_id, window_closes_at) VALUES (:r, :o, :w) "
            "ON CONFLICT (run_id) DO NOTHING"
        ),
        {"r": appeal.run_id, "o": appeal.organizer_id, "w": appeal.window_closes_at},
    )


async def edit_appeal(deps: Deps, appeal_id: str, version: int, changes: dict[str, Any]) -> Done:
    """Edit a draft: indicators, reason, asks, record evidence (omitted fields keep their value)."""
    appeal = await _load(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_edit(deps.actor, repository.facts(appeal), now=deps.now)
    if problems:
        return Done(appeal, problems)
    indicators = changes.get("indicators", appeal.indicators)
    asks = changes.get("asks", [ask_from_json(a) for a in appeal.asks])
    category = changes.get("category", workflow.ReasonCategory(appeal.reason_category))
    reason = changes.get("reason", appeal.reason)
    scores = appeal.score_at_filing["indicators"]
    problems = workflow.check_asks(asks, indicators, scores, appeal.score_at_filing["max_indicators_per_appeal"])
    problems += workflow.check_reason(category, reason)
    if problems:
        return Done(appeal, problems)
    values = {
        "indicators": list(dict.fromkeys(indicators)), "asks": [ask_to_json(a) for a in asks],
        "reason_category": category.value, "reason": reason,
        "evidence_records": list(changes.get("evidence_records", appeal.evidence_records)),
    }  # fmt: skip
    appeal = await repository.save(deps.session, appeal, version, deps.now, **values)
    await repository.record(deps.session, appeal, "edited", deps.actor, deps.now, changed=sorted(changes))
    return Done(appeal, [])


async def submit_appeal(deps: Deps, appeal_id: str, version: int) -> Done:
    appeal = await _load(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_submit(deps.actor, repository.facts(appeal), now=deps.now)
    if problems:
        return Done(appeal, problems)
    appeal = await repository.save(
        deps.session, appeal, version, deps.now, status=Status.SUBMITTED.value, submitted_at=deps.now,
        decision_due_at=deps.now + timedelta(days=appeal.decision_days),
    )  # fmt: skip
    await repository.record(deps.session, appeal, "submitted", deps.actor, deps.now)
    return Done(appeal, [])


async def assign_appeal(deps: Deps, appeal_id: str, version: int) -> Done:
    """A reviewer of the deciding unit takes the appeal (it is assigned to them)."""
    appeal = await _load(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_assign(deps.actor, repository.facts(appeal))
    if problems:
        return Done(appeal, problems)
    appeal = await repository.save(
        deps.session, appeal, version, deps.now, status=Status.IN_REVIEW.value, assigned_to=deps.actor.subject
    )
    await repository.record(deps.session, appeal, "assigned", deps.actor, deps.now, reviewer=deps.actor.subject)
    return Done(appeal, [])


async def request_information(deps: Deps, appeal_id: str, version: int, message: str, reply_days: int) -> Done:
    appeal = await _load(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_request_information(
        deps.actor, repository.facts(appeal), message=message, reply_days=reply_days
    )
    if problems:
        return Done(appeal, problems)
    due = deps.now + timedelta(days=reply_days)
    appeal = await repository.save(
        deps.session, appeal, version, deps.now, status=Status.INFORMATION_REQUESTED.value, information_due_at=due
    )
    await repository.record(deps.session, appeal, "information_requested", deps.actor, deps.now, message=message,
                            reply_due_at=due.isoformat())  # fmt: skip
    return Done(appeal, [])


async def give_information(
    deps: Deps, appeal_id: str, version: int, message: str, evidence_records: Sequence[dict[str, str]]
) -> Done:
    """The unit answers; the reply is recorded with whether it came after the reply was due."""
    appeal = await _load(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_give_information(deps.actor, repository.facts(appeal), message=message)
    if problems:
        return Done(appeal, problems)
    late = appeal.information_due_at is not None and deps.now > appeal.information_due_at
    appeal = await repository.save(
        deps.session, appeal, version, deps.now, status=Status.IN_REVIEW.value, information_due_at=None,
        evidence_records=[*appeal.evidence_records, *evidence_records],
    )  # fmt: skip
    await repository.record(deps.session, appeal, "information_given", deps.actor, deps.now, message=message,
                            late=late, evidence_records=list(evidence_records))  # fmt: skip
    return Done(appeal, [])


async def decide_appeal(
    deps: Deps, appeal_id: str, version: int, outcome: workflow.Outcome, reason: str, upheld: Sequence[str]
) -> Done:
    """Decide; upheld indicators become adjustments that scoring applies in a new revision of the run."""
    appeal = await _load(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    facts = repository.facts(appeal)
    problems = workflow.check_decide(
        deps.actor, facts, outcome=outcome, reason=reason, disputed=appeal.indicators, upheld_indicators=upheld
    )
    if problems:
        return Done(appeal, problems)
    upheld_now = workflow.upheld_of(outcome, appeal.indicators, upheld)
    new = upheld_now - facts.upheld_indicators
    level = 1 if appeal.escalated_to else 0
    # The version check first: a second reviewer deciding at once gets CONFLICT before scoring is called.
    appeal = await repository.save(
        deps.session, appeal, version, deps.now, status=Status.DECIDED.value, outcome=outcome.value,
        decided_at=deps.now, upheld_indicators=sorted(facts.upheld_indicators | upheld_now),
    )  # fmt: skip
    decision = AppealDecision(
        appeal_id=appeal.id, level=level, outcome=outcome.value, reason=reason, upheld_indicators=sorted(upheld_now),
        decided_by=deps.actor.subject, deciding_unit_id=deps.actor.unit_id, decided_at=deps.now,
        due_at=appeal.decision_due_at,
    )  # fmt: skip
    deps.session.add(decision)
    await repository.record(deps.session, appeal, "decided", deps.actor, deps.now, level=level, outcome=outcome.value,
                            reason=reason, upheld_indicators=sorted(upheld_now))  # fmt: skip
    asks = [ask_from_json(a) for a in appeal.asks]
    adjustments = workflow.adjustments(appeal.unit_id, asks, new)
    if adjustments:
        changes = await deps.scoring.revise(
            appeal.run_id, acting_for=deps.actor.unit_id, appeal_id=f"{appeal.id}:{level}", reason=reason,
            adjustments=adjustments,
        )  # fmt: skip
        mine = next((c for c in changes if c.unit == appeal.unit_id), None)
        if mine is not None:
            decision.new_revision, decision.score_change = mine.revision, mine.to_json()
            appeal.result_ids = [*appeal.result_ids, mine.result_id]  # flushed below
            await repository.record(deps.session, appeal, "revision_applied", deps.actor, deps.now,
                                    adjustments=adjustments, **mine.to_json())  # fmt: skip
    await deps.session.flush()
    await settle_if_final(deps.session, deps.scoring, appeal.run_id, now=deps.now)
    return Done(appeal, [])


async def escalate_appeal(deps: Deps, appeal_id: str, version: int, reason: str) -> Done:
    """Once, to the organizer's parent unit, within the scheme's escalation time after the decision."""
    appeal = await _load(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    parent = await repository.parent_of(deps.session, appeal.organizer_id)
    problems = workflow.check_escalate(deps.actor, repository.facts(appeal), now=deps.now, parent_id=parent)
    if not problems and not reason.strip():
        problems = [Problem("NO_REASON", "say why the decision should be reviewed again", "reason")]
    if problems:
        return Done(appeal, problems)
    appeal = await repository.save(
        deps.session, appeal, version, deps.now, status=Status.ESCALATED.value, escalated_to=parent,
        deciding_unit_id=parent, assigned_to=None, decision_due_at=deps.now + timedelta(days=appeal.decision_days),
    )  # fmt: skip
    await repository.record(deps.session, appeal, "escalated", deps.actor, deps.now, to=parent, reason=reason)
    return Done(appeal, [])


async def withdraw_appeal(deps: Deps, appeal_id: str, version: int, reason: str) -> Done:
    appeal = await _load(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_withdraw(deps.actor, repository.facts(appeal))
    if problems:
        return Done(appeal, problems)
    appeal = await repository.save(deps.session, appeal, version, deps.now, status=Status.WITHDRAWN.value)
    await repository.record(deps.session, appeal, "withdrawn", deps.actor, deps.now, reason=reason)
    return Done(appeal, [])


async def add_evidence_file(deps: Deps, appeal_id: str, version: int, filename: str, content_base64: str) -> Done:
    """Attach a file while the unit may still add evidence (a draft, or when information is requested)."""
    appeal = await _load(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_appellant(deps.actor, appeal.unit_id)
    if not problems and appeal.status not in (Status.DRAFT, Status.INFORMATION_REQUESTED):
        problems = [Problem("INVALID_TRANSITION", f"evidence cannot be added to an appeal that is {appeal.status}")]
    try:
        content = base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError):
        content, problems = b"", [*problems, Problem("BAD_CONTENT", "content must be base64", "content_base64")]
    if problems:
        return Done(appeal, problems)
    count = await deps.session.scalar(select(func.count()).where(EvidenceFile.appeal_id == appeal.id))
    sniffed, problems = evidence.check_file(filename, content, files_already=int(count or 0))
    if not problems and await deps.session.scalar(
        select(EvidenceFile.id).where(EvidenceFile.appeal_id == appeal.id, EvidenceFile.sha256 == sniffed.sha256)
    ):
        problems = [Problem("DUPLICATE_FILE", "this file is already attached to the appeal", "content_base64")]
    if problems:
        return Done(appeal, problems)
    assert sniffed is not None
    file = EvidenceFile(
        id=uuid.uuid4(), appeal_id=appeal.id, filename=filename, media_type=sniffed.media_type,
        size_bytes=sniffed.size_bytes, sha256=sniffed.sha256, content=content, uploaded_by=deps.actor.subject,
        uploaded_at=deps.now,
    )  # fmt: skip
    deps.session.add(file)
    appeal = await repository.save(deps.session, appeal, version, deps.now)
    await repository.record(deps.session, appeal, "evidence_added", deps.actor, deps.now, file_id=str(file.id),
                            filename=filename, media_type=sniffed.media_type, sha256=sniffed.sha256)  # fmt: skip
    return Done(appeal, [])
