"""Declarative column mappings: how an arbitrary layout (a 311 export, a call-centre log) becomes a record.

A mapping is data (JSON), saved by name and reused::

    {"kind": "call", "time_zone": "Asia/Shanghai", "delimiter": "\\t", "null_values": ["", "0:00:00"],
     "skip_when": {"column": "outcome", "equals": "PHANTOM"},                          # rows left out
     "fields": {
        "record_id":  {"column": "call_id"},                                  # rename
        "direction":  {"value": "inbound"},                                   # constant
        "started_at": {"columns": ["date", "vru_entry"], "format": "%y%m%d %H:%M:%S"},  # join + date format
        "outcome":    {"column": "outcome", "map": {"AGENT": "answered", "HANG": "abandoned"}},  # value map
        "talk_seconds": {"column": "talk", "duration": "hh:mm:ss"},           # 0:03:25 → 205 seconds
        "answered_at": {"column": "ser_start", "when": {"column": "outcome", "equals": "AGENT"}},  # conditional
        "unit_id":    {"column": "server", "map": {"MICHAL": "GZ-T1-A001"}, "default": "GZ-T1"}}}  # unit look-up

Per field: ``column`` | ``columns`` (joined by a space) | ``value``; then ``null_values`` (field or
mapping wide: the value means empty), ``map`` (source value → canonical value; ``strict: true`` makes an
unmapped value an error instead of passing it through), ``format`` (strptime format for dates, or a list tried in
order), ``duration`` (the value is a duration read into seconds: ``"hh:mm:ss"`` — hours of one or more digits,
minutes and seconds of two, e.g. ``0:03:25``; ``"mm:ss"`` — minutes of one or more digits, seconds of two, e.g.
``95:07``; ``true`` — either, told apart by the number of colons; seconds may carry a decimal fraction, ``0:03:25.5``;
any other value is rejected with its row, field, value and the expected form), ``when`` (a condition on the
source row: when it does not hold, the field is empty), ``default`` (used when the result is empty).

Conditions (``when`` on a field; ``skip_when`` and ``keep_when`` on the mapping) test one column of the source row,
its value as written with the edges' whitespace stripped: ``{"column": C, "equals": "v"}``, ``"not_equals": "v"``,
``"in": ["v", …]``, ``"not_in": ["v", …]``, or ``"empty": true | false`` (empty: blank, or one of the mapping's
``null_values``). A list of conditions holds when every one does. A row for which ``skip_when`` holds, or
``keep_when`` does not, is **skipped**: neither checked nor stored, and counted as skipped (not rejected) in the
batch report. Canonical fields that the mapping does not name are empty. Without a mapping the file's columns must
be the canonical field names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.ingest.records import KINDS, RecordKind
from services.ingest.validation import FieldError

FIELD_KEYS = {"column", "columns", "value", "map", "strict", "format", "duration", "when", "default", "null_values"}
CONDITION_TESTS = ("equals", "not_equals", "in", "not_in", "empty")

# durations: two-digit minutes and seconds below 60 (a clock-like text), the leading part of any length; the form
# is the mapping's, never guessed from the value (``1:30`` is 90 s as mm:ss and an error as hh:mm:ss)
_SECONDS = r"([0-5][0-9](?:\.[0-9]+)?)"
DURATION_FORMS: dict[str, tuple[re.Pattern[str], str]] = {
    "hh:mm:ss": (re.compile(r"([0-9]+):([0-5][0-9]):" + _SECONDS), "hh:mm:ss (hours:minutes:seconds, e.g. 0:03:25)"),
    "mm:ss": (re.compile(r"()([0-9]+):" + _SECONDS), "mm:ss (minutes:seconds, e.g. 03:25)"),
}


class MappingError(ValueError):
    """A mapping that cannot be used; ``problems`` lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _check_condition(where: str, spec: Any) -> list[str]:
    """Every problem with a condition (or a list of them) at ``where``."""
    items = spec if isinstance(spec, list) else [spec]
    if not items:
        return [f"{where}: give at least one condition"]
    problems: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            problems.append(f'{where}: a condition is an object such as {{"column": "Status", "equals": "Closed"}}')
            continue
        if not isinstance(item.get("column"), str) or not item["column"]:
            problems.append(f"{where}: a condition names the source column it tests (column)")
        tests = [k for k in item if k != "column"]
        if len(tests) != 1 or tests[0] not in CONDITION_TESTS:
            problems.append(f"{where}: a condition has exactly one test of: {', '.join(CONDITION_TESTS)}")
            continue
        test, operand = tests[0], item[tests[0]]
        if test in ("equals", "not_equals") and not isinstance(operand, str):
            problems.append(f'{where}: {test} takes the column\'s value as text, e.g. "Closed"')
        elif test in ("in", "not_in") and (
            not isinstance(operand, list) or not operand or not all(isinstance(v, str) for v in operand)
        ):
            problems.append(f"{where}: {test} takes a non-empty list of values as text")
        elif test == "empty" and not isinstance(operand, bool):
            problems.append(f"{where}: empty takes true or false")
    return problems


