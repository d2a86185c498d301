"""Alert detection (seed 000): 15 % below the peers' average on three consecutive days."""

from __future__ import annotations

from datetime import date

from services.scoring.alerts import SATISFACTION_BELOW_PEERS, detect

PARENTS = {"A1": "T1", "A2": "T1", "A3": "T1", "B1": "T2"}


def day(a1, a2=90, a3=90, rated=100):
    return {
        "A1": {"surveys.satisfied": a1, "surveys.rated": rated},
        "A2": {"surveys.satisfied": a2, "surveys.rated": rated},
        "A3": {"surveys.satisfied": a3, "surveys.rated": rated},
        "B1": {"surveys.satisfied": 10, "surveys.rated": rated},  # alone under its parent: no peers, no alert
    }


def test_three_consecutive_days_raise_one_alert_to_the_parent():
    # Peers average 90 %; 76.5 % is exactly 15 % below (0.85 × 90) → counts; 77 % does not.
    daily = {"2025-03-01": day(76.5), "2025-03-02": day(70), "2025-03-03": day(60), "2025-03-04": day(77)}
    alerts = detect(SATISFACTION_BELOW_PEERS, PARENTS, daily)
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.unit, alert.notify_unit) == ("A1", "T1")
    assert (alert.first_day, alert.last_day) == (date(2025, 3, 1), date(2025, 3, 3))
    assert [d["gap"] for d in alert.days] == [0.15, round(1 - 70 / 90, 6), round(1 - 60 / 90, 6)]


def test_two_days_or_a_broken_streak_raise_nothing():
    daily = {"2025-03-01": day(60), "2025-03-02": day(60), "2025-03-03": day(89), "2025-03-04": day(60)}
    assert detect(SATISFACTION_BELOW_PEERS, PARENTS, daily) == []


def test_a_gap_in_the_calendar_breaks_the_streak():
    daily = {"2025-03-01": day(60), "2025-03-02": day(60), "2025-03-04": day(60)}
    assert detect(SATISFACTION_BELOW_PEERS, PARENTS, daily) == []


def test_days_without_enough_samples_are_not_judged():
    daily = {f"2025-03-0{d}": day(0, rated=0) for d in (1, 2, 3)}
    assert detect(SATISFACTION_BELOW_PEERS, PARENTS, daily) == []
