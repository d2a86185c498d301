"""Problems found in a scheme, and the small helpers every check uses."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any


def one_of(value: Any, options: Collection[str]) -> bool:
    """``value`` is one of the text ``options`` (safe for unhashable input such as lists)."""
    return isinstance(value, str) and value in options


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scheme: where (a path into the body), a stable code and a message."""

    path: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class IndicatorFacts:
    """What validation needs to know of one indicator version."""

    code: str
    version: int
    dimension: str
    method: str
    unit: str
    direction: str
    levels: tuple[str, ...]
    has_formula: bool = True  # False: the value is entered by experts (method reported_expert)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def params(self, path: str, given: Mapping[str, Any], allowed: dict[str, bool], what: str) -> None:
        for name, required in allowed.items():
            if required and given.get(name) is None:
                self.add(f"{path}.{name}", "missing_parameter", f"{what} needs the parameter {name!r}")
        for name in sorted(set(given) - set(allowed) - {"type", "policy"}):
            self.add(f"{path}.{name}", "unknown_parameter", f"{what} has no parameter {name!r}")
