"""One rounding rule for every stored number, so the same inputs give byte-identical results."""

from __future__ import annotations

PLACES = 4  # scores, values and references are kept to 4 decimal places


def rnd(value: float | None, places: int = PLACES) -> float | None:
    """Python's ``round``: correctly rounded from the exact binary value (ties to even), the same on
    every platform — deterministic, and fast enough for a province's 120,000 indicator scores."""
    if value is None:
        return None
    rounded = round(float(value), places)
    return 0.0 if rounded == 0 else rounded  # never -0.0
