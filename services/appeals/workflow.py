"""The appeal state machine (申诉流程, spec 8.2) as plain functions over plain data.

    draft ──submit──▶ submitted ──assign──▶ in_review ⇄ information_requested
                                               │
                                             decide ──▶ decided ──escalate (once, in time)──▶ escalated
                                                                                                │
                                                                      assign ─▶ in_review ─▶ decide ─▶ decided
    withdraw: from any state before a decision (draft … in_review, information_requested, escalated)

After an escalation the parent unit's decision either upholds more (upheld, partly upheld: what the first
decision upheld stays upheld, its revision is applied) or rejects the escalation (rejected: the first decision
stands as it was). A decision upholds only indicators the appeal asks something for, so that every upheld
indicator is a change scoring can make.

An appeal of a consequence (a decision on another unit's appeal moved this unit's result) is filed within the
consequence's own window, on the indicators the consequence names, and asks to reconsider the correction that
moved it (``contest_consequence``): upheld, the deciding unit sets the corrected value anew.

Every check returns the list of problems that refuse the action (empty = allowed); nothing here
touches a database or the network, so the rules are tested directly.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.appeals.plausibility import IndicatorFacts


class Status(enum.StrEnum):
    """Where an appeal stands (申诉状态)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    INFORMATION_REQUESTED = "information_requested"
    DECIDED = "decided"
    ESCALATED = "escalated"
    WITHDRAWN = "withdrawn"


class Action(enum.StrEnum):
    EDIT = "edit"
    SUBMIT = "submit"
    ASSIGN = "assign"
    REQUEST_INFORMATION = "request_information"
    GIVE_INFORMATION = "give_information"
    DECIDE = "decide"
    ESCALATE = "escalate"
    WITHDRAW = "withdraw"


class Outcome(enum.StrEnum):
    """A decision (申诉结论): upheld 支持, partly upheld 部分支持, rejected 驳回."""

    UPHELD = "upheld"
    PARTLY_UPHELD = "partly_upheld"
    REJECTED = "rejected"


class ReasonCategory(enum.StrEnum):
    """Why the unit disputes its result."""

    WRONG_DATA = "wrong_data"
    WRONG_ATTRIBUTION = "wrong_attribution"
    RULE_MISAPPLIED = "rule_misapplied"
    FORCE_MAJEURE = "force_majeure"
    OTHER = "other"


class RequestKind(enum.StrEnum):
    """What the unit asks for on one indicator."""

    EXCLUDE_RECORDS = "exclude_records"
    CORRECT_VALUE = "correct_value"
    RESCORE_EXPERT_ITEM = "rescore_expert_item"
    CONTEST_CONSEQUENCE = "contest_consequence"


VALUE_KINDS = frozenset({RequestKind.CORRECT_VALUE, RequestKind.RESCORE_EXPERT_ITEM, RequestKind.CONTEST_CONSEQUENCE})


# The state an action leads to, from each state that allows it.
TRANSITIONS: Mapping[Action, Mapping[Status, Status]] = {
    Action.EDIT: {Status.DRAFT: Status.DRAFT},
    Action.SUBMIT: {Status.DRAFT: Status.SUBMITTED},
    Action.ASSIGN: {Status.SUBMITTED: Status.IN_REVIEW, Status.ESCALATED: Status.IN_REVIEW},
    Action.REQUEST_INFORMATION: {Status.IN_REVIEW: Status.INFORMATION_REQUESTED},
    Action.GIVE_INFORMATION: {Status.INFORMATION_REQUESTED: Status.IN_REVIEW},
    Action.DECIDE: {Status.IN_REVIEW: Status.DECIDED},
    Action.ESCALATE: {Status.DECIDED: Status.ESCALATED},
    Action.WITHDRAW: {
        s: Status.WITHDRAWN
        for s in (
            Status.DRAFT,
            Status.SUBMITTED,
            Status.IN_REVIEW,
            Status.INFORMATION_REQUESTED,
            Status.ESCALATED,
        )
    },
}
OPEN_STATUSES = frozenset(
    {Status.SUBMITTED, Status.IN_REVIEW, Status.INFORMATION_REQUESTED, Status.ESCALATED, Status.DRAFT}
)
ROLE_UNIT, ROLE_REVIEWER = "unit", "reviewer"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an action is refused: a stable code, a message for people, the input field to blame."""

    code: str
    message: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    subject: str
    unit_id: str
    roles: frozenset[str]


@dataclass(frozen=True, slots=True)
class AppealLimits:
    """The scheme's appeal rules (scheme document ``appeal:``)."""

    window_days: int
    max_appeals_per_result: int
    max_indicators_per_appeal: int
    escalation_days: int
    # Days the deciding unit has for a decision, from submission (or escalation); optional in the scheme.
    decision_days: int = 15


