"""The appellant's actions: file (a draft), edit, attach evidence, submit, answer an information
request, escalate a decision once, withdraw."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text

from services.appeals import consequence_rules, consequences, evidence, repository, workflow
from services.appeals.models import Appeal, EvidenceFile, PeerConsequence
from services.appeals.service import NOT_FOUND, Deps, Done, ask_from_json, ask_to_json, load_for_change
from services.appeals.settlement import settle_if_final
from services.appeals.workflow import Ask, Problem, Status


async def file_appeal(
    deps: Deps,
    *,
    result_id: str,
    indicators: Sequence[str],
    category: workflow.ReasonCategory | None,
    reason: str,
    asks: Sequence[Ask],
    evidence_records: Sequence[dict[str, str]],
    consequence_id: str | None = None,
) -> Done:
    """File a draft against a result; scoring is asked for the result as the caller may see it. With
    ``consequence_id``, an appeal of that consequence of another unit's appeal (its own window and indicators)."""
    result = await deps.scoring.result(result_id, acting_for=deps.actor.unit_id)
    if result is None:
        return Done(None, [Problem("NOT_FOUND", f"no result {result_id} (or it is not visible to you)", "result_id")])
    # Serializes filings of one unit on one run, so the per-result limit holds under concurrency.
    await deps.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"appeals:{result.run_id}:{result.unit_id}"}
    )
    consequence = None
    if consequence_id is not None:
        consequence = await _consequence(deps, consequence_id)
        if consequence is None:
            return Done(None, [Problem("NOT_FOUND", f"no consequence {consequence_id} for you", "consequence_id")])
        problems = consequence_rules.check_consequence_filing(
            deps.actor,
            result,
            consequences.facts(consequence),
            now=deps.now,
            open_appeals_on_it=await repository.appeals_on_consequence(deps.session, consequence.id),
            indicators=indicators,
            asks=asks,
            category=category,
            reason=reason,
        )
    else:
        problems = workflow.check_filing(
            deps.actor,
            result,
            now=deps.now,
            appeals_on_result=await repository.appeals_on_result(deps.session, result.run_id, result.unit_id),
            indicators=indicators,
            asks=asks,
            category=category,
            reason=reason,
        )
    problems += _record_problems(evidence_records)
    if problems:
        return Done(None, problems)
    appeal = _new_appeal(deps, result, indicators, category, reason, asks, evidence_records, consequence)
    deps.session.add(appeal)
    await deps.session.flush()
    run_window = workflow.window_closes_at(appeal.published_at, result.limits.window_days)
    await repository.remember_run(deps.session, appeal.run_id, appeal.organizer_id, run_window, result.revision)
    await repository.record(
        deps.session,
        appeal,
        "filed",
        deps.actor,
        deps.now,
        result_id=result.result_id,
        revision=result.revision,
        indicators=appeal.indicators,
        reason_category=appeal.reason_category,
        **({"consequence_id": str(consequence.id)} if consequence else {}),
    )
    return Done(appeal, [])


def _new_appeal(
    deps: Deps,
    result: workflow.ResultFacts,
    indicators: Sequence[str],
    category: workflow.ReasonCategory | None,
    reason: str,
    asks: Sequence[Ask],
    evidence_records: Sequence[dict[str, str]],
    consequence: PeerConsequence | None,
) -> Appeal:
    """The draft's row: the result's facts copied (limits, scores, what each value can plausibly be), and for an
    appeal of a consequence its own window and indicators."""
    assert result.published_at is not None
    run_window = workflow.window_closes_at(result.published_at, result.limits.window_days)
    appealable = sorted(consequence.appealable_indicators) if consequence else None
    return Appeal(
        id=uuid.uuid4(),
        result_id=result.result_id,
        result_ids=[result.result_id],
        run_id=result.run_id,
        revision=result.revision,
        unit_id=result.unit_id,
        organizer_id=result.organizer_id,
        deciding_unit_id=result.organizer_id,
        status=Status.DRAFT.value,
        reason_category=category.value if category else "",
        reason=reason,
        indicators=list(dict.fromkeys(indicators)),
        asks=[ask_to_json(a) for a in asks],
        evidence_records=list(evidence_records),
        published_at=result.published_at,
        window_closes_at=consequence.appealable_until if consequence else run_window,
        escalation_days=result.limits.escalation_days,
        decision_days=result.limits.decision_days,
        score_at_filing={
            "total": result.total,
            "indicators": dict(result.indicator_scores),
            "max_indicators_per_appeal": len(appealable) if appealable else result.limits.max_indicators_per_appeal,
            "indicator_facts": {code: f.to_json() for code, f in result.indicator_facts.items()},
            "peer_appeals": {"allowed": result.peer_appeals, "window_days": result.peer_window_days},
            **({"appealable_indicators": appealable} if appealable else {}),
        },
        filed_by=deps.actor.subject,
        filed_at=deps.now,
        upheld_indicators=[],
        version=1,
        updated_at=deps.now,
        consequence_id=consequence.id if consequence else None,
        information_waited_seconds=0.0,
    )


