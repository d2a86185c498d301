"""The reviewers' actions: take an appeal, ask the unit for information, decide — an upheld part
becomes a new revision of the run in scoring, and the run may become final."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from services.appeals import consequences, repository, values, workflow
from services.appeals.models import Appeal, AppealDecision, PeerConsequence
from services.appeals.plausibility import IndicatorFacts
from services.appeals.scoring import RevisionAnswer
from services.appeals.service import NOT_FOUND, Deps, Done, ask_from_json, load_for_change, load_visible
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
    deps: Deps,
    appeal_id: str,
    version: int,
    outcome: workflow.Outcome,
    reason: str,
    upheld: Sequence[str],
    accepted: Mapping[str, float] | None = None,
) -> Done:
    """Decide; newly upheld indicators become adjustments that scoring applies in a new revision of the run
    (with the values the decision accepts), and every other unit the revision moves is told."""
    appeal = await load_for_change(deps, appeal_id, version)
    if appeal is None:
        return Done(None, [NOT_FOUND])
    plan = _plan(deps, appeal, outcome, reason, upheld, accepted or {}, await _targets(deps, appeal))
    if plan.problems:
        return Done(appeal, plan.problems)
    # The version check first: a second reviewer deciding at once gets CONFLICT before scoring is called.
    appeal = await repository.save(
        deps.session,
        appeal,
        version,
        deps.now,
        status=Status.DECIDED.value,
        outcome=plan.standing_outcome.value,
        decided_at=deps.now,
        upheld_indicators=sorted(plan.standing_upheld),
    )
    decision = AppealDecision(
        appeal_id=appeal.id,
        level=plan.level,
        outcome=outcome.value,
        reason=reason,
        upheld_indicators=sorted(plan.decision_upheld),
        decided_by=deps.actor.subject,
        deciding_unit_id=deps.actor.unit_id,
        decided_at=deps.now,
        due_at=appeal.decision_due_at,
        accepted_values=plan.accepted_values,
        information_waited_seconds=appeal.information_waited_seconds,
    )
    deps.session.add(decision)
    await repository.record(
        deps.session,
        appeal,
        "decided",
        deps.actor,
        deps.now,
        level=plan.level,
        outcome=outcome.value,
        reason=reason,
        upheld_indicators=sorted(plan.decision_upheld),
        accepted_values=plan.accepted_values,
        first_decision_stands=plan.first_stands,
    )
    if plan.adjustments:
        await _revise(deps, appeal, decision, plan, reason)
    await deps.session.flush()
    await settle_if_final(deps.session, deps.scoring, appeal.run_id, now=deps.now)
    return Done(appeal, [], plan.warnings)


async def _revise(deps: Deps, appeal: Appeal, decision: AppealDecision, plan: Plan, reason: str) -> None:
    """Scoring makes the revision; the decision keeps the appellant's scores before and after, and every other
    unit the revision moved is recorded and told."""
    answer = await deps.scoring.revise(
        appeal.run_id,
        acting_for=deps.actor.unit_id,
        appeal_id=f"{appeal.id}:{plan.level}",
        reason=reason,
        adjustments=plan.adjustments,
    )
    decision.new_revision = answer.revision
    mine = answer.of_unit(appeal.unit_id)
    if mine is not None:
        decision.score_change = mine.to_json()
        if mine.result_id not in appeal.result_ids:  # scoring keeps the result id across revisions
            appeal.result_ids = [*appeal.result_ids, mine.result_id]  # flushed by the caller
    figures = mine.to_json() if mine is not None else {"revision": answer.revision}
    await repository.record(
        deps.session, appeal, "revision_applied", deps.actor, deps.now, adjustments=plan.adjustments, **figures
    )
    await repository.remember_run(
        deps.session, appeal.run_id, appeal.organizer_id, appeal.window_closes_at, answer.revision
    )
    await consequences.record(
        deps.session, appeal, level=plan.level, answer=answer, adjustments=plan.adjustments, actor=deps.actor,
        now=deps.now,
    )  # fmt: skip


@dataclass
class Plan:
    """What a decision would do: refused (problems), or the outcome that stands, the indicators upheld, the
    values accepted and the adjustments for scoring."""

    problems: list[workflow.Problem]
    level: int = 0
    first_stands: bool = False
    standing_outcome: workflow.Outcome = workflow.Outcome.REJECTED
    standing_upheld: frozenset[str] = frozenset()
    decision_upheld: frozenset[str] = frozenset()
    accepted_values: list[dict] = field(default_factory=list)
    adjustments: list[dict] = field(default_factory=list)
    warnings: list[workflow.Problem] = field(default_factory=list)


def _plan(
    deps: Deps,
    appeal: Appeal,
    outcome: workflow.Outcome,
    reason: str,
    upheld: Sequence[str],
    accepted: Mapping[str, float],
    targets: Mapping[str, str],
) -> Plan:
    facts = repository.facts(appeal)
    asks = [ask_from_json(a) for a in appeal.asks]
    indicator_facts = {
        code: IndicatorFacts.from_json(row)
        for code, row in (appeal.score_at_filing.get("indicator_facts") or {}).items()
    }
    problems = workflow.check_decide(
        deps.actor,
        facts,
        outcome=outcome,
        reason=reason,
        disputed=appeal.indicators,
        upheld_indicators=upheld,
        asks=asks,
    )
    level = 1 if appeal.escalated_to else 0
    # After an escalation, a rejection leaves the first decision standing: what it upheld stays upheld.
    first_stands = level == 1 and outcome is workflow.Outcome.REJECTED
    decided = frozenset() if first_stands else workflow.upheld_of(outcome, appeal.indicators, upheld)
    new = decided - facts.upheld_indicators
    if not problems:
        problems = values.check_accepted(accepted, asks, new, indicator_facts)
    if problems:
        return Plan(problems)
    return Plan(
        problems=[],
        level=level,
        first_stands=first_stands,
        standing_outcome=workflow.Outcome(appeal.outcome) if first_stands else outcome,
        standing_upheld=facts.upheld_indicators | decided,
        decision_upheld=decided,
        accepted_values=values.accepted_record(accepted, asks, new),
        adjustments=workflow.adjustments(appeal.unit_id, asks, new, accepted, targets),
        warnings=values.decision_warnings(accepted, asks, new, indicator_facts),
    )


async def _targets(deps: Deps, appeal: Appeal) -> dict[str, str]:
    """For an appeal of a consequence: whose corrected value each contested indicator sets (the unit whose
    correction moved the appellant's result); nothing for an ordinary appeal."""
    if appeal.consequence_id is None:
        return {}
    row = await deps.session.get(PeerConsequence, appeal.consequence_id)
    return dict(row.cause_targets) if row is not None else {}


@dataclass
class Preview:
    """A decision's dry run: its problems, warnings and adjustments, and what scoring says it would do."""

    appeal: Appeal | None
    problems: list[workflow.Problem]
    warnings: list[workflow.Problem] = field(default_factory=list)
    adjustments: list[dict] = field(default_factory=list)
    answer: RevisionAnswer | None = None


async def preview_decision(
    deps: Deps,
    appeal_id: str,
    outcome: workflow.Outcome,
    reason: str,
    upheld: Sequence[str],
    accepted: Mapping[str, float] | None = None,
) -> Preview:
    """What deciding so would do, before deciding: the same checks as the decision, then scoring's dry run of
    its adjustments — the appellant's change and every other unit's (nothing is stored anywhere)."""
    appeal = await load_visible(deps, appeal_id)
    if appeal is None:
        return Preview(None, [NOT_FOUND])
    plan = _plan(deps, appeal, outcome, reason or "(preview)", upheld, accepted or {}, await _targets(deps, appeal))
    if plan.problems or not plan.adjustments:
        return Preview(appeal, plan.problems, plan.warnings, plan.adjustments)
    answer = await deps.scoring.dry_run(
        appeal.run_id,
        acting_for=deps.actor.unit_id,
        appeal_id=f"{appeal.id}:{plan.level}",
        reason=reason or "(preview)",
        adjustments=plan.adjustments,
    )
    return Preview(appeal, [], plan.warnings, plan.adjustments, answer)
