"""The ingest subgraph: the unit directory (``Unit`` entity), the caller's identity, bulk registration."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from strawberry.federation.schema_directives import ListSize
from strawberry.scalars import JSON
from strawberry.tools import merge_types

from hotline.kit.auth import Role
from hotline.kit.graphql import RequestContext, described_enum, federation_schema
from hotline.kit.pagination import CursorCodec, PageInfo, check_page_size
from hotline.kit.policy import Relation, public_peer_ids, require_unit_field
from hotline.kit.scope import PATH_SEPARATOR, Scope
from services.ingest import models, repository
from services.ingest.directory import RowAction
from services.ingest.records_schema import RecordsMutation, RecordsQuery
from services.ingest.registration import register_units

UnitKindEnum = described_enum(
    models.UnitKind,
    name="UnitKind",
    description="Kind of unit: 省级热线工作机构 province body, 市级 city body, 区县 district, 承办单位 undertaking "
    "unit, 坐席班组 agent team, 坐席 agent.",
    values={
        "PROVINCE_BODY": "省级热线工作机构: the provincial hotline body, which evaluates its cities' bodies.",
        "CITY_BODY": "市级热线工作机构: a city's hotline body, evaluated by the province; evaluates its agents and "
        "undertaking units.",
        "DISTRICT": "区县: a district or county, grouping undertaking units under a city.",
        "UNDERTAKING_UNIT": "承办单位: a department, district office or utility that resolves dispatched work orders.",
        "AGENT_TEAM": "坐席班组: a team of hotline agents.",
        "AGENT": "坐席: one hotline agent.",
    },
)
RoleEnum = described_enum(
    Role,
    name="Role",
    description="Roles a caller's token may carry.",
    values={
        "ADMIN": "Runs the platform: registers units, imports catalogs, and may do what an organizer does in its scope.",
        "ORGANIZER": "An evaluation office: defines schemes, starts and publishes runs, decides appeals in its scope.",
        "EXPERT": "Enters expert scores (专家评分) with a written justification.",
        "REVIEWER": "Reviews and decides appeals of the units in its scope.",
        "UNIT": "An evaluated unit: sees its own results and files appeals against them.",
        "VIEWER": "Reads what its unit's scope allows, changes nothing.",
        "SERVICE": "A platform pulling or pushing data for its unit's scope (e.g. a provincial platform).",
    },
)


# What the gateway's demand control counts: a connection costs its page size, a plain list its
# usual length (federation @listSize directives).
PAGE_COST = ListSize(slicing_arguments=["first"], sized_fields=["edges"], require_one_slicing_argument=False)
# `units`: the position is the last unit's tree path.
UNITS_CURSOR = CursorCodec("units", CursorCodec.TEXT)


async def caller_scope(info: strawberry.Info[RequestContext, None]) -> Scope:
    """The caller's scope, looked up once per request."""
    ctx = info.context
    if "scope" not in ctx.cache:
        ctx.cache["scope"] = await repository.scope_for(ctx.session, ctx.principal.unit_id)
    return ctx.cache["scope"]


def _unit_loader(info: strawberry.Info[RequestContext, None]):
    ctx = info.context

    async def load(ids: list[str]) -> list[Unit | None]:
        scope = await caller_scope(info)
        rows = await repository.units_by_ids(ctx.session, scope, ids)
        found = {i: Unit.from_row(r) for i, r in rows.items()}
        unseen = [i for i in ids if i not in found]
        if unseen:
            # The visibility policy: a public peer (scoring knows them) shows its identity by every path alike.
            peers = await public_peer_ids(ctx)
            granted = [i for i in unseen if i in peers]
            if granted:
                for i, row in (await repository.identities_by_ids(ctx.session, granted)).items():
                    found[i] = Unit.from_row(row, Relation.PUBLIC_PEER)
        return [found.get(i) for i in ids]

    return ctx.loader("unit_by_id", load)


def _identity_loader(info: strawberry.Info[RequestContext, None]):
    ctx = info.context

    async def load(ids: list[str]) -> list[UnitIdentity | None]:
        rows = await repository.identities_by_ids(ctx.session, ids)
        return [UnitIdentity.from_row(rows[i]) if i in rows else None for i in ids]

    return ctx.loader("identity_by_id", load)