async def _consequence(deps: Deps, consequence_id: str):
    try:
        key = uuid.UUID(consequence_id)
    except ValueError:
        return None
    return (await consequences.by_ids(deps.session, deps.scope, [key])).get(key)


def _record_problems(records: Sequence[dict[str, str]]) -> list[Problem]:
    return workflow.check_records([(r["source"], r["record_id"]) for r in records], "evidence_records")


async def edit_appeal(deps: Deps, appeal_id: str, version: int, changes: dict[str, Any]) -> Done:
    """Edit a draft: indicators, reason, asks, record evidence (omitted fields keep their value)."""
    appeal = await load_for_change(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_edit(deps.actor, repository.facts(appeal), now=deps.now)
    if problems:
        return Done(appeal, problems)
    indicators = changes.get("indicators", appeal.indicators)
    asks = changes.get("asks", [ask_from_json(a) for a in appeal.asks])
    category = changes.get("category", workflow.ReasonCategory(appeal.reason_category))
    reason = changes.get("reason", appeal.reason)
    scores, limit = appeal.score_at_filing["indicators"], appeal.score_at_filing["max_indicators_per_appeal"]
    consequence = appeal.consequence_id is not None
    problems = workflow.check_asks(asks, indicators, scores, limit, consequence=consequence)
    allowed = appeal.score_at_filing.get("appealable_indicators")
    for code in sorted(set(indicators) - set(allowed)) if consequence and allowed is not None else []:
        problems.append(Problem("OUTSIDE_CONSEQUENCE", f"{code!r} is not what the consequence moved", "indicators"))
    problems += workflow.check_reason(category, reason)
    problems += _record_problems(changes.get("evidence_records", []))
    if problems:
        return Done(appeal, problems)
    values = {
        "indicators": list(dict.fromkeys(indicators)),
        "asks": [ask_to_json(a) for a in asks],
        "reason_category": category.value,
        "reason": reason,
        "evidence_records": list(changes.get("evidence_records", appeal.evidence_records)),
    }
    appeal = await repository.save(deps.session, appeal, version, deps.now, **values)
    await repository.record(deps.session, appeal, "edited", deps.actor, deps.now, changed=sorted(changes))
    return Done(appeal, [])


async def submit_appeal(deps: Deps, appeal_id: str, version: int) -> Done:
    appeal = await load_for_change(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_submit(deps.actor, repository.facts(appeal), now=deps.now)
    if problems:
        return Done(appeal, problems)
    appeal = await repository.save(
        deps.session,
        appeal,
        version,
        deps.now,
        status=Status.SUBMITTED.value,
        submitted_at=deps.now,
        decision_due_at=deps.now + timedelta(days=appeal.decision_days),
    )
    await repository.record(deps.session, appeal, "submitted", deps.actor, deps.now)
    return Done(appeal, [])


async def give_information(
    deps: Deps,
    appeal_id: str,
    version: int,
    message: str,
    evidence_records: Sequence[dict[str, str]],
    files: Sequence[tuple[str, bytes | None]] = (),
) -> Done:
    """The unit answers, naming more records and attaching files if it wants; the reply is recorded with
    whether it came after the reply was due. The time spent waiting for the unit does not count against the
    reviewers: the decision's due time moves by it, and the statistics leave it out of the time to decision."""
    appeal = await load_for_change(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_give_information(deps.actor, repository.facts(appeal), message=message)
    problems = problems or _record_problems(evidence_records)
    made, file_problems = ([], []) if problems else await _evidence_files(deps, appeal, files)
    if problems or file_problems:
        return Done(appeal, problems + file_problems)
    late = appeal.information_due_at is not None and deps.now > appeal.information_due_at
    waited = deps.now - appeal.information_requested_at if appeal.information_requested_at else timedelta(0)
    for file in made:
        deps.session.add(file)
    appeal = await repository.save(
        deps.session,
        appeal,
        version,
        deps.now,
        status=Status.IN_REVIEW.value,
        information_requested_at=None,
        information_due_at=None,
        decision_due_at=appeal.decision_due_at + waited if appeal.decision_due_at else None,
        evidence_records=[*appeal.evidence_records, *evidence_records],
        information_waited_seconds=appeal.information_waited_seconds + waited.total_seconds(),
    )
    for file in made:
        await _record_file(deps, appeal, file)
    await repository.record(
        deps.session,
        appeal,
        "information_given",
        deps.actor,
        deps.now,
        message=message,
        late=late,
        waited_hours=round(waited.total_seconds() / 3600, 2),
        evidence_records=list(evidence_records),
        files=[str(f.id) for f in made],
    )
    return Done(appeal, [])


async def escalate_appeal(deps: Deps, appeal_id: str, version: int, reason: str) -> Done:
    """Once, to the organizer's parent unit, within the scheme's escalation time after the decision."""
    appeal = await load_for_change(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    parent = await repository.parent_of(deps.session, appeal.organizer_id)
    problems = workflow.check_escalate(deps.actor, repository.facts(appeal), now=deps.now, parent_id=parent)
    if not problems and not reason.strip():
        problems = [Problem("NO_REASON", "say why the decision should be reviewed again", "reason")]
    if problems:
        return Done(appeal, problems)
    appeal = await repository.save(
        deps.session,
        appeal,
        version,
        deps.now,
        status=Status.ESCALATED.value,
        escalated_to=parent,
        deciding_unit_id=parent,
        assigned_to=None,
        decision_due_at=deps.now + timedelta(days=appeal.decision_days),
    )
    await repository.record(deps.session, appeal, "escalated", deps.actor, deps.now, to=parent, reason=reason)
    return Done(appeal, [])


async def withdraw_appeal(deps: Deps, appeal_id: str, version: int, reason: str) -> Done:
    appeal = await load_for_change(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_withdraw(deps.actor, repository.facts(appeal))
    if problems:
        return Done(appeal, problems)
    appeal = await repository.save(deps.session, appeal, version, deps.now, status=Status.WITHDRAWN.value)
    await repository.record(deps.session, appeal, "withdrawn", deps.actor, deps.now, reason=reason)
    await settle_if_final(deps.session, deps.scoring, appeal.run_id, now=deps.now)  # it may have been the last
    return Done(appeal, [])


def decode_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


async def add_evidence_file(deps: Deps, appeal_id: str, version: int, filename: str, content: bytes | None) -> Done:
    """Attach a file while the unit may still add evidence (a draft, or when information is requested).
    ``content`` None means it could not be decoded."""
    appeal = await load_for_change(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_appellant(deps.actor, appeal.unit_id)
    if not problems and appeal.status not in (Status.DRAFT, Status.INFORMATION_REQUESTED):
        problems = [Problem("INVALID_TRANSITION", f"evidence cannot be added to an appeal that is {appeal.status}")]
    if problems:
        return Done(appeal, problems)
    made, problems = await _evidence_files(deps, appeal, [(filename, content)])
    if problems:
        return Done(appeal, problems)
    [file] = made
    deps.session.add(file)
    appeal = await repository.save(deps.session, appeal, version, deps.now)
    await _record_file(deps, appeal, file)
    return Done(appeal, [])


async def _evidence_files(
    deps: Deps, appeal: Appeal, files: Sequence[tuple[str, bytes | None]]
) -> tuple[list[EvidenceFile], list[Problem]]:
    """The files checked as one: each by content, size and the appeal's limit, none a copy of another or of one
    already attached; any problem refuses them all (nothing is stored)."""
    count = int(await deps.session.scalar(select(func.count()).where(EvidenceFile.appeal_id == appeal.id)) or 0)
    stored = set(await deps.session.scalars(select(EvidenceFile.sha256).where(EvidenceFile.appeal_id == appeal.id)))
    made, problems = [], []
    for i, (filename, content) in enumerate(files):
        where = f"files[{i}]" if len(files) > 1 else "content"
        if content is None:
            problems.append(Problem("BAD_CONTENT", "the content could not be decoded", where))
            continue
        sniffed, found = evidence.check_file(filename, content, files_already=count + len(made))
        if not found and sniffed.sha256 in stored:
            found = [Problem("DUPLICATE_FILE", "this file is already attached to the appeal", where)]
        if found:
            problems += [Problem(p.code, p.message, where if p.field == "content" else p.field) for p in found]
            continue
        stored.add(sniffed.sha256)
        made.append(
            EvidenceFile(
                id=uuid.uuid4(),
                appeal_id=appeal.id,
                filename=filename,
                media_type=sniffed.media_type,
                size_bytes=sniffed.size_bytes,
                sha256=sniffed.sha256,
                content=content,
                uploaded_by=deps.actor.subject,
                uploaded_at=deps.now,
            )
        )
    return made, problems


async def _record_file(deps: Deps, appeal: Appeal, file: EvidenceFile) -> None:
    await repository.record(
        deps.session,
        appeal,
        "evidence_added",
        deps.actor,
        deps.now,
        file_id=str(file.id),
        filename=file.filename,
        media_type=file.media_type,
        sha256=file.sha256,
    )
