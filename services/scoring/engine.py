"""The scoring engine: a scheme and a period's measures in, every unit's full result out.

Pure and deterministic: plain data in, plain JSON-ready dicts out, every collection sorted, every
number rounded by ``numbers.rnd`` — the same inputs give byte-identical ``canonical_json``.

It works column by column: each item over the whole cohort as numpy arrays (``vector``), into one
float64 array per unit in the stored layout of ``figures`` (``compute_figures``, what a run stores);
``compute`` and ``compute_compact`` turn those arrays into indicator rows with ``figures.rows``, the
same function that reads stored results — what is read is what was computed.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from services.scoring import legacy, references, rules, vector
from services.scoring.figures import FIELDS, NA_REASONS, Layout
from services.scoring.figures import rows as figure_rows
from services.scoring.numbers import PLACES, rnd, round_array
from services.scoring.ranking import cohort_ranks as _ranks
from services.scoring.ranking import overlap_columns as _overlap_columns
from services.scoring.ranking import overlap_indices as _overlaps  # noqa: F401 (tests compare it with ranking's)
from services.scoring.references import HistoryPeriod, Reference
from services.scoring.scheme import Item, Rule, Scheme
from services.scoring.statistics import (
    RateParts,
    rate_parts,
    rounded_summary,
    rounded_summary_of,
    trend,
    wilson_interval,
)
from services.scoring.totals import comparable, unit_results

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
    uncovered: Mapping[str, Sequence[str]] = field(default_factory=dict)  # unit → measures no source covered


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
    # Coverage (contracts §4): unit → the measures no source covered over the period — absent, not zero. An
    # empty mapping: everything covered (revisions made before coverage existed have none).
    uncovered: Mapping[str, Sequence[str]] = field(default_factory=dict)
    monthly_uncovered: Mapping[str, Mapping[str, Sequence[str]]] = field(default_factory=dict)  # label → unit → …
    # Outcome formats 1 and 2 (reproduction only): item scores rounded before they are summed, 4 places for
    # every score, no minimum applicable share. Format 3 (False): exact sums rounded once (``totals``).
    legacy: bool = False


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


def item_measures(item: Item) -> frozenset[str]:
    """The measures an item's formula or minimum sample names: one of them uncovered makes it ``no_data``."""
    if item.rule.type == "expert" or item.formula is None:  # scored by experts: no measure decides it
        return frozenset()
    if item.min_sample is None:
        return item.formula.measures
    return item.formula.measures | {item.min_sample.measure}


def _gaps(item: Item, uncovered: Sequence[str] | None) -> list[str]:
    """The item's measures among a unit's uncovered ones, sorted."""
    return sorted(item_measures(item).intersection(uncovered)) if uncovered else []


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


def _item_gaps(item: Item, units: Sequence[str], uncovered: Mapping[str, Sequence[str]]) -> dict[int, list[str]]:
    """Unit index → the item's uncovered measures, for the units that have any."""
    if not uncovered:
        return {}
    return {i: gaps for i, unit in enumerate(units) if unit in uncovered and (gaps := _gaps(item, uncovered[unit]))}


def _history(item: Item, data: EngineInput) -> list[HistoryPeriod]:
    found = []
    if item.formula is None:  # experts' scores have no history to draw a baseline from
        return found
    for period in data.history:
        values = {}
        for unit in sorted(data.units):
            if _gaps(item, period.uncovered.get(unit)):
                continue  # an uncovered (unit, period) is absent from the baseline, not a zero in it
            measures = period.measures.get(unit, {})
            value = None if _sample_short(item, measures) else item.formula.evaluate(measures)
            if value is not None:
                values[unit] = value
        found.append(HistoryPeriod(label=period.label, months=period.months, values=values))
    return found


def _reference_dict(ref: Reference) -> dict:
    found = {"value": rnd(ref.value), "policy": ref.policy, "set_by": ref.set_by, "periods": list(ref.periods)}
    # Stated only by the references that have them, so earlier revisions reproduce their digests.
    if ref.percentile is not None:
        found["percentile"] = rnd(ref.percentile)
    if ref.min_sample is not None:
        found["min_sample"] = {"measure": ref.min_sample.measure, "count": rnd(ref.min_sample.count)}
    if ref.qualifying_units is not None:
        found["qualifying_units"] = ref.qualifying_units
    return found


