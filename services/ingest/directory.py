"""The unit tree as plain data: validating a batch of unit rows against the current tree.

Pure functions, no database: ``plan_registration`` takes the rows a caller sent and the tree as it
stands and says, row by row, what would happen (created, updated, moved, unchanged) or why the row
is rejected (bad field, duplicate id, unknown parent, cycle, kind not allowed under its parent).
Rejected rows change nothing; a row whose parent is a rejected new row is rejected too.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from hotline.kit.policy import ID_NOT_AVAILABLE, may_take_new_unit_id
from hotline.kit.scope import PATH_SEPARATOR, UNIT_ID_PATTERN, Scope
from services.ingest.models import UnitKind

# Which kinds may sit directly under which (None = a root of the tree).
ALLOWED_PARENT_KINDS: dict[UnitKind, set[UnitKind | None]] = {
    UnitKind.PROVINCE_BODY: {None},
    UnitKind.CITY_BODY: {UnitKind.PROVINCE_BODY},
    UnitKind.DISTRICT: {UnitKind.CITY_BODY},
    UnitKind.UNDERTAKING_UNIT: {
        UnitKind.PROVINCE_BODY,
        UnitKind.CITY_BODY,
        UnitKind.DISTRICT,
        UnitKind.UNDERTAKING_UNIT,
    },
    UnitKind.AGENT_TEAM: {UnitKind.PROVINCE_BODY, UnitKind.CITY_BODY},
    UnitKind.AGENT: {UnitKind.AGENT_TEAM},
}
FIELDS = ("parent_id", "kind", "name_zh", "name_en", "population", "active", "valid_from", "valid_to")
NOT_NULL_FIELDS = frozenset({"kind", "name_zh", "active", "valid_from"})
DEFAULT_VALID_FROM = date(2000, 1, 1)


class RowAction(enum.StrEnum):
    """What registering a row did."""

    CREATED = "created"
    UPDATED = "updated"
    MOVED = "moved"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class UnitState:
    """A unit as stored (or as it would be stored)."""

    id: str
    parent_id: str | None
    kind: UnitKind
    name_zh: str
    name_en: str
    population: int | None
    active: bool
    valid_from: date
    valid_to: date | None
    path: str = ""

    def attributes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row was rejected: which field, what value, what was expected."""

    field: str | None
    value: str | None
    message: str


@dataclass
class RowOutcome:
    """What happened (or would happen) to one input row. ``row`` is 1-based as the caller counts."""

    row: int
    unit_id: str | None
    action: str  # created | updated | moved | unchanged | rejected
    problems: list[RowProblem] = field(default_factory=list)
    changed_fields: list[str] = field(default_factory=list)


@dataclass
class RegistrationPlan:
    """The per-row report, plus the writes that apply the accepted rows."""

    outcomes: list[RowOutcome]
    upserts: list[UnitState]  # new or changed units, final state, parents before children
    path_changes: dict[str, tuple[str, str]]  # unit id -> (old path, new path), moved subtrees included

    @property
    def rejected(self) -> int:
        return sum(1 for o in self.outcomes if o.action == "rejected")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "y", "t", "是"}:
        return True
    if text in {"false", "0", "no", "n", "f", "否"}:
        return False
    raise ValueError("expected true or false")