def _descendant_count_loader(info: strawberry.Info[RequestContext, None], kind: str | None, inactive: bool):
    ctx = info.context

    async def load(paths: list[str]) -> list[int]:
        scope = await caller_scope(info)
        counts = await repository.descendant_counts(ctx.session, scope, paths, kind=kind, include_inactive=inactive)
        return [counts.get(p, 0) for p in paths]

    return ctx.loader(f"descendant_count:{kind}:{inactive}", load)


@strawberry.type(description="The bare identity of a unit: what a caller may know of its own ancestors.")
class UnitIdentity:
    id: strawberry.ID = strawberry.field(description="Stable unit code, e.g. `GD-GZ`.")
    kind: UnitKindEnum = strawberry.field(description="Kind of unit.")
    name_zh: str = strawberry.field(description="Chinese name (中文名称).")
    name_en: str = strawberry.field(description="English name.")

    @classmethod
    def from_row(cls, row: models.Unit) -> UnitIdentity:
        return cls(id=strawberry.ID(row.id), kind=models.UnitKind(row.kind), name_zh=row.name_zh, name_en=row.name_en)


@strawberry.type(description="A change recorded in the unit directory's append-only history.")
class UnitChange:
    change: str = strawberry.field(description="`created`, `updated` or `moved`.")
    changed_at: dt.datetime = strawberry.field(description="When the change was applied.")
    changed_by: str = strawberry.field(description="Subject of the token that made the change.")
    before: JSON | None = strawberry.field(description="The unit's attributes before (null when created).")
    after: JSON = strawberry.field(description="The unit's attributes after the change.")


