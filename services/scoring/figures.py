"""The stored form of a unit's indicator figures (outcome format 2): one float64 array per unit.

A revision stores each unit's result as one row of ``scoring.result_revision``: ``head`` (JSON: the
unit's total, interval, points, grade, dimension subtotals, rank, change — everything but the
indicator rows), ``extras`` (JSON, usually null: per indicator the experts' scores, the monthly series
and trend) and ``figures`` (bytea): little-endian float64 values, ``len(FIELDS)`` blocks of one value
per scheme item (items in scheme order), then the unit's measure sums (``Layout.measures`` order,
rounded as every stored number is). NaN marks "none" (not applicable, no interval, not ranked, no
overlap; in format 3 also an absent measure — one no source covered). ``rank_overlap_*`` are positions in the run's cohort (its sorted unit ids); ``na_reason``
indexes ``NA_REASONS``; ``corrected`` is 0 or 1. ``rows`` turns a unit's figures back into exactly
the compact indicator rows of ``engine.compute_compact`` (``detail.Expander`` then adds the
scheme-derived fields), so what is read is what the engine computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.scoring.scheme import Scheme

FIELDS = (
    "value",
    "numerator",
    "denominator",
    "interval_low",
    "interval_high",
    "score",
    "rank",
    "rank_overlap_first",
    "rank_overlap_second",
    "na_reason",
    "corrected",
)
NA_REASONS = (None, "no_data", "sample_below_minimum", "division_by_zero", "no_reference", "no_expert_score")
DTYPE = np.dtype("<f8")


@dataclass(frozen=True)
class Layout:
    """Where each item's figures and measures sit in a unit's array, from the scheme alone."""

    codes: tuple[str, ...]  # item codes, scheme order
    measures: tuple[str, ...]  # every measure an item's row names, sorted
    # per item: the measures its row names (indices into ``measures``) — with data, and without (no_data)
    row_measures: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]

    @classmethod
    def of(cls, scheme: Scheme) -> Layout:
        per_item = []
        for item in scheme.items:
            codes = sorted(item.measures)
            if item.rule.type != "expert" and item.min_sample is not None and item.min_sample.measure not in codes:
                per_item.append((codes, [*codes, item.min_sample.measure]))
            else:
                per_item.append((codes, codes))
        measures = tuple(sorted({m for short, full in per_item for m in full}))
        where = {m: i for i, m in enumerate(measures)}
        return cls(
            codes=tuple(item.code for item in scheme.items),
            measures=measures,
            row_measures=tuple(
                (tuple(where[m] for m in full), tuple(where[m] for m in short)) for short, full in per_item
            ),
        )

    @property
    def width(self) -> int:
        return len(FIELDS) * len(self.codes) + len(self.measures)


def _number(v: float) -> float | None:
    return None if v != v else v


def rows(
    layout: Layout, figures: Sequence[float], extras: Mapping[str, Mapping[str, Any]] | None, units: Sequence[str]
) -> list[dict]:
    """A unit's compact indicator rows from its figures (a sequence of ``layout.width`` floats)."""
    k = len(layout.codes)
    blocks = [figures[f * k : (f + 1) * k] for f in range(len(FIELDS))]
    value, numerator, denominator, low, high, score, rank, first, second, na, corrected = blocks
    measures = figures[len(FIELDS) * k :]
    names = layout.measures
    out = []
    for j, code in enumerate(layout.codes):
        s = score[j]
        reason = NA_REASONS[int(na[j])] if na[j] == na[j] else None
        full, short = layout.row_measures[j]
        row: dict[str, Any] = {
            "indicator": code,
            "applicable": s == s,
            "value": _number(value[j]),
            # NaN: absent (format 3: not covered by any source, or the unit unknown to ingest) — left out.
            "measures": {
                names[m]: measures[m] for m in (short if reason == "no_data" else full) if measures[m] == measures[m]
            },
            "numerator": _number(numerator[j]),
            "denominator": _number(denominator[j]),
            "score": _number(s),
            "rank": None if rank[j] != rank[j] else int(rank[j]),
        }
        if reason is not None:
            row["na_reason"] = reason
        if corrected[j] == 1:
            row["corrected"] = True
        if low[j] == low[j]:
            row["interval"] = [low[j], high[j]]
        if first[j] == first[j]:
            row["rank_overlaps"] = [units[int(p)] for p in (first[j], second[j]) if p == p]
        if extras and code in extras:
            row.update(extras[code])
        out.append(row)
    return out


def unpack(blob: bytes) -> list[float]:
    return np.frombuffer(blob, dtype=DTYPE).tolist()
