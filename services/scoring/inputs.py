"""A revision's stored inputs ⇄ the engine's input: what makes a run reproducible from its own rows."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from services.scoring.engine import (
    CohortFigures,
    EarlierPeriod,
    EngineInput,
    ExpertEntry,
    canonical_json,
    compute_figures,
    no_cyclic_gc,
)
from services.scoring.figures import DTYPE, FIELDS
from services.scoring.scheme import parse_scheme


def needed_measures(document: Mapping[str, Any]) -> list[str]:
    """Every measure the scheme's formulas and minimum samples name, sorted."""
    scheme = parse_scheme(document)
    found = set()
    for item in scheme.items:
        found |= item.measures
        if item.min_sample is not None:
            found.add(item.min_sample.measure)
    return sorted(found)


def _subtract(measures: dict[str, dict[str, float]], unit: str, measure: str, value: float) -> None:
    if unit in measures and measure in measures[unit]:
        measures[unit][measure] = measures[unit][measure] - value


def engine_input(document: Mapping[str, Any], inputs: Mapping[str, Any], *, legacy: bool = False) -> EngineInput:
    """Build the engine's input from a scheme document and a revision's stored inputs, applying the
    appeal adjustments recorded there (excluded records' contributions, corrected values, expert scores).

    Coverage (``uncovered``, ``monthly_uncovered``, each history period's ``uncovered``) is applied when
    the inputs carry it; inputs stored before coverage existed have none and mean "everything covered".
    ``legacy``: the arithmetic of outcome formats 1 and 2 (for reproducing revisions stored in them)."""
    measures = {u: dict(v) for u, v in inputs["measures"].items()}
    monthly = {label: {u: dict(v) for u, v in units.items()} for label, units in (inputs.get("monthly") or {}).items()}
    for exclusion in inputs.get("exclusions", []):
        for c in exclusion["contribution"]:
            _subtract(measures, c["unit"], c["measure"], float(c["value"]))
            label = c["day"][:7]
            if label in monthly:
                _subtract(monthly[label], c["unit"], c["measure"], float(c["value"]))
    return EngineInput(
        scheme=parse_scheme(document),
        units=list(inputs["units"]),
        measures=measures,
        period_months=tuple(inputs["period"]["months"]),
        monthly=monthly,
        history=[
            EarlierPeriod(
                label=h["label"], months=tuple(h["months"]), measures=h["measures"], uncovered=h.get("uncovered", {})
            )
            for h in inputs.get("history", [])
        ],
        expert_entries=[ExpertEntry(**e) for e in inputs.get("expert_entries", [])],
        value_overrides=inputs.get("value_overrides", {}),
        expert_overrides=inputs.get("expert_overrides", {}),
        previous=inputs.get("previous", {}),
        uncovered=inputs.get("uncovered") or {},
        monthly_uncovered=inputs.get("monthly_uncovered") or {},
        legacy=legacy,
    )


# How new revisions are stored and digested (``run_revision.outcome_format``): 1 one JSON document per unit;
# 2 figures (``figures.py``); 3 figures of the exact arithmetic (``totals``: sums of unrounded scores,
# scheme precision, withheld totals, display ties), coverage and the uncovered measures in the extras.
OUTCOME_FORMAT = 3
FIGURE_FORMATS = (2, 3)


class Outcome(dict):
    """An engine outcome: ``scheme`` and ``cohort`` as computed, and ``units`` — each unit's result with
    compact indicator rows (``detail``) — built only when asked for (the worker stores ``figures``
    without ever building a row). Carries the stored form: ``heads`` / ``extras`` (canonical JSON per
    unit) and ``blobs`` (per unit, ``figures.py``)."""

    def __init__(self, figures: CohortFigures, outcome_format: int) -> None:
        super().__init__(scheme=figures.scheme, cohort=figures.cohort)
        self.figures = figures
        self.format = outcome_format
        array = figures.figures.astype(DTYPE, copy=False)
        array[np.isnan(array)] = np.nan  # one NaN bit pattern
        self.array = array
        self.heads = [canonical_json(h) for h in figures.heads]
        self.extras = [None if e is None else canonical_json(e) for e in figures.extras]

    def __missing__(self, key: str) -> Any:
        if key != "units":
            raise KeyError(key)
        self["units"] = self.figures.compact_outcome()["units"]
        return self["units"]

    @property
    def unit_ids(self) -> list[str]:
        return self.figures.units

    @property
    def blobs(self) -> list[bytes]:
        return [row.tobytes() for row in self.array]

    def summary(self) -> dict:
        """What ``run_revision.cohort_summary`` keeps: the outcome's scheme and cohort, and (format 2)
        the cohort's unit ids, which rank-overlap positions in ``figures`` refer to."""
        summary = {"scheme": self["scheme"], "cohort": self["cohort"]}
        return {**summary, "units": self.unit_ids} if self.format in FIGURE_FORMATS else summary


def digest_figures(outcome: Outcome) -> str:
    """Outcome formats 2 and 3's SHA-256: over exactly what is stored, each part length-prefixed — a tag
    naming the format, the
    canonical JSON of the scheme, cohort, layout and unit ids, every unit's figures (one little-endian
    float64 array, NaN in one bit pattern), then each unit's head and extras as stored."""
    figures = outcome.figures
    header = {
        "scheme": outcome["scheme"],
        "cohort": outcome["cohort"],
        "layout": {
            "fields": list(FIELDS),
            "items": list(figures.layout.codes),
            "measures": list(figures.layout.measures),
        },
        "units": figures.units,
    }
    h = hashlib.sha256()

    def part(data: bytes) -> None:
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)

    part(f"hotline-outcome/{outcome.format}".encode())
    part(canonical_json(header).encode())
    part(outcome.array.tobytes())
    for head, extras in zip(outcome.heads, outcome.extras, strict=True):
        part(head.encode())
        part(b"" if extras is None else extras.encode())
    return h.hexdigest()


def digest_json(outcome: Mapping[str, Any]) -> str:
    """Outcome format 1's SHA-256: over the canonical JSON of the outcome with compact rows."""
    units = ",".join(canonical_json(u) for u in outcome["units"])
    text = (
        f'{{"cohort":{canonical_json(outcome["cohort"])},"scheme":{canonical_json(outcome["scheme"])},'
        f'"units":[{units}]}}'
    )
    return hashlib.sha256(text.encode()).hexdigest()


def evaluate(
    document: Mapping[str, Any], inputs: Mapping[str, Any], *, outcome_format: int = OUTCOME_FORMAT
) -> tuple[Outcome, str]:
    """The outcome and its SHA-256 in the given format (a revision is reproduced in the format it was
    stored in: ``run_revision.outcome_format``; new revisions are ``OUTCOME_FORMAT``). Formats 1 and 2
    compute with their own (legacy) arithmetic, so their stored digests reproduce."""
    if outcome_format not in (1, *FIGURE_FORMATS):
        raise ValueError(f"unknown outcome format {outcome_format}")
    with no_cyclic_gc():  # one pause for the engine and the serialisation (compute's own nests in it)
        data = engine_input(document, inputs, legacy=outcome_format < 3)
        outcome = Outcome(compute_figures(data), outcome_format)
        if outcome_format == 1:
            return outcome, digest_json(outcome)
        return outcome, digest_figures(outcome)
