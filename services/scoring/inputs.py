"""A revision's stored inputs ⇄ the engine's input: what makes a run reproducible from its own rows."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from services.scoring.engine import (
    EarlierPeriod,
    EngineInput,
    ExpertEntry,
    canonical_json,
    compute_compact,
    no_cyclic_gc,
)
from services.scoring.scheme import parse_scheme


def needed_measures(document: Mapping[str, Any]) -> list[str]:
    """Every measure the scheme's formulas and minimum samples name, sorted."""
    scheme = parse_scheme(document)
    found = set()
    for item in scheme.items:
        found |= item.formula.measures
        if item.min_sample is not None:
            found.add(item.min_sample.measure)
    return sorted(found)


def _subtract(measures: dict[str, dict[str, float]], unit: str, measure: str, value: float) -> None:
    if unit in measures and measure in measures[unit]:
        measures[unit][measure] = measures[unit][measure] - value


def engine_input(document: Mapping[str, Any], inputs: Mapping[str, Any]) -> EngineInput:
    """Build the engine's input from a scheme document and a revision's stored inputs, applying the
    appeal adjustments recorded there (excluded records' contributions, corrected values, expert scores)."""
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
            EarlierPeriod(label=h["label"], months=tuple(h["months"]), measures=h["measures"])
            for h in inputs.get("history", [])
        ],
        expert_entries=[ExpertEntry(**e) for e in inputs.get("expert_entries", [])],
        value_overrides=inputs.get("value_overrides", {}),
        expert_overrides=inputs.get("expert_overrides", {}),
        previous=inputs.get("previous", {}),
    )


class Outcome(dict):
    """An engine outcome whose units are already in their stored, compact form (``detail``: indicator rows
    without the scheme-derived fields and defaults; ``detail.Expander`` restores them), and which also
    carries each unit's serialisation: ``unit_json[i]`` is ``canonical_json(outcome["units"][i])``."""

    unit_json: list[str]


def evaluate(document: Mapping[str, Any], inputs: Mapping[str, Any]) -> tuple[dict, str]:
    """The (compact) outcome and the SHA-256 of its canonical JSON (scheme-derived fields once, see ``detail``).

    The digest is taken over exactly ``canonical_json(compact_outcome(compute(...)))``, assembled from the
    units' canonical JSON that ``store`` then writes as they are (serialised once, not twice)."""
    with no_cyclic_gc():  # one pause for the engine and the serialisation (compute's own nests in it)
        outcome = Outcome(compute_compact(engine_input(document, inputs)))
        outcome.unit_json = [canonical_json(u) for u in outcome["units"]]
        assert sorted(outcome) == ["cohort", "scheme", "units"]  # keys in canonical (sorted) order
        text = (
            f'{{"cohort":{canonical_json(outcome["cohort"])},"scheme":{canonical_json(outcome["scheme"])},'
            f'"units":[{",".join(outcome.unit_json)}]}}'
        )
    return outcome, hashlib.sha256(text.encode()).hexdigest()
