"""The engine's whole-cohort arithmetic gives bit for bit what the unit-by-unit code gives."""

from __future__ import annotations

import random

import numpy as np
import pytest

from hotline.domain.formula import parse
from services.scoring import rules, vector
from services.scoring.statistics import wilson_interval
from tests.scoring.test_rules import item

A, B, C = "calls.answered", "calls.offered", "calls.abandoned"
KNOWN = {A, B, C}


def _values(seed: int, n: int = 400) -> dict[str, list[float]]:
    rng = random.Random(seed)
    pick = [0.0, 1.0, 3.0, 7.5, 10.0, 1e308, -2.0, 0.1, 1 / 3]
    return {
        m: [rng.choice(pick) if rng.random() < 0.2 else float(rng.randint(0, 500)) for _ in range(n)] for m in KNOWN
    }


@pytest.mark.parametrize(
    "text",
    [
        f"{A} / {B} * 100",
        f"100 * {A} / {B}",
        f"({A} - {C}) / ({B} - {C})",
        f"-{A} / {B} + {C} * 2",
        f"{A} * {B} * {B}",  # overflows to infinity for the huge values: not applicable
        f"min({A}, {B}, 7) / max({C}, 0.5)",
        f"clamp({A} / {B} * 100, 10, 90)",
        f"clamp({A}, {B}, {C})",  # an empty band where B > C
        f"sum({A}) / 1e-320",
        "1 / 0",
        "3",
    ],
)
def test_formula_over_arrays_matches_the_scalar_evaluation(text):
    formula = parse(text, KNOWN)
    values = _values(sum(map(ord, text)))
    n = len(values[A])
    got, ok = vector.evaluate(formula, {m: np.array(v) for m, v in values.items()}, n)
    for i in range(n):
        expected = formula.evaluate({m: values[m][i] for m in KNOWN})
        if expected is None:
            assert not ok[i], (i, got[i])
        else:
            assert ok[i] and got[i].tobytes() == np.float64(expected).tobytes(), (i, got[i], expected)


def test_wilson_over_arrays_matches_the_scalar_interval():
    rng = random.Random(7)
    successes = [float(rng.randint(-2, 60)) for _ in range(500)] + [0.0, 5.0, 5.0]
    trials = [float(rng.randint(-1, 60)) for _ in range(500)] + [0.0, 5.0, 0.0]
    low, high, defined = vector.wilson(np.array(successes), np.array(trials))
    for i, (s, t) in enumerate(zip(successes, trials, strict=True)):
        expected = wilson_interval(s, t)
        assert bool(defined[i]) is (expected is not None)
        if expected is not None:
            assert (low[i], high[i]) == expected


RULES = [
    ({"type": "ratio_to_reference"}, "higher_better"),
    ({"type": "ratio_to_reference"}, "lower_better"),
    ({"type": "threshold", "target": 50}, "higher_better"),
    ({"type": "threshold", "target": 50}, "lower_better"),
    ({"type": "linear_band", "floor": 10, "target": 90}, "higher_better"),
    ({"type": "linear_band", "floor": 90, "target": 10}, "lower_better"),
    ({"type": "linear_band", "floor": 50, "target": 50}, "higher_better"),
    ({"type": "linear_band", "floor": 50, "target": 50}, "lower_better"),
    ({"type": "linear_band", "floor": 80, "target": 120, "relative": True}, "higher_better"),
    ({"type": "linear_band", "floor": 120, "target": 80, "relative": True}, "lower_better"),
    ({"type": "target_band", "low": 40, "high": 60, "tolerance": 30}, "target_band"),
    ({"type": "target_band", "low": 40, "high": 60, "tolerance": 0}, "target_band"),
    ({"type": "deduction", "per_occurrence": 0.7, "free_occurrences": 3}, "lower_better"),
    ({"type": "deduction", "per_occurrence": 2}, "lower_better"),
]


@pytest.mark.parametrize(("rule", "direction"), RULES)
@pytest.mark.parametrize("reference", [None, 80.0, 0.0, -5.0, 1 / 3])
@pytest.mark.parametrize("points", [10, 2.5])
def test_rules_over_arrays_match_the_scalar_rules(rule, direction, reference, points):
    it = item(rule, direction, points=points)
    rng = random.Random(11)
    values = [0.0, -0.0, -3.0, 10.0, 40.0, 50.0, 60.0, 90.0, 95.0, 1e-9, 1e300] + [
        rng.uniform(-20, 150) for _ in range(300)
    ]
    got = vector.score(it, np.array(values), reference)
    for i, v in enumerate(values):
        expected = rules.score_value(v, reference, it)
        if expected is None:
            assert got is None
        else:
            assert float(got[i]) == float(expected) and np.float64(expected).tobytes() == got[i].tobytes(), (v, got[i])


