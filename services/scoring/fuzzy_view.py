"""``EvaluationRun.fuzzyEvaluation``: the fuzzy comprehensive evaluation (``fuzzy``) of a run's current
revision, computed on demand from its stored results, as GraphQL types.

Who sees which rows is decided by the existing read paths: the results the caller may read
(``repository.results_of_run``) and the ranking it may read (``repository.public_ranking``) — the
organizer's side every unit, a unit its own row, and the whole cohort only where rankings are public.
The weights are cohort-level figures, like the cohort summary every unit of the cohort already reads.
"""

from __future__ import annotations

import strawberry
from sqlalchemy import select
from strawberry.federation.schema_directives import ListSize

from hotline.kit.graphql import RequestContext, described_enum
from services.scoring import repository
from services.scoring.fuzzy import Level, UnitFuzzy, WeightMethod, evaluate_cohort, explain_method, explain_unit
from services.scoring.models import EvaluationRun as RunRow
from services.scoring.models import UnitResult as ResultRow
from services.scoring.problems import Problem
from services.scoring.scheme import parse_scheme
from services.scoring.suggestions import DATA_METHODS, MethodWeights
from services.scoring.types import Grade, ScoringProblem
from services.scoring.weights import WeightError

Info = strawberry.Info[RequestContext, None]
OPERATOR = "M(·,⊕)"

WeightMethodEnum = described_enum(
    WeightMethod,
    name="WeightMethod",
    description="Where the indicator weights of a fuzzy comprehensive evaluation come from (权重方法).",
    values={
        "POINTS": "The scheme's own points (方案分值), normalised: the fuzzy counterpart of the total.",
        "ENTROPY": "Entropy weight method (熵权法) over the cohort's measured indicator values.",
        "CRITIC": "CRITIC (contrast × conflict) over the cohort's measured indicator values.",
        "PCA": "Principal-component weights (主成分分析法, seed 001) over the cohort's measured indicator values.",
        "AHP": "Analytic hierarchy process (层次分析法) from the pairwise matrix `ahp`; refused when CR > 0.1.",
    },
)


@strawberry.type(description="A fuzzy evaluation in words (模糊综合评价说明), in Chinese and English.")
class FuzzyExplanation:
    zh: str = strawberry.field(description="中文说明.")
    en: str = strawberry.field(description="The same in English.")


@strawberry.input(description="Pairwise judgements for AHP weights (层次分析法判断矩阵).")
class AhpJudgementsInput:
    indicators: list[str] = strawberry.field(
        description="Indicator codes of the run's scheme, in the order of the matrix rows; the others take no part."
    )
    judgements: list[list[float]] = strawberry.field(
        description="How much more important row i is than column j (1–9 scale, reciprocal: a[j][i] = 1 / a[i][j])."
    )


@strawberry.type(description="A grade of the evaluation set (评语集) with its band and membership function.")
class FuzzyGradeLevel:
    code: str = strawberry.field(description="Grade code from the scheme, e.g. `excellent`.")
    name_zh: str = strawberry.field(description="Chinese name, e.g. 优秀.")
    lower: float = strawberry.field(description="Lower end of the band on the total's scale (0 for the lowest).")
    upper: float = strawberry.field(description="Upper end of the band (the scheme's total points for the highest).")
    centre: float = strawberry.field(description="Centre of the band: the grade's value in the fuzzy score.")
    corners: list[float] = strawberry.field(
        description="The trapezoid [a, b, c, d]: membership 0 below a, rising linearly to 1 at b, 1 up to c, "
        "falling linearly to 0 at d."
    )

    @classmethod
    def of(cls, level: Level) -> FuzzyGradeLevel:
        return cls(
            code=level.code, name_zh=level.name_zh, lower=level.lower, upper=level.upper, centre=level.centre,
            corners=list(level.corners),
        )  # fmt: skip


@strawberry.type(description="An indicator's weight in a fuzzy evaluation.")
class FuzzyIndicatorWeight:
    indicator: str = strawberry.field(description="Indicator code.")
    name_zh: str = strawberry.field(description="Chinese name.")
    name_en: str = strawberry.field(description="English name.")
    weight: float = strawberry.field(description="Its weight under the method (the weights add up to 1).")


@strawberry.type(description="An indicator that takes no part in the evaluation, and why.")
class FuzzyExcludedIndicator:
    indicator: str = strawberry.field(description="Indicator code.")
    reason: str = strawberry.field(description="Why the method gives it no weight.")


