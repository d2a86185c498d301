"""One rounding rule for every stored number, so the same inputs give byte-identical results."""

from __future__ import annotations

import numpy as np

PLACES = 4  # scores, values and references are kept to 4 decimal places


def rnd(value: float | None, places: int = PLACES) -> float | None:
    """Python's ``round``: correctly rounded from the exact binary value (ties to even), the same on
    every platform — deterministic, and fast enough for a province's 120,000 indicator scores."""
    if value is None:
        return None
    rounded = round(float(value), places)
    return 0.0 if rounded == 0 else rounded  # never -0.0


def round_array(values: np.ndarray, places: int = PLACES) -> np.ndarray:
    """``rnd`` of every element, bit for bit, over a whole array.

    ``rint(x·10ᵖ) / 10ᵖ`` is what Python's ``round`` gives (a correctly rounded quotient of the same
    integer) unless the scaled value lies so close to a half that the product's own rounding could
    have moved it across: those few elements (and huge or non-finite ones) go through ``rnd`` itself."""
    scale = 10.0**places
    with np.errstate(all="ignore"):
        scaled = values * scale
        rounded = np.rint(scaled) / scale + 0.0  # + 0.0: never -0.0
        margin = np.abs(scaled - np.floor(scaled) - 0.5)
        doubtful = ~(margin > np.abs(scaled) * 1e-15) | ~(np.abs(scaled) < 2.0**52)
    if doubtful.any():
        where = np.flatnonzero(doubtful)
        rounded[where] = [rnd(v, places) for v in values[where].tolist()]
    return rounded
