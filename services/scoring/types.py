"""GraphQL output types of the scoring subgraph (results are rendered from stored JSON documents)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.scalars import JSON

from services.scoring.explain import explain_indicator
from services.scoring.problems import CODES, Problem


def described(kind: Any, description: str) -> Any:
    """An argument type with its description (every argument of the schema is documented)."""
    return Annotated[kind, strawberry.argument(description=description)]


RunIdArg = described(strawberry.ID, "Id of the evaluation run.")
PageSizeArg = described(int, "Page size, 1–500.")
CursorArg = described(str | None, "Cursor from a previous page to continue after; omit to start.")


@strawberry.type(
    name="ScoreExplanation",
    description="Why a score is what it is, in Chinese and English, with the calculation a unit can redo by hand.",
)
class Explanation:
    zh: str = strawberry.field(description="中文说明:指标值及单位、参照值及来源、实际采用的计算公式与代入的数值.")
    en: str = strawberry.field(
        description="English explanation: the value with its unit, the reference and where it came from, the formula "
        "the rule applied and the numbers put into it."
    )
    calculation: JSON = strawberry.field(
        description="The calculation as data, every number exactly as the texts show it: `rule`, `direction`, "
        "`value`, `points`, `score`, the parameters applied (`reference`, `target`, `floor`, `low`, `high`, "
        "`tolerance`, `distance`, `occurrences`, `per_occurrence`, `free_occurrences`, `experts`, `aggregation`), "
        "`formula_zh`/`formula_en`, `expression`, `result` and `bounded` (`points` or `zero` when the result was "
        "capped); for a not-applicable row `applicable: false`, `reason`, and `uncovered` (no_data) or `measure`, "
        "`found` and `needed` (minimum sample)."
    )


@strawberry.type(name="UsedMeasure", description="A measure's value over the period, as used by a formula.")
class MeasureValue:
    code: str = strawberry.field(description="Measure code from the catalog, e.g. `calls.answered`.")
    value: float = strawberry.field(description="Its value over the evaluation period (sum of days, or latest).")


@strawberry.type(
    name="ReferenceSample",
    description="The sample a unit needed in the period to count toward the reference (参照值最小样本).",
)
class ReferenceSample:
    measure: str = strawberry.field(description="Measure code, e.g. `orders.closed`.")
    count: float = strawberry.field(description="The least value of the measure over the period, e.g. 100.")


@strawberry.type(
    name="AppliedReference", description="The reference value an indicator was scored against, and where it came from."
)
class ReferenceValue:
    value: float | None = strawberry.field(
        description="The reference; null when none could be set (e.g. no unit had the reference's minimum sample)."
    )
    policy: str = strawberry.field(
        description="`best_in_cohort` (评价范围内最优值, e.g. 全省最优), `percentile` (the cohort's p-th percentile), "
        "`cohort_mean`, `fixed` (a value the organizer set, named by `labelZh`), `target`, `dynamic_baseline`, or "
        "`none`."
    )
    set_by: str | None = strawberry.field(description="For best in cohort: the unit that set it (ties: first id).")
    periods: list[str] = strawberry.field(description="For a dynamic baseline: the earlier periods it was drawn from.")
    label_zh: str | None = strawberry.field(
        default=None,
        description="How the scheme names a fixed or target value (e.g. 全国优秀值); null when it gives none.",
    )
    label_en: str | None = strawberry.field(default=None, description="The same name in English.")
    percentile: float | None = strawberry.field(
        default=None,
        description="For a percentile: p — the value p % of the units do no better than (linear interpolation).",
    )
    min_sample: ReferenceSample | None = strawberry.field(
        default=None,
        description="Only units with at least this sample could set the reference; the others are scored against it.",
    )
    qualifying_units: int | None = strawberry.field(
        default=None,
        description="How many units' values the reference was drawn from (a percentile, or under a minimum sample).",
    )

    @classmethod
    def of(cls, stored: dict[str, Any], label: dict | None = None) -> ReferenceValue:
        """From a stored reference (and the scheme's label of a fixed or target value, when it gives one)."""
        sample = stored.get("min_sample")
        labels = {"label_zh": label.get("zh"), "label_en": label.get("en")} if label else {}
        return cls(**{**stored, "min_sample": ReferenceSample(**sample) if sample else None, **labels})


@strawberry.type(name="AppliedRule", description="The scoring rule of an indicator and its parameters.")
class ScoringRule:
    type: str = strawberry.field(
        description="`ratio_to_reference`, `threshold`, `linear_band`, `target_band`, `deduction` or `expert`."
    )
    params: JSON = strawberry.field(description='Its parameters, e.g. `{"floor": 80, "target": 95}`.')


@strawberry.type(description="One expert's score (专家评分) with the written justification.")
class ExpertScoreEntry:
    expert: str = strawberry.field(description="The expert (token subject).")
    score: float = strawberry.field(description="The score given.")
    justification: str = strawberry.field(description="Why (required).")


@strawberry.type(name="IndicatorSeriesPoint", description="One month of an indicator's series (special evaluations).")
class SeriesPoint:
    month: str = strawberry.field(description="`YYYY-MM`.")
    value: float | None = strawberry.field(description="The indicator's value that month; null if not applicable.")


@strawberry.type(name="IndicatorTrend", description="The trend of a month-by-month series.")
class Trend:
    slope: float | None = strawberry.field(description="Least-squares change per month, in the indicator's unit.")
    direction: str = strawberry.field(description="`improving`, `worsening`, `stable` or `insufficient_data`.")


@strawberry.type(
    name="ResultMeasureSource",
    description="Ingest batches and record counts behind a measure (from the ingest service).",
)
class MeasureSource:
    measure: str = strawberry.field(description="Measure code.")
    batch_id: str = strawberry.field(description="Ingest batch id.")
    source: str = strawberry.field(description="Source system.")
    records: int = strawberry.field(description="Records of that batch counted in the measure.")


@strawberry.federation.type(
    name="IndicatorVersion",
    keys=[Key(fields="code version", resolvable=False)],
    description="One immutable version of an indicator (指标) definition; runs pin versions. An entity keyed by "
    "`code version`: scoring's `IndicatorScore.definition` resolves here. The catalog is readable by every "
    "authenticated caller.",
)
class CatalogIndicator:
    """A reference to the indicators service's catalog entry; the gateway fetches its fields there."""

    code: strawberry.ID = strawberry.field(description="Indicator code, e.g. `answer_rate`.")
    version: int = strawberry.field(description="Version number, from 1; a changed definition is a new version.")


@strawberry.type(description="A unit's score on one indicator (指标得分) with everything that explains it.")
class IndicatorScore:
    indicator: str = strawberry.field(description="Indicator code.")
    name_zh: str = strawberry.field(description="Chinese name.")
    name_en: str = strawberry.field(description="English name.")
    dimension: str = strawberry.field(description="Dimension code, e.g. `service_response`.")
    unit: str = strawberry.field(description="Unit of the value (percent, seconds, count …).")
    direction: str = strawberry.field(description="`higher_better`, `lower_better` or `target_band`.")
    formula: str = strawberry.field(
        description="The formula over measures (canonical text); empty for an expert-scored indicator without one."
    )
    applicable: bool = strawberry.field(description="False when not applicable (N/A).")
    na_reason: str | None = strawberry.field(
        description="Why N/A: `no_data` (the unit is unknown to ingest, or a measure the item names was not covered "
        "by any source: absent, not zero — see `uncoveredMeasures`), `division_by_zero`, `sample_below_minimum`, "
        "`no_reference`, or `no_expert_score` — awaiting expert scores (待专家评分): an expert-scored item no expert "
        "has scored yet for this unit (listed in `EvaluationRun.awaitingExpertScores`; `enterExpertScores` completes "
        "it in a new revision)."
    )
    value: float | None = strawberry.field(description="The indicator's value.")
    corrected: bool = strawberry.field(description="True when an upheld appeal corrected the value or expert score.")
    measures: list[MeasureValue] = strawberry.field(
        description="The measures the formula used and their sums; an absent (uncovered) measure is left out."
    )
    uncovered_measures: list[str] = strawberry.field(
        description="Measures of this item that no source covered for the unit over the period (why it is `no_data`)."
    )
    numerator: float | None = strawberry.field(description="For a ratio: the numerator's value.")
    denominator: float | None = strawberry.field(description="For a ratio: the denominator's value (sample size).")
    interval: list[float] | None = strawberry.field(
        description="For a rate: the 95 % Wilson confidence interval [low, high], in the indicator's unit."
    )
    reference: ReferenceValue = strawberry.field(description="The reference value and its origin.")
    rule: ScoringRule = strawberry.field(description="The scoring rule and its parameters.")
    points: float = strawberry.field(description="The indicator's points (分值).")
    score: float | None = strawberry.field(description="The score (得分), 0 to points; null when N/A.")
    rank: int | None = strawberry.field(description="Rank of this score in the cohort (ties share a rank).")
    rank_overlaps: list[str] = strawberry.field(
        description="Neighbours in rank whose confidence intervals overlap this one: the order may be noise."
    )
    experts: list[ExpertScoreEntry] = strawberry.field(description="Expert scores behind an expert-scored indicator.")
    series: list[SeriesPoint] | None = strawberry.field(
        description="Special evaluations: the month-by-month values (null for an expert-scored item without a formula)."
    )
    trend: Trend | None = strawberry.field(description="Special evaluations: the trend of the series.")
    explanation: Explanation = strawberry.field(description="Plain-language explanation of the score.")
    unit_id: strawberry.Private[str]
    period: strawberry.Private[tuple[str, str, str]]  # from, to, organizer
    version: strawberry.Private[int | None] = None  # the indicator version the scheme pinned

    @strawberry.field(
        description="The catalog's definition of the indicator version scored (name, unit, direction, formula, "
        "dimension …), resolved by the indicators service in one request for the whole answer; null when the "
        "catalog has no such version."
    )
    def definition(self) -> CatalogIndicator | None:
        if self.version is None:
            return None
        return CatalogIndicator(code=strawberry.ID(self.indicator), version=self.version)

    @classmethod
    def from_detail(cls, row: dict[str, Any], unit_id: str, period: tuple[str, str, str]) -> IndicatorScore:
        return cls(
            indicator=row["indicator"], name_zh=row["name_zh"], name_en=row["name_en"], dimension=row["dimension"],
            unit=row["unit"], direction=row["direction"], formula=row["formula"], applicable=row["applicable"],
            na_reason=row["na_reason"], value=row["value"], corrected=row["corrected"],
            measures=[MeasureValue(code=k, value=v) for k, v in sorted(row["measures"].items())],
            uncovered_measures=list(row.get("uncovered") or []),
            numerator=row["numerator"], denominator=row["denominator"], interval=row["interval"],
            reference=ReferenceValue.of(row["reference"], row.get("reference_label")),
            rule=ScoringRule(type=row["rule"]["type"], params=row["rule"]["params"]),
            points=row["points"], score=row["score"], rank=row["rank"], rank_overlaps=row["rank_overlaps"],
            experts=[ExpertScoreEntry(**e) for e in row["experts"]],
            series=[SeriesPoint(month=m, value=v) for m, v in row["series"]] if "series" in row else None,
            trend=Trend(**row["trend"]) if "trend" in row else None,
            explanation=Explanation(**explain_indicator(row)),
            unit_id=unit_id, period=period, version=row.get("version"),
        )  # fmt: skip


@strawberry.type(
    description="Why a unit's total, grade and rank are withheld (不计总分): too little of the scheme applies."
)
class TotalWithheld:
    reason: str = strawberry.field(
        description="`nothing_applicable` (no indicator applies), `no_applicable_data` (no data-driven indicator "
        "applies; expert scores alone make no total) or `below_min_applicable_share` (the applicable indicators' "
        "points are less than the scheme's `min_applicable_share` of all points)."
    )
    applicable_share: float = strawberry.field(description="Share of the scheme's points applicable to the unit, 0–1.")
    min_applicable_share: float = strawberry.field(description="The scheme's minimum share for a total, 0–1.")
    explanation: Explanation = strawberry.field(description="The same in plain Chinese and English.")


@strawberry.type(
    description="An expert-scored item (rule `expert`) of a run and the units still awaiting expert scores on it "
    "(待专家评分): in the run's current revision it is not applicable for them (N/A `no_expert_score`)."
)
class AwaitingExpertScores:
    indicator: str = strawberry.field(description="Indicator code of the expert-scored item.")
    name_zh: str = strawberry.field(description="Chinese name.")
    name_en: str = strawberry.field(description="English name.")
    points: float = strawberry.field(description="The item's points: an expert's score is from 0 to these.")
    unit_ids: list[strawberry.ID] = strawberry.field(
        description="Units of the cohort (in the caller's subtree) with no expert score on it in the current revision."
    )


@strawberry.type(description="A dimension subtotal (维度小计).")
class DimensionSubtotal:
    dimension: str = strawberry.field(description="Dimension code.")
    score: float = strawberry.field(description="Points earned in the dimension.")
    points: float = strawberry.field(description="Points of its applicable indicators.")
    max_points: float = strawberry.field(description="Points of all its indicators.")


@strawberry.type(name="ResultGrade", description="A grade band (等级), e.g. 优秀 / 合格 / 待改进.")
class Grade:
    code: str = strawberry.field(description="Band code, e.g. `excellent`.")
    name_zh: str = strawberry.field(description="Chinese name.")


@strawberry.type(name="RunPeriod", description="The evaluation period.")
class EvaluationPeriod:
    kind: str = strawberry.field(description="`month`, `quarter`, `year` or `custom`.")
    label: str = strawberry.field(description="E.g. `2025-03`, `2025-Q1`, `2025`.")
    start_date: dt.date = strawberry.field(description="First day.")
    end_date: dt.date = strawberry.field(description="Last day.")


@strawberry.type(description="One revision of a run (修订): why it was made and the digest of its outcome.")
class RunRevisionInfo:
    revision: int = strawberry.field(description="1 for the first computation, then 2, 3 …")
    reason: str = strawberry.field(description="Why this revision was computed.")
    appeal_id: str | None = strawberry.field(description="The appeal whose decision it applies, if any.")
    created_by: str = strawberry.field(description="Who asked for it.")
    created_at: dt.datetime = strawberry.field(description="When it was computed.")
    outcome_sha256: str = strawberry.field(description="SHA-256 of the canonical outcome: equal inputs, equal digest.")


@strawberry.type(description="One difference between two revisions.")
class RevisionChange:
    unit_id: str = strawberry.field(description="The unit whose result changed.")
    indicator: str | None = strawberry.field(description="The indicator, or null for total, rank and grade.")
    field: str = strawberry.field(description="`total`, `rank`, `grade`, `value` or `score`.")
    before: JSON | None = strawberry.field(description="Value in the earlier revision.")
    after: JSON | None = strawberry.field(description="Value in the later revision.")


@strawberry.type(name="CohortStatistics", description="Summary statistics of a set of values.")
class Statistics:
    count: int = strawberry.field(description="Number of values.")
    mean: float | None = strawberry.field(description="Mean.")
    median: float | None = strawberry.field(description="Median.")
    min: float | None = strawberry.field(description="Minimum.")
    max: float | None = strawberry.field(description="Maximum.")
    stdev: float | None = strawberry.field(description="Population standard deviation.")


@strawberry.type(description="Cohort statistics of one indicator in a run.")
class IndicatorSummary:
    indicator: str = strawberry.field(description="Indicator code.")
    reference: ReferenceValue = strawberry.field(description="The cohort's reference value.")
    values: Statistics = strawberry.field(description="Statistics of the applicable units' values.")
    applicable_units: int = strawberry.field(description="Units for which it was applicable.")


@strawberry.type(description="The cohort's summary statistics in a run (what every unit of the cohort may see).")
class CohortSummary:
    units: int = strawberry.field(description="Units in the cohort.")
    total: Statistics = strawberry.field(description="Statistics of the totals given (withheld totals take no part).")
    withheld_units: int | None = strawberry.field(
        description="Units whose total is withheld (too little of the scheme applicable to them); null for revisions "
        "computed before totals could be withheld."
    )
    indicators: list[IndicatorSummary] = strawberry.field(description="Per-indicator statistics.")


def cohort_summary_from(stored: dict) -> CohortSummary:
    cohort = stored["cohort"]
    return CohortSummary(
        units=cohort["units"],
        total=Statistics(**cohort["total"]),
        withheld_units=cohort.get("withheld_units"),
        indicators=[
            IndicatorSummary(
                indicator=code, reference=ReferenceValue.of(s["reference"]), values=Statistics(**s["values"]),
                applicable_units=s["applicable_units"],
            )
            for code, s in sorted(cohort["indicators"].items())
        ],
    )  # fmt: skip


@strawberry.type(description="A roll-up of results under a parent unit (汇总).")
class ResultRollup:
    under: str = strawberry.field(description="The parent unit.")
    run_id: strawberry.ID = strawberry.field(description="The run.")
    units: int = strawberry.field(description="Results rolled up (those with a total; withheld ones are not).")
    withheld: int = strawberry.field(description="Results under the unit whose total is withheld, left out.")
    total: Statistics = strawberry.field(description="Statistics of their totals.")
    grades: JSON = strawberry.field(description="Count of results per grade code.")
    dimensions: JSON = strawberry.field(description="Mean score per dimension.")


@strawberry.type(
    description="A problem that refused a scoring command: where (the input field), a stable code, and what is "
    "wrong — the shape of indicators' `SchemeProblem`."
)
class ScoringProblem:
    path: str = strawberry.field(
        description="The input field to blame, e.g. `input.period`, `input.schemeId`, `runId` (empty: the whole request)."
    )
    code: str = strawberry.field(
        description="Stable problem code: "
        + "; ".join(f"`{code}` — {meaning}" for code, meaning in CODES.items())
        + "."
    )
    message: str = strawberry.field(description="What is wrong and what is expected.")

    @classmethod
    def of(cls, problem: Problem) -> ScoringProblem:
        return cls(path=problem.path, code=problem.code, message=problem.message)
