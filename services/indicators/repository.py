"""Database reads and writes of the indicators service. Scope is enforced here, in SQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.auth import Principal
from hotline.kit.policy import scheme_version_readable
from hotline.kit.scope import PATH_SEPARATOR, Scope, in_scope
from services.indicators import models
from services.indicators.access import UnitInfo, is_manager
from services.indicators.validation import IndicatorFacts

UnitRef = models.UnitRef
Organizer = UnitRef.alias("organizer_ref")
Under = UnitRef.alias("under_ref")
SV = models.SchemeVersion
COHORT = SV.body["cohort"]


# --- catalog ---------------------------------------------------------------------------------------


async def indicator_versions(
    session: AsyncSession, keys: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], models.IndicatorVersion]:
    keys = set(keys)
    if not keys:
        return {}
    codes = {code for code, _ in keys}
    rows = await session.scalars(select(models.IndicatorVersion).where(models.IndicatorVersion.code.in_(codes)))
    return {(r.code, r.version): r for r in rows if (r.code, r.version) in keys}


async def dimension_names(session: AsyncSession, codes: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Chinese and English names of the dimensions ``codes``."""
    rows = await session.execute(
        select(models.Dimension.code, models.Dimension.name_zh, models.Dimension.name_en).where(
            models.Dimension.code.in_(sorted(codes))
        )
    )
    return {code: (zh, en) for code, zh, en in rows.all()}


async def all_versions_of(session: AsyncSession, codes: Iterable[str]) -> dict[tuple[str, int], IndicatorFacts]:
    rows = await session.scalars(select(models.IndicatorVersion).where(models.IndicatorVersion.code.in_(set(codes))))
    return {(r.code, r.version): facts_of(r) for r in rows}


def facts_of(row: models.IndicatorVersion) -> IndicatorFacts:
    return IndicatorFacts(
        code=row.code,
        version=row.version,
        dimension=row.dimension,
        method=row.method,
        unit=row.unit,
        direction=row.direction,
        levels=tuple(row.levels),
        has_formula=bool(row.formula),
    )


async def latest_versions(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(models.Indicator.code, models.Indicator.latest_version))
    return dict(rows.all())


async def template(session: AsyncSession, code: str, version: int | None = None) -> models.SchemeTemplate | None:
    query = select(models.SchemeTemplate).where(models.SchemeTemplate.code == code)
    if version is not None:
        query = query.where(models.SchemeTemplate.version == version)
    return await session.scalar(query.order_by(models.SchemeTemplate.version.desc()).limit(1))


# --- units (the directory read model) --------------------------------------------------------------


async def units_in_scope(session: AsyncSession, scope: Scope, ids: Iterable[str]) -> dict[str, UnitInfo]:
    """The named units that lie inside ``scope`` (others are treated as unknown)."""
    ids = set(ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(UnitRef.c.id, UnitRef.c.kind, UnitRef.c.path).where(
            UnitRef.c.id.in_(ids), in_scope(UnitRef.c.path, scope)
        )
    )
    return {r.id: UnitInfo(r.id, r.kind, r.path) for r in rows}


async def cohort_size(session: AsyncSession, under: str, kind: str) -> int:
    """How many active units of ``kind`` lie below ``under`` (a cohort given by kind, as scoring resolves it)."""
    parent = await session.scalar(select(UnitRef.c.path).where(UnitRef.c.id == under))
    if parent is None:
        return 0
    query = select(func.count()).where(
        UnitRef.c.path.like(parent + PATH_SEPARATOR + "%"), UnitRef.c.kind == kind, UnitRef.c.active.is_(True)
    )
    return int(await session.scalar(query))


async def unit_info(session: AsyncSession, unit_id: str) -> UnitInfo | None:
    row = (
        await session.execute(select(UnitRef.c.id, UnitRef.c.kind, UnitRef.c.path).where(UnitRef.c.id == unit_id))
    ).first()
    return UnitInfo(row.id, row.kind, row.path) if row else None


# --- schemes: visibility in SQL --------------------------------------------------------------------


def _applies_to(unit: UnitInfo) -> ColumnElement[bool]:
    """The version's cohort holds ``unit`` (explicit list, or its kind below ``cohort.under``)."""
    return or_(
        COHORT["units"].contains([unit.id]),
        and_(
            COHORT["kind"].astext == unit.kind,
            literal(unit.path).like(func.concat(Under.c.path, "/%")),
        ),
    )