@strawberry.type(description="What principal component analysis kept (PCA weights only).")
class PrincipalComponents:
    eigenvalues: list[float] = strawberry.field(description="Eigenvalues of the correlation matrix, largest first.")
    components: int = strawberry.field(description="Leading components kept (the fewest explaining ≥ 85 %).")
    cumulative_share: float = strawberry.field(description="Share of the variance the kept components explain.")


@strawberry.type(description="One row of a unit's membership matrix R: an indicator's membership in each grade.")
class FuzzyMembershipRow:
    indicator: str = strawberry.field(description="Indicator code.")
    name_zh: str = strawberry.field(description="Chinese name.")
    score: float = strawberry.field(description="The indicator's stored score.")
    points: float = strawberry.field(description="Its points.")
    level: float = strawberry.field(description="x = score ÷ points × the scheme's total points (the total's scale).")
    weight: float = strawberry.field(description="Its weight, renormalised over the unit's applicable indicators.")
    memberships: list[float] = strawberry.field(description="Membership in each grade, in the order of `grades`.")


@strawberry.type(description="A unit's fuzzy evaluation (单位模糊综合评价), or the reason it has none.")
class FuzzyUnitEvaluation:
    unit_id: strawberry.ID = strawberry.field(description="The evaluated unit.")
    total: float | None = strawberry.field(description="Its crisp total in the same revision, for comparison.")
    membership: list[FuzzyMembershipRow] = strawberry.field(
        description="The membership matrix R, one row per applicable indicator taking part.",
        directives=[ListSize(assumed_size=40)],
    )
    left_out: list[str] = strawberry.field(description="Indicators taking part that do not apply to it (N/A).")
    composite: list[float] | None = strawberry.field(
        description="B = W·R with M(·,⊕): its membership in each grade, in the order of `grades` (adds up to 1)."
    )
    grade: Grade | None = strawberry.field(description="The fuzzy grade: maximum membership, ties to the higher.")
    tied: bool = strawberry.field(description="True when two grades shared the maximum membership.")
    score: float | None = strawberry.field(description="Fuzzy score Σ bₖ·cₖ (band centres cₖ), on the total's scale.")
    reason: str | None = strawberry.field(
        description="Why there is no fuzzy result: `total_withheld`, `no_applicable_indicator` or `zero_weight`."
    )
    explanation: FuzzyExplanation = strawberry.field(
        description="Weights, membership matrix, B, grade and score, in words."
    )

    @classmethod
    def of(cls, result: UnitFuzzy, method: str, levels: tuple[Level, ...]) -> FuzzyUnitEvaluation:
        grade = Grade(code=result.grade.code, name_zh=result.grade.name_zh) if result.grade else None
        rows = [
            FuzzyMembershipRow(
                indicator=r.factor.indicator, name_zh=r.factor.name_zh, score=float(r.factor.score or 0.0),
                points=r.factor.points, level=r.level, weight=r.weight, memberships=list(r.degrees),
            )
            for r in result.rows
        ]  # fmt: skip
        return cls(
            unit_id=strawberry.ID(result.unit), total=result.total, membership=rows,
            left_out=[f.indicator for f in result.left_out],
            composite=list(result.composite) if result.composite is not None else None, grade=grade,
            tied=result.tied, score=result.score, reason=result.reason,
            explanation=FuzzyExplanation(**explain_unit(result, method, levels)),
        )  # fmt: skip


@strawberry.type(
    description="Fuzzy comprehensive evaluation (模糊综合评价, seed 001) of a run's current revision: grades, "
    "weights, and each visible unit's membership matrix, composite vector, fuzzy grade and score."
)
class FuzzyEvaluation:
    method: WeightMethod = strawberry.field(description="The weight method.")
    revision: int = strawberry.field(description="The run revision whose stored results were evaluated.")
    operator: str = strawberry.field(description="The composition operator: `M(·,⊕)`, the weighted average.")
    full_scale: float = strawberry.field(description="The total's scale: the scheme's total points.")
    grades: list[FuzzyGradeLevel] = strawberry.field(description="The evaluation set, best grade first.")
    weights: list[FuzzyIndicatorWeight] = strawberry.field(
        description="The method's weight per indicator taking part, in scheme order.",
        directives=[ListSize(assumed_size=40)],
    )
    excluded: list[FuzzyExcludedIndicator] = strawberry.field(description="Indicators the method leaves out.")
    consistency_ratio: float | None = strawberry.field(description="AHP: the judgement matrix's consistency ratio.")
    principal_components: PrincipalComponents | None = strawberry.field(description="PCA: what was kept.")
    units_used: int | None = strawberry.field(
        description="Data methods: the units (with every measured indicator applicable) the weights came from."
    )
    units: list[FuzzyUnitEvaluation] = strawberry.field(
        description="One entry per unit whose result the caller may see (the organizer's side: all), by unit id.",
        directives=[ListSize(assumed_size=100)],
    )
    explanation: FuzzyExplanation | None = strawberry.field(description="The method, the weights and the operator.")
    problems: list[ScoringProblem] = strawberry.field(description="Why no evaluation was made (empty on success).")


