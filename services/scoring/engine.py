"""The scoring engine: a scheme and a period's measures in, every unit's full result out.

Pure and deterministic: plain data in, plain JSON-ready dicts out, every collection sorted, every
number rounded by ``numbers.rnd`` — the same inputs give byte-identical ``canonical_json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.scoring import references, rules
from services.scoring.numbers import rnd
from services.scoring.ranking import competition_ranks, overlapping_neighbours
from services.scoring.references import HistoryPeriod, Reference
from services.scoring.scheme import Item, Scheme
from services.scoring.statistics import RateParts, rate_parts, rounded_summary, trend, wilson_interval

UnitMeasures = Mapping[str, Mapping[str, float]]  # unit → measure → value over a period


@dataclass(frozen=True, slots=True)
class ExpertEntry:
    """One expert's score for one unit's expert-scored indicator, with its written justification."""

    unit: str
    indicator: str
    expert: str
    score: float
    justification: str


@dataclass(frozen=True, slots=True)
class EarlierPeriod:
    """Measures of an earlier period of the same granularity (for dynamic baselines)."""

    label: str
    months: tuple[int, ...]
    measures: UnitMeasures


@dataclass(frozen=True)
class EngineInput:
    scheme: Scheme
    units: Sequence[str]
    measures: UnitMeasures
    period_months: tuple[int, ...] = ()
    monthly: Mapping[str, UnitMeasures] = field(default_factory=dict)  # "2025-01" → measures (special)
    history: Sequence[EarlierPeriod] = ()
    expert_entries: Sequence[ExpertEntry] = ()
    value_overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # unit → indicator → value
    expert_overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # unit → indicator → score
    previous: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # unit → {total, rank, run_id}


@dataclass
class _Cell:
    """Working state of one unit × indicator before it is rendered."""

    value: float | None = None
    na_reason: str | None = None
    measures: dict[str, float] = field(default_factory=dict)
    numerator: float | None = None
    denominator: float | None = None
    interval: tuple[float, float] | None = None
    experts: list[dict] = field(default_factory=list)
    corrected: bool = False


def _sample_short(item: Item, measures: Mapping[str, float]) -> bool:
    return item.min_sample is not None and measures.get(item.min_sample.measure, 0.0) < item.min_sample.count


def _cell(
    item: Item, unit: str, data: EngineInput, experts: Sequence[ExpertEntry], parts: RateParts | None, codes: list[str]
) -> _Cell:
    measures = data.measures.get(unit, {})
    cell = _Cell(measures={m: float(measures.get(m, 0.0)) for m in codes})
    if item.rule.type == "expert":
        cell.experts = [
            {"expert": e.expert, "score": rnd(e.score), "justification": e.justification}
            for e in sorted(experts, key=lambda e: e.expert)
        ]
        override = data.expert_overrides.get(unit, {}).get(item.code)
        if override is not None:
            cell.value, cell.corrected = float(override), True
        else:
            cell.value = rules.aggregate_expert_scores([e.score for e in experts], data.scheme.expert_aggregation)
        if cell.value is None:
            cell.na_reason = "no_expert_score"
        return cell
    if unit not in data.measures:
        cell.na_reason = "no_data"  # ingest does not know the unit (or it is outside the organizer's scope)
        return cell
    if item.min_sample is not None:
        cell.measures.setdefault(item.min_sample.measure, float(measures.get(item.min_sample.measure, 0.0)))
    if parts is not None:
        cell.numerator = parts.numerator.evaluate(cell.measures)
        cell.denominator = parts.denominator.evaluate(cell.measures)
        if cell.numerator is not None and cell.denominator is not None:
            ci = wilson_interval(cell.numerator, cell.denominator)
            if ci is not None:
                cell.interval = (ci[0] * parts.scale, ci[1] * parts.scale)
    override = data.value_overrides.get(unit, {}).get(item.code)
    if override is not None:
        cell.value, cell.corrected, cell.interval = float(override), True, None
    elif _sample_short(item, measures):
        cell.na_reason = "sample_below_minimum"
    else:
        cell.value = item.formula.evaluate(cell.measures)
        if cell.value is None:
            cell.na_reason = "division_by_zero"
    return cell


def _history(item: Item, data: EngineInput) -> list[HistoryPeriod]:
    found = []
    for period in data.history:
        values = {}
        for unit in sorted(data.units):
            measures = period.measures.get(unit, {})
            value = None if _sample_short(item, measures) else item.formula.evaluate(measures)
            if value is not None:
                values[unit] = value
        found.append(HistoryPeriod(label=period.label, months=period.months, values=values))
    return found


def _reference_dict(ref: Reference) -> dict:
    return {"value": rnd(ref.value), "policy": ref.policy, "set_by": ref.set_by, "periods": list(ref.periods)}


def _score(item: Item, value: float, ref: Reference) -> float | None:
    return rules.score_value(value, ref.value, item)


def _score_interval(item: Item, cell: _Cell, ref: Reference, score: float) -> tuple[float, float]:
    """The score at the ends of the value's confidence interval (a point for non-rate indicators)."""
    if cell.interval is None or item.rule.type == "expert":
        return score, score
    ends = [_score(item, v, ref) for v in cell.interval]
    ends = [score if e is None else e for e in ends]
    return min(ends), max(ends)