def _check_field(kind: RecordKind, name: str, rule: Any) -> list[str]:
    if name not in kind.field_names:
        return [f"{name}: not a field of {kind.name}"]
    if not isinstance(rule, dict):
        return [f"{name}: must be an object"]
    problems = []
    if unknown := set(rule) - FIELD_KEYS:
        problems.append(f"{name}: unknown keys {sorted(unknown)}")
    if sum(k in rule for k in ("column", "columns", "value")) != 1:
        problems.append(f"{name}: give exactly one of column, columns, value")
    if "map" in rule and not isinstance(rule["map"], dict):
        problems.append(f"{name}: map must be an object")
    if "duration" in rule:
        duration = rule["duration"]
        if duration is not True and duration not in DURATION_FORMS:
            problems.append(f"{name}: duration must be one of {', '.join(map(repr, DURATION_FORMS))} or true (either)")
        if kind.field(name).type not in ("float", "int"):
            problems.append(f"{name}: duration reads seconds into a number field; {name} is {kind.field(name).type}")
        if "format" in rule:
            problems.append(f"{name}: give format (dates) or duration (seconds), not both")
    if "when" in rule:
        problems += _check_condition(f"{name}: when", rule["when"])
    return problems


def check_mapping(spec: Mapping[str, Any]) -> list[str]:
    """Every problem with a mapping document (empty when usable)."""
    problems: list[str] = []
    if not isinstance(spec, Mapping):
        return ["the mapping must be an object"]
    kind_name = spec.get("kind")
    kind = KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        return [f"kind must be one of {', '.join(KINDS)}"]
    zone = spec.get("time_zone")
    if zone is not None:
        try:
            if not isinstance(zone, str):
                raise ValueError(zone)
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"unknown time zone {zone!r}")
    for key in ("skip_when", "keep_when"):
        if key in spec:
            problems += _check_condition(key, spec[key])
    fields = spec.get("fields")
    if not isinstance(fields, dict) or not fields:
        return [*problems, "fields must be an object naming canonical fields"]
    for name, rule in fields.items():
        problems += _check_field(kind, name, rule)
    for f in kind.fields:
        if f.required and f.name not in fields and f.name != "source":
            problems.append(f"{f.name}: required by {kind.name} but not mapped")
    return problems


class Condition:
    """A checked condition (or list of conditions: all must hold) on a source row."""

    def __init__(self, spec: Any, nulls: set[str]) -> None:
        self._tests = []
        for item in spec if isinstance(spec, list) else [spec]:
            test = next(k for k in item if k != "column")
            operand = item[test]
            self._tests.append((item["column"], test, set(operand) if isinstance(operand, list) else operand))
        self._nulls = nulls

    @property
    def columns(self) -> set[str]:
        return {column for column, _, _ in self._tests}

    def holds(self, row: Mapping[str, Any]) -> bool:
        for column, test, operand in self._tests:
            text = _as_text(row.get(column))
            if test == "equals":
                ok = text == operand
            elif test == "not_equals":
                ok = text != operand
            elif test == "in":
                ok = text in operand
            elif test == "not_in":
                ok = text not in operand
            else:  # empty
                ok = (text in self._nulls) is operand
            if not ok:
                return False
        return True