def _score(item: Item, value: float, ref: Reference) -> float | None:
    return rules.score_value(value, ref.value, item)


class _Months:
    """A special run's monthly measures, month by month in label order, as arrays over the cohort's units: each
    item's monthly series computed for every unit at once (``vector.evaluate``), with exactly the values and the
    *not applicable* of the scalar rule — per unit and month: none where one of the item's measures was not covered
    that month, or the minimum sample is short (a measure absent counts 0), else ``Formula.evaluate`` of the unit's
    measures (none where a measure is absent or not a number, or the arithmetic is undefined)."""

    def __init__(self, units: Sequence[str], data: EngineInput) -> None:
        self.labels = sorted(data.monthly)
        self.n = len(units)
        self._index = {u: i for i, u in enumerate(units)}
        self._dicts = [[data.monthly[label].get(u, _EMPTY) for u in units] for label in self.labels]
        self._uncovered = [data.monthly_uncovered.get(label, {}) for label in self.labels]
        self._arrays: dict[tuple[int, str, bool], np.ndarray] = {}

    def _array(self, month: int, code: str, sample: bool) -> np.ndarray:
        """The month's values of ``code``: an absent one NaN (``sample``: 0.0, as ``_sample_short`` reads it), a
        bool or a non-number NaN (the formula takes none of them)."""
        key = (month, code, sample)
        if key not in self._arrays:
            values = [d.get(code, 0.0 if sample else np.nan) for d in self._dicts[month]]
            if sample:
                self._arrays[key] = np.array(values, dtype=np.float64)
            else:
                self._arrays[key] = np.array([_number(v) for v in values] if _unusual(values) else values, np.float64)
        return self._arrays[key]

    def series(self, item: Item) -> list[list[tuple[str, float | None]]]:
        """Per unit (cohort order), the item's series: (month label, value or None) for every month."""
        assert item.formula is not None
        codes = item_measures(item)
        columns: list[list[float | None]] = []
        for m in range(len(self.labels)):
            values, ok = vector.evaluate(
                item.formula, {c: self._array(m, c, False) for c in item.formula.measures}, self.n
            )
            if item.min_sample is not None:
                ok &= ~(self._array(m, item.min_sample.measure, True) < item.min_sample.count)
            for unit, uncovered in self._uncovered[m].items():
                i = self._index.get(unit)
                if i is not None and uncovered and codes.intersection(uncovered):
                    ok[i] = False  # a month a measure was not covered in has no value
            columns.append([v if o else None for v, o in zip(values.tolist(), ok.tolist(), strict=True)])
        return [list(zip(self.labels, row, strict=True)) for row in zip(*columns, strict=True)]


_EMPTY: Mapping[str, float] = {}


def _unusual(values: list) -> bool:
    """Anything but floats and ints among a month's values (a bool, a string): then read one by one."""
    return any(type(v) is not float and type(v) is not int for v in values)


def _number(value: Any) -> float:
    """A measure value as ``Formula.evaluate`` reads it: a bool or anything ``float`` refuses is none (NaN)."""
    if isinstance(value, bool):
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return np.nan


def compute(data: EngineInput) -> dict[str, Any]:
    """Score every unit of the cohort on every item of the scheme (see the module docstring): every
    indicator row in full (``compute_compact`` gives the stored form, without the shared fields)."""
    with no_cyclic_gc():  # ~10⁶ acyclic containers: the cycle collector would only cost time
        outcome = _compute(data).compact_outcome()
        static = {item.code: static_fields(item, data.scheme) for item in data.scheme.items}
        references_ = {code: s["reference"] for code, s in outcome["cohort"]["indicators"].items()}
        for unit in outcome["units"]:
            unit["indicators"] = [
                {"indicator": r["indicator"], **static[r["indicator"]], "reference": references_[r["indicator"]],
                 **row_defaults(), **r}
                for r in unit["indicators"]
            ]  # fmt: skip
        return outcome


def compute_compact(data: EngineInput) -> dict[str, Any]:
    """``compute`` with each indicator row in its stored, compact form: the scheme-derived fields
    (``static_fields``) and the cohort's reference left out, and the keys of ``ROW_DEFAULTS`` left out
    where they hold their default — exactly ``detail.compact_unit`` of ``compute``'s rows."""
    with no_cyclic_gc():
        return _compute(data).compact_outcome()