@dataclass(frozen=True, slots=True)
class ResultFacts:
    """What the scoring service says about the disputed result (contracts §6, GET /results/{id})."""

    result_id: str
    run_id: str
    revision: int
    unit_id: str
    organizer_id: str
    published_at: datetime | None
    limits: AppealLimits
    total: float | None
    indicator_scores: Mapping[str, float | None]
    final: bool
    # What each indicator's value can plausibly be (bounds, best observed), and the scheme's peer-appeal setting.
    indicator_facts: Mapping[str, IndicatorFacts] = field(default_factory=dict)
    peer_appeals: bool = True
    peer_window_days: int = 7


@dataclass(frozen=True, slots=True)
class Ask:
    """What the unit asks for on one indicator: exclude records, correct the value, re-score an expert item."""

    indicator: str
    kind: RequestKind
    records: tuple[tuple[str, str], ...] = ()
    value: float | None = None


@dataclass(frozen=True, slots=True)
class AppealFacts:
    """The stored state of an appeal, as far as the rules need it."""

    status: Status
    unit_id: str
    organizer_id: str
    filed_by: str
    window_closes_at: datetime
    deciding_unit_id: str
    escalated_to: str | None = None
    decided_at: datetime | None = None
    escalation_days: int = 0
    upheld_indicators: frozenset[str] = field(default_factory=frozenset)
    submitted: bool = False
    is_consequence_appeal: bool = False


def window_closes_at(published_at: datetime, window_days: int) -> datetime:
    """The appeal window (申诉期限) runs ``window_days`` full days from publication."""
    return published_at + timedelta(days=window_days)


def escalation_closes_at(decided_at: datetime, escalation_days: int) -> datetime:
    return decided_at + timedelta(days=escalation_days)


def _transition(action: Action, status: Status) -> list[Problem]:
    if status in TRANSITIONS[action]:
        return []
    allowed = ", ".join(s.value for s in TRANSITIONS[action])
    return [
        Problem(
            "INVALID_TRANSITION",
            f"cannot {action.value.replace('_', ' ')} an appeal that is {status.value} (allowed from: {allowed})",
        )
    ]


def next_status(action: Action, status: Status) -> Status:
    """The status after an allowed action (call the matching check first)."""
    return TRANSITIONS[action][status]


def _window(now: datetime, published_at: datetime | None, closes_at: datetime | None) -> list[Problem]:
    if published_at is None or closes_at is None:
        return [Problem("NOT_PUBLISHED", "the result is not published yet: appeals open when it is published")]
    if now < published_at:
        return [Problem("NOT_PUBLISHED", f"the result is published only at {published_at.isoformat()}")]
    if now >= closes_at:
        return [Problem("WINDOW_CLOSED", f"the appeal window closed at {closes_at.isoformat()}")]
    return []


def check_appellant(actor: Actor, unit_id: str) -> list[Problem]:
    if ROLE_UNIT not in actor.roles:
        return [Problem("FORBIDDEN_ROLE", "only a user of the evaluated unit (role unit) may act for the appellant")]
    if actor.unit_id != unit_id:
        return [Problem("WRONG_UNIT", f"this is the result of unit {unit_id}; a unit may appeal only its own result")]
    return []


def check_records(records: Sequence[tuple[str, str]], where: str) -> list[Problem]:
    """Records are named as ingest keys them: a source and the source's own id, both given."""
    return [
        Problem("BAD_RECORD", "a record needs its source and its record id", f"{where}[{i}]")
        for i, (source, record_id) in enumerate(records)
        if not source.strip() or not record_id.strip()
    ]


