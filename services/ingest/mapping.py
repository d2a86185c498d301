"""Declarative column mappings: how an arbitrary layout (a 311 export, a call-centre log) becomes a record.

A mapping is data (JSON), saved by name and reused::

    {"kind": "call", "time_zone": "Asia/Shanghai", "delimiter": "\\t", "null_values": ["", "0:00:00"],
     "fields": {
        "record_id":  {"column": "call_id"},                                  # rename
        "direction":  {"value": "inbound"},                                   # constant
        "started_at": {"columns": ["date", "vru_entry"], "format": "%y%m%d %H:%M:%S"},  # join + date format
        "outcome":    {"column": "outcome", "map": {"AGENT": "answered", "HANG": "abandoned"}},  # value map
        "unit_id":    {"column": "server", "map": {"MICHAL": "GZ-T1-A001"}, "default": "GZ-T1"}}}  # unit look-up

Per field: ``column`` | ``columns`` (joined by a space) | ``value``; then ``null_values`` (field or
mapping wide: the value means empty), ``map`` (source value → canonical value; ``strict: true`` makes an
unmapped value an error instead of passing it through), ``format`` (strptime format for dates, or a list tried in order),
``default`` (used when the result is empty). Canonical fields that the mapping does not name are empty.
Without a mapping the file's columns must be the canonical field names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.ingest.records import KINDS, RecordKind
from services.ingest.validation import FieldError

FIELD_KEYS = {"column", "columns", "value", "map", "strict", "format", "default", "null_values"}


class MappingError(ValueError):
    """A mapping that cannot be used; ``problems`` lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


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
    fields = spec.get("fields")
    if not isinstance(fields, dict) or not fields:
        return [*problems, "fields must be an object naming canonical fields"]
    for name, rule in fields.items():
        if name not in kind.field_names:
            problems.append(f"{name}: not a field of {kind.name}")
            continue
        if not isinstance(rule, dict):
            problems.append(f"{name}: must be an object")
            continue
        if unknown := set(rule) - FIELD_KEYS:
            problems.append(f"{name}: unknown keys {sorted(unknown)}")
        if sum(k in rule for k in ("column", "columns", "value")) != 1:
            problems.append(f"{name}: give exactly one of column, columns, value")
        if "map" in rule and not isinstance(rule["map"], dict):
            problems.append(f"{name}: map must be an object")
    for f in kind.fields:
        if f.required and f.name not in fields and f.name != "source":
            problems.append(f"{f.name}: required by {kind.name} but not mapped")
    return problems


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
        self._rules = []
        for name_, rule in spec["fields"].items():
            nulls = set(rule.get("null_values", default_nulls)) | {""}
            cols = [rule["column"]] if "column" in rule else rule.get("columns")
            self._rules.append((name_, rule, cols, nulls))

    def source_columns(self) -> set[str]:
        return {c for _, _, cols, _ in self._rules if cols for c in cols}

    def missing_columns(self, header: Iterable[str]) -> list[str]:
        return sorted(self.source_columns() - set(header))

    def apply(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The canonical row; raises ``FieldError`` (with ``.field``) for a value the mapping refuses."""
        out: dict[str, Any] = {}
        for name, rule, cols, nulls in self._rules:
            if cols is None:
                value: Any = rule["value"]
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
            if value is None and "default" in rule:
                value = rule["default"]
            out[name] = value
        return out


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
