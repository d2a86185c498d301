"""The engine's whole-cohort steps (rounding, ranks, overlap flags, compact rows) give exactly what the
scalar helpers give unit by unit."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from services.scoring.detail import compact_unit
from services.scoring.engine import (
    EngineInput,
    _overlaps,
    _ranks,
    canonical_json,
    compute,
    compute_compact,
    round_array,
)
from services.scoring.numbers import rnd
from services.scoring.ranking import competition_ranks, overlapping_neighbours
from services.scoring.scheme import parse_scheme
from tests.scoring.example import MEASURES, example_scheme


@pytest.mark.parametrize("places", [2, 4, 6])
def test_rounding_a_whole_array_is_rnd_bit_for_bit_near_halves_too(places):
    rng = random.Random(places)
    values = [k / 32 for k in range(-400, 400)] + [k / 2 / 10**places for k in range(-300, 300)]
    values += [rng.uniform(-1e6, 1e6) for _ in range(3000)] + [2.0**52, 5e11 + 0.12345, float("inf"), -0.0]
    values += [round(rng.uniform(0, 100), places + 1) for _ in range(3000)]
    got = round_array(np.array(values), places).tolist()
    for v, g in zip(values, got, strict=True):
        assert repr(g) == repr(rnd(v, places)), (v, g)


def test_cohort_ranks_and_overlap_flags_match_the_unit_by_unit_helpers():
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 40)
        units = [f"U{i:02d}" for i in range(n)]
        values = np.array([float(rng.choice([0, 1, 2, 2.5, rng.randint(0, 5)])) for _ in range(n)])
        ranked = np.array([rng.random() < 0.8 for _ in range(n)])
        low = values - np.array([rng.choice([0, 0.2, 1]) for _ in range(n)])
        high = values + np.array([rng.choice([0, 0.2, 1]) for _ in range(n)])
        has = np.array([rng.random() < 0.8 for _ in range(n)])
        ranks, order = _ranks(values, ranked)
        expected = competition_ranks({u: v for u, v, k in zip(units, values.tolist(), ranked, strict=True) if k})
        assert {units[i]: r for i, r in enumerate(ranks.tolist()) if r} == expected
        intervals = {u: (lo, hi) for u, lo, hi, k in zip(units, low.tolist(), high.tolist(), has, strict=True) if k}
        flags = overlapping_neighbours(expected, intervals)
        found = _overlaps(order, low, high, has, n)
        assert {u: sorted(v) for u, v in flags.items() if v} == {
            units[i]: [units[j] for j in v] for i, v in found.items()
        }


def test_the_compact_outcome_is_the_compact_form_of_the_full_one():
    data = EngineInput(scheme=parse_scheme(example_scheme()), units=sorted(MEASURES), measures=MEASURES)
    full, compact = compute(data), compute_compact(data)
    assert canonical_json({**full, "units": [compact_unit(u) for u in full["units"]]}) == canonical_json(compact)


def test_a_unit_without_data_and_a_minimum_sample_outside_the_formula_is_not_applicable():
    # The minimum sample counts calls.offered; the formula names only surveys: a unit ingest does not know
    # has no data (the array path once failed on the extra measure here).
    scheme = example_scheme()
    scheme["items"][2]["min_sample"] = {"measure": "calls.offered", "count": 10}
    data = EngineInput(scheme=parse_scheme(scheme), units=[*sorted(MEASURES), "UX"], measures=MEASURES)
    unknown = next(u for u in compute(data)["units"] if u["unit"] == "UX")
    row = unknown["indicators"][2]
    assert row["na_reason"] == "no_data" and row["score"] is None
    assert row["measures"] == {}  # absent, not zeros: ingest sent nothing for UX
    # Formats 1 and 2 (reproduced with their own arithmetic) showed the zeros ingest writes in their place.
    legacy = next(u for u in compute(replace(data, legacy=True))["units"] if u["unit"] == "UX")
    assert legacy["indicators"][2]["measures"] == {"surveys.rated": 0.0, "surveys.satisfied": 0.0}


def test_the_summary_of_values_in_unit_order_is_the_summary_of_the_mapping():
    from services.scoring.statistics import rounded_summary, rounded_summary_of

    rng = random.Random(5)
    for n in (0, 1, 2, 3, 10, 101):
        values = {f"U{i:03d}": rng.choice([rng.uniform(0, 100), float(rng.randint(0, 9)), 1 / 3]) for i in range(n)}
        assert rounded_summary_of([values[u] for u in sorted(values)]) == rounded_summary(values)