def check_asks(
    asks: Sequence[Ask], indicators: Collection[str], scores: Collection[str], limit: int, *, consequence: bool = False
) -> list[Problem]:
    """The indicators disputed and what is asked for each; an appeal of a consequence asks to reconsider the
    correction that moved it, an ordinary appeal anything but that."""
    problems: list[Problem] = []
    if not indicators:
        problems.append(Problem("NO_INDICATOR", "name at least one disputed indicator", "indicators"))
    if len(set(indicators)) > limit:
        problems.append(
            Problem("TOO_MANY_INDICATORS", f"the scheme allows at most {limit} indicators per appeal", "indicators")
        )
    for code in sorted(set(indicators) - set(scores)):
        problems.append(Problem("UNKNOWN_INDICATOR", f"the result has no indicator {code!r}", "indicators"))
    for i, ask in enumerate(asks):
        where = f"asks[{i}]"
        if ask.indicator not in indicators:
            problems.append(Problem("ASK_OUTSIDE_APPEAL", f"{ask.indicator!r} is not a disputed indicator", where))
        problems += check_records(ask.records, f"{where}.records")
        if consequence != (ask.kind is RequestKind.CONTEST_CONSEQUENCE):
            problems.append(
                Problem(
                    "WRONG_ASK_KIND",
                    "an appeal of a consequence asks to contest it (contest_consequence), and only it may",
                    where,
                )
            )
        if ask.kind is RequestKind.EXCLUDE_RECORDS and not ask.records:
            problems.append(Problem("NO_RECORDS", "name the records to exclude as (source, record_id)", where))
        needs_value = ask.kind in (RequestKind.CORRECT_VALUE, RequestKind.RESCORE_EXPERT_ITEM)
        if needs_value and ask.value is None:
            problems.append(Problem("NO_VALUE", f"{ask.kind.value} needs the value asked for", where))
        if ask.kind is not RequestKind.EXCLUDE_RECORDS and ask.records:
            problems.append(Problem("UNEXPECTED_RECORDS", f"{ask.kind.value} takes a value, not records", where))
    return problems


def check_reason(category: ReasonCategory | None, text: str) -> list[Problem]:
    problems = []
    if category is None:
        problems.append(Problem("NO_REASON", "choose a reason category", "reason_category"))
    if not text.strip():
        problems.append(Problem("NO_REASON", "explain the reason in writing", "reason"))
    return problems


def check_filing(
    actor: Actor,
    result: ResultFacts,
    *,
    now: datetime,
    appeals_on_result: int,
    indicators: Collection[str],
    asks: Sequence[Ask],
    category: ReasonCategory | None,
    reason: str,
) -> list[Problem]:
    """Filing (as a draft) against a published result of the caller's own unit, inside the window."""
    problems = check_appellant(actor, result.unit_id)
    if problems:
        return problems
    if result.published_at is None:  # scoring withholds an unpublished result's indicators: nothing else to check
        return _window(now, None, None)
    closes = window_closes_at(result.published_at, result.limits.window_days)
    problems = _window(now, result.published_at, closes)
    if result.final:
        problems.append(Problem("RESULT_FINAL", "the result is final: every appeal on the run has been decided"))
    if appeals_on_result >= result.limits.max_appeals_per_result:
        problems.append(
            Problem(
                "TOO_MANY_APPEALS",
                f"the scheme allows at most {result.limits.max_appeals_per_result} appeals per result",
            )
        )
    problems += check_asks(asks, indicators, result.indicator_scores, result.limits.max_indicators_per_appeal)
    return problems + check_reason(category, reason)


def check_edit(actor: Actor, appeal: AppealFacts, *, now: datetime) -> list[Problem]:
    return check_appellant(actor, appeal.unit_id) or _transition(Action.EDIT, appeal.status)


def check_submit(actor: Actor, appeal: AppealFacts, *, now: datetime) -> list[Problem]:
    problems = check_appellant(actor, appeal.unit_id) or _transition(Action.SUBMIT, appeal.status)
    if problems:
        return problems
    if now >= appeal.window_closes_at:
        return [Problem("WINDOW_CLOSED", f"the appeal window closed at {appeal.window_closes_at.isoformat()}")]
    return []


