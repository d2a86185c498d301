"""Alert rules over daily measures (seed 000): e.g. satisfaction ≥ 15 % below the peers' average on
three consecutive days → an alert to the unit's parent. Pure: daily values in, alerts out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A daily rate ``numerator / denominator`` compared with the peers' average of the same rate."""

    code: str
    numerator: str
    denominator: str
    below_fraction: float = 0.15  # alert when the rate ≤ (1 − 0.15) × peers' average
    consecutive_days: int = 3
    min_denominator: float = 1.0  # a day with fewer samples is not judged (and breaks the streak)


SATISFACTION_BELOW_PEERS = AlertRule(
    code="satisfaction_below_peers", numerator="surveys.satisfied", denominator="surveys.rated"
)
RULES = {SATISFACTION_BELOW_PEERS.code: SATISFACTION_BELOW_PEERS}


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    rule: str
    unit: str
    notify_unit: str
    first_day: date
    last_day: date
    days: tuple[dict, ...]  # per day: the unit's rate, the peers' average, the gap


def _rate(values: Mapping[str, float] | None, rule: AlertRule) -> float | None:
    if not values:
        return None
    den = values.get(rule.denominator, 0.0)
    if den < rule.min_denominator:
        return None
    return values.get(rule.numerator, 0.0) / den


def detect(
    rule: AlertRule,
    parents: Mapping[str, str],
    daily: Mapping[str, Mapping[str, Mapping[str, float]]],
) -> list[RaisedAlert]:
    """``parents``: unit → parent (peers are units with the same parent); ``daily``: ``YYYY-MM-DD`` →
    unit → measures. One alert per streak of at least ``consecutive_days`` days in a row."""
    days = sorted(daily)
    by_parent: dict[str, list[str]] = {}
    for unit in sorted(parents):
        by_parent.setdefault(parents[unit], []).append(unit)
    alerts = []
    for parent, units in sorted(by_parent.items()):
        if len(units) < 2:
            continue
        for unit in units:
            streak: list[dict] = []
            previous_day: date | None = None
            for label in [*days, None]:
                hit = None
                if label is not None:
                    rates = {u: _rate(daily[label].get(u), rule) for u in units}
                    own, peers = rates[unit], [r for u, r in sorted(rates.items()) if u != unit and r is not None]
                    if own is not None and peers:
                        average = sum(peers) / len(peers)
                        if average > 0 and own <= (1 - rule.below_fraction) * average:
                            hit = {"day": label, "rate": round(own, 6), "peers_average": round(average, 6),
                                   "gap": round(1 - own / average, 6)}  # fmt: skip
                day = date.fromisoformat(label) if label else None
                consecutive = hit and streak and previous_day is not None and day == previous_day + timedelta(days=1)
                if hit and (not streak or consecutive):
                    streak.append(hit)
                else:
                    if len(streak) >= rule.consecutive_days:
                        alerts.append(_alert(rule, unit, parent, streak))
                    streak = [hit] if hit else []
                previous_day = day
    return alerts


def _alert(rule: AlertRule, unit: str, parent: str, streak: Sequence[dict]) -> RaisedAlert:
    return RaisedAlert(
        rule=rule.code, unit=unit, notify_unit=parent, first_day=date.fromisoformat(streak[0]["day"]),
        last_day=date.fromisoformat(streak[-1]["day"]), days=tuple(streak),
    )  # fmt: skip
