"""Stored form of a unit's result: indicator rows without what the scheme (and the cohort's reference)
already say, so a province's results are a fraction of the size to hash, write and read.

``compact_*`` drops the scheme-derived fields; ``Expander`` puts them back from the run's stored
scheme document and the revision's cohort summary, giving exactly the engine's rows again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.scoring.engine import ROW_DEFAULTS, static_fields
from services.scoring.figures import Layout, unpack
from services.scoring.figures import rows as figure_rows
from services.scoring.scheme import parse_scheme

# Scheme-derived keys of an indicator row (see ``engine.static_fields``) and the cohort's reference.
SHARED_KEYS = frozenset(
    {"version", "name_zh", "name_en", "dimension", "unit", "direction", "formula", "rule", "points", "reference",
     "min_sample", "reference_label", "aggregation"}
)  # fmt: skip


# Values most rows have; a stored row leaves them out and reading puts them back.
DEFAULTS: Mapping[str, Any] = ROW_DEFAULTS


def _stored(key: str, value: Any) -> bool:
    return key not in SHARED_KEYS and not (key in DEFAULTS and value == DEFAULTS[key])


def compact_unit(detail: Mapping[str, Any]) -> dict:
    rows = [{k: v for k, v in row.items() if _stored(k, v)} for row in detail["indicators"]]
    return {**detail, "indicators": rows}


def compact_outcome(outcome: Mapping[str, Any]) -> dict:
    """What a revision's digest is taken over: everything, the shared parts once."""
    return {**outcome, "units": [compact_unit(u) for u in outcome["units"]]}


class Compactor:
    """``compact_unit`` for a whole cohort: the rows of one indicator share their keys, so which keys
    a row keeps is worked out once per key layout, and only the few defaults are checked per row."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, ...], tuple[str, ...]] = {}

    def row(self, row: Mapping[str, Any]) -> dict:
        layout = tuple(row)
        kept = self._kept.get(layout)
        if kept is None:
            kept = self._kept[layout] = tuple(k for k in layout if k not in SHARED_KEYS)
        compact = {k: row[k] for k in kept}
        for key, default in DEFAULTS.items():
            if key in compact and compact[key] == default:
                del compact[key]
        return compact

    def unit(self, detail: Mapping[str, Any]) -> dict:
        return {**detail, "indicators": [self.row(r) for r in detail["indicators"]]}


class Expander:
    """Restores full rows for one run revision."""

    def __init__(self, document: Mapping[str, Any], cohort_summary: Mapping[str, Any]) -> None:
        scheme = parse_scheme(document)
        self._static = {item.code: static_fields(item, scheme) for item in scheme.items}
        indicators = cohort_summary["cohort"]["indicators"]
        self._reference = {code: s["reference"] for code, s in indicators.items()}
        self._layout = Layout.of(scheme)
        self._units = cohort_summary.get("units") or []

    def expand_figures(self, head: Mapping[str, Any], extras: Mapping[str, Any] | None, figures: bytes) -> dict:
        """A unit's full result from its stored head, extras and figures (outcome format 2)."""
        rows = figure_rows(self._layout, unpack(figures), extras, self._units)
        return self.expand({**head, "indicators": rows})

    def expand(self, detail: Mapping[str, Any]) -> dict:
        rows = [
            {
                "indicator": row["indicator"],
                **self._static[row["indicator"]],
                "reference": self._reference[row["indicator"]],
                **DEFAULTS,  # shared empty lists: readers never mutate a result document
                **row,
            }
            for row in detail["indicators"]
        ]
        return {**detail, "indicators": rows}
