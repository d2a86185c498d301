"""Appeal statistics (申诉统计): counts by status, indicator, reason and unit; overturn rates per indicator and
per reviewer; escalations and how they ended; time to decision; decisions made after they were due.

An overturn is a real change: a decision that upheld an indicator not upheld before (so scoring revised the
result). An escalation answered "rejected" lets the first decision stand — it is counted as such, never as an
overturn; restating the first decision is no overturn either. Time to decision leaves out the time spent
waiting for the unit's information.

Computed in plain Python over the appeals in the caller's scope (appeals are counted in hundreds per
run, not millions), so the rules are tested without a database.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AppealRow:
    id: str
    unit_id: str
    status: str
    reason_category: str
    indicators: Sequence[str]
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class DecisionRow:
    appeal_id: str
    level: int
    outcome: str
    upheld_indicators: Sequence[str]
    decided_by: str
    decided_at: datetime
    due_at: datetime | None
    information_waited_seconds: float = 0.0  # the appeal's wait for information by this decision (cumulative)


@dataclass(frozen=True, slots=True)
class Rate:
    key: str
    decided: int
    overturned: int

    @property
    def rate(self) -> float | None:
        return self.overturned / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class Statistics:
    total: int
    by_status: dict[str, int]
    by_indicator: dict[str, int]
    by_reason: dict[str, int]
    by_unit: dict[str, int]
    overturn_by_indicator: list[Rate]
    overturn_by_reviewer: list[Rate]
    reversed_on_escalation_by_reviewer: list[Rate]
    decided: int
    mean_hours_to_decision: float | None
    median_hours_to_decision: float | None
    decided_late: int
    late_appeal_ids: list[str]
    escalations_decided: int = 0
    escalations_rejected: int = 0
    mean_hours_waiting_for_information: float | None = None


def _counts(values) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def compute(appeals: Sequence[AppealRow], decisions: Sequence[DecisionRow]) -> Statistics:
    """Per indicator, each decided appeal counts once, overturned when a decision on it upheld the indicator (the
    standing result: an escalation rejected leaves the first decision's upheld indicators upheld). Per reviewer,
    each decision they made, overturning when it upheld something not upheld before. Per reviewer, how many of
    their first decisions were escalated and of those how many the parent changed by upholding more. Time to
    decision runs from submission to the first decision, less the time waiting for the unit's information; a
    decision is late when made after it was due (its due time already moved by that wait)."""
    by_id = {a.id: a for a in appeals}
    decisions = sorted((d for d in decisions if d.appeal_id in by_id), key=lambda d: (d.appeal_id, d.level))
    upheld_before: dict[str, set[str]] = defaultdict(set)
    newly: dict[tuple[str, int], set[str]] = {}
    for d in decisions:
        newly[(d.appeal_id, d.level)] = set(d.upheld_indicators) - upheld_before[d.appeal_id]
        upheld_before[d.appeal_id] |= set(d.upheld_indicators)
    decided_ids = {d.appeal_id for d in decisions}
    per_indicator: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for appeal_id in decided_ids:
        for code in by_id[appeal_id].indicators:
            per_indicator[code][0] += 1
            per_indicator[code][1] += code in upheld_before[appeal_id]
    per_reviewer: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in decisions:
        per_reviewer[d.decided_by][0] += 1
        per_reviewer[d.decided_by][1] += bool(newly[(d.appeal_id, d.level)])
    by_level = {(d.appeal_id, d.level): d for d in decisions}
    reversed_by: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    escalations_rejected = 0
    for (appeal_id, level), first in by_level.items():
        second = by_level.get((appeal_id, 1)) if level == 0 else None
        if second is not None:
            reversed_by[first.decided_by][0] += 1
            reversed_by[first.decided_by][1] += bool(newly[(appeal_id, 1)])
            escalations_rejected += second.outcome == "rejected"
    hours, waits = [], []
    for d in decisions:
        submitted = by_id[d.appeal_id].submitted_at
        if d.level == 0 and submitted is not None:
            hours.append(((d.decided_at - submitted).total_seconds() - d.information_waited_seconds) / 3600)
            waits.append(d.information_waited_seconds / 3600)
    late = sorted({d.appeal_id for d in decisions if d.due_at is not None and d.decided_at > d.due_at})
    return Statistics(
        total=len(appeals),
        by_status=_counts(a.status for a in appeals),
        by_indicator=_counts(code for a in appeals for code in a.indicators),
        by_reason=_counts(a.reason_category for a in appeals),
        by_unit=_counts(a.unit_id for a in appeals),
        overturn_by_indicator=[Rate(k, v[0], v[1]) for k, v in sorted(per_indicator.items())],
        overturn_by_reviewer=[Rate(k, v[0], v[1]) for k, v in sorted(per_reviewer.items())],
        reversed_on_escalation_by_reviewer=[Rate(k, v[0], v[1]) for k, v in sorted(reversed_by.items())],
        decided=len(decided_ids),
        mean_hours_to_decision=statistics.fmean(hours) if hours else None,
        median_hours_to_decision=statistics.median(hours) if hours else None,
        decided_late=len(late),
        late_appeal_ids=late,
        escalations_decided=sum(1 for (_, level) in by_level if level == 1),
        escalations_rejected=escalations_rejected,
        mean_hours_waiting_for_information=statistics.fmean(waits) if waits else None,
    )
