"""Evaluation periods: parsing, whole months (a custom range must meet the scheme's minimum), earlier periods."""

from __future__ import annotations

from datetime import date

import pytest

from services.scoring.periods import Period, PeriodError, earlier_periods, parse_period


def test_named_periods():
    assert parse_period("month", "2024-02") == Period("month", date(2024, 2, 1), date(2024, 2, 29))
    quarter = parse_period("quarter", "2025-Q4")
    assert (quarter.start, quarter.end, quarter.label, quarter.full_months) == (
        date(2025, 10, 1),
        date(2025, 12, 31),
        "2025-Q4",
        3,
    )
    assert parse_period("year", "2025").month_numbers == tuple(range(1, 13))


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2025, 1, 15), date(2025, 3, 14), 2),  # touches three calendar months, lasts two
        (date(2025, 1, 15), date(2025, 4, 14), 3),
        # 31 Jan + 1 month is clamped to 28 Feb, so the month runs 31 Jan – 27 Feb.
        (date(2025, 1, 31), date(2025, 2, 26), 0),
        (date(2025, 1, 31), date(2025, 2, 27), 1),
        (date(2025, 1, 1), date(2025, 1, 31), 1),
    ],
)
def test_custom_periods_count_whole_months(start, end, months):
    assert parse_period("custom", start=start, end=end).full_months == months


def test_bad_periods_are_explained():
    with pytest.raises(PeriodError, match="not a quarter"):
        parse_period("quarter", "2025-Q5")
    with pytest.raises(PeriodError, match="on or after"):
        parse_period("custom", start=date(2025, 2, 1), end=date(2025, 1, 1))
    with pytest.raises(PeriodError, match="unknown period kind"):
        parse_period("week", "2025-01")


def test_earlier_periods_of_the_same_length():
    quarters = earlier_periods(parse_period("quarter", "2025-Q1"), 2)
    assert [(p.start, p.end) for p in quarters] == [
        (date(2024, 10, 1), date(2024, 12, 31)),
        (date(2024, 7, 1), date(2024, 9, 30)),
    ]
    assert [p.label for p in earlier_periods(parse_period("month", "2025-01"), 2)] == ["2024-12", "2024-11"]
