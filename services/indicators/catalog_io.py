"""YAML import and export of the catalog and of schemes (a province exports, another imports)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.auth import Principal, Role
from hotline.kit.scope import Scope
from services.indicators import models, repository, workflow
from services.indicators.catalog import CatalogError, apply_catalog, catalog_to_yaml, read_catalog
from services.indicators.documents import parse_yaml
from services.indicators.validation import Problem
from services.indicators.workflow import Outcome


async def export_catalog(session: AsyncSession) -> str:
    standards = [
        {"code": s.code, "name_zh": s.name_zh, "name_en": s.name_en, "source": s.source}
        for s in await session.scalars(select(models.Standard).order_by(models.Standard.code))
    ]
    dimensions = [
        {c.key: getattr(d, c.key) for c in models.Dimension.__table__.c}
        for d in await session.scalars(
            select(models.Dimension).order_by(models.Dimension.standard, models.Dimension.position)
        )
    ]
    rows = await session.execute(
        select(models.IndicatorVersion, models.Indicator.standard)
        .join(models.Indicator, (models.Indicator.code == models.IndicatorVersion.code) & (models.Indicator.latest_version == models.IndicatorVersion.version))
        .order_by(models.IndicatorVersion.clause, models.IndicatorVersion.code)
    )  # fmt: skip
    versions = [
        {**{c.key: getattr(v, c.key) for c in models.IndicatorVersion.__table__.c}, "standard": standard}
        for v, standard in rows
    ]
    return catalog_to_yaml(standards, dimensions, versions)


async def import_catalog(
    session: AsyncSession, principal: Principal, text: str
) -> tuple[list[models.IndicatorVersion], list[Problem]]:
    """Apply a catalog YAML: all or nothing; every problem listed."""
    if not principal.has_any(Role.ADMIN):
        return [], [Problem("", "forbidden", "importing indicators into the catalog needs the role admin")]
    parsed, problems = parse_yaml(text, "catalog")
    if problems:
        return [], problems
    documents = parsed if isinstance(parsed, list) else [parsed]
    known = dict((await session.execute(select(models.Dimension.code, models.Dimension.standard))).all())
    try:
        catalog = read_catalog([(f"document {i + 1}", d) for i, d in enumerate(documents)], known_dimensions=known)
    except CatalogError as error:
        return [], [Problem(where, "invalid_catalog", message) for where, message in error.problems]
    created = await session.run_sync(lambda s: apply_catalog(s.connection(), catalog))
    rows = await repository.indicator_versions(session, created)
    return [rows[k] for k in created], []


async def import_scheme(session: AsyncSession, principal: Principal, scope: Scope, body: dict[str, Any]) -> Outcome:
    """A new scheme, or a new draft version of the caller's scheme with the same code."""
    existing = await repository.scheme_by_code(session, principal.unit_id, str(body.get("code")))
    if existing is None:
        return await workflow.create(session, principal, scope, body)
    versions = await repository.versions_of(session, existing.id)
    if versions[-1].status != "draft":
        opened = await workflow.open_new_version(session, principal, scope, existing.id)
        if opened.version is None:
            return opened
    return await workflow.update_draft(session, principal, scope, existing.id, body)
