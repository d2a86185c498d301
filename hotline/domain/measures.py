"""The measure catalog (``measures.yaml``): the one list of daily per-unit quantities.

The ingest service produces exactly these measures; the indicators service lets a formula name only
these. Both read this file, so the two cannot drift apart.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


class Aggregation(enum.StrEnum):
    """How a measure's daily values make a period's value."""

    SUM = "sum"  # a flow: the period's value is the sum of its days
    LATEST = "latest"  # a stock (population): the latest value in the period


@dataclass(frozen=True, slots=True)
class Measure:
    """One measure code with its meaning."""

    code: str
    name_zh: str
    name_en: str
    unit: str
    record: str
    aggregation: Aggregation
    description: str


@cache
def measure_catalog() -> dict[str, Measure]:
    """Every measure by code, in catalog order."""
    raw = yaml.safe_load(resources.files("hotline.domain").joinpath("measures.yaml").read_text("utf-8"))
    catalog: dict[str, Measure] = {}
    for entry in raw["measures"]:
        measure = Measure(**{**entry, "aggregation": Aggregation(entry["aggregation"])})
        if measure.code in catalog:
            raise ValueError(f"measure {measure.code!r} is listed twice in measures.yaml")
        catalog[measure.code] = measure
    return catalog


def measure_codes() -> frozenset[str]:
    return frozenset(measure_catalog())


def measures_of_record(record: str) -> list[Measure]:
    """The measures one raw record type produces (``unit`` for those taken from the directory)."""
    return [m for m in measure_catalog().values() if m.record == record]
