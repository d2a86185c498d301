"""The scoring engine: a scheme and a period's measures in, every unit's full result out.

Pure and deterministic: plain data in, plain JSON-ready dicts out, every collection sorted, every
number rounded by ``numbers.rnd`` — the same inputs give byte-identical ``canonical_json``.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from services.scoring import references, rules, vector
from services.scoring.numbers import PLACES, rnd
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
    rounded_measures: dict[str, float | None] | None = None  # set by the array path (already rounded)
    rounded: dict[str, Any] | None = None  # value/numerator/denominator/interval rounded by the array path


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


def _series(item: Item, unit: str, data: EngineInput) -> list[tuple[str, float | None]]:
    series = []
    for label in sorted(data.monthly):
        measures = data.monthly[label].get(unit, {})
        value = None if _sample_short(item, measures) else item.formula.evaluate(measures)
        series.append((label, value))
    return series


def compute(data: EngineInput) -> dict[str, Any]:
    """Score every unit of the cohort on every item of the scheme (see the module docstring)."""
    with no_cyclic_gc():  # ~10⁶ acyclic containers: the cycle collector would only cost time
        return _compute(data)


_gc_lock = threading.Lock()
_gc_holders = 0


@contextmanager
def no_cyclic_gc():
    """Pause the cycle collector while a province's ~10⁶ acyclic dicts and lists are built (it
    would otherwise rescan them again and again); nesting and threads share one pause."""
    global _gc_holders
    with _gc_lock:
        if _gc_holders == 0:
            was_enabled = gc.isenabled()
            gc.disable()
            no_cyclic_gc.was_enabled = was_enabled  # type: ignore[attr-defined]
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and no_cyclic_gc.was_enabled:  # type: ignore[attr-defined]
                gc.enable()


class _Columns:
    """The cohort's measures as arrays (one per measure, units in order), built on first use."""

    def __init__(self, units: Sequence[str], measures: UnitMeasures) -> None:
        self._units, self._measures = units, measures
        self.n = len(units)
        self.present = [u in measures for u in units]
        self._arrays: dict[str, np.ndarray] = {}
        self._lists: dict[str, list[float]] = {}
        self._rounded: dict[str, list[float | None]] = {}

    def array(self, code: str) -> np.ndarray:
        if code not in self._arrays:
            self._arrays[code] = np.array(self.values(code), dtype=np.float64)
        return self._arrays[code]

    def values(self, code: str) -> list[float]:
        if code not in self._lists:
            empty: Mapping[str, float] = {}
            self._lists[code] = [float(self._measures.get(u, empty).get(code, 0.0)) for u in self._units]
        return self._lists[code]

    def rounded(self, code: str) -> list[float | None]:
        if code not in self._rounded:
            self._rounded[code] = [rnd(v) for v in self.values(code)]
        return self._rounded[code]

    def arrays(self, codes) -> dict[str, np.ndarray]:
        return {c: self.array(c) for c in codes}


def _optional(values: np.ndarray, ok: np.ndarray) -> list[float | None]:
    return [v if k else None for v, k in zip(values.tolist(), ok.tolist(), strict=True)]


def _rounded(values: np.ndarray, ok: np.ndarray) -> list[float | None]:
    """``rnd`` of each applicable value: a whole number (most measure sums) is its own rounding (``+ 0.0``
    only turns -0.0 into 0.0), the others go through Python's ``round`` as in ``rnd``."""
    with np.errstate(all="ignore"):
        whole = (np.floor(values) == values).tolist()
        plain = (values + 0.0).tolist()
    out: list[float | None] = []
    for v, k, w in zip(plain, ok.tolist(), whole, strict=True):
        if not k:
            out.append(None)
        elif w:
            out.append(v)
        else:
            r = round(v, PLACES)
            out.append(0.0 if r == 0 else r)
    return out


def _item_cells(
    item: Item, units: list[str], data: EngineInput, columns: _Columns, experts_by_key, parts: RateParts | None
) -> list[_Cell]:
    """Every unit's cell of one item: formulas and Wilson intervals computed over the whole cohort at
    once (``vector``), then the per-unit exceptions (no data, overrides, minimum sample) as in ``_cell``."""
    if item.rule.type == "expert":
        codes = sorted(item.formula.measures)
        return [_cell(item, u, data, experts_by_key.get((u, item.code), []), parts, codes) for u in units]
    codes = sorted(item.formula.measures)
    if item.min_sample is not None and item.min_sample.measure not in item.formula.measures:
        codes_all = [*codes, item.min_sample.measure]
    else:
        codes_all = codes
    arrays = columns.arrays(item.formula.measures)
    n = columns.n
    value, value_ok = vector.evaluate(item.formula, arrays, n)
    values, values_r = _optional(value, value_ok), _rounded(value, value_ok)
    numerators = denominators = lows = highs = None
    if parts is not None:
        num, num_ok = vector.evaluate(parts.numerator, columns.arrays(parts.numerator.measures), n)
        den, den_ok = vector.evaluate(parts.denominator, columns.arrays(parts.denominator.measures), n)
        numerators, denominators = _optional(num, num_ok), _optional(den, den_ok)
        numerators_r, denominators_r = _rounded(num, num_ok), _rounded(den, den_ok)
        low, high, defined = vector.wilson(np.where(num_ok, num, 0.0), np.where(den_ok, den, 1.0))
        defined &= num_ok & den_ok
        low, high = low * parts.scale, high * parts.scale
        lows, highs = _optional(low, defined), _optional(high, defined)
        lows_r, highs_r = _rounded(low, defined), _rounded(high, defined)
    short = None
    if item.min_sample is not None:
        short = (columns.array(item.min_sample.measure) < item.min_sample.count).tolist()
    rounded = [columns.rounded(c) for c in codes_all]
    overrides = data.value_overrides
    cells = []
    for i, unit in enumerate(units):
        cell = _Cell(rounded_measures={c: r[i] for c, r in zip(codes_all, rounded, strict=True)})
        cells.append(cell)
        if not columns.present[i]:
            cell.rounded_measures = {c: r[i] for c, r in zip(codes, rounded, strict=True)}
            cell.na_reason = "no_data"
            continue
        fixed = cell.rounded = {"value": None, "numerator": None, "denominator": None, "interval": None}
        if numerators is not None:
            cell.numerator, cell.denominator = numerators[i], denominators[i]
            fixed["numerator"], fixed["denominator"] = numerators_r[i], denominators_r[i]
            if lows[i] is not None:
                cell.interval = (lows[i], highs[i])
                fixed["interval"] = [lows_r[i], highs_r[i]]
        override = overrides.get(unit, {}).get(item.code) if overrides else None
        if override is not None:
            cell.value, cell.corrected, cell.interval = float(override), True, None
            fixed["value"], fixed["interval"] = rnd(cell.value), None
        elif short is not None and short[i]:
            cell.na_reason = "sample_below_minimum"
        else:
            cell.value, fixed["value"] = values[i], values_r[i]
            if cell.value is None:
                cell.na_reason = "division_by_zero"
    return cells


