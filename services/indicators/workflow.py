"""The scheme lifecycle: draft → published (immutable, 公示 to its cohort) → archived.

Each operation returns the scheme, the version it acted on and the problems that stopped it (an
empty list means it happened). A published version never changes: editing it opens a new draft
version; the database's trigger refuses any other path too.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit.auth import Principal
from hotline.kit.errors import ForbiddenError
from hotline.kit.scope import Scope
from services.indicators import models, repository
from services.indicators.access import is_manager
from services.indicators.documents import explicit_cohort
from services.indicators.templates import scheme_body_from_template
from services.indicators.validation import CODE_PATTERN, Problem, validate_scheme


@dataclass
class Outcome:
    """What a lifecycle operation did: the scheme and version it touched, and why it refused if it did."""

    scheme: models.Scheme | None = None
    version: models.SchemeVersion | None = None
    problems: list[Problem] = field(default_factory=list)


def _not_found() -> Outcome:
    return Outcome(problems=[Problem("schemeId", "not_found", "no such scheme among those you manage")])


async def check(session: AsyncSession, scope: Scope, body: Any) -> list[Problem]:
    """Every problem of ``body``, with the catalog, the template and the cohort looked up."""
    if not isinstance(body, dict):
        return validate_scheme(body, indicators={})
    items = body.get("items") if isinstance(body.get("items"), list) else []
    refs = [i["indicator"] for i in items if isinstance(i, dict) and isinstance(i.get("indicator"), dict)]
    codes = {r["code"] for r in refs if isinstance(r.get("code"), str)}
    indicators = await repository.all_versions_of(session, codes)
    template_items, problems = None, []
    ref = body.get("template")
    if isinstance(ref, dict) and isinstance(ref.get("code"), str):
        version = ref.get("version") if isinstance(ref.get("version"), int) else None
        row = await repository.template(session, ref["code"], version)
        if row is None:
            problems.append(
                Problem(
                    "template", "unknown_template", f"there is no template {ref['code']!r} version {ref.get('version')}"
                )
            )
        else:
            template_items = [i["indicator"] for i in row.body["items"]]
    elif ref is not None:
        problems.append(Problem("template", "invalid", "template is {code, version}"))
    cohort = body.get("cohort") if isinstance(body.get("cohort"), dict) else {}
    units = cohort.get("units")
    named = [u for u in units if isinstance(u, str)] if isinstance(units, list) else []
    under = cohort.get("under")
    visible = await repository.units_in_scope(session, scope, [*named, *([under] if isinstance(under, str) else [])])
    if isinstance(under, str) and under not in visible:
        problems.append(
            Problem("cohort.under", "unknown_unit", f"unit {under!r} does not exist or is outside your subtree")
        )
    kinds = {u: info.kind for u, info in visible.items() if u in named}
    problems += validate_scheme(
        body, indicators=indicators, template_items=template_items, cohort_kinds=kinds if named else None
    )
    return problems


async def _empty_cohort(session: AsyncSession, organizer: str, body: dict) -> list[Problem]:
    """A cohort given by kind that holds no unit would publish a scheme that evaluates nobody (e.g. a city
    taking a province's template of cities): refused at publication, where a draft may still be shaped."""
    cohort = explicit_cohort(body.get("cohort"), organizer)
    if not isinstance(cohort, dict) or "kind" not in cohort:
        return []
    if await repository.cohort_size(session, cohort["under"], cohort["kind"]):
        return []
    message = f"no active unit of kind {cohort['kind']} lies under {cohort['under']}: the scheme would evaluate nobody"
    return [Problem("cohort", "empty_cohort", message)]


def _require_manager(principal: Principal) -> None:
    if not is_manager(principal):
        raise ForbiddenError("managing evaluation schemes needs the role organizer or admin")


async def create(session: AsyncSession, principal: Principal, scope: Scope, body: Any) -> Outcome:
    """A new scheme organized by the caller's unit, as a draft (saved even with problems, which it lists)."""
    _require_manager(principal)
    if scope.path is None:
        return Outcome(problems=[Problem("", "unknown_unit", "your unit is not in the unit directory")])
    if not isinstance(body, dict):
        return Outcome(problems=[Problem("", "not_a_mapping", "a scheme body is a mapping of fields")])
    code = body.get("code")
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        return Outcome(problems=await check(session, scope, body))
    if await repository.scheme_by_code(session, principal.unit_id, code) is not None:
        return Outcome(
            problems=[Problem("code", "duplicate", f"your unit already has a scheme {code!r}; edit it instead")]
        )
    scheme = repository.add_scheme(session, code=code, organizer_id=principal.unit_id, created_by=principal.subject)
    await session.flush()
    version = repository.add_version(session, scheme, 1, body, principal.subject)
    await session.flush()
    return Outcome(scheme, version, await check(session, scope, body))


async def create_from_template(
    session: AsyncSession, principal: Principal, scope: Scope, *, template_code: str, code: str, name_zh: str,
    name_en: str, cohort: dict | None,
) -> Outcome:  # fmt: skip
    _require_manager(principal)
    row = await repository.template(session, template_code)
    if row is None:
        return Outcome(
            problems=[Problem("templateCode", "unknown_template", f"there is no template {template_code!r}")]
        )
    latest = await repository.latest_versions(session)
    body = scheme_body_from_template(
        row.body, row.version, latest, code=code, name_zh=name_zh, name_en=name_en, cohort=cohort,
        organizer=principal.unit_id,
    )  # fmt: skip
    return await create(session, principal, scope, body)


async def _latest(session: AsyncSession, scheme: models.Scheme) -> models.SchemeVersion:
    return (await repository.versions_of(session, scheme.id))[-1]


async def update_draft(
    session: AsyncSession, principal: Principal, scope: Scope, scheme_id: uuid.UUID, body: Any,
    version: int | None = None,
) -> Outcome:  # fmt: skip
    """Replace the draft's body (``version``, when given, must be the draft's). A published or archived
    version is never changed."""
    _require_manager(principal)
    scheme = await repository.managed_scheme(session, principal, scope, scheme_id, lock=True)
    if scheme is None:
        return _not_found()
    latest = await _latest(session, scheme)
    if version is not None and version != latest.version:
        message = (
            f"version {version} is not the scheme's draft (its latest version is {latest.version}, {latest.status})"
        )
        return Outcome(scheme, None, [Problem("schemeId", "not_a_draft", message)])
    if latest.status != "draft":
        message = f"version {latest.version} is {latest.status} and cannot change; open a new version to edit it"
        return Outcome(scheme, latest, [Problem("", "immutable", message)])
    if not isinstance(body, dict):
        return Outcome(scheme, latest, [Problem("", "not_a_mapping", "a scheme body is a mapping of fields")])
    if body.get("code") != scheme.code:
        return Outcome(scheme, latest, [Problem("code", "immutable", f"the scheme's code is {scheme.code!r}")])
    latest.body = body
    latest.updated_at = datetime.now(UTC)
    await session.flush()
    return Outcome(scheme, latest, await check(session, scope, body))


async def publish(
    session: AsyncSession, principal: Principal, scope: Scope, scheme_id: uuid.UUID, version: int
) -> Outcome:
    """Publish a draft that has no problem; it becomes visible to its cohort and immutable."""
    _require_manager(principal)
    scheme = await repository.managed_scheme(session, principal, scope, scheme_id, lock=True)
    if scheme is None:
        return _not_found()
    row = next((v for v in await repository.versions_of(session, scheme.id) if v.version == version), None)
    if row is None:
        return Outcome(scheme, None, [Problem("version", "not_found", f"the scheme has no version {version}")])
    if row.status != "draft":
        return Outcome(scheme, row, [Problem("version", "not_a_draft", f"version {version} is already {row.status}")])
    problems = await check(session, scope, row.body)
    problems += await _empty_cohort(session, scheme.organizer_id, row.body) if not problems else []
    if problems:
        return Outcome(scheme, row, problems)
    now = datetime.now(UTC)
    row.status, row.published_at, row.published_by, row.updated_at = "published", now, principal.subject, now
    await session.flush()
    return Outcome(scheme, row)


async def archive(
    session: AsyncSession, principal: Principal, scope: Scope, scheme_id: uuid.UUID, version: int
) -> Outcome:
    _require_manager(principal)
    scheme = await repository.managed_scheme(session, principal, scope, scheme_id, lock=True)
    if scheme is None:
        return _not_found()
    row = next((v for v in await repository.versions_of(session, scheme.id) if v.version == version), None)
    if row is None or row.status != "published":
        state = "missing" if row is None else row.status
        return Outcome(
            scheme,
            row,
            [
                Problem(
                    "version", "not_published", f"only a published version is archived; version {version} is {state}"
                )
            ],
        )
    row.status, row.archived_at = "archived", datetime.now(UTC)
    await session.flush()
    return Outcome(scheme, row)


async def open_new_version(
    session: AsyncSession, principal: Principal, scope: Scope, scheme_id: uuid.UUID, version: int | None = None
) -> Outcome:
    """A new draft copied from the latest version (the way to edit a published scheme); ``version``, when
    given, must be that latest one (so a caller editing an older version learns that a newer one exists)."""
    _require_manager(principal)
    scheme = await repository.managed_scheme(session, principal, scope, scheme_id, lock=True)
    if scheme is None:
        return _not_found()
    latest = await _latest(session, scheme)
    if version is not None and version != latest.version:
        message = f"a new version is copied from the latest, version {latest.version}, not from version {version}"
        return Outcome(scheme, None, [Problem("schemeId", "not_latest", message)])
    if latest.status == "draft":
        return Outcome(
            scheme, latest, [Problem("", "draft_exists", f"version {latest.version} is already a draft; edit it")]
        )
    row = repository.add_version(session, scheme, latest.version + 1, copy.deepcopy(latest.body), principal.subject)
    await session.flush()
    return Outcome(scheme, row, await check(session, scope, row.body))
