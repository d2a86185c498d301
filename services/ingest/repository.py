"""Database access for the unit directory. Every read that serves a caller filters by scope in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Date, Integer, String, bindparam, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.scope import PATH_SEPARATOR, Scope, in_caller_scope, in_scope, scope_params
from services.ingest.directory import FIELDS, RegistrationPlan, UnitState
from services.ingest.models import Unit, UnitChange, UnitKind

TREE_LOCK_KEY = 0x756E6974  # serializes writers of the tree: paths of a subtree change together


async def scope_for(session: AsyncSession, unit_id: str) -> Scope:
    """The caller's scope: its unit's materialized path (None if the unit is unknown)."""
    path = await session.scalar(select(Unit.path).where(Unit.id == unit_id))
    return Scope(unit_id=unit_id, path=path)


async def units_by_ids(session: AsyncSession, scope: Scope, ids: Sequence[str]) -> dict[str, Unit]:
    """Units among ``ids`` that the caller may see, inactive ones included (history stays readable)."""
    if not ids:
        return {}
    rows = await session.scalars(select(Unit).where(Unit.id.in_(list(ids)), in_scope(Unit.path, scope)))
    return {u.id: u for u in rows}


async def identities_by_ids(session: AsyncSession, ids: Sequence[str]) -> dict[str, Unit]:
    """Bare identities for ancestor ids. Callers pass only ids taken from visible units' paths."""
    if not ids:
        return {}
    rows = await session.scalars(select(Unit).where(Unit.id.in_(list(ids))))
    return {u.id: u for u in rows}


# A listing's statement per shape (kind given or not, the parent itself included or not, direct children only or
# not, which units count as valid, a position to continue after or not), built once per process with every value
# — the caller's scope included (``in_caller_scope``) — as a bound parameter: building the conditions afresh for
# each request cost more than running them.
_LISTINGS: dict[tuple, tuple[Any, frozenset[str]]] = {}


def _listing_statement(
    *, counting: bool, kind: bool, include_self: bool, direct_children_only: bool, validity: str, after: bool
):
    key = (counting, kind, include_self, direct_children_only, validity, after)
    known = _LISTINGS.get(key)
    if known is not None:
        return known
    below = Unit.path.like(bindparam("under_prefix", type_=String))
    conditions = [
        in_caller_scope(Unit.path),
        or_(Unit.path == bindparam("under_path", type_=String), below) if include_self else below,
    ]
    if validity == "on":
        active_on = bindparam("active_on", type_=Date)
        conditions += [Unit.valid_from <= active_on, or_(Unit.valid_to.is_(None), Unit.valid_to >= active_on)]
    elif validity == "active":
        conditions.append(Unit.active.is_(True))
    if direct_children_only:
        conditions.append(Unit.depth == bindparam("depth", type_=Integer))
    if kind:
        conditions.append(Unit.kind == bindparam("kind", type_=String))
    if after:
        conditions.append(Unit.path > bindparam("after_path", type_=String))
    if counting:
        statement = select(func.count()).select_from(Unit).where(*conditions)
    else:
        statement = select(Unit).where(*conditions).order_by(Unit.path).limit(bindparam("limit", type_=Integer))
    _LISTINGS[key] = statement, frozenset(statement.compile().params)
    return _LISTINGS[key]


def _listing(
    scope: Scope,
    *,
    counting: bool,
    under_path: str,
    kind: UnitKind | None,
    include_self: bool,
    direct_children_only: bool,
    include_inactive: bool,
    active_on: date | None,
    after_path: str | None = None,
    limit: int | None = None,
) -> tuple[Any, dict[str, Any]]:
    """A subtree listing's statement and values: inside scope, under ``under_path``, of a kind, valid (on
    ``active_on``; else active unless ``include_inactive``), after ``after_path`` in tree order."""
    validity = "on" if active_on is not None else ("any" if include_inactive else "active")
    statement, names = _listing_statement(
        counting=counting, kind=kind is not None, include_self=include_self,
        direct_children_only=direct_children_only, validity=validity, after=after_path is not None,
    )  # fmt: skip
    values: dict[str, Any] = {
        **scope_params(scope), "under_path": under_path, "under_prefix": under_path + PATH_SEPARATOR + "%",
        "depth": under_path.count(PATH_SEPARATOR) + 1, "kind": kind.value if kind is not None else None,
        "active_on": active_on, "after_path": after_path, "limit": limit,
    }  # fmt: skip
    return statement, {name: value for name, value in values.items() if name in names}


