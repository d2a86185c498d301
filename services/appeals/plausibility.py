"""Is a value a unit asks for plausible? Plain functions over the facts scoring gives with a result (contracts §6,
``GET /results/{id}``): the range the indicator's unit allows, and the best value observed in the cohort this
period (as first computed) and in the last periods of the scheme.

A value outside the range cannot be accepted as asked (the reviewer may accept another value, in range); a value
better than anything observed is flagged to the reviewer — it may be right, but it moves every peer scored
against the best, so it deserves a second look.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OUT_OF_RANGE = "OUT_OF_RANGE"
BETTER_THAN_OBSERVED = "BETTER_THAN_OBSERVED"


@dataclass(frozen=True, slots=True)
class IndicatorFacts:
    """What scoring says an indicator's value can be: its unit's range and the best value observed."""

    unit: str = ""
    direction: str = "higher_better"
    minimum: float | None = None
    maximum: float | None = None
    best: float | None = None
    periods: tuple[str, ...] = ()

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> IndicatorFacts:
        """From an indicator of ``GET /results/{id}`` (a scoring without the facts gives empty ones)."""
        bounds, observed = row.get("bounds") or {}, row.get("observed") or {}
        return cls(
            unit=str(row.get("unit") or ""),
            direction=str(row.get("direction") or "higher_better"),
            minimum=bounds.get("min"),
            maximum=bounds.get("max"),
            best=observed.get("best"),
            periods=tuple(observed.get("periods") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit, "direction": self.direction, "bounds": {"min": self.minimum, "max": self.maximum},
            "observed": {"best": self.best, "periods": list(self.periods)},
        }  # fmt: skip

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> IndicatorFacts:
        return cls.of(row)


def _range_text(facts: IndicatorFacts) -> str:
    low = "−∞" if facts.minimum is None else f"{facts.minimum:g}"
    high = "∞" if facts.maximum is None else f"{facts.maximum:g}"
    return f"{low}–{high}" + (f" {facts.unit}" if facts.unit else "")


def out_of_range(value: float, facts: IndicatorFacts) -> str | None:
    """Why the value cannot be the indicator's, or None when it can."""
    if (facts.minimum is not None and value < facts.minimum) or (facts.maximum is not None and value > facts.maximum):
        return f"{value:g} is outside what the indicator can take ({_range_text(facts)})"
    return None


def better_than_observed(value: float, facts: IndicatorFacts) -> str | None:
    """Why the value is beyond anything observed in the cohort, or None."""
    if facts.best is None:
        return None
    lower = facts.direction == "lower_better"
    if facts.direction not in ("higher_better", "lower_better") or (
        value >= facts.best if lower else value <= facts.best
    ):
        return None
    where = ", ".join(facts.periods) or "this period"
    return (
        f"{value:g} is better than the best value observed in the cohort ({facts.best:g}, over {where}): "
        "every unit scored against the best would lose points"
    )


def flags(value: float | None, facts: IndicatorFacts | None) -> list[tuple[str, str]]:
    """The (code, message) flags of a value asked for; none for a value-less ask or unknown facts."""
    if value is None or facts is None:
        return []
    found = [(OUT_OF_RANGE, out_of_range(value, facts)), (BETTER_THAN_OBSERVED, better_than_observed(value, facts))]
    return [(code, message) for code, message in found if message]