def test_rounding_a_whole_array_matches_rnd():
    from services.scoring.engine import _rounded
    from services.scoring.numbers import rnd

    rng = random.Random(3)
    values = [0.0, -0.0, -1e-9, 2.5, 0.00005, 0.00015, -0.00005, 1e300, 123456789.0, 1 / 3, 2**60 + 0.0] + [
        rng.uniform(-1e4, 1e4) for _ in range(2000)
    ]
    values += [float(rng.randint(-(10**6), 10**6)) for _ in range(500)] + [
        rng.randint(0, 10**6) / 8 for _ in range(500)
    ]
    ok = np.array([i % 7 != 0 for i in range(len(values))])
    got = _rounded(np.array(values), ok)
    for v, k, g in zip(values, ok.tolist(), got, strict=True):
        if not k:
            assert g is None
        else:
            assert g == rnd(v) and repr(g) == repr(rnd(v)), (v, g)


@pytest.mark.parametrize(
    ("text", "sample"),
    [
        (f"{A} / {B} * 100", None),
        (f"{A} / {B} * 100", (B, 5.0)),
        (f"({A} - {C}) / ({B} - {C})", (C, 1.0)),
        (f"min({A}, {B}, 7) / max({C}, 0.5)", None),
        (f"clamp({A}, {B}, {C})", (A, 3.0)),
        (f"{A} * {B} * {B}", None),
        ("3", (B, 2.0)),
    ],
)
def test_a_special_runs_monthly_series_over_arrays_match_the_rule_unit_by_unit(text, sample):
    """``engine._Months``: every unit's monthly series, bit for bit and none for none, as the rule gives it unit by
    unit — a month a measure of the item was not covered in has none, a short minimum sample (an absent measure
    counting 0) none, else ``Formula.evaluate`` of the unit's month (absent units and measures, bools, strings, NaN,
    overflows and zero denominators included)."""
    from dataclasses import replace
    from types import SimpleNamespace

    from services.scoring import engine
    from services.scoring.scheme import MinSample

    rng = random.Random(sum(map(ord, text)) + (sample is not None))
    base = item({"type": "ratio_to_reference"})
    subject = replace(base, formula=parse(text, KNOWN), min_sample=MinSample(*sample) if sample else None)
    units = [f"U{i:03d}" for i in range(80)]
    pick = [0.0, 1.0, 2, 3.0, 7.5, 1e308, -2.0, 1 / 3, float("nan"), True]
    monthly, uncovered = {}, {}
    for label in ("2025-03", "2025-01", "2025-02", "2025-04"):  # not in label order: the series is
        month = {}
        for unit in units:
            if rng.random() < 0.1:
                continue  # the unit absent that month
            values = {m: rng.choice(pick) if rng.random() < 0.3 else float(rng.randint(0, 40)) for m in KNOWN}
            if sample is not None and isinstance(values[sample[0]], bool | str):
                values[sample[0]] = 4.0
            if rng.random() < 0.1:
                del values[rng.choice(sorted(KNOWN))]  # a measure absent
            if rng.random() < 0.05:  # not a number (never the sample's measure: the rule could not compare it)
                values[C if sample is not None and sample[0] == A else A] = "n/a"
            month[unit] = values
        monthly[label] = month
        uncovered[label] = {u: rng.sample(sorted(KNOWN), rng.randint(0, 2)) for u in rng.sample(units, 12)}
    uncovered["2025-02"]["NOT-IN-COHORT"] = [A]
    data = SimpleNamespace(monthly=monthly, monthly_uncovered=uncovered)
    got = engine._Months(units, data).series(subject)
    assert len(got) == len(units)
    nones = 0
    for unit, series in zip(units, got, strict=True):
        expected = []
        for label in sorted(monthly):
            measures = monthly[label].get(unit, {})
            if engine._gaps(subject, uncovered.get(label, {}).get(unit)) or engine._sample_short(subject, measures):
                expected.append((label, None))
            else:
                expected.append((label, subject.formula.evaluate(measures)))
        assert [label for label, _ in series] == [label for label, _ in expected]
        for (_, mine), (label, theirs) in zip(series, expected, strict=True):
            if theirs is None:
                assert mine is None, (unit, label, mine)
                nones += 1
            else:
                assert mine is not None and np.float64(mine).tobytes() == np.float64(theirs).tobytes(), (unit, label)
    assert 0 < nones < len(units) * len(monthly)  # both kinds of month occur
