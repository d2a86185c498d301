"""Federation entities of the scoring subgraph: ``UnitResult``, ``EvaluationRun`` and the stubs it extends
(``Unit`` from ingest, ``SchemeVersion`` from indicators). Every look-up is scoped in SQL."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import OperationType
from strawberry.federation.schema_directives import Key, ListSize

from hotline.kit.graphql import RequestContext
from hotline.kit.pagination import CursorCodec, check_page_size
from services.scoring import consequences, experts, fuzzy_view, repository, sources
from services.scoring.explain import explain_withheld
from services.scoring.models import EvaluationRun as RunRow
from services.scoring.models import UnitResult as ResultRow
from services.scoring.rollups import rollup
from services.scoring.store import diff_details
from services.scoring.types import (
    AwaitingExpertScores,
    CohortSummary,
    CursorArg,
    DimensionSubtotal,
    EvaluationPeriod,
    Explanation,
    Grade,
    IndicatorScore,
    MeasureSource,
    PageSizeArg,
    ResultRollup,
    RevisionChange,
    RunIdArg,
    RunRevisionInfo,
    TotalWithheld,
    cohort_summary_from,
    described,
)

Info = strawberry.Info[RequestContext, None]

# A result revision's indicator scores with their explanations, as queries showed them, by (result id, revision).
# Each depends only on the revision's stored document and on the run's appeal revisions up to it, none of which
# changes once committed (a later appeal makes a later revision); a query sees committed revisions only, so what
# one query built serves the next, and the objects are never changed after they are built. Mutations build their
# own. Bounded like the result documents (``repository.DETAILS_KEPT``): the least recently used are dropped.
_INDICATOR_SCORES: OrderedDict[tuple[uuid.UUID, int], list[IndicatorScore]] = OrderedDict()
# `EvaluationRun.results`: the position is the last unit id of the page.
RESULTS_CURSOR = CursorCodec("results", CursorCodec.TEXT)


def _result_loader(info: Info):
    ctx = info.context

    async def load(ids: list[str]) -> list[UnitResult | None]:
        scope = await ctx.scope()
        found = await repository.results_by_ids(ctx.session, scope, ids)
        return [UnitResult.from_rows(*found[i]) if i in found else None for i in ids]

    return ctx.loader("result_by_id", load)


def _run_loader(info: Info):
    ctx = info.context

    async def load(ids: list[str]) -> list[EvaluationRun | None]:
        found = await repository.runs_by_ids(ctx.session, await ctx.scope(), ids)
        return [EvaluationRun.from_row(found[i]) if i in found else None for i in ids]

    return ctx.loader("run_by_id", load)


def _detail_loader(info: Info):
    ctx = info.context
    read_only = info.operation.operation == OperationType.QUERY

    async def load(keys: list[tuple[uuid.UUID, int]]) -> list[dict | None]:
        # A query sees committed revisions only, which never change: their documents may be kept.
        found = await repository.details(ctx.session, keys, remember=read_only)
        return [found.get(k) for k in keys]

    return ctx.loader("detail", load)


def _appeal_effects_loader(info: Info):
    """Per run: (revision, appeal id, stored effects) of its appeal revisions, oldest first (one query)."""
    ctx = info.context

    async def load(run_ids: list[str]) -> list[list[tuple[int, str | None, dict]]]:
        found = await repository.appeal_effects(ctx.session, run_ids)
        return [found.get(r, []) for r in run_ids]

    return ctx.loader("appeal_effects", load)


def _unit_results_loader(info: Info):
    ctx = info.context

    async def load(unit_ids: list[str]) -> list[list[UnitResult]]:
        found = await repository.results_of_units(ctx.session, await ctx.scope(), unit_ids)
        return [[UnitResult.from_rows(r, run) for r, run in found[u]] for u in unit_ids]

    return ctx.loader("results_of_unit", load)


@strawberry.federation.type(
    keys=[Key(fields="id", resolvable=False)],
    description="A published scheme version (评价方案), resolved by the indicators service; key `<scheme id>:<version>`.",
)
class SchemeVersion:
    id: strawberry.ID = strawberry.field(description="`<scheme id>:<version>`.")


@strawberry.federation.type(keys=["id"], description="A unit of the tree (owned by ingest); scoring adds its results.")
class Unit:
    id: strawberry.ID = strawberry.field(description="Stable unit code.")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Unit:
        return cls(id=id)

    @strawberry.field(
        description="The unit's evaluation results visible to the caller, latest period first.",
        directives=[ListSize(assumed_size=12)],
    )
    async def results(self, info: Info) -> list[UnitResult]:
        return await _unit_results_loader(info).load(str(self.id))

    @strawberry.field(description="A roll-up of a run's results of the units under this one (a parent's view).")
    async def result_rollup(self, info: Info, run_id: RunIdArg) -> ResultRollup | None:
        return await rollup(info, str(run_id), str(self.id))


@strawberry.federation.type(
    keys=["id"],
    description="A unit's result in an evaluation run (评价结果): total, grade, rank, every indicator score and why.",
)
class UnitResult:
    id: strawberry.ID = strawberry.field(description="Stable id of the result (the same across revisions).")
    run_id: strawberry.ID = strawberry.field(description="The run.")
    unit_id: strawberry.ID = strawberry.field(description="The evaluated unit.")
    revision: int = strawberry.field(description="The run revision this view shows (the latest unless asked).")
    final: bool = strawberry.field(description="True once the appeal window closed and every appeal is decided.")
    published: bool = strawberry.field(description="True once the organizer published the run.")
    _key: strawberry.Private[tuple[uuid.UUID, int]]
    _period: strawberry.Private[tuple[str, str, str]]
    # The result's document when this process already holds it (a stored revision never changes): its figures are
    # then answered at once, without a loader round per field (``_figure``).
    _document: strawberry.Private[dict | None] = None

    @classmethod
    def from_rows(cls, row: ResultRow, run: RunRow, revision: int | None = None) -> UnitResult:
        rev = revision or row.revision
        return cls(
            id=strawberry.ID(str(row.id)), run_id=strawberry.ID(str(row.run_id)), unit_id=strawberry.ID(row.unit_id),
            revision=rev, final=run.final_at is not None, published=run.published_at is not None,
            _key=(row.id, rev), _period=(run.period_from.isoformat(), run.period_to.isoformat(), run.organizer_id),
            _document=repository.kept_detail((row.id, rev)),
        )  # fmt: skip

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> UnitResult | None:
        return await _result_loader(info).load(str(id))

    async def _detail(self, info: Info) -> dict:
        if self._document is not None:
            return self._document
        return await _detail_loader(info).load(self._key) or {}

    def _figure(self, info: Info, name: str, shape: Callable[[Any], Any] | None = None) -> Any:
        """A figure of the result's document, shaped for its field: at once when the document is at hand, else an
        awaitable that loads it with the other results' in one batch (GraphQL awaits what a resolver returns). A
        page of results read again thus costs no coroutine per field and result."""
        if self._document is not None:
            value = self._document.get(name)
            return shape(value) if shape else value

        async def later() -> Any:
            value = (await self._detail(info)).get(name)
            return shape(value) if shape else value

        return later()

    @strawberry.field(
        description="The evaluated unit (resolved by ingest): your subtree's units, and a public peer's identity "
        "(docs/security.md, the visibility policy); null where the unit directory shows you no unit for `unitId`, so "
        "that a unit it hides never nulls the rest of your answer."
    )
    def unit(self) -> Unit | None:
        return Unit(id=self.unit_id)

    @strawberry.field(description="The run this result belongs to.")
    async def run(self, info: Info) -> EvaluationRun | None:
        return await _run_loader(info).load(str(self.run_id))

    @strawberry.field(description="Total score (总分) out of the scheme's points, after the N/A policy.")
    def total(self, info: Info) -> float | None:
        return self._figure(info, "total")

    @strawberry.field(description="The total's range when each rate indicator moves across its confidence interval.")
    def total_interval(self, info: Info) -> list[float] | None:
        return self._figure(info, "total_interval")

    @strawberry.field(description="Grade band (等级).")
    def grade(self, info: Info) -> Grade | None:
        return self._figure(info, "grade", lambda grade: Grade(**grade) if grade else None)

    @strawberry.field(description="Rank in the cohort (排名); ties share a rank (1, 1, 3).")
    def rank(self, info: Info) -> int | None:
        return self._figure(info, "rank")

    @strawberry.field(
        description="Neighbours whose total intervals overlap this one: the rank difference may be noise."
    )
    async def rank_overlaps(self, info: Info) -> list[str]:
        return await _only_visible(info, self.run_id, (await self._detail(info)).get("rank_overlaps", []))

    @strawberry.field(description="Change of the total from the previous period's run (null without one).")
    def change(self, info: Info) -> float | None:
        return self._figure(info, "change")

    @strawberry.field(description="Places gained (positive) or lost since the previous period's run.")
    def rank_change(self, info: Info) -> int | None:
        return self._figure(info, "rank_change")

    @strawberry.field(
        description="Points earned before the N/A rescaling: the sum of the exact item scores, shown at the item "
        "scores' precision (the total is this × the scheme's points ÷ the applicable points, under rescale)."
    )
    def earned_points(self, info: Info) -> float | None:
        return self._figure(info, "earned_points")

    @strawberry.field(description="Points of the indicators that were applicable.")
    def applicable_points(self, info: Info) -> float | None:
        return self._figure(info, "applicable_points")

    @strawberry.field(
        description="Share of the scheme's points whose indicators apply to this unit, 0–1 (null for revisions "
        "computed before totals could be withheld); pending expert items do not count."
    )
    def applicable_share(self, info: Info) -> float | None:
        return self._figure(info, "applicable_share")

    @strawberry.field(
        description="The scheme's minimum applicable share (`min_applicable_share`, default 0.5): below it the "
        "total, grade and rank are withheld (null for revisions computed before)."
    )
    def min_applicable_share(self, info: Info) -> float | None:
        return self._figure(info, "min_applicable_share")

    @strawberry.field(
        description="Why this unit has no total, grade or rank (null when it has them): a withheld unit takes no "
        "part in ranks, rank overlaps, the cohort's statistics or roll-ups."
    )
    async def total_withheld(self, info: Info) -> TotalWithheld | None:
        detail = await self._detail(info)
        why = explain_withheld(detail)
        if why is None:
            return None
        return TotalWithheld(
            reason=detail["withheld"], applicable_share=detail["applicable_share"],
            min_applicable_share=detail["min_applicable_share"], explanation=Explanation(**why),
        )  # fmt: skip

    @strawberry.field(
        description="Units whose total is displayed the same as this one (at the scheme's precision) but differs in "
        "its exact figure, so their ranks differ though the totals look equal (ranks and ties are decided on the "
        "exact totals). Empty when there is no such unit."
    )
    async def tied_on_display_with(self, info: Info) -> list[str]:
        return await _only_visible(info, self.run_id, (await self._detail(info)).get("display_tie_with", []))

    @strawberry.field(description="Dimension subtotals (维度小计).")
    def dimensions(self, info: Info) -> list[DimensionSubtotal]:
        return self._figure(info, "dimensions", lambda dims: [DimensionSubtotal(**d) for d in dims or []])

    @strawberry.field(
        description="Every indicator's value, reference, rule, points, score and explanation.",
        directives=[ListSize(assumed_size=40)],
    )
    async def indicators(self, info: Info) -> list[IndicatorScore]:
        read_only = info.operation.operation == OperationType.QUERY
        kept = _INDICATOR_SCORES.get(self._key) if read_only else None
        if kept is not None:
            _INDICATOR_SCORES.move_to_end(self._key)
            return kept
        rows = (await self._detail(info)).get("indicators", [])
        effects = [e for e in await _appeal_effects_loader(info).load(str(self.run_id)) if e[0] <= self.revision]
        notes = consequences.explanation_notes(str(self.unit_id), effects) if effects else {}
        scores = [IndicatorScore.from_detail(r, str(self.unit_id), self._period) for r in rows]
        for score in scores:  # a score another unit's appeal moved says so, with the cause
            for zh, en in notes.get(score.indicator, []):
                score.explanation = Explanation(
                    zh=f"{score.explanation.zh}{zh}", en=f"{score.explanation.en} {en}",
                    calculation=score.explanation.calculation,
                )  # fmt: skip
        if read_only:
            _INDICATOR_SCORES[self._key] = scores
            while len(_INDICATOR_SCORES) > repository.DETAILS_KEPT:
                _INDICATOR_SCORES.popitem(last=False)
        return scores

    @strawberry.field(description="This result as it was in another revision of the run (null if there is none).")
    async def at_revision(
        self, info: Info, revision: described(int, "A revision number of the run (1 = first computation).")
    ) -> UnitResult | None:
        if await _detail_loader(info).load((self._key[0], revision)) is None:
            return None
        return UnitResult(
            id=self.id, run_id=self.run_id, unit_id=self.unit_id, revision=revision, final=self.final,
            published=self.published, _key=(self._key[0], revision), _period=self._period,
            _document=repository.kept_detail((self._key[0], revision)),
        )  # fmt: skip

    @strawberry.field(
        description="Ingest batches and record counts behind this result's measures (asks ingest).",
        directives=[ListSize(assumed_size=50)],
    )
    async def measure_sources(self, info: Info) -> list[MeasureSource]:
        detail = await self._detail(info)
        codes = tuple(sorted({m for i in detail.get("indicators", []) for m in i["measures"]}))
        start, end, organizer = self._period
        rows = await _sources_loader(info).load((str(self.unit_id), codes, start, end, organizer))
        return [
            MeasureSource(
                measure=r["measure"], batch_id=str(r["batch_id"]), source=r["source"], records=int(r["records"])
            )
            for r in rows
        ]


def _sources_loader(info: Info):
    """One ingest call for all the results of a page that share measures and period (no call per result)."""

    async def load(keys: list[tuple[str, tuple[str, ...], str, str, str]]) -> list[list[dict]]:
        groups: dict[tuple, list[str]] = {}
        for unit, *rest in keys:
            groups.setdefault(tuple(rest), []).append(unit)
        found: dict[tuple, list[dict]] = {}
        for (codes, start, end, organizer), units in groups.items():
            rows = await sources.measure_sources(
                info.context.services, sorted(set(units)), list(codes),
                dt.date.fromisoformat(start), dt.date.fromisoformat(end), acting_for=organizer,
            )  # fmt: skip
            for unit in units:
                found[(unit, codes, start, end, organizer)] = [r for r in rows if r["unit"] == unit]
        return [found[key] for key in keys]

    return info.context.loader("measure_sources", load)


@strawberry.type(description="One edge of a result connection.")
class UnitResultEdge:
    cursor: str = strawberry.field(description="Opaque cursor.", resolver=lambda root: root.at())
    node: UnitResult = strawberry.field(description="The result.")
    # The result's unit, its position: its cursor is written only when asked for.
    _position: strawberry.Private[str]

    def at(self) -> str:
        return RESULTS_CURSOR.encode(self._position)


@strawberry.type(description="A page of results.")
class UnitResultConnection:
    edges: list[UnitResultEdge] = strawberry.field(description="Results of this page.")
    end_cursor: str | None = strawberry.field(description="Cursor to pass as `after` for the next page.")
    has_next_page: bool = strawberry.field(description="Whether more results follow.")


@strawberry.type(description="An entry of a run's ranking (全部排名).")
class RankingEntry:
    unit_id: strawberry.ID = strawberry.field(description="The unit.")
    total: float | None = strawberry.field(description="Its total.")
    rank: int | None = strawberry.field(description="Its rank.")
    grade: str | None = strawberry.field(description="Its grade code.")
    result: UnitResult = strawberry.field(description="Its result with per-indicator details.")


async def _only_visible(info: Info, run_id, unit_ids: list[str]) -> list[str]:
    """The units among ``unit_ids`` whose results in the run the caller may see (the visibility policy: in a
    private ranking a peer's id is not shown, not even as a neighbour)."""
    if not unit_ids:
        return []
    key = f"visible_units:{run_id}"
    if key not in info.context.cache:
        rows = await repository.results_of_run(
            info.context.session, await info.context.scope(), uuid.UUID(str(run_id)), after_unit=None, limit=1_000_000
        )
        info.context.cache[key] = {r.unit_id for r, _run in rows}
    return [u for u in unit_ids if u in info.context.cache[key]]


@strawberry.federation.type(
    keys=["id"],
    description="An evaluation run (评价批次): one published scheme version over one period for one cohort.",
)
class EvaluationRun:
    id: strawberry.ID = strawberry.field(description="Run id.")
    scheme_id: str = strawberry.field(description="The scheme (its bare id; `scheme.id` is `<scheme id>:<version>`).")
    scheme_version: int = strawberry.field(description="The scheme version.")
    scheme_code: str = strawberry.field(description="The scheme's code.")
    scheme_name_zh: str = strawberry.field(description="The scheme's Chinese name.")
    kind: str = strawberry.field(description="`comprehensive` (综合) or `special` (专项).")
    organizer_id: strawberry.ID = strawberry.field(description="The organizing unit.")
    period: EvaluationPeriod = strawberry.field(description="The evaluation period.")
    status: str = strawberry.field(description="`queued` → `fetching` → `computing` → `done` or `failed`.")
    progress: int = strawberry.field(description="Progress in percent.")
    error: str | None = strawberry.field(description="Why it failed.")
    current_revision: int = strawberry.field(description="The latest revision (0 before the first computation).")
    cohort: list[str] = strawberry.field(description="Unit ids of the cohort.")
    rankings_public: bool = strawberry.field(description="Whether units of the cohort see each other's details.")
    created_at: dt.datetime = strawberry.field(description="When the run was started.")
    finished_at: dt.datetime | None = strawberry.field(description="When the last computation ended.")
    published_at: dt.datetime | None = strawberry.field(description="When the results were published.")
    appeal_window_closes_at: dt.datetime | None = strawberry.field(description="End of the appeal window.")
    final: bool = strawberry.field(description="True once the results are final.")
    _uuid: strawberry.Private[uuid.UUID]
    _row: strawberry.Private[RunRow]

    @classmethod
    def from_row(cls, row: RunRow) -> EvaluationRun:
        doc = row.scheme_document
        return cls(
            id=strawberry.ID(str(row.id)), scheme_id=row.scheme_id, scheme_version=row.scheme_version,
            scheme_code=doc.get("code", ""), scheme_name_zh=doc.get("name_zh", ""), kind=doc.get("kind", "comprehensive"),
            organizer_id=strawberry.ID(row.organizer_id),
            period=EvaluationPeriod(kind=row.period_kind, label=_label(row), start_date=row.period_from, end_date=row.period_to),
            status=row.status, progress=row.progress, error=row.error, current_revision=row.current_revision,
            cohort=list(row.cohort_units), rankings_public=bool(doc.get("rankings_public")), created_at=row.created_at,
            finished_at=row.finished_at, published_at=row.published_at, appeal_window_closes_at=row.appeal_window_closes_at,
            final=row.final_at is not None, _uuid=row.id, _row=row,
        )  # fmt: skip

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> EvaluationRun | None:
        return await _run_loader(info).load(str(id))

    @strawberry.field(
        description="The scheme version (resolved by the indicators service): shown to whoever sees the run "
        "(docs/security.md, the visibility policy); null only where indicators holds no such version, so that it "
        "never nulls the rest of the run (`schemeCode`, `schemeNameZh` and the run's own fields stay)."
    )
    def scheme(self) -> SchemeVersion | None:
        return SchemeVersion(id=strawberry.ID(f"{self.scheme_id}:{self.scheme_version}"))

    @strawberry.field(description="Every revision, oldest first; all stay readable.")
    async def revisions(self, info: Info) -> list[RunRevisionInfo]:
        rows = await repository.revisions_of(info.context.session, self._uuid)
        return [
            RunRevisionInfo(
                revision=r.revision,
                reason=r.reason,
                appeal_id=r.appeal_id,
                created_by=r.created_by,
                created_at=r.created_at,
                outcome_sha256=r.outcome_sha256,
            )
            for r in rows
        ]

    @strawberry.field(
        description="Expert-scored items still awaiting expert scores (待专家评分) in the current revision, each with "
        "the units concerned (in the caller's subtree); before the first revision, every one. Empty when every "
        "expert-scored item has a score for every unit. Experts complete them with `enterExpertScores` (one new "
        "revision per sheet)."
    )
    async def awaiting_expert_scores(self, info: Info) -> list[AwaitingExpertScores]:
        found = await experts.awaiting(info.context.session, await info.context.scope(), self._row)
        return [
            AwaitingExpertScores(
                indicator=a.item.code, name_zh=a.item.name_zh, name_en=a.item.name_en, points=a.item.points,
                unit_ids=[strawberry.ID(u) for u in a.units],
            )
            for a in found
        ]  # fmt: skip

    @strawberry.field(
        description="Expert scores entered (or changed) since the current revision was computed: the next revision "
        "applies them (`enterExpertScores` queues it; scores from `enterExpertScore` wait for it or `recomputeRun`)."
    )
    async def expert_scores_not_in_revision(self, info: Info) -> int:
        return await experts.scores_not_in_revision(info.context.session, await info.context.scope(), self._row)

    @strawberry.field(description="The cohort's summary statistics (latest revision).")
    async def summary(self, info: Info) -> CohortSummary | None:
        rows = await repository.revisions_of(info.context.session, self._uuid)
        return cohort_summary_from(rows[-1].cohort_summary) if rows else None

    @strawberry.field(
        description="Results visible to the caller, by unit id, with cursor pagination."
        " Null only with a `BAD_REQUEST` error, when `first` or `after` is invalid (a sibling field keeps its data)."
    )
    async def results(
        self, info: Info, first: PageSizeArg = 100, after: CursorArg = None
    ) -> UnitResultConnection | None:
        check_page_size(first)
        rows = await repository.results_of_run(
            info.context.session,
            await info.context.scope(),
            self._uuid,
            after_unit=RESULTS_CURSOR.decode_one(after) if after is not None else None,
            limit=first + 1,
        )
        edges = [UnitResultEdge(_position=r.unit_id, node=UnitResult.from_rows(r, run)) for r, run in rows[:first]]
        return UnitResultConnection(
            edges=edges, end_cursor=edges[-1].at() if edges else None, has_next_page=len(rows) > first
        )

    @strawberry.field(
        description="The whole cohort's ranking: always for the organizer's side; for units of the cohort only once published and if the scheme makes rankings public (else empty). A peer in a public ranking is shown alike by every path (`unitResult`, `Unit.results`, `unit(id)`): docs/security.md, the visibility policy.",
        directives=[ListSize(assumed_size=100)],
    )
    async def ranking(self, info: Info) -> list[RankingEntry]:
        rows = await repository.public_ranking(info.context.session, await info.context.scope(), self._row)
        return [
            RankingEntry(
                unit_id=strawberry.ID(r.unit_id),
                total=r.total,
                rank=r.rank,
                grade=r.grade,
                result=UnitResult.from_rows(r, self._row),
            )
            for r in rows
        ]

    @strawberry.field(
        description="Fuzzy comprehensive evaluation (模糊综合评价) of the current revision's results with the "
        "chosen weights: one entry per unit whose result the caller may see."
    )
    async def fuzzy_evaluation(
        self,
        info: Info,
        method: described(fuzzy_view.WeightMethodEnum, "How the indicator weights are set."),
        ahp: described(fuzzy_view.AhpJudgementsInput | None, "Method AHP: the indicators and their judgements.") = None,
    ) -> fuzzy_view.FuzzyEvaluation:
        return await fuzzy_view.fuzzy_evaluation(info, self._row, method, ahp)

    @strawberry.field(description="What changed between two revisions, for the results the caller may see.")
    async def diff(
        self,
        info: Info,
        from_revision: described(int, "The earlier revision."),
        to_revision: described(int, "The later revision."),
    ) -> list[RevisionChange]:
        rows = await repository.results_of_run(
            info.context.session, await info.context.scope(), self._uuid, after_unit=None, limit=100000
        )
        keys = [(r.id, v) for r, _ in rows for v in (from_revision, to_revision)]
        found = await repository.details(info.context.session, keys)
        before = {r.unit_id: found[(r.id, from_revision)] for r, _ in rows if (r.id, from_revision) in found}
        after = {r.unit_id: found[(r.id, to_revision)] for r, _ in rows if (r.id, to_revision) in found}
        return [
            RevisionChange(
                unit_id=c["unit"], indicator=c["indicator"], field=c["field"], before=c["before"], after=c["after"]
            )
            for c in diff_details(before, after)
        ]


def _label(row: RunRow) -> str:
    from services.scoring.periods import Period

    return Period(row.period_kind, row.period_from, row.period_to).label