def _series(item: Item, unit: str, data: EngineInput) -> list[tuple[str, float | None]]:
    series = []
    for label in sorted(data.monthly):
        measures = data.monthly[label].get(unit, {})
        value = None if _sample_short(item, measures) else item.formula.evaluate(measures)
        series.append((label, value))
    return series


def compute(data: EngineInput) -> dict[str, Any]:
    """Score every unit of the cohort on every item of the scheme (see the module docstring)."""
    scheme = data.scheme
    units = sorted(set(data.units))
    experts_by_key: dict[tuple[str, str], list[ExpertEntry]] = {}
    for entry in data.expert_entries:
        experts_by_key.setdefault((entry.unit, entry.indicator), []).append(entry)

    parts = {i.code: rate_parts(i.formula) for i in scheme.items}  # once per item, not per cell
    codes = {i.code: sorted(i.formula.measures) for i in scheme.items}
    cells = {
        (u, i.code): _cell(i, u, data, experts_by_key.get((u, i.code), []), parts[i.code], codes[i.code])
        for i in scheme.items
        for u in units
    }
    indicator_rows: dict[tuple[str, str], dict] = {}
    intervals: dict[str, dict[str, tuple[float, float]]] = {u: {} for u in units}
    cohort_indicators: dict[str, dict] = {}
    for item in scheme.items:
        applicable = {u: cells[(u, item.code)].value for u in units if cells[(u, item.code)].value is not None}
        ref = references.resolve_reference(
            item, applicable, current_months=data.period_months, history=_history(item, data)
        )
        item_scores: dict[str, float] = {}
        value_intervals: dict[str, tuple[float, float]] = {}
        shared = {"static": static_fields(item), "reference": _reference_dict(ref)}  # once per item
        for unit in units:
            cell = cells[(unit, item.code)]
            score = None if cell.value is None else _score(item, cell.value, ref)
            if cell.value is not None and score is None:
                cell.na_reason = "no_reference"
            if score is not None:
                score = rnd(score)
                item_scores[unit] = score
                intervals[unit][item.code] = _score_interval(item, cell, ref, score)
            if cell.interval is not None:
                value_intervals[unit] = cell.interval
            indicator_rows[(unit, item.code)] = _indicator_dict(item, cell, shared, score, data, unit)
        ranks = competition_ranks(item_scores)
        overlaps = overlapping_neighbours(ranks, value_intervals)
        for unit, rank in ranks.items():
            indicator_rows[(unit, item.code)]["rank"] = rank
            indicator_rows[(unit, item.code)]["rank_overlaps"] = sorted(overlaps.get(unit, []))
        cohort_indicators[item.code] = {
            "reference": _reference_dict(ref),
            "values": rounded_summary(applicable),
            "applicable_units": len(applicable),
        }
    results = {
        u: _unit_result(scheme, u, [indicator_rows[(u, i.code)] for i in scheme.items], intervals[u]) for u in units
    }
    _rank_units(results, data)
    totals = {u: r["total"] for u, r in results.items() if r["total"] is not None}
    return {
        "scheme": {"id": scheme.id, "version": scheme.version, "key": scheme.key, "kind": scheme.kind},
        "units": [results[u] for u in units],
        "cohort": {
            "units": len(units),
            "total": rounded_summary(totals),
            "indicators": cohort_indicators,
        },
    }