def compute_figures(data: EngineInput) -> CohortFigures:
    """The outcome in its stored form (``figures``), without building any indicator row."""
    with no_cyclic_gc():
        return _compute(data)


# Values most indicator rows have; a compact row leaves them out and reading puts them back.
ROW_DEFAULTS: Mapping[str, Any] = {
    "na_reason": None,
    "corrected": False,
    "experts": [],
    "rank_overlaps": [],
    "interval": None,
    "uncovered": [],  # format 3: the item's measures no source covered for the unit (why it is no_data)
}


def row_defaults() -> dict[str, Any]:
    """``ROW_DEFAULTS`` with fresh lists."""
    return {
        "na_reason": None, "corrected": False, "experts": [], "rank_overlaps": [], "interval": None, "uncovered": [],
    }  # fmt: skip


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
    """The cohort's measures as arrays (one per measure, units in order), built on first use, and where
    each measure is absent (not covered by any source, or the unit unknown to ingest)."""

    def __init__(
        self, units: Sequence[str], measures: UnitMeasures, uncovered: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self._units, self._measures = units, measures
        self.n = len(units)
        self.present = np.array([u in measures for u in units], dtype=bool)
        self._arrays: dict[str, np.ndarray] = {}
        self._uncovered: dict[str, np.ndarray] = {}
        for i, unit in enumerate(units):
            for code in (uncovered or {}).get(unit, ()):
                self._uncovered.setdefault(code, np.zeros(self.n, dtype=bool))[i] = True

    def uncovered(self, codes) -> np.ndarray:
        """Units for which any of ``codes`` was not covered by a source."""
        found = np.zeros(self.n, dtype=bool)
        for code in codes:
            if code in self._uncovered:
                found |= self._uncovered[code]
        return found

    def absent(self, code: str) -> np.ndarray:
        return ~self.present | self.uncovered((code,))

    def array(self, code: str) -> np.ndarray:
        if code not in self._arrays:
            empty: Mapping[str, float] = {}
            values = [float(self._measures.get(u, empty).get(code, 0.0)) for u in self._units]
            self._arrays[code] = np.array(values, dtype=np.float64)
        return self._arrays[code]

    def arrays(self, codes) -> dict[str, np.ndarray]:
        return {c: self.array(c) for c in codes}


def _optional(values: np.ndarray, ok: np.ndarray) -> list[float | None]:
    if ok.all():
        return values.tolist()
    return [v if k else None for v, k in zip(values.tolist(), ok.tolist(), strict=True)]


def _rounded(values: np.ndarray, ok: np.ndarray) -> list[float | None]:
    """``rnd`` of each applicable value, None for the others (``round_array`` over the whole array)."""
    return _optional(round_array(values), ok)


@dataclass
class _ItemColumns:
    """One item over the whole cohort (units in order), before its scores."""

    value: np.ndarray  # raw value, NaN where there is none
    has_value: np.ndarray
    numerator_r: np.ndarray  # rounded, NaN where there is none
    denominator_r: np.ndarray
    interval: np.ndarray | None  # raw (low, high) per unit, shape (n, 2); rows without one are masked
    has_interval: np.ndarray
    na: np.ndarray  # index into figures.NA_REASONS (0: none)
    corrected: np.ndarray
    experts: list[list[dict]] | None = None


_NA = {reason: code for code, reason in enumerate(NA_REASONS)}


def _nan_none(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _expert_columns(item: Item, units: list[str], data: EngineInput, experts_by_key) -> _ItemColumns:
    codes = sorted(item.measures)
    cells = [_cell(item, u, data, experts_by_key.get((u, item.code), []), None, codes) for u in units]
    n = len(units)
    return _ItemColumns(
        value=_nan_none([c.value for c in cells]),
        has_value=np.array([c.value is not None for c in cells], dtype=bool),
        numerator_r=_nan_none([rnd(c.numerator) for c in cells]),
        denominator_r=_nan_none([rnd(c.denominator) for c in cells]),
        interval=None,
        has_interval=np.zeros(n, dtype=bool),
        na=np.array([_NA[c.na_reason] for c in cells], dtype=np.int8),
        corrected=np.array([c.corrected for c in cells], dtype=bool),
        experts=[c.experts for c in cells],
    )


def _item_columns(
    item: Item, units: list[str], data: EngineInput, columns: _Columns, experts_by_key, parts: RateParts | None
) -> _ItemColumns:
    """Every unit's cell of one item as columns: formulas and Wilson intervals over the whole cohort at
    once (``vector``), then the per-unit exceptions (no data, overrides, minimum sample) as in ``_cell``."""
    if item.rule.type == "expert":
        return _expert_columns(item, units, data, experts_by_key)
    n = columns.n
    # No data: the unit is unknown to ingest, or a measure the item names was not covered (absent, not zero).
    present = columns.present & ~columns.uncovered(item_measures(item))
    value, value_ok = vector.evaluate(item.formula, columns.arrays(item.formula.measures), n)
    if item.min_sample is not None:
        short = present & (columns.array(item.min_sample.measure) < item.min_sample.count)
    else:
        short = np.zeros(n, dtype=bool)
    has_value = value_ok & present & ~short
    na = np.zeros(n, dtype=np.int8)
    na[present & ~short & ~value_ok] = _NA["division_by_zero"]
    na[short] = _NA["sample_below_minimum"]
    na[~present] = _NA["no_data"]
    numerator_r = denominator_r = np.full(n, np.nan)
    interval, has_interval = None, np.zeros(n, dtype=bool)
    if parts is not None:
        num, num_ok = vector.evaluate(parts.numerator, columns.arrays(parts.numerator.measures), n)
        den, den_ok = vector.evaluate(parts.denominator, columns.arrays(parts.denominator.measures), n)
        numerator_r = np.where(num_ok & present, round_array(num), np.nan)
        denominator_r = np.where(den_ok & present, round_array(den), np.nan)
        low, high, defined = vector.wilson(np.where(num_ok, num, 0.0), np.where(den_ok, den, 1.0))
        has_interval = defined & num_ok & den_ok & present
        interval = np.stack([low * parts.scale, high * parts.scale], axis=1)
    corrected = np.zeros(n, dtype=bool)
    value = np.where(has_value, value, np.nan)
    overrides = data.value_overrides
    if overrides:
        for i, unit in enumerate(units):
            override = overrides.get(unit, {}).get(item.code)
            if override is not None and columns.present[i]:  # a value corrected on appeal is data
                value[i], has_value[i], na[i], has_interval[i], corrected[i] = float(override), True, 0, False, True
    return _ItemColumns(
        value=value,
        has_value=has_value,
        numerator_r=numerator_r,
        denominator_r=denominator_r,
        interval=interval,
        has_interval=has_interval,
        na=na,
        corrected=corrected,
    )


def _scores(
    item: Item, values: np.ndarray, has_value: np.ndarray, ref: Reference, legacy: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``_score`` of each value over the whole cohort → (scores, scored); unscored where there is no value."""
    n = len(values)
    if legacy and item.rule.type == "linear_band" and item.rule.param("relative", False):
        # Formats 1 and 2 scored a relative band's floor and target as values (the array path ignored
        # ``relative``); their revisions are reproduced as they were stored. Format 3 scores it as the rule says.
        item = replace(item, rule=Rule(item.rule.type, {k: v for k, v in item.rule.params.items() if k != "relative"}))
    if item.rule.type == "expert":
        out, ok = np.zeros(n), np.zeros(n, dtype=bool)
        for i in np.flatnonzero(has_value).tolist():
            s = _score(item, float(values[i]), ref)
            if s is not None:
                out[i], ok[i] = s, True
        return out, ok
    scored = vector.score(item, np.where(has_value, values, np.nan), ref.value)
    if scored is None:
        return np.zeros(n), np.zeros(n, dtype=bool)
    return scored, has_value.copy()


@dataclass
class CohortFigures:
    """An outcome as the engine computes and stores it (outcome format 2, ``figures``)."""

    scheme: dict
    cohort: dict
    units: list[str]
    layout: Layout
    figures: np.ndarray  # (units, layout.width) float64, see ``figures``
    heads: list[dict]  # per unit: everything but the indicator rows
    extras: list[dict | None]  # per unit: {item code: {experts, series, trend}} or None

    def unit_rows(self, i: int) -> list[dict]:
        return figure_rows(self.layout, self.figures[i].tolist(), self.extras[i], self.units)

    def compact_outcome(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "units": [{**head, "indicators": self.unit_rows(i)} for i, head in enumerate(self.heads)],
            "cohort": self.cohort,
        }


def _reference(item: Item, units: list[str], where: np.ndarray, values: np.ndarray, data: EngineInput) -> Reference:
    """``references.resolve_reference`` of the applicable values (units ``where``, in id order); best in
    cohort over the array (the first unit in id order among equals, as ``best_in_cohort``). A reference's
    ``min_sample`` first keeps only the units that may set it (``references.qualifying``)."""
    sample = item.reference.min_sample
    counts: dict[str, float] = {}
    if sample is not None:
        empty: Mapping[str, float] = {}
        counts = {units[i]: float(data.measures.get(units[i], empty).get(sample.measure, 0.0)) for i in where.tolist()}
        keep = np.array([counts[units[i]] >= sample.count for i in where.tolist()], dtype=bool)
        where, values = where[keep], values[keep]
    if item.reference.policy == "best_in_cohort":
        if not len(values):
            return references.with_qualification(Reference(value=None, policy="best_in_cohort"), item, 0)
        best = int(np.argmin(values) if item.direction == "lower_better" else np.argmax(values))
        ref = Reference(value=float(values[best]), policy="best_in_cohort", set_by=units[int(where[best])])
        return references.with_qualification(ref, item, len(values))
    applicable = dict(zip([units[i] for i in where.tolist()], values.tolist(), strict=True))
    return references.resolve_reference(
        item, applicable, samples=counts, current_months=data.period_months, history=_history(item, data)
    )


def _compute(data: EngineInput) -> CohortFigures:
    scheme = data.scheme
    units = sorted(set(data.units))
    n = len(units)
    layout = Layout.of(scheme)
    k = len(layout.codes)
    experts_by_key: dict[tuple[str, str], list[ExpertEntry]] = {}
    for entry in data.expert_entries:
        experts_by_key.setdefault((entry.unit, entry.indicator), []).append(entry)

    columns = _Columns(units, data.measures, data.uncovered)
    figures = np.full((n, layout.width), np.nan)
    blocks = {name: figures[:, f * k : (f + 1) * k] for f, name in enumerate(FIELDS)}
    for m, code in enumerate(layout.measures):
        sums = round_array(columns.array(code))
        # Format 3 stores an absent measure as NaN (none), never as the 0 ingest writes in its place.
        figures[:, len(FIELDS) * k + m] = sums if data.legacy else np.where(columns.absent(code), np.nan, sums)
    extras: list[dict | None] = [None] * n
    score_places = PLACES if data.legacy else scheme.score_places
    applicable_masks, score_arrays, low_arrays, high_arrays = [], [], [], []
    cohort_indicators: dict[str, dict] = {}
    special = data.scheme.kind == "special" and bool(data.monthly)
    months = _Months(units, data) if special else None
    for j, item in enumerate(scheme.items):
        parts = rate_parts(item.formula) if item.formula is not None else None
        cols = _item_columns(item, units, data, columns, experts_by_key, parts)
        where = np.flatnonzero(cols.has_value)
        applicable_values = cols.value[where]
        ref = _reference(item, units, where, applicable_values, data)
        raw, scored = _scores(item, cols.value, cols.has_value, ref, data.legacy)
        score = np.where(scored, round_array(np.where(scored, raw, 0.0), score_places), 0.0)
        # What is summed and ranked: the rounded score in formats 1 and 2, the exact one in format 3.
        exact = score if data.legacy else np.where(scored, raw, 0.0)
        low = high = exact
        if item.rule.type != "expert" and cols.interval is not None:
            use = cols.has_interval & scored
            if use.any():
                ends = []
                for end in (0, 1):
                    s, ok = _scores(item, np.where(use, cols.interval[:, end], 0.0), use, ref, data.legacy)
                    ends.append(np.where(ok, s, exact))
                low = np.where(use, np.minimum(ends[0], ends[1]), exact)
                high = np.where(use, np.maximum(ends[0], ends[1]), exact)
        applicable_masks.append(scored)
        score_arrays.append(exact)
        low_arrays.append(low)
        high_arrays.append(high)
        ranks, order = _ranks(exact if data.legacy else comparable(exact), scored)
        blocks["value"][:, j] = np.where(cols.has_value, round_array(cols.value), np.nan)
        blocks["numerator"][:, j] = cols.numerator_r
        blocks["denominator"][:, j] = cols.denominator_r
        if cols.interval is not None:
            rounded = round_array(cols.interval)
            blocks["interval_low"][:, j] = np.where(cols.has_interval, rounded[:, 0], np.nan)
            blocks["interval_high"][:, j] = np.where(cols.has_interval, rounded[:, 1], np.nan)
            first, second = _overlap_columns(order, cols.interval[:, 0], cols.interval[:, 1], cols.has_interval, n)
            blocks["rank_overlap_first"][:, j] = first
            blocks["rank_overlap_second"][:, j] = second
        blocks["score"][:, j] = np.where(scored, score, np.nan)
        blocks["rank"][:, j] = np.where(ranks > 0, ranks, np.nan)
        na = np.where(scored, 0, np.where(cols.has_value, _NA["no_reference"], cols.na))
        blocks["na_reason"][:, j] = na
        blocks["corrected"][:, j] = cols.corrected
        gaps = {} if data.legacy else _item_gaps(item, units, data.uncovered)
        series_of_item = special and item.formula is not None  # experts' scores have no monthly series
        if cols.experts is not None or series_of_item or gaps:
            series_of_units = months.series(item) if series_of_item else None
            for i in range(n) if cols.experts is not None or series_of_item else sorted(gaps):
                extra = {}
                if cols.experts is not None and cols.experts[i]:
                    extra["experts"] = cols.experts[i]
                if i in gaps:
                    extra["uncovered"] = gaps[i]  # why the row is no_data: what no source covered
                if series_of_item:
                    series = series_of_units[i]
                    extra["series"] = [[label, rnd(v)] for label, v in series]
                    t = trend(series, item.direction)
                    extra["trend"] = {"slope": rnd(t["slope"]), "direction": t["direction"]}
                if extra:
                    extras[i] = {**(extras[i] or {}), item.code: extra}
        cohort_indicators[item.code] = {
            "reference": _reference_dict(ref),
            "values": rounded_summary_of(applicable_values.tolist()),
            "applicable_units": len(where),
        }
    if data.legacy:
        heads = legacy.unit_results(
            scheme, units, applicable_masks, score_arrays, low_arrays, high_arrays, data.previous
        )
    else:
        heads = unit_results(scheme, units, applicable_masks, score_arrays, low_arrays, high_arrays, data.previous)
    given = {r["unit"]: r["total"] for r in heads if r["total"] is not None}  # withheld totals take no part
    cohort = {"units": len(units), "total": rounded_summary(given), "indicators": cohort_indicators}
    if not data.legacy:
        cohort["withheld_units"] = sum(1 for r in heads if r["withheld"] is not None)
    return CohortFigures(
        scheme={"id": scheme.id, "version": scheme.version, "key": scheme.key, "kind": scheme.kind},
        cohort=cohort,
        units=units,
        layout=layout,
        figures=figures,
        heads=heads,
        extras=extras,
    )


def static_fields(item: Item, scheme: Scheme | None = None) -> dict:
    """The parts of an indicator row that come from the scheme alone (the same for every unit): never
    stored with a result, put back on reading (``detail.Expander``) — what explanations are made of."""
    ref = item.reference
    labelled = ref.label_zh is not None or ref.label_en is not None
    return {
        "version": item.version,
        "name_zh": item.name_zh,
        "name_en": item.name_en,
        "dimension": item.dimension,
        "unit": item.unit,
        "direction": item.direction,
        "formula": item.formula.text if item.formula is not None else "",
        "rule": {"type": item.rule.type, "params": dict(item.rule.params)},
        "points": rnd(item.points),
        "min_sample": None
        if item.min_sample is None
        else {"measure": item.min_sample.measure, "count": item.min_sample.count},
        "reference_label": {"zh": ref.label_zh, "en": ref.label_en} if labelled else None,
        "aggregation": scheme.expert_aggregation if scheme is not None and item.rule.type == "expert" else None,
    }


def canonical_json(outcome: Mapping[str, Any]) -> str:
    """The byte-stable serialisation results are stored and compared in."""
    return json.dumps(outcome, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