@strawberry.federation.type(
    keys=["id"],
    description="A unit of the evaluation tree (单位): province or city hotline body, district, undertaking "
    "unit (承办单位), agent team or agent. Visible only inside the caller's subtree.",
)
class Unit:
    id: strawberry.ID = strawberry.field(description="Stable unit code (never changes, even when the unit moves).")
    kind: UnitKindEnum = strawberry.field(description="Kind of unit.")
    name_zh: str = strawberry.field(description="Chinese name (中文名称).")
    name_en: str = strawberry.field(description="English name.")
    active: bool = strawberry.field(description="False once the unit is merged away or dissolved.")
    valid_from: dt.date = strawberry.field(description="First day the unit existed in this form.")
    valid_to: dt.date | None = strawberry.field(description="Last day the unit existed; null while it exists.")
    depth: int = strawberry.field(description="Depth in the tree; a root is 0.")
    parent_id: strawberry.Private[str | None]
    path_ids: strawberry.Private[list[str]]
    residents: strawberry.Private[int | None]
    # How the unit stands to the caller (``hotline.kit.policy``): a public peer shows its identity only.
    relation: strawberry.Private[Relation] = Relation.SUBTREE

    @classmethod
    def from_row(cls, row: models.Unit, relation: Relation = Relation.SUBTREE) -> Unit:
        return cls(
            id=strawberry.ID(row.id),
            kind=models.UnitKind(row.kind),
            name_zh=row.name_zh,
            name_en=row.name_en,
            active=row.active,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            depth=row.depth,
            parent_id=row.parent_id,
            path_ids=row.path.split(PATH_SEPARATOR),
            residents=row.population,
            relation=relation,
        )

    def _granted(self, field: str) -> None:
        require_unit_field(self.relation, field)

    @strawberry.field(
        description="Residents served, for per-10,000-resident indicators (万人诉求比); null if not applicable. "
        "Not shown for a public peer (error `NOT_VISIBLE`)."
    )
    def population(self) -> int | None:
        self._granted("population")
        return self.residents

    @strawberry.field(
        description="Ids from the root down to this unit (its materialized path). Not shown for a public peer "
        "(error `NOT_VISIBLE`)."
    )
    def path(self) -> list[strawberry.ID]:
        self._granted("path")
        return [strawberry.ID(p) for p in self.path_ids]

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info[RequestContext, None], id: strawberry.ID) -> Unit | None:
        # Federation entity look-ups are scoped like every other read path.
        return await _unit_loader(info).load(str(id))

    @strawberry.field(description="The parent unit, or null at the top of the tree or of the caller's scope.")
    async def parent(self, info: strawberry.Info[RequestContext, None]) -> Unit | None:
        self._granted("parent")
        if self.parent_id is None:
            return None
        return await _unit_loader(info).load(self.parent_id)

    @strawberry.field(
        description="Bare identities of all ancestors, root first (the caller's own ancestors too).",
        directives=[ListSize(assumed_size=8)],
    )
    async def ancestors(self, info: strawberry.Info[RequestContext, None]) -> list[UnitIdentity]:
        self._granted("ancestors")
        found = await _identity_loader(info).load_many(self.path_ids[:-1])
        return [f for f in found if f is not None]

    @strawberry.field(
        description="Direct children, in tree order, with cursor pagination."
        " Null only with a `BAD_REQUEST` error, when `first` or `after` is invalid (a sibling field keeps its data).",
        directives=[PAGE_COST],
    )
    async def children(
        self,
        info: strawberry.Info[RequestContext, None],
        kind: Annotated[UnitKindEnum | None, strawberry.argument(description="Only children of this kind.")] = None,
        include_inactive: Annotated[
            bool, strawberry.argument(description="Include merged or dissolved units.")
        ] = False,
        first: Annotated[int, strawberry.argument(description="Page size, 1–500.")] = 50,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> UnitConnection | None:
        self._granted("children")
        return await _connection(
            info,
            self._path,
            kind=kind,
            include_self=False,
            direct=True,
            include_inactive=include_inactive,
            active_on=None,
            first=first,
            after=after,
        )

    @strawberry.field(description="Number of units below this one (optionally of one kind).")
    async def descendant_count(
        self,
        info: strawberry.Info[RequestContext, None],
        kind: Annotated[UnitKindEnum | None, strawberry.argument(description="Count only units of this kind.")] = None,
        include_inactive: Annotated[
            bool, strawberry.argument(description="Count merged or dissolved units too.")
        ] = False,
    ) -> int:
        self._granted("descendantCount")
        return await _descendant_count_loader(info, kind.value if kind else None, include_inactive).load(self._path)

    @strawberry.field(
        description="The unit's change history (created, updated, moved), oldest first.",
        directives=[ListSize(assumed_size=20)],
    )
    async def history(self, info: strawberry.Info[RequestContext, None]) -> list[UnitChange]:
        self._granted("history")
        rows = await repository.history(info.context.session, str(self.id))
        return [
            UnitChange(
                change=r.change,
                changed_at=r.changed_at,
                changed_by=r.changed_by,
                before=r.before,
                after=r.after,
            )
            for r in rows
        ]

    @property
    def _path(self) -> str:
        return PATH_SEPARATOR.join(self.path_ids)


@strawberry.type(description="One unit in a connection, with its cursor.")
class UnitEdge:
    cursor: str = strawberry.field(
        description="Opaque cursor; pass as `after` to continue after this unit.", resolver=lambda root: root.at()
    )
    node: Unit = strawberry.field(description="The unit.")
    # The unit's position: its cursor is written only when asked for (a page of 500 edges, 500 encodings).
    _position: strawberry.Private[str]

    def at(self) -> str:
        return UNITS_CURSOR.encode(self._position)


@strawberry.type(description="A page of units in tree order.")
class UnitConnection:
    edges: list[UnitEdge] = strawberry.field(description="The units of this page.")
    page_info: PageInfo = strawberry.field(description="Whether there is a next page, and its cursor.")
    _count: strawberry.Private[Callable[[], Awaitable[int]] | None] = None

    @strawberry.field(description="Number of matching units over all pages.")
    async def total_count(self) -> int:
        # Counted only when asked for: a listing seldom shows it, and the count is a query of its own.
        return 0 if self._count is None else await self._count()


async def _connection(
    info: strawberry.Info[RequestContext, None],
    under_path: str,
    *,
    kind: models.UnitKind | None,
    include_self: bool,
    direct: bool,
    include_inactive: bool,
    active_on: dt.date | None,
    first: int,
    after: str | None,
) -> UnitConnection:
    check_page_size(first)
    scope = await caller_scope(info)
    session = info.context.session
    common = dict(
        under_path=under_path,
        kind=kind,
        include_self=include_self,
        direct_children_only=direct,
        include_inactive=include_inactive,
        active_on=active_on,
    )
    rows = await repository.list_units(
        session,
        scope,
        **common,
        after_path=UNITS_CURSOR.decode_one(after) if after is not None else None,
        limit=first + 1,
    )
    page = rows[:first]
    edges = [UnitEdge(_position=r.path, node=Unit.from_row(r)) for r in page]
    return UnitConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].at() if edges else None),
        _count=lambda: repository.count_units(session, scope, **common),
    )


