"""The indicators subgraph: dimensions, the versioned indicator catalog, templates and schemes."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from strawberry.scalars import JSON

from hotline.domain.scheme_ref import SchemeRef, SchemeRefError, parse_scheme_ref
from hotline.kit.errors import BadRequestError
from hotline.kit.graphql import federation_schema
from services.indicators import catalog_io, loaders, models, repository, workflow
from services.indicators.documents import diff_bodies, parse_yaml, scheme_body_from_document, to_yaml
from services.indicators.types import (
    CatalogImportPayload,
    Dimension,
    IndicatorVersion,
    Info,
    SchemeChange,
    SchemePayload,
    SchemeProblem,
    SchemeStatus,
    SchemeTemplate,
    SchemeVersion,
    Standard,
    Unit,
    dimension_by_code,
    indicator_version_by_key,
)
from services.indicators.validation import Problem
from services.indicators.workflow import Outcome


def _payload(outcome: Outcome, *, saved: bool | None = None) -> SchemePayload:
    version = SchemeVersion.from_rows(outcome.version, outcome.scheme) if outcome.version is not None else None
    ok = (not outcome.problems) if saved is None else saved
    return SchemePayload(ok=ok, scheme=version, problems=[SchemeProblem.of(p) for p in outcome.problems])


def _uuid(value: strawberry.ID) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _refused(path: str, code: str, message: str) -> SchemePayload:
    return SchemePayload(ok=False, scheme=None, problems=[SchemeProblem(path=path, code=code, message=message)])


def _bad_id() -> SchemePayload:
    return _refused("schemeId", "not_found", "no such scheme among those you manage")


# One way to name a scheme in every query and mutation (hotline/domain/scheme_ref.py).
SCHEME_REF = (
    "The scheme: its id (`schemeId`, a uuid), or the `id` of one of its versions, `<uuid>:<version>`, which also "
    "names the version when the version argument is left out (given both, they must agree)."
)
SchemeRefArg = Annotated[strawberry.ID, strawberry.argument(description=SCHEME_REF)]


def _arg(kind, description: str):
    return Annotated[kind, strawberry.argument(description=description)]


def _mutation_ref(value: strawberry.ID, version: int | None = None) -> tuple[uuid.UUID, int | None] | SchemePayload:
    """The scheme (and version) a mutation names, or the payload that refuses it."""
    try:
        ref = parse_scheme_ref(str(value), version)
    except SchemeRefError as exc:
        return _refused("schemeId", exc.code, exc.message)
    sid = _uuid(ref.scheme_id)
    return (sid, ref.version) if sid is not None else _bad_id()


def _version_required() -> SchemePayload:
    return _refused("version", "version_required", "name the version: `version`, or `schemeId` as `<uuid>:<version>`")


def _query_ref(value: strawberry.ID, version: int | None, version_name: str = "version") -> SchemeRef | None:
    """The scheme a query names; None when the id cannot name one (the answer is then null, as for an unknown
    id); two versions that disagree are a bad request."""
    try:
        return parse_scheme_ref(str(value), version, version_name=version_name)
    except SchemeRefError as exc:
        if exc.code == "version_conflict":
            raise BadRequestError(exc.message) from None
        return None


async def _visible_versions(info: Info, scheme_id: uuid.UUID) -> list:
    scope, unit = await loaders.caller(info)
    return await repository.visible_versions(
        info.context.session, info.context.principal, scope, unit, scheme_ids=[scheme_id]
    )


@strawberry.type(description="Queries of the indicators service.")
class Query:
    @strawberry.field(
        description="Evaluation dimensions of one standard, in order (default: the 12345 standard's seven)."
    )
    async def dimensions(
        self, info: Info, standard: _arg(str, "Code of the standard, e.g. `gb12345`, `call_centre`.") = "gb12345"
    ) -> list[Dimension]:
        rows = await info.context.session.scalars(
            select(models.Dimension).where(models.Dimension.standard == standard).order_by(models.Dimension.position)
        )
        return [Dimension.from_row(r) for r in rows]

    @strawberry.field(description="One dimension by code; null if there is none.")
    async def dimension(
        self, info: Info, code: _arg(strawberry.ID, "The dimension's code, e.g. `service_response`.")
    ) -> Dimension | None:
        return await dimension_by_code(info, str(code))

    @strawberry.field(description="The standards the catalog draws from.")
    async def standards(self, info: Info) -> list[Standard]:
        rows = await info.context.session.scalars(select(models.Standard).order_by(models.Standard.code))
        return [
            Standard(code=strawberry.ID(r.code), name_zh=r.name_zh, name_en=r.name_en, source=r.source) for r in rows
        ]

    @strawberry.field(description="The latest version of every indicator, optionally of one standard or dimension.")
    async def indicators(
        self,
        info: Info,
        standard: _arg(str | None, "Only indicators of this standard.") = None,
        dimension: _arg(str | None, "Only indicators of this dimension (code).") = None,
    ) -> list[IndicatorVersion]:
        query = (
            select(models.IndicatorVersion)
            .join(models.Indicator, (models.Indicator.code == models.IndicatorVersion.code) & (models.Indicator.latest_version == models.IndicatorVersion.version))
            .order_by(models.Indicator.standard, models.IndicatorVersion.clause, models.IndicatorVersion.code)
        )  # fmt: skip
        if standard is not None:
            query = query.where(models.Indicator.standard == standard)
        if dimension is not None:
            query = query.where(models.IndicatorVersion.dimension == dimension)
        return [IndicatorVersion.from_row(r) for r in await info.context.session.scalars(query)]

    @strawberry.field(description="One indicator version (the latest when `version` is omitted); null if none.")
    async def indicator(
        self,
        info: Info,
        code: _arg(str, "The indicator's code, e.g. `answer_rate`."),
        version: _arg(int | None, "The version (default: the latest).") = None,
    ) -> IndicatorVersion | None:
        if version is None:
            version = await info.context.session.scalar(
                select(models.Indicator.latest_version).where(models.Indicator.code == code)
            )
            if version is None:
                return None
        return await indicator_version_by_key(info, code, version)

    @strawberry.field(description="Every version of one indicator, oldest first (old versions stay readable).")
    async def indicator_versions(
        self, info: Info, code: _arg(str, "The indicator's code, e.g. `answer_rate`.")
    ) -> list[IndicatorVersion]:
        rows = await info.context.session.scalars(
            select(models.IndicatorVersion)
            .where(models.IndicatorVersion.code == code)
            .order_by(models.IndicatorVersion.version)
        )
        return [IndicatorVersion.from_row(r) for r in rows]

    @strawberry.field(description="The built-in scheme templates (latest versions).")
    async def scheme_templates(self, info: Info) -> list[SchemeTemplate]:
        rows = await info.context.session.scalars(
            select(models.SchemeTemplate)
            .ext(distinct_on(models.SchemeTemplate.code))
            .order_by(models.SchemeTemplate.code, models.SchemeTemplate.version.desc())
        )
        return [SchemeTemplate.from_row(r) for r in rows]

    @strawberry.field(description="Scheme versions the caller may see: all versions of schemes it manages, and the "
                      "published versions of schemes whose cohort holds its unit. Newest version first per scheme.")  # fmt: skip
    async def schemes(
        self, info: Info, status: _arg(SchemeStatus | None, "Only versions in this state.") = None
    ) -> list[SchemeVersion]:
        scope, unit = await loaders.caller(info)
        rows = await repository.visible_versions(
            info.context.session, info.context.principal, scope, unit, status=status.value if status else None
        )
        return [SchemeVersion.from_rows(v, s) for v, s in rows]

    @strawberry.field(description="One scheme version by scheme id and version (latest visible when omitted); "
                      "null if it does not exist or the caller may not see it.")  # fmt: skip
    async def scheme(
        self,
        info: Info,
        id: SchemeRefArg,
        version: _arg(int | None, "The version; the latest visible when neither this nor the id names one.") = None,
    ) -> SchemeVersion | None:
        ref = _query_ref(id, version)
        scheme_id = _uuid(ref.scheme_id) if ref else None
        if scheme_id is None:
            return None
        rows = await _visible_versions(info, scheme_id)
        rows = [r for r in rows if ref.version is None or r[0].version == ref.version]
        return SchemeVersion.from_rows(*rows[0]) if rows else None

    @strawberry.field(description="Differences from version `from` to version `to` of a scheme (both must be visible).")
    async def scheme_diff(
        self,
        info: Info,
        id: SchemeRefArg,
        to_version: _arg(int, "The later version."),
        from_version: _arg(int | None, "The earlier version; may be left out when the id names it.") = None,
    ) -> list[SchemeChange] | None:
        ref = _query_ref(id, from_version, "fromVersion")
        if ref is not None and ref.version is None:
            raise BadRequestError("name the earlier version: `fromVersion`, or `id` as `<uuid>:<version>`")
        scheme_id = _uuid(ref.scheme_id) if ref else None
        rows = {v.version: v for v, _ in await _visible_versions(info, scheme_id)} if scheme_id else {}
        if ref is None or ref.version not in rows or to_version not in rows:
            return None
        return [SchemeChange.of(c) for c in diff_bodies(rows[ref.version].body, rows[to_version].body)]

    @strawberry.field(description="Check a scheme body without saving it: every problem at once.")
    async def validate_scheme(
        self, info: Info, body: _arg(JSON, "A scheme body in the scheme document format.")
    ) -> list[SchemeProblem]:
        scope, _ = await loaders.caller(info)
        return [SchemeProblem.of(p) for p in await workflow.check(info.context.session, scope, body)]

    @strawberry.field(description="A scheme version as YAML (its self-contained document), for import elsewhere.")
    async def export_scheme(
        self,
        info: Info,
        id: SchemeRefArg,
        version: _arg(int | None, "The version; the latest visible when neither this nor the id names one.") = None,
    ) -> str | None:
        found = await Query.scheme(self, info, id, version)
        if found is None:
            return None
        document = await loaders.document_of(info, found)
        return to_yaml(document if document is not None else found.row_body)

    @strawberry.field(description="The whole indicator catalog (latest versions) as YAML, in the import format.")
    async def export_catalog(self, info: Info) -> str:
        return await catalog_io.export_catalog(info.context.session)


@strawberry.type(description="Changes to schemes and the catalog. Problems come back as data in the payloads.")
class Mutation:
    @strawberry.mutation(description="Start a draft scheme from a built-in template, pinning the latest indicator "
                         "versions; organized by the caller's unit. Roles: organizer, admin.")  # fmt: skip
    async def create_scheme_from_template(
        self,
        info: Info,
        template_code: _arg(str, "The template, e.g. `gb12345_provincial` (see `schemeTemplates`)."),
        code: _arg(str, "The new scheme's code, unique per organizer, e.g. `GD-12345-2025`."),
        name_zh: _arg(str, "Chinese name of the scheme."),
        name_en: _arg(str, "English name of the scheme.") = "",
        cohort: _arg(
            JSON | None,
            "Who is evaluated: `{kind, under}` or `{units: [...]}`; omitted: the template's kind of unit under your "
            "unit, stated in the draft as `{kind, under: <your unit>}`.",
        ) = None,
    ) -> SchemePayload:
        scope, _ = await loaders.caller(info)
        outcome = await workflow.create_from_template(
            info.context.session, info.context.principal, scope, template_code=template_code, code=code,
            name_zh=name_zh, name_en=name_en, cohort=cohort,
        )  # fmt: skip
        return _payload(outcome, saved=outcome.version is not None)

    @strawberry.mutation(description="Create a draft scheme from a body in the scheme document format. The draft is "
                         "saved even with problems, which are all listed. Roles: organizer, admin.")  # fmt: skip
    async def create_scheme(
        self, info: Info, body: _arg(JSON, "The scheme body in the scheme document format (contracts §5).")
    ) -> SchemePayload:
        scope, _ = await loaders.caller(info)
        outcome = await workflow.create(info.context.session, info.context.principal, scope, body)
        return _payload(outcome, saved=outcome.version is not None)

    @strawberry.mutation(description="Replace the body of a scheme's draft version. A published version cannot change.")
    async def update_scheme_draft(
        self,
        info: Info,
        scheme_id: _arg(strawberry.ID, SCHEME_REF + " A version named must be the draft."),
        body: _arg(JSON, "The new body, in the scheme document format (its `code` cannot change)."),
    ) -> SchemePayload:
        ref = _mutation_ref(scheme_id)
        if isinstance(ref, SchemePayload):
            return ref
        scope, _ = await loaders.caller(info)
        outcome = await workflow.update_draft(info.context.session, info.context.principal, scope, ref[0], body, ref[1])
        refusals = ("immutable", "not_found", "not_a_draft")
        saved = outcome.version is not None and not any(p.code in refusals for p in outcome.problems)
        return _payload(outcome, saved=saved)

    @strawberry.mutation(description="Publish a draft version (公示 to its cohort). Refused with every problem if it "
                         "has any; once published the version is immutable.")  # fmt: skip
    async def publish_scheme(
        self,
        info: Info,
        scheme_id: SchemeRefArg,
        version: _arg(int | None, "The draft version to publish; may be left out when `schemeId` names it.") = None,
    ) -> SchemePayload:
        ref = _mutation_ref(scheme_id, version)
        if isinstance(ref, SchemePayload):
            return ref
        if ref[1] is None:
            return _version_required()
        scope, _ = await loaders.caller(info)
        return _payload(await workflow.publish(info.context.session, info.context.principal, scope, *ref))

    @strawberry.mutation(
        description="Open a new draft version copied from the latest one: how a published scheme is edited."
    )
    async def open_scheme_version(
        self, info: Info, scheme_id: _arg(strawberry.ID, SCHEME_REF + " A version named must be the latest.")
    ) -> SchemePayload:
        ref = _mutation_ref(scheme_id)
        if isinstance(ref, SchemePayload):
            return ref
        scope, _ = await loaders.caller(info)
        outcome = await workflow.open_new_version(info.context.session, info.context.principal, scope, *ref)
        return _payload(
            outcome,
            saved=outcome.version is not None
            and not any(p.code in ("draft_exists", "not_found", "not_latest") for p in outcome.problems),
        )

    @strawberry.mutation(description="Archive a published version (it stays readable to its organizers).")
    async def archive_scheme(
        self,
        info: Info,
        scheme_id: SchemeRefArg,
        version: _arg(int | None, "The published version to archive; may be left out when `schemeId` names it.") = None,
    ) -> SchemePayload:
        ref = _mutation_ref(scheme_id, version)
        if isinstance(ref, SchemePayload):
            return ref
        if ref[1] is None:
            return _version_required()
        scope, _ = await loaders.caller(info)
        return _payload(await workflow.archive(info.context.session, info.context.principal, scope, *ref))

    @strawberry.mutation(description="Import a scheme from YAML (an exported document or a body): a new draft, or a "
                         "new draft version of the caller's scheme with the same code. Same validation as drafting.")  # fmt: skip
    async def import_scheme(
        self, info: Info, yaml: _arg(str, "An exported scheme document, or a scheme body, as YAML.")
    ) -> SchemePayload:
        document, problems = parse_yaml(yaml, "scheme")
        body, more = scheme_body_from_document(document) if not problems else (None, [])
        if problems or more:
            return _payload(Outcome(problems=problems + more), saved=False)
        scope, _ = await loaders.caller(info)
        outcome = await catalog_io.import_scheme(info.context.session, info.context.principal, scope, body)
        return _payload(outcome, saved=outcome.version is not None and outcome.version.status == "draft")

    @strawberry.mutation(description="Import indicators from YAML (the export format): changed indicators become new "
                         "versions; all-or-nothing, every problem listed. Role: admin.")  # fmt: skip
    async def import_catalog(
        self, info: Info, yaml: _arg(str, "Indicators in the catalog export format (`exportCatalog`), as YAML.")
    ) -> CatalogImportPayload:
        created, problems = await catalog_io.import_catalog(info.context.session, info.context.principal, yaml)
        return CatalogImportPayload(
            ok=not problems,
            created=[IndicatorVersion.from_row(r) for r in created],
            problems=[SchemeProblem.of(p) for p in problems],
        )


schema = federation_schema(query=Query, mutation=Mutation, types=[Dimension, Unit, SchemeVersion, IndicatorVersion])
__all__ = ["Problem", "schema"]
