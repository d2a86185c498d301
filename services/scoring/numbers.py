"""One rounding rule for every stored number, so the same inputs give byte-identical results."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

PLACES = 4  # scores, values and references are kept to 4 decimal places (half up)


def rnd(value: float | None, places: int = PLACES) -> float | None:
    """Round half up to ``places`` decimals via the shortest decimal repr (no binary surprises)."""
    if value is None:
        return None
    quantum = Decimal(1).scaleb(-places)
    rounded = float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))
    return 0.0 if rounded == 0 else rounded  # never -0.0