def _parse_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def _parse_population(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number of residents")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip().replace(",", "")
        if not text.isdigit():
            raise ValueError("expected a whole number of residents, at least 0")
        number = int(text)
    if number < 0:
        raise ValueError("expected a whole number of residents, at least 0")
    return number


_PARSERS = {
    "parent_id": lambda v: v,
    "kind": UnitKind,
    "name_zh": lambda v: v,
    "name_en": lambda v: v,
    "population": _parse_population,
    "active": _parse_bool,
    "valid_from": _parse_date,
    "valid_to": _parse_date,
}
_EXPECTED = {
    "kind": "one of " + ", ".join(k.value for k in UnitKind),
    "valid_from": "a date YYYY-MM-DD",
    "valid_to": "a date YYYY-MM-DD",
    "parent_id": "a unit id (A–Z, 0–9, '-')",
}


def parse_row(raw: dict[str, Any]) -> tuple[str | None, dict[str, Any], list[RowProblem]]:
    """Parse one raw row. Returns its id, the fields it sets (absent keys are left alone) and problems."""
    problems: list[RowProblem] = []
    unit_id = _text(raw.get("id"))
    if unit_id is None:
        problems.append(RowProblem("id", None, "id is required"))
    elif not UNIT_ID_PATTERN.match(unit_id):
        problems.append(
            RowProblem("id", unit_id, "expected 1–64 characters A–Z, 0–9 or '-', starting with a letter or digit")
        )
    unknown = set(raw) - {"id", *FIELDS}
    for name in sorted(unknown):
        problems.append(RowProblem(name, _text(raw[name]), f"unknown field {name!r}"))
    values: dict[str, Any] = {}
    for name in FIELDS:
        if name not in raw:
            continue
        text = _text(raw[name]) if not isinstance(raw[name], bool | int | date) else raw[name]
        if text is None:
            # An empty cell of a field that cannot be null means "keep it" (or its default when new);
            # of a nullable field, "clear it".
            if name not in NOT_NULL_FIELDS:
                values[name] = "" if name == "name_en" else None
            continue
        if name == "parent_id" and not UNIT_ID_PATTERN.match(str(text)):
            problems.append(RowProblem(name, str(text), f"expected {_EXPECTED[name]}"))
            continue
        try:
            values[name] = _PARSERS[name](text)
        except ValueError as exc:
            expected = _EXPECTED.get(name, str(exc))
            problems.append(RowProblem(name, str(text), f"expected {expected}"))
    if "valid_from" in values and values.get("valid_to") is not None and values["valid_to"] < values["valid_from"]:
        problems.append(RowProblem("valid_to", str(values["valid_to"]), "valid_to is before valid_from"))
    return unit_id, values, problems


def plan_registration(
    rows: list[dict[str, Any]],
    existing: dict[str, UnitState],
    *,
    scope: Scope,
    may_create_roots: bool,
) -> RegistrationPlan:
    """Decide, row by row, what registering ``rows`` into the tree ``existing`` does."""
    outcomes: list[RowOutcome] = []
    proposed: dict[str, tuple[int, UnitState]] = {}  # id -> (index into outcomes, final state)
    first_row_of: dict[str, int] = {}
    subtree = [(u.id, u.parent_id) for u in existing.values() if scope.covers(u.path)]

    for number, raw in enumerate(rows, start=1):
        unit_id, values, problems = parse_row(raw)
        outcome = RowOutcome(row=number, unit_id=unit_id, action="rejected", problems=problems)
        outcomes.append(outcome)
        if unit_id is None or problems:
            continue
        if unit_id in first_row_of:
            outcome.problems.append(
                RowProblem("id", unit_id, f"duplicate id: already given on row {first_row_of[unit_id]}")
            )
            continue
        first_row_of[unit_id] = number
        current = existing.get(unit_id)
        foreign = current is not None and not scope.covers(current.path)
        if foreign or (current is None and not may_create_roots and not may_take_new_unit_id(unit_id, subtree)):
            # The visibility policy (hotline.kit.policy): one answer for an id held outside the caller's scope
            # and for a free id outside its namespace (an admin, who registers roots, may take any free id),
            # decided before anything else about the row, so that no answer tells the two apart.
            outcome.problems.append(RowProblem("id", unit_id, ID_NOT_AVAILABLE))
            continue
        if current is None:
            missing = [n for n in ("kind", "name_zh") if n not in values]
            if missing:
                outcome.problems.extend(RowProblem(n, None, f"{n} is required for a new unit") for n in missing)
                continue
            state = UnitState(
                id=unit_id,
                parent_id=values.get("parent_id"),
                kind=values["kind"],
                name_zh=values["name_zh"],
                name_en=values.get("name_en", ""),
                population=values.get("population"),
                active=values.get("active", True),
                valid_from=values.get("valid_from", DEFAULT_VALID_FROM),
                valid_to=values.get("valid_to"),
            )
        else:
            state = replace(current, **values)
        if state.valid_to is not None and state.valid_to < state.valid_from:
            outcome.problems.append(RowProblem("valid_to", str(state.valid_to), "valid_to is before valid_from"))
            continue
        proposed[unit_id] = (number - 1, state)

    _reject_until_stable(proposed, outcomes, existing, scope=scope, may_create_roots=may_create_roots)
    return _finish(proposed, outcomes, existing)


def _reject(outcomes: list[RowOutcome], index: int, problem: RowProblem) -> None:
    outcomes[index].problems.append(problem)


def _reject_until_stable(
    proposed: dict[str, tuple[int, UnitState]],
    outcomes: list[RowOutcome],
    existing: dict[str, UnitState],
    *,
    scope: Scope,
    may_create_roots: bool,
) -> None:
    """Drop rows whose parent is unknown, out of scope, rejected, of the wrong kind, or forms a cycle."""
    changed = True
    while changed:
        changed = False
        for unit_id, (index, state) in list(proposed.items()):
            problem = _parent_problem(unit_id, state, proposed, existing, scope, may_create_roots)
            if problem is not None:
                _reject(outcomes, index, problem)
                del proposed[unit_id]
                changed = True
        for cycle in _cycles(proposed, existing):
            for unit_id in cycle:
                index, _state = proposed.pop(unit_id)
                chain = " → ".join([*cycle, cycle[0]])
                _reject(outcomes, index, RowProblem("parent_id", None, f"this move would create a cycle: {chain}"))
            changed = True


def _parent_problem(
    unit_id: str,
    state: UnitState,
    proposed: dict[str, tuple[int, UnitState]],
    existing: dict[str, UnitState],
    scope: Scope,
    may_create_roots: bool,
) -> RowProblem | None:
    parent_id = state.parent_id
    if parent_id is None:
        current = existing.get(unit_id)
        if current is not None and current.parent_id is None:
            parent_kind = None  # an existing root stays a root
        elif not may_create_roots:
            return RowProblem("parent_id", None, "parent_id is required (only an admin registers a root unit)")
        else:
            parent_kind = None
    else:
        if parent_id == unit_id:
            return RowProblem("parent_id", parent_id, "a unit cannot be its own parent")
        if parent_id in proposed:
            parent_kind = proposed[parent_id][1].kind
        elif parent_id in existing and scope.covers(existing[parent_id].path):
            parent_kind = existing[parent_id].kind
        else:
            return RowProblem("parent_id", parent_id, f"unknown parent {parent_id!r}")
    if parent_kind not in ALLOWED_PARENT_KINDS[state.kind]:
        where = "at the root" if parent_kind is None else f"under a {parent_kind.value}"
        return RowProblem("kind", state.kind.value, f"a {state.kind.value} cannot be placed {where}")
    return None


def _parent_of(unit_id: str, proposed: dict[str, tuple[int, UnitState]], existing: dict[str, UnitState]):
    if unit_id in proposed:
        return proposed[unit_id][1].parent_id
    current = existing.get(unit_id)
    return current.parent_id if current else None


def _cycles(proposed: dict[str, tuple[int, UnitState]], existing: dict[str, UnitState]) -> list[list[str]]:
    """Cycles in the tree that the proposed parents would make (each as the proposed ids on it)."""
    found: list[list[str]] = []
    settled: set[str] = set()
    for start in proposed:
        trail: list[str] = []
        on_trail: set[str] = set()
        node: str | None = start
        while node is not None and node not in settled:
            if node in on_trail:
                loop = trail[trail.index(node) :]
                found.append([n for n in loop if n in proposed])
                break
            trail.append(node)
            on_trail.add(node)
            node = _parent_of(node, proposed, existing)
        settled.update(trail)
    return found


def _finish(
    proposed: dict[str, tuple[int, UnitState]],
    outcomes: list[RowOutcome],
    existing: dict[str, UnitState],
) -> RegistrationPlan:
    parent_map = {uid: s.parent_id for uid, s in existing.items()}
    parent_map.update({uid: s.parent_id for uid, (_i, s) in proposed.items()})
    children: dict[str | None, list[str]] = {}
    for uid, parent in parent_map.items():
        children.setdefault(parent, []).append(uid)

    memo: dict[str, str] = {}

    def new_path(uid: str) -> str:
        if uid not in memo:
            parent = parent_map[uid]
            memo[uid] = uid if parent is None else new_path(parent) + PATH_SEPARATOR + uid
        return memo[uid]

    upserts: list[UnitState] = []
    path_changes: dict[str, tuple[str, str]] = {}
    moved_roots: list[str] = []
    for uid, (index, state) in proposed.items():
        path = new_path(uid)
        final = replace(state, path=path)
        current = existing.get(uid)
        outcome = outcomes[index]
        if current is None:
            outcome.action = "created"
            upserts.append(final)
            continue
        changed = [n for n in FIELDS if getattr(current, n) != getattr(final, n)]
        outcome.changed_fields = changed
        if not changed:
            outcome.action = "unchanged"
            continue
        outcome.action = "moved" if "parent_id" in changed else "updated"
        upserts.append(final)
        if current.path != path:
            moved_roots.append(uid)
    # Every descendant of a moved unit gets a new path (its id never changes).
    stack = list(moved_roots)
    while stack:
        uid = stack.pop()
        if uid in existing and existing[uid].path != new_path(uid):
            path_changes[uid] = (existing[uid].path, new_path(uid))
        stack.extend(children.get(uid, []))
    for outcome in outcomes:
        if outcome.action == "rejected" and not outcome.problems:
            outcome.problems.append(RowProblem(None, None, "rejected"))
    upserts.sort(key=lambda s: s.path.count(PATH_SEPARATOR))
    return RegistrationPlan(outcomes=outcomes, upserts=upserts, path_changes=path_changes)