async def list_units(
    session: AsyncSession, scope: Scope, *, after_path: str | None, limit: int, **listing: Any
) -> list[Unit]:
    """Units of a subtree listing in tree order (by path), keyset-paginated after ``after_path``."""
    statement, values = _listing(scope, counting=False, after_path=after_path, limit=limit, **listing)
    return list(await session.scalars(statement, values))


async def count_units(session: AsyncSession, scope: Scope, **listing: Any) -> int:
    """Number of units in a subtree listing, over all pages."""
    statement, values = _listing(scope, counting=True, **listing)
    return int(await session.scalar(statement, values) or 0)


async def descendant_counts(
    session: AsyncSession, scope: Scope, paths: Sequence[str], *, kind: str | None, include_inactive: bool
) -> dict[str, int]:
    """Number of visible descendants under each of ``paths``, in one query."""
    sql = text(
        """
        SELECT p.path, count(u.id) AS n
        FROM unnest(CAST(:paths AS text[])) AS p(path)
        LEFT JOIN ingest.unit u
          ON u.path LIKE p.path || '/%'
         AND (CAST(:kind AS text) IS NULL OR u.kind = :kind)
         AND (CAST(:include_inactive AS boolean) OR u.active)
         AND (u.path = :scope OR u.path LIKE :scope || '/%')
        GROUP BY p.path
        """
    )
    if scope.path is None:
        return dict.fromkeys(paths, 0)
    rows = await session.execute(
        sql,
        {"paths": list(paths), "kind": kind, "include_inactive": include_inactive, "scope": scope.path},
    )
    return {row.path: int(row.n) for row in rows}


async def history(session: AsyncSession, unit_id: str) -> list[UnitChange]:
    rows = await session.scalars(
        select(UnitChange).where(UnitChange.unit_id == unit_id).order_by(UnitChange.changed_at, UnitChange.id)
    )
    return list(rows)


# --- writes --------------------------------------------------------------------------------------


async def lock_tree(session: AsyncSession) -> None:
    """Take the tree's write lock for this transaction (released on commit or rollback)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TREE_LOCK_KEY})


async def load_tree(session: AsyncSession) -> dict[str, UnitState]:
    rows = await session.scalars(select(Unit))
    return {u.id: _state(u) for u in rows}


def _state(unit: Unit) -> UnitState:
    return UnitState(
        id=unit.id,
        parent_id=unit.parent_id,
        kind=UnitKind(unit.kind),
        name_zh=unit.name_zh,
        name_en=unit.name_en,
        population=unit.population,
        active=unit.active,
        valid_from=unit.valid_from,
        valid_to=unit.valid_to,
        path=unit.path,
    )


def _snapshot(state: UnitState) -> dict[str, Any]:
    data = state.attributes()
    data["kind"] = state.kind.value
    data["path"] = state.path
    for name in ("valid_from", "valid_to"):
        data[name] = data[name].isoformat() if data[name] else None
    return data


async def apply_plan(
    session: AsyncSession, plan: RegistrationPlan, existing: dict[str, UnitState], *, changed_by: str
) -> None:
    """Write the accepted rows of a plan: upserts parents-first, moved subtrees' paths, history."""
    upserted = set()
    for state in plan.upserts:
        values = {**state.attributes(), "kind": state.kind.value, "path": state.path, "id": state.id}
        values["depth"] = state.path.count(PATH_SEPARATOR)
        statement = insert(Unit).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[Unit.id],
            set_={**{n: statement.excluded[n] for n in (*FIELDS, "path", "depth")}, "updated_at": func.now()},
        )
        await session.execute(statement)
        upserted.add(state.id)
        before = existing.get(state.id)
        change = "created" if before is None else ("moved" if before.parent_id != state.parent_id else "updated")
        session.add(
            UnitChange(
                unit_id=state.id,
                change=change,
                changed_by=changed_by,
                before=_snapshot(before) if before else None,
                after=_snapshot(state),
            )
        )
    moved_descendants = [
        {"id": unit_id, "path": new, "depth": new.count(PATH_SEPARATOR)}
        for unit_id, (_old, new) in plan.path_changes.items()
        if unit_id not in upserted
    ]
    if moved_descendants:
        # One executemany by primary key for the whole subtree.
        await session.execute(update(Unit), moved_descendants)
    await session.flush()
