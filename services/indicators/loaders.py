"""Per-request data loaders and lookups behind the GraphQL types (batched, scoped in SQL).

They answer table rows (``models``), never GraphQL types: ``types`` turns rows into types and imports this module,
so this one does not import ``types`` (no circle; import contract "Inside each service, modules form no cycle")."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from hotline.kit.graphql import RequestContext
from hotline.kit.scope import Scope
from services.indicators import models, repository, workflow
from services.indicators.access import UnitInfo, cohort_includes
from services.indicators.documents import scheme_document
from services.indicators.validation import Problem

if TYPE_CHECKING:
    import strawberry

    Info = strawberry.Info[RequestContext, None]

# A visible scheme version with its scheme.
VersionRows = tuple[models.SchemeVersion, models.Scheme]


async def caller(info: Info) -> tuple[Scope, UnitInfo | None]:
    """The caller's scope and unit (from the directory read model), once per request."""
    ctx = info.context
    scope = await ctx.scope()
    if "caller_unit" not in ctx.cache:
        ctx.cache["caller_unit"] = await repository.unit_info(ctx.session, ctx.principal.unit_id)
    return scope, ctx.cache["caller_unit"]


def dimension(info: Info):
    ctx = info.context

    async def load(codes: list[str]) -> list[models.Dimension | None]:
        rows = await ctx.session.scalars(select(models.Dimension).where(models.Dimension.code.in_(codes)))
        found = {r.code: r for r in rows}
        return [found.get(c) for c in codes]

    return ctx.loader("dimension_by_code", load)


def indicator_version(info: Info):
    ctx = info.context

    async def load(keys: list[tuple[str, int]]) -> list[models.IndicatorVersion | None]:
        rows = await repository.indicator_versions(ctx.session, keys)
        return [rows.get(k) for k in keys]

    return ctx.loader("indicator_version", load)


async def latest_in_dimension(info: Info, code: str) -> list[models.IndicatorVersion]:
    ctx = info.context
    if "latest_by_dimension" not in ctx.cache:
        rows = await ctx.session.scalars(
            select(models.IndicatorVersion)
            .join(
                models.Indicator,
                (models.Indicator.code == models.IndicatorVersion.code)
                & (models.Indicator.latest_version == models.IndicatorVersion.version),
            )
            .order_by(models.IndicatorVersion.clause, models.IndicatorVersion.code)
        )
        grouped: dict[str, list] = {}
        for row in rows:
            grouped.setdefault(row.dimension, []).append(row)
        ctx.cache["latest_by_dimension"] = grouped
    return ctx.cache["latest_by_dimension"].get(code, [])


def unit_in_scope(info: Info):
    ctx = info.context

    async def load(ids: list[str]) -> list[UnitInfo | None]:
        scope, _ = await caller(info)
        found = await repository.units_in_scope(ctx.session, scope, ids)
        return [found.get(i) for i in ids]

    return ctx.loader("unit_in_scope", load)


def parse_version_key(key: str) -> tuple[uuid.UUID, int] | None:
    scheme_id, _, version = key.rpartition(":")
    try:
        return uuid.UUID(scheme_id), int(version)
    except ValueError:
        return None


def scheme_version(info: Info):
    ctx = info.context

    async def load(keys: list[str]) -> list[VersionRows | None]:
        scope, unit = await caller(info)
        parsed = {k: parse_version_key(k) for k in keys}
        rows = await repository.visible_versions(
            ctx.session, ctx.principal, scope, unit, keys=[p for p in parsed.values() if p is not None]
        )
        found = {(v.scheme_id, v.version): (v, s) for v, s in rows}
        return [found.get(parsed[k]) if parsed[k] else None for k in keys]

    return ctx.loader("scheme_version", load)


def _versions_loader(info: Info):
    ctx = info.context

    async def load(scheme_ids: list[str]) -> list[list[VersionRows]]:
        scope, unit = await caller(info)
        rows = await repository.visible_versions(
            ctx.session, ctx.principal, scope, unit, scheme_ids=[uuid.UUID(s) for s in scheme_ids]
        )
        grouped: dict[str, list[VersionRows]] = {s: [] for s in scheme_ids}
        for version, scheme in rows:
            grouped[str(scheme.id)].append((version, scheme))
        return [grouped[s] for s in scheme_ids]

    return ctx.loader("versions_of_scheme", load)


async def versions_of_scheme(info: Info, scheme_id: str) -> list[VersionRows]:
    return await _versions_loader(info).load(scheme_id)


def _applying_loader(info: Info):
    """Batched ``Unit.schemes``: one query for everything the caller may see, then each unit's share.

    The gateway resolves ``schemes`` for hundreds of units at once; visibility stays in SQL, and the
    cohort test (``access.cohort_includes``) runs over the already-visible rows.
    """
    ctx = info.context

    async def load(unit_ids: list[str]) -> list[list[VersionRows]]:
        units = await unit_in_scope(info).load_many(unit_ids)
        scope, me = await caller(info)
        rows = await repository.published_visible_with_under(ctx.session, ctx.principal, scope, me)
        answers = []
        for unit in units:
            applying = []
            for version, scheme, under_path in rows if unit is not None else []:
                cohort = version.body.get("cohort") if isinstance(version.body, dict) else None
                if isinstance(cohort, dict) and cohort_includes(cohort, unit, under_path):
                    applying.append((version, scheme))
            answers.append(applying)
        return answers

    return ctx.loader("schemes_applying_to", load)


async def schemes_applying_to(info: Info, unit_id: str) -> list[VersionRows]:
    return await _applying_loader(info).load(unit_id)


async def problems_of(info: Info, body: dict[str, Any]) -> list[Problem]:
    scope, _ = await caller(info)
    return list(await workflow.check(info.context.session, scope, body))


class VersionFields(Protocol):
    """What ``document_of`` reads of a scheme version (the GraphQL ``SchemeVersion`` has these)."""

    scheme_id: Any
    version: int
    status: Any
    organizer_id: Any
    row_body: dict[str, Any]


async def document_of(info: Info, version: VersionFields) -> dict[str, Any] | None:
    """The contracts §5 document; null while the version pins an indicator version that does not exist."""
    return await build_document(
        info.context.session, str(version.scheme_id), version.version, version.status.value,
        str(version.organizer_id), version.row_body,
    )  # fmt: skip


async def build_document(
    session, scheme_id: str, version: int, status: str, organizer: str, body: dict[str, Any]
) -> dict[str, Any] | None:
    keys = []
    items = body.get("items")
    if not isinstance(items, list):
        return None
    for item in items:
        ref = item.get("indicator") if isinstance(item, dict) else None
        if not isinstance(ref, dict) or not isinstance(ref.get("version"), int):
            return None
        keys.append((ref.get("code"), ref["version"]))
    rows = await repository.indicator_versions(session, keys)
    if len(rows) != len(set(keys)):
        return None
    indicators = {k: {c.key: getattr(r, c.key) for c in models.IndicatorVersion.__table__.c} for k, r in rows.items()}
    names = await repository.dimension_names(session, {row["dimension"] for row in indicators.values()})
    return scheme_document(
        scheme_id=scheme_id,
        version=version,
        status=status,
        organizer=organizer,
        body=body,
        indicators=indicators,
        dimension_names=names,
    )