def _as_text(value: Any) -> str:
    """A source value as written (edges stripped; JSON's booleans as true/false)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.strip() if isinstance(value, str) else str(value)


class ColumnMapping:
    """A checked mapping, applied to one source row at a time."""

    def __init__(self, spec: Mapping[str, Any], name: str | None = None) -> None:
        problems = check_mapping(spec)
        if problems:
            raise MappingError(problems)
        self.name = name
        self.spec = spec
        self.kind: RecordKind = KINDS[spec["kind"]]
        self.time_zone: str | None = spec.get("time_zone")
        self.delimiter: str | None = spec.get("delimiter")
        default_nulls = set(spec.get("null_values", [""]))
        row_nulls = default_nulls | {""}
        self._skip = Condition(spec["skip_when"], row_nulls) if "skip_when" in spec else None
        self._keep = Condition(spec["keep_when"], row_nulls) if "keep_when" in spec else None
        self._rules = []
        for name_, rule in spec["fields"].items():
            nulls = set(rule.get("null_values", default_nulls)) | {""}
            cols = [rule["column"]] if "column" in rule else rule.get("columns")
            when = Condition(rule["when"], row_nulls) if "when" in rule else None
            self._rules.append((name_, rule, cols, nulls, when))

    def source_columns(self) -> set[str]:
        columns = {c for _, _, cols, _, _ in self._rules if cols for c in cols}
        conditions = [self._skip, self._keep, *(when for *_, when in self._rules)]
        return columns.union(*(c.columns for c in conditions if c is not None))

    def missing_columns(self, header: Iterable[str]) -> list[str]:
        return sorted(self.source_columns() - set(header))

    def skips(self, row: Mapping[str, Any]) -> bool:
        """The row is left out by ``skip_when`` or ``keep_when`` (not checked, not stored, counted as skipped)."""
        return (self._skip is not None and self._skip.holds(row)) or (
            self._keep is not None and not self._keep.holds(row)
        )

    def apply(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The canonical row; raises ``FieldError`` (with ``.field``) for a value the mapping refuses."""
        out: dict[str, Any] = {}
        for name, rule, cols, nulls, when in self._rules:
            if when is not None and not when.holds(row):
                value: Any = None
            elif cols is None:
                value = rule["value"]
            else:
                parts = [row.get(c) for c in cols]
                if any(p is None or (isinstance(p, str) and p.strip() in nulls) for p in parts):
                    value = None
                elif len(parts) == 1:
                    value = parts[0].strip() if isinstance(parts[0], str) else parts[0]
                else:
                    value = " ".join(str(p).strip() for p in parts)
            if value is not None and "map" in rule:
                key = str(value)
                if key in rule["map"]:
                    value = rule["map"][key]
                elif rule.get("strict"):
                    value = None if "default" in rule else _refuse(name, key)
            if value is not None and "format" in rule and not isinstance(value, datetime):
                value = _strptime(name, str(value), rule["format"])
            if value is not None and "duration" in rule:
                value = duration_seconds(name, _as_text(value), rule["duration"])
            if value is None and "default" in rule:
                value = rule["default"]
            out[name] = value
        return out


def duration_seconds(name: str, text: str, form: str | bool) -> float:
    """Seconds of a duration written in ``form`` (``"hh:mm:ss"``, ``"mm:ss"``, or ``True``: either)."""
    key = form if isinstance(form, str) else ("hh:mm:ss" if text.count(":") == 2 else "mm:ss")
    pattern, described = DURATION_FORMS[key]
    match = pattern.fullmatch(text)
    if match is None:
        expected = described if isinstance(form, str) else " or ".join(d for _, d in DURATION_FORMS.values())
        error = FieldError(f"not a duration written {expected}")
        error.field, error.value = name, text  # type: ignore[attr-defined]
        raise error
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)


def _strptime(name: str, value: str, formats: str | list[str]) -> datetime:
    """The first of the mapping's date formats that reads ``value``."""
    for fmt in [formats] if isinstance(formats, str) else formats:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    error = FieldError(f"does not match the date format {formats}")
    error.field, error.value = name, value  # type: ignore[attr-defined]
    raise error


def _refuse(name: str, key: str) -> Any:
    error = FieldError(f"value {key!r} is not in the mapping's value map")
    error.field, error.value = name, key  # type: ignore[attr-defined]
    raise error