def _scores(item: Item, values: list[float | None], ref: Reference) -> list[float | None]:
    """``_score`` of each value (None stays None), over the whole cohort at once for computed rules."""
    if item.rule.type == "expert":
        return [None if v is None else _score(item, v, ref) for v in values]
    array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    scored = vector.score(item, array, ref.value)
    if scored is None:
        return [None] * len(values)
    return [None if v is None else s for v, s in zip(values, scored.tolist(), strict=True)]


def _compute(data: EngineInput) -> dict[str, Any]:
    scheme = data.scheme
    units = sorted(set(data.units))
    experts_by_key: dict[tuple[str, str], list[ExpertEntry]] = {}
    for entry in data.expert_entries:
        experts_by_key.setdefault((entry.unit, entry.indicator), []).append(entry)

    columns = _Columns(units, data.measures)
    parts = {i.code: rate_parts(i.formula) for i in scheme.items}  # once per item, not per cell
    indicator_rows: dict[str, list[dict]] = {u: [] for u in units}
    intervals: dict[str, dict[str, tuple[float, float]]] = {u: {} for u in units}
    cohort_indicators: dict[str, dict] = {}
    for item in scheme.items:
        cells = _item_cells(item, units, data, columns, experts_by_key, parts[item.code])
        applicable = {u: c.value for u, c in zip(units, cells, strict=True) if c.value is not None}
        ref = references.resolve_reference(
            item, applicable, current_months=data.period_months, history=_history(item, data)
        )
        raw_scores = _scores(item, [c.value for c in cells], ref)
        interval_item = item.rule.type != "expert"
        if interval_item:
            low_scores = _scores(item, [None if c.interval is None else c.interval[0] for c in cells], ref)
            high_scores = _scores(item, [None if c.interval is None else c.interval[1] for c in cells], ref)
        item_scores: dict[str, float] = {}
        value_intervals: dict[str, tuple[float, float]] = {}
        shared = {"static": static_fields(item), "reference": _reference_dict(ref)}  # once per item
        rows: dict[str, dict] = {}
        for i, unit in enumerate(units):
            cell = cells[i]
            score = raw_scores[i]
            if cell.value is not None and score is None:
                cell.na_reason = "no_reference"
            if score is not None:
                score = rnd(score)
                item_scores[unit] = score
                if cell.interval is None or not interval_item:
                    intervals[unit][item.code] = (score, score)
                else:  # the score at the ends of the value's confidence interval
                    a, b = low_scores[i], high_scores[i]
                    a = score if a is None else a
                    b = score if b is None else b
                    intervals[unit][item.code] = (min(a, b), max(a, b))
            if cell.interval is not None:
                value_intervals[unit] = cell.interval
            row = _indicator_dict(item, cell, shared, score, data, unit)
            rows[unit] = row
            indicator_rows[unit].append(row)
        ranks = competition_ranks(item_scores)
        overlaps = overlapping_neighbours(ranks, value_intervals)
        for unit, rank in ranks.items():
            rows[unit]["rank"] = rank
            rows[unit]["rank_overlaps"] = sorted(overlaps.get(unit, []))
        cohort_indicators[item.code] = {
            "reference": _reference_dict(ref),
            "values": rounded_summary(applicable),
            "applicable_units": len(applicable),
        }
    results = {u: _unit_result(scheme, u, indicator_rows[u], intervals[u]) for u in units}
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
    rounded = cell.rounded
    if rounded is None:
        rounded = {
            "value": rnd(cell.value),
            "numerator": rnd(cell.numerator),
            "denominator": rnd(cell.denominator),
            "interval": None if cell.interval is None else [rnd(cell.interval[0]), rnd(cell.interval[1])],
        }
    row = {
        "indicator": item.code,
        **shared["static"],
        "applicable": score is not None,
        "na_reason": None if score is not None else cell.na_reason,
        "value": rounded["value"],
        "corrected": cell.corrected,
        "measures": (
            cell.rounded_measures
            if cell.rounded_measures is not None
            else {m: rnd(v) for m, v in cell.measures.items()}
        ),
        "numerator": rounded["numerator"],
        "denominator": rounded["denominator"],
        "interval": rounded["interval"],
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