def static_fields(item: Item) -> dict:
    """The parts of an indicator row that come from the scheme alone (the same for every unit)."""
    return {
        "version": item.version,
        "name_zh": item.name_zh,
        "name_en": item.name_en,
        "dimension": item.dimension,
        "unit": item.unit,
        "direction": item.direction,
        "formula": item.formula.text,
        "rule": {"type": item.rule.type, "params": dict(item.rule.params)},
        "points": rnd(item.points),
    }


def _indicator_dict(item: Item, cell: _Cell, shared: dict, score: float | None, data: EngineInput, unit: str) -> dict:
    row = {
        "indicator": item.code,
        **shared["static"],
        "applicable": score is not None,
        "na_reason": None if score is not None else cell.na_reason,
        "value": rnd(cell.value),
        "corrected": cell.corrected,
        "measures": {m: rnd(v) for m, v in cell.measures.items()},
        "numerator": rnd(cell.numerator),
        "denominator": rnd(cell.denominator),
        "interval": None if cell.interval is None else [rnd(cell.interval[0]), rnd(cell.interval[1])],
        "reference": shared["reference"],
        "score": score,
        "experts": cell.experts,
        "rank": None,
        "rank_overlaps": [],
    }
    if data.scheme.kind == "special" and data.monthly:
        series = _series(item, unit, data)
        row["series"] = [[label, rnd(v)] for label, v in series]
        t = trend(series, item.direction)
        row["trend"] = {"slope": rnd(t["slope"]), "direction": t["direction"]}
    return row  # the plain-language explanation is rendered from this row when read (explain.py)


def _unit_result(scheme: Scheme, unit: str, rows: list[dict], intervals: Mapping[str, tuple[float, float]]) -> dict:
    applicable_points = sum(r["points"] for r in rows if r["applicable"])
    earned = sum(r["score"] for r in rows if r["applicable"])
    low = sum(intervals[r["indicator"]][0] for r in rows if r["applicable"])
    high = sum(intervals[r["indicator"]][1] for r in rows if r["applicable"])
    if scheme.na_policy == "rescale":
        factor = scheme.total_points / applicable_points if applicable_points else None
    else:
        factor = 1.0
    total = None if factor is None else rnd(earned * factor, 2)
    dimensions: dict[str, dict] = {}
    for r in rows:
        d = dimensions.setdefault(
            r["dimension"], {"dimension": r["dimension"], "score": 0.0, "points": 0.0, "max_points": 0.0}
        )
        d["max_points"] += r["points"]
        if r["applicable"]:
            d["score"] += r["score"]
            d["points"] += r["points"]
    return {
        "unit": unit,
        "total": total,
        "total_interval": None if factor is None else [rnd(low * factor, 2), rnd(high * factor, 2)],
        "earned_points": rnd(earned),
        "applicable_points": rnd(applicable_points),
        "scale_factor": rnd(factor, 6),
        "grade": _grade(scheme, total),
        "dimensions": [{k: rnd(v) if isinstance(v, float) else v for k, v in d.items()} for d in dimensions.values()],
        "indicators": rows,
        "rank": None,
        "rank_overlaps": [],
        "previous": None,
        "change": None,
        "rank_change": None,
    }


def _grade(scheme: Scheme, total: float | None) -> dict | None:
    if total is None:
        return None
    band = next((b for b in scheme.grade_bands if total >= b.min), scheme.grade_bands[-1])
    return {"code": band.code, "name_zh": band.name_zh}


def _rank_units(results: dict[str, dict], data: EngineInput) -> None:
    totals = {u: r["total"] for u, r in results.items() if r["total"] is not None}
    ranks = competition_ranks(totals)
    overlaps = overlapping_neighbours(ranks, {u: tuple(results[u]["total_interval"]) for u in ranks})
    for unit, result in results.items():
        result["rank"] = ranks.get(unit)
        result["rank_overlaps"] = sorted(overlaps.get(unit, []))
        previous = data.previous.get(unit)
        if previous is not None and previous.get("total") is not None and result["total"] is not None:
            result["previous"] = {k: previous.get(k) for k in ("run_id", "total", "rank")}
            result["change"] = rnd(result["total"] - float(previous["total"]), 2)
            if previous.get("rank") is not None and result["rank"] is not None:
                result["rank_change"] = int(previous["rank"]) - result["rank"]


def canonical_json(outcome: Mapping[str, Any]) -> str:
    """The byte-stable serialisation results are stored and compared in."""
    return json.dumps(outcome, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
