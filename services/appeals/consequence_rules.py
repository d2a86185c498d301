"""The rules of consequences (plain functions, like ``workflow``): who a decision on one unit's appeal moved,
what each may appeal, and until when.

A decision's revision can move other units' results — a corrected value becomes the cohort's best (or moves its
mean) and every unit scored against it gains or loses points; a total passes another's and ranks change. Each
such unit is told (``consequences``), and when the scheme lets it (``peer_appeals``, the default), it may appeal
the consequence within a window of its own (``peer_window_days``) on the indicators whose correction moved it:
the appeal asks to reconsider that correction (``contest_consequence``). The run's results become final only
once every such window has closed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.appeals.workflow import (
    Actor,
    Ask,
    Problem,
    ReasonCategory,
    ResultFacts,
    check_appellant,
    check_asks,
    check_reason,
)


@dataclass(frozen=True, slots=True)
class ConsequenceFacts:
    """A consequence for one unit of a decision on another unit's appeal, as far as the rules need it."""

    unit_id: str
    result_id: str
    appealable: bool
    appealable_indicators: frozenset[str]
    appealable_until: datetime | None


def appealable_indicators(changed: Collection[str], corrected: Collection[str]) -> list[str]:
    """What a unit may contest: the corrections (indicators the decision adjusted) that moved its own scores, or,
    when only its rank or grade moved (another unit's total passed it), every correction the decision made."""
    own = sorted(set(changed) & set(corrected))
    return own or sorted(corrected)


def appealable_until(allowed: bool, now: datetime, window_days: int) -> datetime | None:
    return now + timedelta(days=window_days) if allowed else None


def is_change(entry: dict[str, Any]) -> bool:
    """Whether scoring's consequence entry (contracts §6) moved the unit's total, rank, grade or a score."""
    headline = any(entry.get(f"{k}_before") != entry.get(f"{k}_after") for k in ("total", "rank", "grade"))
    return headline or any(
        i.get("score_before") != i.get("score_after") or i.get("value_before") != i.get("value_after")
        for i in entry.get("indicators", [])
    )


def check_consequence_filing(
    actor: Actor,
    result: ResultFacts,
    consequence: ConsequenceFacts,
    *,
    now: datetime,
    open_appeals_on_it: int,
    indicators: Collection[str],
    asks: Sequence[Ask],
    category: ReasonCategory | None,
    reason: str,
) -> list[Problem]:
    """An appeal of a consequence: by the unit it moved, within its own window, on the indicators it names, once."""
    problems = check_appellant(actor, consequence.unit_id)
    if problems:
        return problems
    if result.result_id != consequence.result_id:
        return [Problem("WRONG_RESULT", f"this consequence is about result {consequence.result_id}", "result_id")]
    if not consequence.appealable or consequence.appealable_until is None:
        return [Problem("NOT_APPEALABLE", "the scheme does not let a unit appeal a consequence of another's appeal")]
    if now >= consequence.appealable_until:
        return [Problem("WINDOW_CLOSED", f"its window closed at {consequence.appealable_until.isoformat()}")]
    if result.final:
        problems.append(Problem("RESULT_FINAL", "the result is final: every appeal on the run has been decided"))
    if open_appeals_on_it:
        problems.append(Problem("ALREADY_APPEALED", "this consequence is appealed already"))
    for code in sorted(set(indicators) - consequence.appealable_indicators):
        allowed = ", ".join(sorted(consequence.appealable_indicators))
        problems.append(
            Problem(
                "OUTSIDE_CONSEQUENCE", f"{code!r} is not what the consequence moved (only: {allowed})", "indicators"
            )
        )
    limit = len(consequence.appealable_indicators)
    problems += check_asks(asks, indicators, result.indicator_scores, limit, consequence=True)
    return problems + check_reason(category, reason)


def _n(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value):.4f}".rstrip("0").rstrip(".") or "0"


def explain(
    figures: dict[str, Any],
    references: Sequence[dict[str, Any]],
    *,
    cause_appeal_id: str,
    revision: int,
    corrected: Sequence[str],
    appealable: Sequence[str],
    until: datetime | None,
) -> dict[str, str]:
    """In plain words (zh, en): what moved, why, and what the unit may do about it."""
    moved_zh = (
        "; ".join(f"{m['indicator']} 的参照值由 {_n(m['before'])} 变为 {_n(m['after'])}" for m in references)
        or f"{', '.join(corrected)} 被更正"
    )
    moved_en = (
        "; ".join(
            f"the reference of {m['indicator']} moved from {_n(m['before'])} to {_n(m['after'])}" for m in references
        )
        or f"{', '.join(corrected)} was corrected"
    )
    total = f"{_n(figures.get('total_before'))} → {_n(figures.get('total_after'))}"
    rank = f"{_n(figures.get('rank_before'))} → {_n(figures.get('rank_after'))}"
    zh = (
        f"申诉 {cause_appeal_id} 的决定(第 {revision} 次修订)更正了 {', '.join(corrected)}:{moved_zh}。"
        f"贵单位总分 {total},排名 {rank}。"
    )
    en = (
        f"The decision on appeal {cause_appeal_id} (revision {revision}) corrected {', '.join(corrected)}: "
        f"{moved_en}. Your total {total}, rank {rank}."
    )
    if until is not None:
        zh += f"贵单位可在 {until.isoformat()} 前就此提出申诉(限 {', '.join(appealable)})。"
        en += f" You may appeal this consequence until {until.isoformat()} (on {', '.join(appealable)})."
    else:
        zh += "本评价方案不允许就此提出申诉。"
        en += " The scheme does not let a unit appeal such a consequence."
    return {"zh": zh, "en": en}