def _empty_connection() -> UnitConnection:
    return UnitConnection(edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None))


@strawberry.type(description="Who the caller is, according to its token.")
class Me:
    subject: str = strawberry.field(description="The token's subject (a person or a system).")
    unit_id: strawberry.ID = strawberry.field(description="The caller's unit id, as the token says.")
    roles: list[RoleEnum] = strawberry.field(description="The caller's roles.")

    @strawberry.field(description="The caller's unit (null if the token names a unit that does not exist).")
    async def unit(self, info: strawberry.Info[RequestContext, None]) -> Unit | None:
        return await _unit_loader(info).load(str(self.unit_id))


@strawberry.input(description="One unit to register or update. Omitted fields keep their stored value.")
class UnitInput:
    id: strawberry.ID = strawberry.field(description="Stable unit code: A–Z, 0–9 and '-', up to 64 characters.")
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Parent unit id; changing it moves the unit and its subtree."
    )
    kind: UnitKindEnum | None = strawberry.field(default=strawberry.UNSET, description="Kind (required when new).")
    name_zh: str | None = strawberry.field(default=strawberry.UNSET, description="Chinese name (required when new).")
    name_en: str | None = strawberry.field(default=strawberry.UNSET, description="English name.")
    population: int | None = strawberry.field(default=strawberry.UNSET, description="Residents served.")
    active: bool | None = strawberry.field(default=strawberry.UNSET, description="Whether the unit is active.")
    valid_from: dt.date | None = strawberry.field(default=strawberry.UNSET, description="First valid day.")
    valid_to: dt.date | None = strawberry.field(default=strawberry.UNSET, description="Last valid day.")

    def to_row(self) -> dict:
        row = {}
        for name, value in vars(self).items():
            if value is strawberry.UNSET:
                continue
            if isinstance(value, models.UnitKind):
                value = value.value
            row[name] = value
        return row


@strawberry.type(description="A problem that rejected a row.")
class RowProblem:
    field: str | None = strawberry.field(description="The offending field, if one field is to blame.")
    value: str | None = strawberry.field(description="The offending value, as given.")
    message: str = strawberry.field(description="What is wrong and what was expected.")


RowActionEnum = described_enum(
    RowAction,
    name="RowAction",
    description="What happened to a row: created, updated, moved (new parent), unchanged, or rejected.",
    values={
        "CREATED": "A new unit was registered.",
        "UPDATED": "An existing unit's names, kind or attributes changed.",
        "MOVED": "An existing unit was moved under a new parent (its subtree with it).",
        "UNCHANGED": "The row matched the stored unit exactly; nothing changed.",
        "REJECTED": "The row was refused; its problems say why. Nothing of it was stored.",
    },
)


@strawberry.type(description="The outcome of one input row.")
class UnitRowOutcome:
    row: int = strawberry.field(description="1-based position of the row in the request or file.")
    unit_id: str | None = strawberry.field(description="The row's unit id, if it had one.")
    action: RowActionEnum = strawberry.field(description="What happened to the row.")
    changed_fields: list[str] = strawberry.field(description="Fields an update changed.")
    problems: list[RowProblem] = strawberry.field(description="Why the row was rejected (empty otherwise).")


