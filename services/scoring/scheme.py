"""The scheme document (contracts §5) as plain frozen dataclasses, with every problem reported at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hotline.domain import scheme_settings
from hotline.domain.formula import Formula, FormulaError, parse

RULE_TYPES = ("ratio_to_reference", "threshold", "linear_band", "target_band", "deduction", "expert")
REFERENCE_POLICIES = ("best_in_cohort", "percentile", "cohort_mean", "fixed", "target", "dynamic_baseline", "none")
# Policies that draw the reference from the cohort's values, and so may say who can set it (``min_sample``).
SAMPLED_POLICIES = ("best_in_cohort", "percentile")
DIRECTIONS = ("higher_better", "lower_better", "target_band")
# Minimum data period in months by scheme kind (spec 5.1: comprehensive ≥ 1, special ≥ 3).
MINIMUM_MONTHS = {"comprehensive": 1, "special": 3}


class SchemeError(ValueError):
    """A scheme document scoring cannot use; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True, slots=True)
class Rule:
    """How a value becomes points (``type`` plus its parameters, e.g. ``{"target": 85}``)."""

    type: str
    params: Mapping[str, float] = field(default_factory=dict)

    def param(self, name: str, default: float | None = None) -> float:
        value = self.params.get(name, default)
        if value is None:
            raise SchemeError([f"rule {self.type} needs parameter {name!r}"])
        return float(value)


@dataclass(frozen=True, slots=True)
class MinSample:
    """Fewer than ``count`` of ``measure`` in the period makes the indicator not applicable (an item's
    ``min_sample``), or keeps the unit from setting the reference (a reference's ``min_sample``)."""

    measure: str
    count: float


