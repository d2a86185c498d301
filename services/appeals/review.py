"""The reviewers' actions: take an appeal, ask the unit for information, decide — an upheld part
becomes a new revision of the run in scoring, and the run may become final."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from services.appeals import repository, workflow
from services.appeals.models import AppealDecision
from services.appeals.service import NOT_FOUND, Deps, Done, ask_from_json, load_for_change
from services.appeals.settlement import settle_if_final
from services.appeals.workflow import Status


async def assign_appeal(deps: Deps, appeal_id: str, version: int) -> Done:
    """A reviewer of the deciding unit takes the appeal (it is assigned to them)."""
    appeal = await load_for_change(deps, appeal_id, version)
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
    appeal = await load_for_change(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    problems = workflow.check_request_information(
        deps.actor, repository.facts(appeal), message=message, reply_days=reply_days
    )
    if problems:
        return Done(appeal, problems)
    due = deps.now + timedelta(days=reply_days)
    appeal = await repository.save(
        deps.session,
        appeal,
        version,
        deps.now,
        status=Status.INFORMATION_REQUESTED.value,
        information_requested_at=deps.now,
        information_due_at=due,
    )
    await repository.record(
        deps.session,
        appeal,
        "information_requested",
        deps.actor,
        deps.now,
        message=message,
        reply_due_at=due.isoformat(),
    )
    return Done(appeal, [])


async def decide_appeal(
    deps: Deps, appeal_id: str, version: int, outcome: workflow.Outcome, reason: str, upheld: Sequence[str]
) -> Done:
    """Decide; upheld indicators become adjustments that scoring applies in a new revision of the run."""
    appeal = await load_for_change(deps, appeal_id, version)
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
        deps.session,
        appeal,
        version,
        deps.now,
        status=Status.DECIDED.value,
        outcome=outcome.value,
        decided_at=deps.now,
        upheld_indicators=sorted(facts.upheld_indicators | upheld_now),
    )
    decision = AppealDecision(
        appeal_id=appeal.id,
        level=level,
        outcome=outcome.value,
        reason=reason,
        upheld_indicators=sorted(upheld_now),
        decided_by=deps.actor.subject,
        deciding_unit_id=deps.actor.unit_id,
        decided_at=deps.now,
        due_at=appeal.decision_due_at,
    )
    deps.session.add(decision)
    await repository.record(
        deps.session,
        appeal,
        "decided",
        deps.actor,
        deps.now,
        level=level,
        outcome=outcome.value,
        reason=reason,
        upheld_indicators=sorted(upheld_now),
    )
    asks = [ask_from_json(a) for a in appeal.asks]
    adjustments = workflow.adjustments(appeal.unit_id, asks, new)
    if adjustments:
        changes = await deps.scoring.revise(
            appeal.run_id,
            acting_for=deps.actor.unit_id,
            appeal_id=f"{appeal.id}:{level}",
            reason=reason,
            adjustments=adjustments,
        )
        mine = next((c for c in changes if c.unit == appeal.unit_id), None)
        if mine is not None:
            decision.new_revision, decision.score_change = mine.revision, mine.to_json()
            if mine.result_id not in appeal.result_ids:  # scoring keeps the result id across revisions
                appeal.result_ids = [*appeal.result_ids, mine.result_id]  # flushed below
            await repository.record(
                deps.session,
                appeal,
                "revision_applied",
                deps.actor,
                deps.now,
                adjustments=adjustments,
                **mine.to_json(),
            )
    await deps.session.flush()
    await settle_if_final(deps.session, deps.scoring, appeal.run_id, now=deps.now)
    return Done(appeal, [])
