"""Appeal statistics for organizers (申诉统计): counts by status, indicator, reason and unit; overturn
rates per indicator and per reviewer; time to decision; decisions made after they were due.

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


def _counts(values) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def compute(appeals: Sequence[AppealRow], decisions: Sequence[DecisionRow]) -> Statistics:
    """Overturned = upheld at least in part. Per indicator, the final decision on each appeal counts
    (upheld for that indicator or not); per reviewer, each decision they made; and, per reviewer, how
    many of their first decisions the parent reversed on escalation. Time to decision runs from
    submission to the first decision; a decision is late when made after it was due."""
    by_id = {a.id: a for a in appeals}
    decisions = [d for d in decisions if d.appeal_id in by_id]
    final: dict[str, DecisionRow] = {}
    for d in sorted(decisions, key=lambda d: d.level):
        final[d.appeal_id] = d
    per_indicator: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for appeal_id, d in final.items():
        for code in by_id[appeal_id].indicators:
            per_indicator[code][0] += 1
            per_indicator[code][1] += code in d.upheld_indicators
    per_reviewer: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in decisions:
        per_reviewer[d.decided_by][0] += 1
        per_reviewer[d.decided_by][1] += d.outcome != "rejected"
    # A first decision is reversed on escalation when the parent's decision upholds something it did not.
    by_level = {(d.appeal_id, d.level): d for d in decisions}
    reversed_by: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (appeal_id, level), first in by_level.items():
        second = by_level.get((appeal_id, 1)) if level == 0 else None
        if second is not None:
            reversed_by[first.decided_by][0] += 1
            reversed_by[first.decided_by][1] += bool(set(second.upheld_indicators) - set(first.upheld_indicators))
    hours = [
        (d.decided_at - by_id[d.appeal_id].submitted_at).total_seconds() / 3600
        for d in decisions
        if d.level == 0 and by_id[d.appeal_id].submitted_at is not None
    ]
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
        decided=len(final),
        mean_hours_to_decision=statistics.fmean(hours) if hours else None,
        median_hours_to_decision=statistics.median(hours) if hours else None,
        decided_late=len(late),
        late_appeal_ids=late,
    )
