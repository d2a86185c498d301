"""A batch's rows on their way in: the counts of a load and ``RowFeed``, which turns source rows into staging tuples.

Shared by ``loader`` (the staged path) and ``newmonth`` (a month built whole), neither importing the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, tzinfo
from typing import Any

from services.ingest.mapping import ColumnMapping
from services.ingest.reader import BadRow
from services.ingest.records import RecordKind
from services.ingest.validation import FieldError, Problem, RowValidator

MAX_STORED_PROBLEMS = 10_000


@dataclass
class LoadCounts:
    rows_read: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    rows_new: int = 0
    rows_corrected: int = 0
    rows_duplicate: int = 0
    rows_repeated_in_file: int = 0
    rows_skipped: int = 0  # left out by the mapping's skip_when / keep_when: not checked, not stored
    problems: list[Problem] = field(default_factory=list)
    rejected_out_of_scope: int = 0

    def reject(self, problems: list[Problem]) -> None:
        self.rows_rejected += 1
        if len(self.problems) < MAX_STORED_PROBLEMS:
            self.problems.extend(problems)


@dataclass
class RowFeed:
    """Turns source rows into staging tuples; every rejected row is recorded with its problems."""

    kind: RecordKind
    tz: tzinfo
    source: str
    batch_id: int
    units_in_scope: set[str]
    mapping: ColumnMapping | None
    counts: LoadCounts
    period: tuple[date | None, date | None] = (None, None)
    expected_rows: int | None = None
    out_of_period: int = 0
    days: set[date] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)
    keys_seen: set[int] = field(default_factory=set)
    repeated_keys: set[tuple[str, str]] = field(default_factory=set)
    repeats_unknown: bool = False  # staged set-based: repeated keys are found in SQL by merge_stage
    summed: bool = False  # stored whole as a month new to the raw table, its sums made already (``newmonth``)
    checks: list | None = None  # the consistency checks of its rows, run already (``newmonth``)
    repeat_callers: dict[str, int] | None = None  # calls: how the stored rows got their repeat flag (``repeats``)
    covers: tuple[str, ...] = ()  # the units the batch declares it covers (``covers=``; checked in scope)
    fields: set[str] = field(default_factory=set)  # the canonical fields it supplies (``coverage.supplied_fields``)
    fields_from_rows: bool = False  # JSON rows: every row's keys add to ``fields``

    def __post_init__(self) -> None:
        self.validator = RowValidator(self.kind, self.tz)
        names = self.kind.field_names
        self._unit_fields = [(names.index(n), n) for n in ("unit_id", "handling_unit_id") if n in names]
        self._key = (names.index("source"), names.index("record_id"))

    def supplied(self) -> set[str]:
        """The canonical fields the batch supplied: those known beforehand or seen in its rows, and the required."""
        return (self.fields & set(self.kind.field_names)) | {f.name for f in self.kind.fields if f.required}

    def _canonical(self, row_no: int, row: dict[str, Any]) -> dict[str, Any] | None:
        if self.mapping is None:
            canonical = row
        elif self.mapping.skips(row):
            self.counts.rows_skipped += 1
            return None
        else:
            try:
                canonical = self.mapping.apply(row)
            except FieldError as exc:
                field_ = getattr(exc, "field", None)
                self.counts.reject([Problem(row_no, field_, getattr(exc, "value", None), str(exc))])
                return None
        if canonical.get("source") in (None, ""):
            canonical = {**canonical, "source": self.source}
        return canonical

    def tuples(self, rows: Iterator) -> Iterator[tuple]:
        for item in rows:
            self.counts.rows_read += 1
            if isinstance(item, BadRow):
                self.counts.reject([Problem(item.row, None, item.value, item.reason)])
                continue
            row_no, row = item
            canonical = self._canonical(row_no, row)
            if canonical is None:
                continue
            if self.fields_from_rows:
                self.fields.update(canonical)
            values, day, problems = self.validator.check(row_no, canonical)
            if values is None:
                self.counts.reject(problems)
                continue
            outside = [
                (i, n) for i, n in self._unit_fields if values[i] is not None and values[i] not in self.units_in_scope
            ]
            if outside:
                self.counts.rejected_out_of_scope += 1
                self.counts.reject(
                    [Problem(row_no, n, values[i], "unknown unit, or outside the caller's scope") for i, n in outside]
                )
                continue
            self.days.add(day)
            low, high = self.period
            if (low and day < low) or (high and day > high):
                self.out_of_period += 1
            key = hash((values[self._key[0]], values[self._key[1]]))
            if key in self.keys_seen:
                self.repeated_keys.add((values[self._key[0]], values[self._key[1]]))
            else:
                self.keys_seen.add(key)
            self.counts.rows_valid += 1
            yield (*values, day, self.batch_id, row_no)