def _reviewer(actor: Actor, appeal: AppealFacts) -> list[Problem]:
    if ROLE_REVIEWER not in actor.roles:
        return [Problem("FORBIDDEN_ROLE", "only a reviewer (role reviewer) of the deciding unit may review appeals")]
    if actor.unit_id == appeal.unit_id or actor.subject == appeal.filed_by:
        return [Problem("SELF_REVIEW", "a unit may not review its own appeal")]
    if actor.unit_id != appeal.deciding_unit_id:
        return [Problem("NOT_DECIDING_UNIT", f"appeals on this result are reviewed by unit {appeal.deciding_unit_id}")]
    return []


def check_assign(actor: Actor, appeal: AppealFacts) -> list[Problem]:
    return _reviewer(actor, appeal) or _transition(Action.ASSIGN, appeal.status)


def check_request_information(actor: Actor, appeal: AppealFacts, *, message: str, reply_days: int) -> list[Problem]:
    problems = _reviewer(actor, appeal) or _transition(Action.REQUEST_INFORMATION, appeal.status)
    if not problems and not message.strip():
        problems.append(Problem("NO_MESSAGE", "say what information is needed", "message"))
    if not problems and not 1 <= reply_days <= 60:
        problems.append(Problem("BAD_REPLY_DAYS", "the unit's time to reply must be 1–60 days", "reply_days"))
    return problems


def check_give_information(actor: Actor, appeal: AppealFacts, *, message: str) -> list[Problem]:
    problems = check_appellant(actor, appeal.unit_id) or _transition(Action.GIVE_INFORMATION, appeal.status)
    if not problems and not message.strip():
        problems.append(Problem("NO_MESSAGE", "give the information asked for", "message"))
    return problems


def check_decide(
    actor: Actor,
    appeal: AppealFacts,
    *,
    outcome: Outcome,
    reason: str,
    disputed: Collection[str],
    upheld_indicators: Collection[str],
    asks: Sequence[Ask] = (),
) -> list[Problem]:
    """A decision always has a written reason; partly upheld names the indicators upheld, a strict subset; only
    indicators the appeal asks something for can be upheld. After an escalation, rejected means the first
    decision stands; upholding never takes back what the first decision upheld. (The values a decision accepts
    are checked by ``values``.)"""
    problems = _reviewer(actor, appeal) or _transition(Action.DECIDE, appeal.status)
    if problems:
        return problems
    if not reason.strip():
        problems.append(Problem("NO_REASON", "a decision needs a written reason", "reason"))
    upheld, disputed = set(upheld_indicators), set(disputed)
    for code in sorted(upheld - disputed):
        problems.append(Problem("UNKNOWN_INDICATOR", f"{code!r} is not disputed by this appeal", "upheld_indicators"))
    if outcome is Outcome.PARTLY_UPHELD and not (upheld and upheld < disputed):
        problems.append(
            Problem(
                "BAD_PARTIAL",
                "partly upheld names the upheld indicators: at least one, and not all",
                "upheld_indicators",
            )
        )
    if outcome is Outcome.UPHELD and upheld and upheld != disputed:
        problems.append(Problem("BAD_OUTCOME", "upheld applies to every disputed indicator", "upheld_indicators"))
    if outcome is Outcome.REJECTED and upheld:
        problems.append(Problem("BAD_OUTCOME", "a rejection upholds no indicator", "upheld_indicators"))
    now_upheld = upheld_of(outcome, disputed, upheld) & disputed
    asked = {a.indicator for a in asks}
    for code in sorted(now_upheld - asked - appeal.upheld_indicators):
        problems.append(
            Problem(
                "NOTHING_ASKED",
                f"the appeal asks nothing for {code!r}: upholding it would change nothing (uphold only indicators "
                "with a request, or reject)",
                "upheld_indicators",
            )
        )
    if appeal.escalated_to and outcome is not Outcome.REJECTED and appeal.upheld_indicators - now_upheld:
        problems.append(
            Problem(
                "CANNOT_REVERSE",
                "an indicator upheld before escalation stays upheld: its revision is already applied "
                "(to let the first decision stand, reject the escalation)",
                "upheld_indicators",
            )
        )
    return problems