def _visible(principal: Principal, scope: Scope, caller: UnitInfo | None) -> ColumnElement[bool]:
    # The visibility policy's rule for scheme versions (hotline.kit.policy, docs/security.md).
    return scheme_version_readable(
        principal,
        scope,
        organizer_path=Organizer.c.path,
        status=SV.status,
        caller_in_cohort=_applies_to(caller) if caller is not None else false(),
    )


def _version_query(*conditions: ColumnElement[bool]):
    return (
        select(SV, models.Scheme)
        .join(models.Scheme, models.Scheme.id == SV.scheme_id)
        .join(Organizer, Organizer.c.id == models.Scheme.organizer_id)
        .outerjoin(Under, Under.c.id == func.coalesce(COHORT["under"].astext, models.Scheme.organizer_id))
        .where(*conditions)
    )


async def visible_versions(
    session: AsyncSession,
    principal: Principal,
    scope: Scope,
    caller: UnitInfo | None,
    *,
    keys: Iterable[tuple[uuid.UUID, int]] | None = None,
    scheme_ids: Iterable[uuid.UUID] | None = None,
    status: str | None = None,
) -> list[tuple[models.SchemeVersion, models.Scheme]]:
    """Scheme versions the caller may see, newest version first within each scheme."""
    conditions = [_visible(principal, scope, caller)]
    if keys is not None:
        keys = list(keys)
        if not keys:
            return []
        conditions.append(or_(*(and_(SV.scheme_id == s, SV.version == v) for s, v in keys)))
    if scheme_ids is not None:
        conditions.append(SV.scheme_id.in_(list(scheme_ids)))
    if status is not None:
        conditions.append(SV.status == status)
    rows = await session.execute(
        _version_query(*conditions).order_by(models.Scheme.created_at, models.Scheme.id, SV.version.desc())
    )
    return [(r[0], r[1]) for r in rows]


async def published_visible_with_under(
    session: AsyncSession, principal: Principal, scope: Scope, caller: UnitInfo | None
) -> list[tuple[models.SchemeVersion, models.Scheme, str | None]]:
    """Published versions the caller may see, with the path of each cohort's ``under`` unit."""
    query = (
        _version_query(_visible(principal, scope, caller), SV.status == "published")
        .add_columns(Under.c.path)
        .order_by(models.Scheme.created_at, models.Scheme.id, SV.version.desc())
    )
    return [(r[0], r[1], r[2]) for r in await session.execute(query)]


async def managed_scheme(
    session: AsyncSession, principal: Principal, scope: Scope, scheme_id: uuid.UUID, *, lock: bool = False
) -> models.Scheme | None:
    """The scheme if the caller manages it (else None: not found, never forbidden)."""
    if not is_manager(principal):
        return None
    query = (
        select(models.Scheme)
        .join(Organizer, Organizer.c.id == models.Scheme.organizer_id)
        .where(models.Scheme.id == scheme_id, in_scope(Organizer.c.path, scope))
    )
    if lock:
        query = query.with_for_update(of=models.Scheme)
    return await session.scalar(query)


async def versions_of(session: AsyncSession, scheme_id: uuid.UUID) -> list[models.SchemeVersion]:
    rows = await session.scalars(select(SV).where(SV.scheme_id == scheme_id).order_by(SV.version))
    return list(rows)


async def scheme_by_code(session: AsyncSession, organizer_id: str, code: str) -> models.Scheme | None:
    return await session.scalar(
        select(models.Scheme).where(models.Scheme.organizer_id == organizer_id, models.Scheme.code == code)
    )


def add_scheme(session: AsyncSession, *, code: str, organizer_id: str, created_by: str) -> models.Scheme:
    scheme = models.Scheme(id=uuid.uuid4(), code=code, organizer_id=organizer_id, created_by=created_by)
    session.add(scheme)
    return scheme


def add_version(
    session: AsyncSession, scheme: models.Scheme, version: int, body: dict[str, Any], created_by: str
) -> models.SchemeVersion:
    row = models.SchemeVersion(scheme_id=scheme.id, version=version, status="draft", body=body, created_by=created_by)
    session.add(row)
    return row
