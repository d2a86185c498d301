"""Evaluation periods: a month, quarter, year or custom range, and the earlier periods of the same length."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta


class PeriodError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Period:
    """A whole number of calendar months from ``start`` to ``end`` inclusive (custom ranges may be any days)."""

    kind: str  # month | quarter | year | custom
    start: date
    end: date

    @property
    def months(self) -> list[tuple[int, int]]:
        """(year, month) of every calendar month the period touches, in order."""
        found, y, m = [], self.start.year, self.start.month
        while (y, m) <= (self.end.year, self.end.month):
            found.append((y, m))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return found

    @property
    def month_numbers(self) -> tuple[int, ...]:
        return tuple(m for _, m in self.months)

    @property
    def month_count(self) -> int:
        return len(self.months)

    @property
    def full_months(self) -> int:
        """Whole months the period lasts: 15 Jan – 14 Mar is 2, even though it touches 3 calendar months."""
        count = 0
        while _add_months(self.start, count + 1) - timedelta(days=1) <= self.end:
            count += 1
        return count

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    y, m = divmod(index, 12)
    return date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))


def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def parse_period(kind: str, value: str | None = None, start: date | None = None, end: date | None = None) -> Period:
    """``month`` ``2025-03``, ``quarter`` ``2025-Q1``, ``year`` ``2025``, or ``custom`` with start and end."""
    try:
        if kind == "month":
            y, m = (int(p) for p in (value or "").split("-"))
            return Period("month", date(y, m, 1), _month_end(y, m))
        if kind == "quarter":
            match = re.fullmatch(r"(\d{4})-Q([1-4])", value or "")
            if not match:
                raise ValueError
            y, q = int(match[1]), int(match[2])
            return Period("quarter", date(y, 3 * q - 2, 1), _month_end(y, 3 * q))
        if kind == "year":
            y = int(value or "")
            return Period("year", date(y, 1, 1), date(y, 12, 31))
    except ValueError as exc:
        raise PeriodError(f"{value!r} is not a {kind} (expected e.g. 2025-03, 2025-Q1 or 2025)") from exc
    if kind == "custom":
        if start is None or end is None or end < start:
            raise PeriodError("a custom period needs a start and an end on or after it")
        return Period("custom", start, end)
    raise PeriodError(f"unknown period kind {kind!r}: month, quarter, year or custom")


def earlier_periods(period: Period, count: int) -> list[Period]:
    """The ``count`` periods of the same length just before ``period``, latest first (whole months)."""
    length = period.month_count
    y, m = period.start.year, period.start.month
    found = []
    for _ in range(count):
        end_y, end_m = (y - 1, 12) if m == 1 else (y, m - 1)
        start_index = end_y * 12 + (end_m - 1) - (length - 1)
        sy, sm = divmod(start_index, 12)
        found.append(Period(period.kind, date(sy, sm + 1, 1), _month_end(end_y, end_m)))
        y, m = sy, sm + 1
    return found