@strawberry.type(description="Report of a bulk unit registration: rejected rows changed nothing.")
class UnitRegistrationReport:
    dry_run: bool = strawberry.field(description="True if nothing was written (a preview).")
    created: int = strawberry.field(description="Rows that created a unit.")
    updated: int = strawberry.field(description="Rows that changed a unit's attributes.")
    moved: int = strawberry.field(description="Rows that gave a unit a new parent (its subtree moved with it).")
    unchanged: int = strawberry.field(description="Rows identical to what is stored.")
    rejected: int = strawberry.field(description="Rows rejected; see `rows[].problems`.")
    rows: list[UnitRowOutcome] = strawberry.field(description="Every row's outcome, in input order.")


def report_to_graphql(report) -> UnitRegistrationReport:
    return UnitRegistrationReport(
        dry_run=report.dry_run,
        **{a: report.count(a) for a in ("created", "updated", "moved", "unchanged", "rejected")},
        rows=[
            UnitRowOutcome(
                row=o.row,
                unit_id=o.unit_id,
                action=RowActionEnum(o.action),
                changed_fields=o.changed_fields,
                problems=[RowProblem(field=p.field, value=p.value, message=p.message) for p in o.problems],
            )
            for o in report.outcomes
        ],
    )


@strawberry.type(description="Queries of the ingest service.")
class Query:
    @strawberry.field(description="The caller: subject, unit and roles.")
    def me(self, info: strawberry.Info[RequestContext, None]) -> Me:
        p = info.context.principal
        return Me(subject=p.subject, unit_id=strawberry.ID(p.unit_id), roles=sorted(p.roles))

    @strawberry.field(description="A unit by id; null if it does not exist or is outside the caller's scope.")
    async def unit(
        self,
        info: strawberry.Info[RequestContext, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The unit's stable code, e.g. `GD-GZ`.")],
    ) -> Unit | None:
        return await _unit_loader(info).load(str(id))

    @strawberry.field(
        description="Units under `under` (default: the caller's unit), itself included, in tree order. "
        "Empty if `under` is unknown or outside the caller's scope."
        " Null only with a `BAD_REQUEST` error, when `first` or `after` is invalid (a sibling field keeps its data).",
        directives=[PAGE_COST],
    )
    async def units(
        self,
        info: strawberry.Info[RequestContext, None],
        under: Annotated[
            strawberry.ID | None, strawberry.argument(description="The subtree's root (default: the caller's unit).")
        ] = None,
        kind: Annotated[UnitKindEnum | None, strawberry.argument(description="Only units of this kind.")] = None,
        include_inactive: Annotated[
            bool, strawberry.argument(description="Include merged or dissolved units.")
        ] = False,
        active_on: Annotated[
            dt.date | None, strawberry.argument(description="Only units valid on this day (history view).")
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size, 1–500.")] = 50,
        after: Annotated[str | None, strawberry.argument(description="Cursor to continue after.")] = None,
    ) -> UnitConnection | None:
        root_id = str(under) if under is not None else info.context.principal.unit_id
        root = await _unit_loader(info).load(root_id)
        if root is None:
            check_page_size(first)
            return _empty_connection()
        return await _connection(
            info,
            root._path,
            kind=kind,
            include_self=True,
            direct=False,
            include_inactive=include_inactive,
            active_on=active_on,
            first=first,
            after=after,
        )


@strawberry.type(description="Mutations of the ingest service.")
class Mutation:
    @strawberry.mutation(
        description="Register or update units in bulk (roles admin or organizer, inside the caller's scope). "
        "Idempotent; each row is applied whole or rejected with its problems."
    )
    async def register_units(
        self,
        info: strawberry.Info[RequestContext, None],
        units: Annotated[list[UnitInput], strawberry.argument(description="The units to register or update.")],
        dry_run: Annotated[bool, strawberry.argument(description="Report without writing.")] = False,
    ) -> UnitRegistrationReport:
        report = await register_units(
            info.context.session, info.context.principal, [u.to_row() for u in units], dry_run=dry_run
        )
        return report_to_graphql(report)


# Raw records, batches and data quality live in records_schema.py; merged here into one root type each.
schema = federation_schema(
    query=merge_types("Query", (Query, RecordsQuery)),
    mutation=merge_types("Mutation", (Mutation, RecordsMutation)),
    types=[Unit],
)