@dataclass(frozen=True, slots=True)
class ReferencePolicy:
    """Where the reference value comes from: best in cohort, a percentile of the cohort, the cohort's mean,
    fixed, target or dynamic baseline. ``min_sample`` (best in cohort, percentile): only units with at least
    that sample count toward the reference; the others are still scored against it."""

    policy: str
    value: float | None = None
    lookback_periods: int = 3
    match: str = "any"  # any | same_month | season
    peak_months: tuple[int, ...] = ()
    percentile: float | None = None  # percentile policy: p, above 0 and at most 100
    min_sample: MinSample | None = None
    label_zh: str | None = None  # how a fixed or target value is named (e.g. 全国优秀值)
    label_en: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One indicator of the scheme with its points, rule and reference policy."""

    code: str
    version: int
    name_zh: str
    name_en: str
    clause: str
    dimension: str
    unit: str
    direction: str
    formula: Formula | None  # None: expert-scored (rule expert, method reported_expert), no measures
    method: str
    points: float
    rule: Rule
    reference: ReferencePolicy
    min_sample: MinSample | None

    @property
    def measures(self) -> frozenset[str]:
        """The measures its formula names (none for an item without a formula)."""
        return self.formula.measures if self.formula is not None else frozenset()


@dataclass(frozen=True, slots=True)
class GradeBand:
    code: str
    name_zh: str
    min: float


@dataclass(frozen=True, slots=True)
class Scheme:
    """A published scheme version, self-contained (everything a run needs to reproduce itself)."""

    id: str
    version: int
    code: str
    name_zh: str
    name_en: str
    kind: str
    organizer: str
    cohort: Mapping[str, Any]
    granularity: str
    na_policy: str
    expert_aggregation: str
    rankings_public: bool
    appeal: Mapping[str, Any]
    grade_bands: tuple[GradeBand, ...]
    items: tuple[Item, ...]
    # Below this share of its points applicable, a unit's total is withheld (``hotline.domain.scheme_settings``).
    min_applicable_share: float = scheme_settings.DEFAULT_MIN_APPLICABLE_SHARE
    total_places: int = scheme_settings.DEFAULT_PRECISION["total"]  # totals and subtotals
    score_places: int = scheme_settings.DEFAULT_PRECISION["score"]  # item scores

    @property
    def key(self) -> str:
        """The federation key of the scheme version: ``"<scheme id>:<version>"``."""
        return f"{self.id}:{self.version}"

    @property
    def total_points(self) -> float:
        return sum(i.points for i in self.items)

    @property
    def minimum_months(self) -> int:
        return MINIMUM_MONTHS.get(self.kind, 1)

    def item(self, code: str) -> Item | None:
        return next((i for i in self.items if i.code == code), None)

    @property
    def expert_items(self) -> tuple[Item, ...]:
        """The items experts score (rule expert): N/A, awaiting expert scores, until an expert has scored."""
        return tuple(i for i in self.items if i.rule.type == "expert")


def _item(raw: Mapping[str, Any], index: int, problems: list[str]) -> Item | None:
    where = f"items[{index}]"
    ind = raw.get("indicator") or {}
    code = ind.get("code") or f"<item {index}>"
    rule_raw = dict(raw.get("rule") or {})
    rule_type = rule_raw.pop("type", None)
    formula = None
    if ind.get("formula") is not None:
        try:
            formula = parse(str(ind["formula"]))
        except FormulaError as exc:
            problems.append(f"{where} ({code}): formula: {exc}")
            return None
    elif rule_type != "expert":  # an expert-scored item's value is the experts' scores; any other needs a formula
        problems.append(f"{where} ({code}): has no formula, so only the rule expert can score it (not {rule_type})")
        return None
    if "points" in raw:
        points = float(raw["points"])
    elif "weight" in raw:
        points = float(raw["weight"]) * 100
    else:
        problems.append(f"{where} ({code}): needs points or weight")
        return None
    if rule_type not in RULE_TYPES:
        problems.append(f"{where} ({code}): rule type {rule_type!r} is not one of {', '.join(RULE_TYPES)}")
        return None
    ref_raw = dict(raw.get("reference") or {"policy": "best_in_cohort"})
    policy = ref_raw.get("policy")
    if policy not in REFERENCE_POLICIES:
        problems.append(f"{where} ({code}): reference policy {policy!r} is not one of {', '.join(REFERENCE_POLICIES)}")
        return None
    if policy in ("fixed", "target") and ref_raw.get("value") is None:
        problems.append(f"{where} ({code}): reference policy {policy} needs a value")
    if policy == "none" and rule_type == "ratio_to_reference":
        problems.append(f"{where} ({code}): rule ratio_to_reference needs a reference policy other than none")
    for key, _, message in scheme_settings.check_reference_labels(ref_raw):
        problems.append(f"{where} ({code}): reference.{key}: {message}")
    percentile, ref_sample = (
        _percentile(ref_raw, where, code, problems),
        _reference_sample(ref_raw, where, code, problems),
    )
    direction = ind.get("direction", "higher_better")
    if direction not in DIRECTIONS:
        problems.append(f"{where} ({code}): direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    ms = raw.get("min_sample")
    return Item(
        code=code,
        version=int(ind.get("version", 1)),
        name_zh=str(ind.get("name_zh", code)),
        name_en=str(ind.get("name_en", code)),
        clause=str(ind.get("clause", "")),
        dimension=str(ind.get("dimension", "other")),
        unit=str(ind.get("unit", "")),
        direction=direction,
        formula=formula,
        method=str(ind.get("method", "system")),
        points=points,
        rule=Rule(type=rule_type, params={k: float(v) for k, v in sorted(rule_raw.items())}),
        reference=ReferencePolicy(
            policy=policy,
            value=None if ref_raw.get("value") is None else float(ref_raw["value"]),
            lookback_periods=int(ref_raw.get("lookback_periods", 3)),
            match=baseline_match(ref_raw.get("match")),
            peak_months=tuple(sorted(int(m) for m in ref_raw.get("peak_months", ()))),
            label_zh=ref_raw.get("label_zh"),
            label_en=ref_raw.get("label_en"),
            percentile=percentile,
            min_sample=ref_sample,
        ),
        min_sample=MinSample(measure=ms["measure"], count=float(ms["count"])) if ms else None,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _percentile(ref_raw: Mapping[str, Any], where: str, code: str, problems: list[str]) -> float | None:
    if ref_raw.get("policy") != "percentile":
        return None
    p = ref_raw.get("percentile")
    if not _is_number(p) or not 0 < p <= 100:
        problems.append(f"{where} ({code}): reference policy percentile needs a percentile above 0 and at most 100")
        return None
    return float(p)


def baseline_match(raw: Any) -> str:
    """A dynamic baseline's ``match`` as the engine reads it: the document's list (contracts §5: ``period_type``,
    ``same_months``) — ``same_month`` when it asks for the same calendar months (which share their type too),
    ``season`` for the period type alone (peak or normal, by ``peak_months``), ``any`` when empty; the
    engine's own words are accepted as they are (documents stored before the list form)."""
    if isinstance(raw, list | tuple):
        return "same_month" if "same_months" in raw else "season" if "period_type" in raw else "any"
    return str(raw or "any")


