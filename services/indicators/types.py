"""GraphQL types of the indicators subgraph (resolvers only translate; logic lives in the modules)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from hotline.domain.formula import parse
from hotline.kit.graphql import RequestContext
from services.indicators import loaders, models
from services.indicators.documents import Change, with_defaults
from services.indicators.problems import is_number
from services.indicators.validation import Problem

Info = strawberry.Info[RequestContext, None]


@strawberry.enum(description="How an indicator's data is collected (spec 7.1–7.3).")
class DataMethod(enum.Enum):
    SYSTEM = strawberry.enum_value("system", description="System extraction from the hotline systems (系统抽取, 7.1).")
    SAMPLING = strawberry.enum_value(
        "sampling", description="Sampling and inspection: call and recording checks (抽查, 7.2)."
    )
    REPORTED_EXPERT = strawberry.enum_value(
        "reported_expert", description="Reported by the unit and scored by experts (汇报/座谈, 7.3); no formula."
    )


@strawberry.enum(description="Which way is better for an indicator's value.")
class Direction(enum.Enum):
    HIGHER_BETTER = strawberry.enum_value("higher_better", description="A higher value is better (e.g. answer rate).")
    LOWER_BETTER = strawberry.enum_value("lower_better", description="A lower value is better (e.g. wait time).")
    TARGET_BAND = strawberry.enum_value(
        "target_band", description="Best inside a band; too little is as bad as too much (e.g. handle time)."
    )


@strawberry.enum(description="A scheme version's lifecycle state: draft → published (immutable, 公示) → archived.")
class SchemeStatus(enum.Enum):
    DRAFT = strawberry.enum_value(
        "draft", description="Being prepared by its organizers; editable, not visible to the cohort."
    )
    PUBLISHED = strawberry.enum_value("published", description="Published (公示) to its cohort; immutable.")
    ARCHIVED = strawberry.enum_value("archived", description="No longer applied; readable by its organizers.")


@strawberry.federation.type(keys=["id"], description="A unit of the evaluation tree, owned by the ingest service; "
                            "this subgraph adds the schemes that apply to it.")  # fmt: skip
class Unit:
    id: strawberry.ID = strawberry.field(description="Stable unit code, e.g. `GD-GZ`.")

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Unit | None:
        # Entity look-ups are scoped: a unit outside the caller's subtree does not exist here.
        found = await loaders.unit_in_scope(info).load(str(id))
        return Unit(id=strawberry.ID(found.id)) if found else None

    @strawberry.field(description="Published schemes whose cohort holds this unit, among those the caller may see.")
    async def schemes(self, info: Info) -> list[SchemeVersion]:
        return [SchemeVersion.from_rows(v, s) for v, s in await loaders.schemes_applying_to(info, str(self.id))]


async def _unit_if_visible(info: Info, unit_id: str) -> Unit | None:
    found = await loaders.unit_in_scope(info).load(unit_id)
    return Unit(id=strawberry.ID(found.id)) if found else None


async def dimension_by_code(info: Info, code: str) -> Dimension | None:
    """A dimension through the per-request loader; null if there is none."""
    row = await loaders.dimension(info).load(code)
    return Dimension.from_row(row) if row is not None else None


async def indicator_version_by_key(info: Info, code: str, version: int) -> IndicatorVersion | None:
    """An indicator version through the per-request loader; null if there is none."""
    row = await loaders.indicator_version(info).load((code, version))
    return IndicatorVersion.from_row(row) if row is not None else None


@strawberry.type(description="A source standard of the catalog: the 12345 spec or one of the KPI sets.")
class Standard:
    code: strawberry.ID = strawberry.field(description="Code, e.g. `gb12345`, `call_centre`, `tax12366`.")
    name_zh: str = strawberry.field(description="Chinese name.")
    name_en: str = strawberry.field(description="English name.")
    source: str = strawberry.field(description="Where the standard's text comes from.")


@strawberry.federation.type(
    keys=["code"],
    description="An evaluation dimension (评价维度): one of the 12345 standard's seven (服务响应 …) or a grouping "
    "declared by another standard (e.g. seed 001's quality / efficiency / ability / experience).",
)
class Dimension:
    code: strawberry.ID = strawberry.field(description="Stable code, e.g. `service_response`, `cc_quality`.")
    standard: str = strawberry.field(description="Code of the standard that declares the dimension.")
    position: int = strawberry.field(description="Order of the dimension within its standard.")
    clause: str = strawberry.field(description="Clause of the source that defines it, e.g. `6.1`.")
    name_zh: str = strawberry.field(description="Chinese name.")
    name_en: str = strawberry.field(description="English name.")
    description: str = strawberry.field(description="What the dimension evaluates.")

    @classmethod
    def from_row(cls, row: models.Dimension) -> Dimension:
        return cls(
            code=strawberry.ID(row.code), standard=row.standard, position=row.position, clause=row.clause,
            name_zh=row.name_zh, name_en=row.name_en, description=row.description,
        )  # fmt: skip

    @classmethod
    async def resolve_reference(cls, info: Info, code: strawberry.ID) -> Dimension | None:
        return await dimension_by_code(info, str(code))

    @strawberry.field(description="The latest version of every indicator in this dimension, by clause.")
    async def indicators(self, info: Info) -> list[IndicatorVersion]:
        return [IndicatorVersion.from_row(r) for r in await loaders.latest_in_dimension(info, str(self.code))]


@strawberry.type(description="A target band (low–high) for indicators where too little is as bad as too much.")
class Band:
    low: float = strawberry.field(description="Lower edge of the band.")
    high: float = strawberry.field(description="Upper edge of the band.")


@strawberry.federation.type(
    keys=["code version"],
    description="One immutable version of an indicator (指标) definition; runs pin versions. An entity keyed by "
    "`code version`: scoring's `IndicatorScore.definition` resolves here. The catalog is readable by every "
    "authenticated caller.",
)
class IndicatorVersion:
    code: strawberry.ID = strawberry.field(description="Indicator code, e.g. `answer_rate`.")
    version: int = strawberry.field(description="Version number, from 1; a changed definition is a new version.")
    name_zh: str = strawberry.field(description="Chinese name, e.g. 接通率.")
    name_en: str = strawberry.field(description="English name.")
    clause: str = strawberry.field(description="Clause of the source, e.g. `6.1.1` or `001 一.1 接通率`.")
    method: DataMethod = strawberry.field(description="How the data is collected.")
    unit: str = strawberry.field(description="Unit of the value: percent, seconds, hours, count, per_10k, points.")
    direction: Direction = strawberry.field(description="Which way is better.")
    band: Band | None = strawberry.field(description="The target band, for direction TARGET_BAND.")
    levels: list[str] = strawberry.field(description="Unit kinds the indicator applies to (e.g. city_body, agent).")
    formula: str | None = strawberry.field(description="Formula over measure codes (canonical text); null for "
                                           "reported/expert indicators.")  # fmt: skip
    description: str = strawberry.field(description="What the indicator measures and any choice made for it.")
    created_at: dt.datetime = strawberry.field(description="When this version was stored.")
    dimension_code: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: models.IndicatorVersion) -> IndicatorVersion:
        band = Band(low=row.band["low"], high=row.band["high"]) if row.band else None
        return cls(
            code=strawberry.ID(row.code), version=row.version, name_zh=row.name_zh, name_en=row.name_en,
            clause=row.clause, method=DataMethod(row.method), unit=row.unit, direction=Direction(row.direction),
            band=band, levels=list(row.levels), formula=row.formula, description=row.description,
            created_at=row.created_at, dimension_code=row.dimension,
        )  # fmt: skip

    @classmethod
    async def resolve_reference(
        cls, info: Info, code: Any = None, version: Any = None, **_: Any
    ) -> IndicatorVersion | None:
        # Every representation of a request is loaded in one query (a per-request DataLoader); a key that is
        # not a text code and a whole version names nothing.
        if not isinstance(code, str) or not isinstance(version, int) or isinstance(version, bool):
            return None
        return await indicator_version_by_key(info, code, version)

    @strawberry.field(description="Measure codes the formula uses (from the shared measure catalog).")
    def measures(self) -> list[str]:
        return sorted(parse(self.formula).measures) if self.formula else []

    @strawberry.field(description="The dimension the indicator belongs to.")
    async def dimension(self, info: Info) -> Dimension:
        return await dimension_by_code(info, self.dimension_code)


@strawberry.type(description="A problem with a scheme or an import: where, a stable code, and what is wrong.")
class SchemeProblem:
    path: str = strawberry.field(description="Where in the scheme, e.g. `items[3].rule.target` (empty: the whole).")
    code: str = strawberry.field(description="Stable problem code, e.g. `points_not_100`, `period_too_short`.")
    message: str = strawberry.field(description="What is wrong and what is expected.")

    @classmethod
    def of(cls, problem: Problem) -> SchemeProblem:
        return cls(path=problem.path, code=problem.code, message=problem.message)


@strawberry.type(description="A built-in scheme template (模板) a scheme can start from; versioned like indicators.")
class SchemeTemplate:
    code: strawberry.ID = strawberry.field(description="Template code, e.g. `gb12345_provincial`.")
    version: int = strawberry.field(description="Template version.")
    name_zh: str = strawberry.field(description="Chinese name.")
    name_en: str = strawberry.field(description="English name.")
    kind: str = strawberry.field(description="comprehensive (综合评价) or special (专项评价).")
    standard: str = strawberry.field(description="The standard whose indicators it uses.")
    body: JSON = strawberry.field(description="The template: cohort, period, dimension points and items.")

    @classmethod
    def from_row(cls, row: models.SchemeTemplate) -> SchemeTemplate:
        b = row.body
        return cls(
            code=strawberry.ID(row.code), version=row.version, name_zh=b["name_zh"], name_en=b["name_en"],
            kind=b["kind"], standard=b["standard"], body=b,
        )  # fmt: skip


@strawberry.type(description="One scored item of a scheme: an indicator version with points or weight and its rule.")
class SchemeItem:
    points: float | None = strawberry.field(description="Points of the item (of 100), when the scheme uses points.")
    weight: float | None = strawberry.field(description="Weight (of 1), when the scheme uses weights.")
    rule: JSON | None = strawberry.field(
        description="Scoring rule and its parameters, e.g. {type: threshold, target: 85}."
    )
    reference: JSON | None = strawberry.field(description="Reference policy, e.g. {policy: best_in_cohort}.")
    min_sample: JSON | None = strawberry.field(description="Minimum sample {measure, count}; fewer → not applicable.")
    indicator_code: str = strawberry.field(description="Indicator code.")
    indicator_version: int | None = strawberry.field(description="Pinned indicator version.")

    @strawberry.field(description="The pinned indicator version (null if the draft names one that does not exist).")
    async def indicator(self, info: Info) -> IndicatorVersion | None:
        if self.indicator_version is None:
            return None
        return await indicator_version_by_key(info, self.indicator_code, self.indicator_version)


@strawberry.type(description="The cohort (评价对象) of a scheme: all units of a kind under a unit, or a list.")
class Cohort:
    kind: str | None = strawberry.field(description="Unit kind of the cohort, when it is given by kind.")
    under_id: strawberry.ID | None = strawberry.field(
        description="Id of the unit whose subtree the cohort is drawn from."
    )
    unit_ids: list[strawberry.ID] = strawberry.field(description="Ids of the explicit units, when it is a list.")

    @strawberry.field(description="That unit, resolved by the ingest service (null outside the caller's subtree).")
    async def under(self, info: Info) -> Unit | None:
        return await _unit_if_visible(info, str(self.under_id)) if self.under_id else None

    @strawberry.field(description="The explicit units of the cohort that lie inside the caller's subtree.")
    async def units(self, info: Info) -> list[Unit]:
        found = await loaders.unit_in_scope(info).load_many([str(u) for u in self.unit_ids])
        return [Unit(id=strawberry.ID(f.id)) for f in found if f is not None]


@strawberry.type(description="A grade band: totals at or above `min` (and below the band above) get this grade.")
class GradeBand:
    code: str = strawberry.field(description="Code, e.g. `excellent`.")
    name_zh: str = strawberry.field(description="Chinese name, e.g. 优秀.")
    min: float = strawberry.field(description="Lowest total of the band.")


@strawberry.federation.type(
    keys=["id"],
    description="A version of an evaluation scheme (评价方案). Key `id` is `<scheme id>:<version>`; a published "
    "version is immutable and is what a scoring run pins.",
)
class SchemeVersion:
    id: strawberry.ID = strawberry.field(
        description="`<scheme id>:<version>`. Every argument that names a scheme (`schemeId`, `id`, scoring's "
        "`StartRunInput.schemeId`) takes it, as well as the bare scheme id."
    )
    scheme_id: strawberry.ID = strawberry.field(description="The scheme (uuid).")
    version: int = strawberry.field(description="Version number, from 1.")
    code: str = strawberry.field(description="The scheme's code, unique per organizer, e.g. `GD-12345-2025`.")
    status: SchemeStatus = strawberry.field(description="Lifecycle state.")
    organizer_id: strawberry.ID = strawberry.field(description="Id of the organizing unit (评价组织单位).")

    @strawberry.field(
        description="The organizing unit, resolved by the ingest service; null when it lies outside the caller's "
        "subtree (a city reading its province's scheme sees only `organizerId`)."
    )
    async def organizer(self, info: Info) -> Unit | None:
        return await _unit_if_visible(info, str(self.organizer_id))

    created_at: dt.datetime = strawberry.field(description="When the version was opened.")
    published_at: dt.datetime | None = strawberry.field(description="When it was published (公示); null for drafts.")
    archived_at: dt.datetime | None = strawberry.field(description="When it was archived; null otherwise.")
    body: JSON = strawberry.field(
        description="The version's full content in the scheme document format (contracts §5)."
    )
    row_body: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_rows(cls, version: models.SchemeVersion, scheme: models.Scheme) -> SchemeVersion:
        return cls(
            id=strawberry.ID(f"{scheme.id}:{version.version}"), scheme_id=strawberry.ID(str(scheme.id)),
            version=version.version, code=scheme.code, status=SchemeStatus(version.status),
            organizer_id=strawberry.ID(scheme.organizer_id), created_at=version.created_at,
            published_at=version.published_at, archived_at=version.archived_at, body=version.body,
            row_body=version.body if isinstance(version.body, dict) else {},
        )  # fmt: skip

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> SchemeVersion | None:
        found = await loaders.scheme_version(info).load(str(id))
        return SchemeVersion.from_rows(*found) if found is not None else None

    @strawberry.field(description="Chinese name of the scheme.")
    def name_zh(self) -> str:
        return str(self.row_body.get("name_zh", ""))

    @strawberry.field(description="English name of the scheme.")
    def name_en(self) -> str:
        return str(self.row_body.get("name_en", ""))

    @strawberry.field(description="comprehensive (综合评价, ≥ 1 month of data) or special (专项评价, ≥ 3 months).")
    def kind(self) -> str:
        return str(self.row_body.get("kind", ""))

    @strawberry.field(description="Who is evaluated.")
    def cohort(self) -> Cohort:
        c = self.row_body.get("cohort")
        c = c if isinstance(c, dict) else {}
        under = c.get("under") if isinstance(c.get("under"), str) else None
        under = under or (None if "units" in c else str(self.organizer_id))
        return Cohort(
            kind=c["kind"] if isinstance(c.get("kind"), str) else None,
            under_id=strawberry.ID(under) if under else None,
            unit_ids=[strawberry.ID(u) for u in c["units"] if isinstance(u, str)]
            if isinstance(c.get("units"), list)
            else [],
        )

    @strawberry.field(description="Grade bands, best first (default 优秀 ≥ 90, 合格 70–89, 待改进 < 70).")
    def grade_bands(self) -> list[GradeBand]:
        bands = with_defaults(self.row_body)["grade_bands"]
        return [
            GradeBand(code=str(b["code"]), name_zh=str(b["name_zh"]), min=b["min"])
            for b in bands
            if isinstance(b, dict) and b.get("code") and b.get("name_zh") and is_number(b.get("min"))
        ]

    @strawberry.field(description="Appeal window and limits: window_days, max_appeals_per_result, "
                      "max_indicators_per_appeal, escalation_days, decision_days (days the deciding unit "
                      "has for a decision; default 15); when named, peer_appeals (whether a unit whose result "
                      "another unit's appeal moved may appeal that consequence; default true) and "
                      "peer_window_days (its window; default window_days).")  # fmt: skip
    def appeal(self) -> JSON:
        return with_defaults(self.row_body)["appeal"]

    @strawberry.field(description="The scored items.")
    def items(self) -> list[SchemeItem]:
        out = []
        items = self.row_body.get("items")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("indicator"), dict):
                continue
            ref = item["indicator"]
            version = ref.get("version") if isinstance(ref.get("version"), int) else None
            out.append(
                SchemeItem(
                    points=item["points"] if is_number(item.get("points")) else None,
                    weight=item["weight"] if is_number(item.get("weight")) else None,
                    rule=item.get("rule"),
                    reference=item.get("reference"),
                    min_sample=item.get("min_sample"),
                    indicator_code=str(ref.get("code")),
                    indicator_version=version,
                )
            )
        return out

    @strawberry.field(description="Every version of this scheme the caller may see, newest first.")
    async def versions(self, info: Info) -> list[SchemeVersion]:
        return [SchemeVersion.from_rows(v, s) for v, s in await loaders.versions_of_scheme(info, str(self.scheme_id))]

    @strawberry.field(description="Every problem that would stop this version from being published (empty: none).")
    async def problems(self, info: Info) -> list[SchemeProblem]:
        return [SchemeProblem.of(p) for p in await loaders.problems_of(info, self.row_body)]

    @strawberry.field(
        description="The self-contained scheme document of contracts §5 (what scoring stores); null while the draft "
        "names an indicator version that does not exist."
    )
    async def document(self, info: Info) -> JSON | None:
        return await loaders.document_of(info, self)


@strawberry.type(description="One difference between two versions of a scheme.")
class SchemeChange:
    path: str = strawberry.field(description="What changed, e.g. `period.granularity`, `items[answer_rate].points`.")
    change: str = strawberry.field(description="added, removed or changed.")
    before: JSON | None = strawberry.field(description="The value in the earlier version.")
    after: JSON | None = strawberry.field(description="The value in the later version.")

    @classmethod
    def of(cls, change: Change) -> SchemeChange:
        return cls(path=change.path, change=change.change, before=change.before, after=change.after)


@strawberry.type(
    description="The answer to a scheme operation: the version acted on and every problem that stopped it."
)
class SchemePayload:
    ok: bool = strawberry.field(description="True when the operation happened (a saved draft may still list problems).")
    scheme: SchemeVersion | None = strawberry.field(description="The version acted on, when there is one.")
    problems: list[SchemeProblem] = strawberry.field(description="Every problem found, all at once.")


@strawberry.type(description="The answer to a catalog import: the indicator versions created and every problem.")
class CatalogImportPayload:
    ok: bool = strawberry.field(description="True when the import was applied (nothing is applied if any problem).")
    created: list[IndicatorVersion] = strawberry.field(
        description="New indicator versions (unchanged ones are skipped)."
    )
    problems: list[SchemeProblem] = strawberry.field(description="Every problem found, all at once.")
