"""Row checks: turn one input row (strings from CSV, JSON values, XLSX cells) into a canonical record.

Pure functions, no database. A row is either fully valid (a tuple in the kind's field order plus the
day its measures count on) or rejected with every problem found (row, field, value, reason). Unit
existence and scope are checked by the loader against the caller's subtree, also without SQL per row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from services.ingest.records import Field, RecordKind

TRUE = {"true", "t", "1", "yes", "y", "是", "√"}
FALSE = {"false", "f", "0", "no", "n", "否", "×"}
MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a row (or one of its fields) was rejected."""

    row: int
    field: str | None
    value: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "value": self.value, "reason": self.reason}


class FieldError(ValueError):
    pass


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def _text(value: Any, _f: Field, _tz: tzinfo) -> str:
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise FieldError(f"longer than {MAX_TEXT} characters")
    if "\x00" in text:
        raise FieldError("contains a NUL character")
    return text


def _number(value: Any, f: Field, cast: Callable) -> float | int:
    if isinstance(value, bool):
        raise FieldError("expected a number, got a boolean")
    try:
        number = cast(value) if not isinstance(value, str) else cast(value.strip().replace(",", ""))
    except (TypeError, ValueError):
        raise FieldError("expected " + ("an integer" if cast is _to_int else "a number")) from None
    if isinstance(number, float) and not math.isfinite(number):
        raise FieldError("expected a finite number")
    if f.minimum is not None and number < f.minimum:
        raise FieldError(f"must be ≥ {f.minimum:g}")
    if f.maximum is not None and number > f.maximum:
        raise FieldError(f"must be ≤ {f.maximum:g}")
    return number


def _to_int(value: Any) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    if isinstance(value, str) and "." in value:
        as_float = float(value)
        if not as_float.is_integer():
            raise ValueError
        return int(as_float)
    return int(value)


def _int(value: Any, f: Field, _tz: tzinfo) -> int:
    number = _number(value, f, _to_int)
    if not -(2**31) <= number < 2**31:
        raise FieldError("integer out of range")
    return number


def _float(value: Any, f: Field, _tz: tzinfo) -> float:
    if value.__class__ is str:  # the common case (CSV), without the general path's overhead
        try:
            number = float(value)
        except ValueError:
            return float(_number(value, f, float))
        if number != number or number in (math.inf, -math.inf):
            raise FieldError("expected a finite number")
        if (f.minimum is not None and number < f.minimum) or (f.maximum is not None and number > f.maximum):
            return float(_number(value, f, float))  # raises with the bound in the message
        return number
    return float(_number(value, f, float))


def _bool(value: Any, _f: Field, _tz: tzinfo) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise FieldError("expected true/false (also 1/0, yes/no, 是/否)")


def parse_timestamp(value: Any, tz: tzinfo) -> datetime:
    """An aware datetime; naive values are read in the source's time zone ``tz``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text.replace("/", "-") if "/" in text else text)
        except ValueError:
            raise FieldError("expected a date-time such as 2025-01-31 08:30:00 or 2025-01-31T08:30:00+08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    if not 1990 <= moment.year <= 2100:
        raise FieldError("year outside 1990–2100")
    return moment


def _timestamp(value: Any, _f: Field, tz: tzinfo) -> datetime:
    if value.__class__ is str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return parse_timestamp(value, tz)
        if 1990 <= moment.year <= 2100:
            return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
    return parse_timestamp(value, tz)


def _enum(value: Any, f: Field, _tz: tzinfo) -> str:
    text = str(value).strip().lower()
    if text not in f.values:
        raise FieldError("expected one of " + ", ".join(f.values))
    return text


def _enum_list(value: Any, f: Field, _tz: tzinfo) -> list[str]:
    items = value if isinstance(value, list | tuple) else str(value).replace("|", ";").replace(",", ";").split(";")
    out: list[str] = []
    for item in items:
        text = str(item).strip().lower()
        if not text:
            continue
        if text not in f.values:
            raise FieldError(f"{text!r} is not one of " + ", ".join(f.values))
        if text not in out:
            out.append(text)
    return out


CONVERTERS: dict[str, Callable[[Any, Field, tzinfo], Any]] = {
    "text": _text,
    "int": _int,
    "float": _float,
    "bool": _bool,
    "timestamp": _timestamp,
    "enum": _enum,
    "enum_list": _enum_list,
}

# Time order checks per kind: (later field, earlier field) — the later must not precede the earlier.
TIME_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "call": (("answered_at", "started_at"), ("ended_at", "started_at")),
    "work_order": (
        ("dispatched_at", "received_at"),
        ("first_contact_at", "received_at"),
        ("replied_at", "received_at"),
        ("closed_at", "received_at"),
    ),
    "callback": (),
    "chat_session": (),
    "knowledge_update": (),
}


class RowValidator:
    """Validates rows of one kind in one time zone; ``check`` is called once per row."""

    def __init__(self, kind: RecordKind, tz: tzinfo) -> None:
        self.kind = kind
        self.tz = tz
        self._fields = [(f.name, f, CONVERTERS[f.type], f.required) for f in kind.fields]
        self._day_index = kind.field_names.index(kind.day_field)
        names = kind.field_names
        self._order = [(names.index(a), names.index(b), a, b) for a, b in TIME_ORDER.get(kind.name, ())]

    def check(self, row_no: int, row: Mapping[str, Any]) -> tuple[tuple | None, date | None, list[Problem]]:
        """``(values, day, [])`` for a valid row, ``(None, None, problems)`` otherwise."""
        values: list[Any] = []
        problems: list[Problem] = []
        tz = self.tz
        for name, f, convert, required in self._fields:
            raw = row.get(name)
            if raw is None or raw == "" or raw == [] or (raw.__class__ is str and raw.isspace()) or raw != raw:
                if required:
                    problems.append(Problem(row_no, name, None if raw is None else str(raw), "required"))
                values.append(None)
                continue
            try:
                values.append(convert(raw, f, tz))
            except FieldError as exc:
                problems.append(Problem(row_no, name, str(raw)[:200], str(exc)))
                values.append(None)
        if problems:
            return None, None, problems
        for later, earlier, later_name, earlier_name in self._order:
            if values[later] is not None and values[earlier] is not None and values[later] < values[earlier]:
                problems.append(
                    Problem(row_no, later_name, values[later].isoformat(), f"{later_name} is before {earlier_name}")
                )
        if problems:
            return None, None, problems
        day = values[self._day_index].astimezone(self.tz).date()
        return tuple(values), day, []