def upheld_of(outcome: Outcome, disputed: Collection[str], upheld: Collection[str]) -> frozenset[str]:
    """The indicators a decision upholds."""
    if outcome is Outcome.UPHELD:
        return frozenset(disputed)
    if outcome is Outcome.REJECTED:
        return frozenset()
    return frozenset(upheld)


def adjustments(
    unit_id: str,
    asks: Sequence[Ask],
    upheld: Collection[str],
    accepted: Mapping[str, float] | None = None,
    targets: Mapping[str, str] | None = None,
) -> list[dict]:
    """What scoring applies for the upheld indicators (contracts §6, ``POST /runs/{id}/revisions``): the value
    accepted where the decision gives one; a contested consequence sets the value of the unit whose correction
    moved it (``targets``: indicator → that unit)."""
    accepted = accepted or {}
    out: list[dict] = []
    for ask in asks:
        if ask.indicator not in upheld:
            continue
        value = accepted.get(ask.indicator, ask.value)
        if ask.kind is RequestKind.EXCLUDE_RECORDS:
            records = [{"source": s, "record_id": r} for s, r in ask.records]
            out.append({"kind": "exclude_records", "unit": unit_id, "indicator": ask.indicator, "records": records})
        elif ask.kind is RequestKind.CORRECT_VALUE:
            out.append({"kind": "correct_value", "unit": unit_id, "indicator": ask.indicator, "value": value})
        elif ask.kind is RequestKind.CONTEST_CONSEQUENCE:
            target = (targets or {}).get(ask.indicator, unit_id)
            out.append({"kind": "correct_value", "unit": target, "indicator": ask.indicator, "value": value})
        else:
            out.append({"kind": "expert_score", "unit": unit_id, "indicator": ask.indicator, "score": value})
    return out


def check_escalate(actor: Actor, appeal: AppealFacts, *, now: datetime, parent_id: str | None) -> list[Problem]:
    """Once, by the appellant, to the organizer's parent unit, within the scheme's escalation time."""
    problems = check_appellant(actor, appeal.unit_id)
    if problems:
        return problems
    if appeal.escalated_to is not None:
        return [Problem("ALREADY_ESCALATED", f"this appeal was escalated once already (to {appeal.escalated_to})")]
    problems = _transition(Action.ESCALATE, appeal.status)
    if problems:
        return problems
    assert appeal.decided_at is not None
    deadline = escalation_closes_at(appeal.decided_at, appeal.escalation_days)
    if now >= deadline:
        return [Problem("ESCALATION_CLOSED", f"escalation was possible until {deadline.isoformat()}")]
    if parent_id is None:
        return [Problem("NO_PARENT", f"the organizer {appeal.organizer_id} has no parent unit to escalate to")]
    return []


def check_withdraw(actor: Actor, appeal: AppealFacts) -> list[Problem]:
    return check_appellant(actor, appeal.unit_id) or _transition(Action.WITHDRAW, appeal.status)


def is_settled(appeal: AppealFacts, *, now: datetime) -> bool:
    """Whether an appeal can no longer change a result: withdrawn, or decided and past escalation."""
    if appeal.status is Status.WITHDRAWN:
        return True
    if appeal.status is Status.DRAFT:  # never submitted: it lapses with the window (a consequence's, for its appeal)
        return now >= appeal.window_closes_at
    if appeal.status is not Status.DECIDED:
        return False
    if appeal.escalated_to is not None or appeal.decided_at is None:
        return True
    return now >= escalation_closes_at(appeal.decided_at, appeal.escalation_days)


def run_is_final(
    window_closes: datetime,
    appeals: Sequence[AppealFacts],
    *,
    now: datetime,
    consequence_windows: Sequence[datetime] = (),
) -> bool:
    """A run's results are final once its window has closed, every appeal on it is settled, and every window a
    consequence of a decision opened for another unit has closed (an appeal filed in it is among ``appeals``)."""
    return (
        now >= window_closes
        and all(is_settled(a, now=now) for a in appeals)
        and all(now >= closes for closes in consequence_windows)
    )