def _reference_sample(ref_raw: Mapping[str, Any], where: str, code: str, problems: list[str]) -> MinSample | None:
    raw = ref_raw.get("min_sample")
    if raw is None:
        return None
    if ref_raw.get("policy") not in SAMPLED_POLICIES:
        problems.append(f"{where} ({code}): reference min_sample is for {' and '.join(SAMPLED_POLICIES)} only")
        return None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("measure"), str) or not _is_number(raw.get("count")):
        problems.append(f"{where} ({code}): reference min_sample is {{measure, count}}")
        return None
    return MinSample(measure=raw["measure"], count=float(raw["count"]))


def parse_scheme(document: Mapping[str, Any]) -> Scheme:
    """Read a scheme document; raises ``SchemeError`` listing every problem."""
    problems: list[str] = []
    items = [_item(raw, i, problems) for i, raw in enumerate(document.get("items") or [])]
    if not items:
        problems.append("the scheme has no items")
    codes = [i.code for i in items if i is not None]
    if len(codes) != len(set(codes)):
        problems.append("an indicator appears twice in the scheme")
    na_policy = document.get("na_policy", "rescale")
    if na_policy not in ("rescale", "zero"):
        problems.append(f"na_policy {na_policy!r} must be rescale or zero")
    aggregation = document.get("expert_aggregation", "mean")
    if aggregation not in ("mean", "trimmed_mean"):
        problems.append(f"expert_aggregation {aggregation!r} must be mean or trimmed_mean")
    bands = tuple(
        sorted(
            (GradeBand(code=b["code"], name_zh=b.get("name_zh", b["code"]), min=float(b["min"])) for b in
             document.get("grade_bands") or []),
            key=lambda b: -b.min,
        )
    )  # fmt: skip
    if not bands:
        problems.append("the scheme has no grade bands")
    for path, _, message in scheme_settings.check_result_settings(document):
        problems.append(f"{path}: {message}")
    if problems:
        raise SchemeError(problems)
    return Scheme(
        id=str(document["id"]),
        version=int(document["version"]),
        code=str(document.get("code", "")),
        name_zh=str(document.get("name_zh", "")),
        name_en=str(document.get("name_en", "")),
        kind=str(document.get("kind", "comprehensive")),
        organizer=str(document.get("organizer", "")),
        cohort=dict(document.get("cohort") or {}),
        granularity=str((document.get("period") or {}).get("granularity", "month")),
        na_policy=na_policy,
        expert_aggregation=aggregation,
        rankings_public=bool(document.get("rankings_public", False)),
        appeal=dict(document.get("appeal") or {}),
        grade_bands=bands,
        items=tuple(i for i in items if i is not None),
        min_applicable_share=scheme_settings.min_applicable_share(document),
        total_places=scheme_settings.precision(document)["total"],
        score_places=scheme_settings.precision(document)["score"],
    )
