"""Result settings of a scheme document (contracts §5) that indicators validates and scoring applies.

One definition for both services, so that a scheme indicators accepts is one scoring can run and
the defaults are the same on both sides:

- ``min_applicable_share`` — the least share of the scheme's points that must be applicable to a
  unit for its total to be given (default 0.5: at least half of a total measured, not extrapolated
  by the N/A rescaling); below it the total, grade and rank are withheld.
- ``precision: {total, score}`` — decimal places of the stored and displayed totals and subtotals
  (default 2) and item scores (default 4). Everything is computed unrounded and rounded once.
- a fixed or target reference's ``label_zh`` / ``label_en`` — how the explanation names it (e.g.
  全国优秀值); without one it is "a fixed value set by the organizer".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DEFAULT_MIN_APPLICABLE_SHARE = 0.5
DEFAULT_PRECISION: Mapping[str, int] = {"total": 2, "score": 4}
MAX_PLACES = 6  # float64 keeps far more; more places than this would only show noise
MAX_LABEL_LENGTH = 60
LABEL_KEYS = ("label_zh", "label_en")
LABELLED_POLICIES = ("fixed", "target")  # the policies whose value the organizer sets


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _places(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PLACES


def check_result_settings(document: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Problems of ``min_applicable_share`` and ``precision`` as (path, code, message); absent is fine."""
    problems = []
    share = document.get("min_applicable_share")
    if share is not None and not (_number(share) and 0 <= share <= 1):
        problems.append(
            (
                "min_applicable_share",
                "out_of_range",
                "min_applicable_share is a number from 0 to 1: the least share of the scheme's points that must "
                "be applicable to a unit for its total to be given",
            )
        )
    precision = document.get("precision")
    if precision is None:
        return problems
    if not isinstance(precision, Mapping):
        problems.append(("precision", "invalid", "precision is {total, score}: decimal places, whole numbers"))
        return problems
    for name in sorted(set(precision) - set(DEFAULT_PRECISION)):
        problems.append((f"precision.{name}", "unknown_parameter", f"precision has no parameter {name!r}"))
    for name in DEFAULT_PRECISION:
        if name in precision and not _places(precision[name]):
            problems.append(
                (
                    f"precision.{name}",
                    "out_of_range",
                    f"precision.{name} is a whole number of places from 0 to {MAX_PLACES}",
                )
            )
    return problems


def check_reference_labels(reference: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Problems of a reference's ``label_zh`` / ``label_en`` as (key, code, message)."""
    problems = []
    for key in LABEL_KEYS:
        if key not in reference:
            continue
        if reference.get("policy") not in LABELLED_POLICIES:
            problems.append((key, "unknown_parameter", f"only a fixed or target reference has a {key}"))
            continue
        label = reference[key]
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL_LENGTH:
            problems.append((key, "invalid", f"{key} is a text of 1 to {MAX_LABEL_LENGTH} characters"))
    return problems


def min_applicable_share(document: Mapping[str, Any]) -> float:
    share = document.get("min_applicable_share")
    return DEFAULT_MIN_APPLICABLE_SHARE if share is None else float(share)


def precision(document: Mapping[str, Any]) -> dict[str, int]:
    given = document.get("precision") or {}
    return {name: int(given.get(name, default)) for name, default in DEFAULT_PRECISION.items()}