# Where a refusal of the weights points: the method, the judgements, or (too little data) the whole request.
_PATHS = {"unknown_method": "method", "invalid_matrix": "ahp", "size_mismatch": "ahp", "inconsistent": "ahp",
          "unknown_indicator": "ahp.indicators"}  # fmt: skip


def _refused(run: RunRow, method: WeightMethod, problem: Problem) -> FuzzyEvaluation:
    return FuzzyEvaluation(
        method=method, revision=run.current_revision, operator=OPERATOR, full_scale=0.0, grades=[], weights=[],
        excluded=[], consistency_ratio=None, principal_components=None, units_used=None, units=[], explanation=None,
        problems=[ScoringProblem.of(problem)],
    )  # fmt: skip


async def _visible_units(info: Info, run: RunRow) -> set[str]:
    """Units of the run whose results the caller may read, or whose ranking entry it may read."""
    session, scope = info.context.session, await info.context.scope()
    readable = await repository.results_of_run(session, scope, run.id, after_unit=None, limit=1_000_000)
    ranked = await repository.public_ranking(session, scope, run)
    return {r.unit_id for r, _ in readable} | {r.unit_id for r in ranked}


async def fuzzy_evaluation(
    info: Info, run: RunRow, method: WeightMethod, ahp: AhpJudgementsInput | None
) -> FuzzyEvaluation:
    """The view for one run: the method's weights, then every visible unit evaluated (``fuzzy``)."""
    if run.current_revision == 0:
        return _refused(run, method, Problem("runId", "not_finished", "the run has no results yet"))
    visible = await _visible_units(info, run)
    session = info.context.session
    rows = (await session.execute(select(ResultRow.id, ResultRow.unit_id).where(ResultRow.run_id == run.id))).all()
    if method.value not in DATA_METHODS:  # only the data methods read the peers' values
        rows = [r for r in rows if r.unit_id in visible]
    found = await repository.details(session, [(r.id, run.current_revision) for r in rows])
    scheme = parse_scheme(run.scheme_document)
    judged = (ahp.indicators, ahp.judgements) if ahp is not None else None
    try:
        cohort = evaluate_cohort(scheme, list(found.values()), method.value, judged, shown=visible)
    except WeightError as exc:
        return _refused(run, method, Problem(_PATHS.get(exc.code, ""), exc.code, str(exc)))
    weights, levels = cohort.weights, cohort.levels
    items = {i.code: i for i in scheme.items}
    named = [(c, items[c].name_zh, items[c].name_en, w) for c, w in weights.by_indicator().items()]
    return FuzzyEvaluation(
        method=method, revision=run.current_revision, operator=OPERATOR, full_scale=cohort.full_scale,
        grades=[FuzzyGradeLevel.of(level) for level in levels],
        weights=[FuzzyIndicatorWeight(indicator=c, name_zh=zh, name_en=en, weight=w) for c, zh, en, w in named],
        excluded=[FuzzyExcludedIndicator(indicator=c, reason=why) for c, why in weights.excluded],
        consistency_ratio=weights.consistency_ratio, principal_components=_components(weights),
        units_used=weights.units_used, units=[FuzzyUnitEvaluation.of(u, method.value, levels) for u in cohort.units],
        explanation=FuzzyExplanation(**explain_method(method.value, levels, cohort.full_scale, named)), problems=[],
    )  # fmt: skip


def _components(weights: MethodWeights) -> PrincipalComponents | None:
    if weights.eigenvalues is None or weights.components is None or weights.cumulative_share is None:
        return None
    return PrincipalComponents(
        eigenvalues=weights.eigenvalues, components=weights.components, cumulative_share=weights.cumulative_share
    )
