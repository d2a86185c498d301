"""Fuzzy comprehensive evaluation (``fuzzy``): membership functions, B = W·R, grade, score — by hand and
by property, without a database."""

from __future__ import annotations

import random

import pytest

from services.scoring.engine import EngineInput, compute
from services.scoring.fuzzy import (
    Factor,
    evaluate_cohort,
    evaluate_unit,
    explain_method,
    explain_unit,
    levels_of,
    maximum_membership,
    memberships,
)
from services.scoring.scheme import GradeBand, parse_scheme
from services.scoring.weights import WeightError
from tests.scoring.example import MEASURES, example_scheme

BANDS = [
    GradeBand("excellent", "优秀", 90),
    GradeBand("qualified", "合格", 70),
    GradeBand("needs_improvement", "待改进", 0),
]
LEVELS = levels_of(BANDS, 100)


def test_membership_functions_of_the_usual_bands():
    # Bands 待改进 [0, 70), 合格 [70, 90), 优秀 [90, 100]; widths 70, 20, 10. Transition half-widths:
    # at 70 min(70, 20)/2 = 10 → 60…80; at 90 min(20, 10)/2 = 5 → 85…95. Centres 35, 80, 95.
    assert [(lv.code, lv.lower, lv.upper, lv.centre, lv.corners) for lv in LEVELS] == [
        ("excellent", 90.0, 100.0, 95.0, (85.0, 95.0, 100.0, 100.0)),
        ("qualified", 70.0, 90.0, 80.0, (60.0, 80.0, 85.0, 95.0)),
        ("needs_improvement", 0.0, 70.0, 35.0, (0.0, 0.0, 60.0, 80.0)),
    ]
    expected = {  # x → (优秀, 合格, 待改进)
        0: (0, 0, 1), 60: (0, 0, 1), 65: (0, 0.25, 0.75), 70: (0, 0.5, 0.5), 75: (0, 0.75, 0.25),
        80: (0, 1, 0), 85: (0, 1, 0), 88: (0.3, 0.7, 0), 90: (0.5, 0.5, 0), 95: (1, 0, 0), 100: (1, 0, 0),
    }  # fmt: skip
    for x, degrees in expected.items():
        assert memberships(x, LEVELS) == pytest.approx(degrees, abs=1e-12), x


def test_four_bands_and_a_band_that_cannot_be_reached():
    # A 85, B 75, C 60, D 0 on 100: half-widths at 60: min(60, 15)/2 = 7.5; at 75 and 85: min(15, 10)/2 = 5.
    levels = levels_of(
        [GradeBand("A", "A", 85), GradeBand("B", "B", 75), GradeBand("C", "C", 60), GradeBand("D", "D", 0)], 100
    )
    assert [lv.corners for lv in levels] == [
        (80.0, 90.0, 100.0, 100.0), (70.0, 80.0, 80.0, 90.0), (52.5, 67.5, 70.0, 80.0), (0.0, 0.0, 52.5, 67.5)
    ]  # fmt: skip
    assert memberships(80, levels) == pytest.approx([0, 1, 0, 0]) and memberships(56.25, levels) == pytest.approx(
        [0, 0, 0.25, 0.75]
    )
    # Two bands with the same minimum: the lower one has no width and no membership anywhere; the other is a step.
    # As for totals, the first listed of the two is the one earned from 90 on.
    same = levels_of([GradeBand("top", "优", 90), GradeBand("dup", "重", 90), GradeBand("low", "差", 0)], 100)
    assert [(lv.code, lv.lower, lv.upper) for lv in same] == [("top", 90, 100), ("dup", 90, 90), ("low", 0, 90)]
    assert [memberships(x, same) for x in (89.9, 90, 100)] == [[0, 0, 1], [1, 0, 0], [1, 0, 0]]


def test_the_hand_computed_three_units_by_three_indicators():
    """Indicators a (40 points), b (30), c (30), weights W = (0.5, 0.3, 0.2); bands as above, T = 100.

    U1: a 38 → x = 95, b 27 → 90, c 24 → 80.
        R = [[1, 0, 0], [0.5, 0.5, 0], [0, 1, 0]]
        B = 0.5·(1, 0, 0) + 0.3·(0.5, 0.5, 0) + 0.2·(0, 1, 0) = (0.65, 0.35, 0) → 优秀
        score = 0.65·95 + 0.35·80 = 61.75 + 28 = 89.75
    U2: a 30 → x = 75, b 19.5 → 65, c N/A: left out, weights renormalised over a and b:
        0.5/0.8 = 0.625, 0.3/0.8 = 0.375.
        R = [[0, 0.75, 0.25], [0, 0.25, 0.75]]
        B = 0.625·(0, 0.75, 0.25) + 0.375·(0, 0.25, 0.75) = (0, 0.5625, 0.4375) → 合格
        score = 0.5625·80 + 0.4375·35 = 45 + 15.3125 = 60.3125
    U3: a 28, b 21, c 21 → x = 70 each: every row (0, 0.5, 0.5), B = (0, 0.5, 0.5): a tie between 合格 and
        待改进 → the higher, 合格 (as a total of exactly 70 earns 合格); score = 0.5·80 + 0.5·35 = 57.5.
    """
    weights = {"a": 0.5, "b": 0.3, "c": 0.2}

    def factors(a, b, c):
        return [
            Factor(code, code, code, points, score)
            for code, points, score in (("a", 40, a), ("b", 30, b), ("c", 30, c))
        ]

    u1 = evaluate_unit("U1", 89.0, factors(38, 27, 24), weights, LEVELS, 100)
    assert [r.degrees for r in u1.rows] == [(1, 0, 0), (0.5, 0.5, 0), (0, 1, 0)]
    assert [r.level for r in u1.rows] == [95, 90, 80] and [r.weight for r in u1.rows] == [0.5, 0.3, 0.2]
    assert u1.composite == (0.65, 0.35, 0) and u1.grade.code == "excellent" and not u1.tied and u1.score == 89.75

    u2 = evaluate_unit("U2", 70.0, factors(30, 19.5, None), weights, LEVELS, 100)
    assert [r.factor.indicator for r in u2.rows] == ["a", "b"] and [f.indicator for f in u2.left_out] == ["c"]
    assert [r.weight for r in u2.rows] == [0.625, 0.375]
    assert [r.degrees for r in u2.rows] == [(0, 0.75, 0.25), (0, 0.25, 0.75)]
    assert u2.composite == (0, 0.5625, 0.4375) and u2.grade.code == "qualified" and u2.score == 60.3125

    u3 = evaluate_unit("U3", 70.0, factors(28, 21, 21), weights, LEVELS, 100)
    assert u3.composite == (0, 0.5, 0.5) and u3.tied and u3.grade.code == "qualified" and u3.score == 57.5

    text = explain_unit(u2, "pca", LEVELS)
    assert "主成分分析法" in text["zh"] and "[0, 0.75, 0.25]" in text["zh"] and "权重 0.625" in text["zh"]
    assert "B = W·R = [0, 0.5625, 0.4375]" in text["en"] and "qualified" in text["en"] and "60.3125" in text["en"]
    assert "left out as not applicable: c" in text["en"]
    assert "a tie" in explain_unit(u3, "pca", LEVELS)["en"]


def test_units_without_a_fuzzy_result_say_why():
    weights = {"a": 0.6, "b": 0.4}
    withheld = evaluate_unit("W", None, [Factor("a", "a", "a", 10, None)], weights, LEVELS, 100)
    assert withheld.reason == "total_withheld" and withheld.composite is None and withheld.grade is None
    only_other = [Factor("a", "a", "a", 10, None), Factor("x", "x", "x", 10, 9.0)]  # x takes no part
    assert evaluate_unit("N", 90.0, only_other, weights, LEVELS, 100).reason == "no_applicable_indicator"
    zero = evaluate_unit("Z", 90.0, [Factor("a", "a", "a", 10, 9.0)], {"a": 0.0, "b": 1.0}, LEVELS, 100)
    assert zero.reason == "zero_weight" and zero.score is None
    assert "总分未给出" in explain_unit(withheld, "points", LEVELS)["zh"]
    assert "weighs 0" in explain_unit(zero, "points", LEVELS)["en"]


def test_the_largest_membership_of_a_single_level_is_its_crisp_band():
    # The trapezoids cross ½ at the band edges, and a tie goes to the higher grade: one indicator alone
    # gets the grade a total of the same figure gets (engine: the first band whose minimum it reaches).
    rng = random.Random(2025)
    for _ in range(200):
        bands = _random_bands(rng)
        levels = levels_of(bands, 100)
        for x in [rng.uniform(0, 100) for _ in range(20)] + [b.min for b in bands]:
            crisp = next(b for b in sorted(bands, key=lambda b: -b.min) if x >= b.min)
            degrees = memberships(x, levels)
            assert levels[maximum_membership(degrees)[0]].code == crisp.code, (x, bands, degrees)


def _random_bands(rng: random.Random):
    mins = sorted(rng.sample(range(1, 100), rng.randint(1, 4)), reverse=True)
    return [GradeBand(f"g{m}", f"等{m}", float(m)) for m in mins] + [GradeBand("low", "低", 0.0)]


def test_properties_memberships_weights_and_composites():
    rng = random.Random(14)
    for _ in range(300):
        levels = levels_of(_random_bands(rng), 100)
        factors = [Factor(f"i{j}", "", "", p, rng.choice([None, round(rng.uniform(0, p), 4)]))
                   for j, p in enumerate(rng.choices([5, 10, 20, 30], k=rng.randint(1, 8)))]  # fmt: skip
        weights = {f.indicator: rng.random() for f in factors}
        total = 50.0
        for x in (rng.uniform(-5, 105) for _ in range(5)):
            row = memberships(x, levels)
            assert all(0 <= r <= 1 for r in row) and sum(row) == pytest.approx(1, abs=1e-12)
        result = evaluate_unit("U", total, factors, weights, levels, 100)
        if not any(f.score is not None for f in factors):
            assert result.reason == "no_applicable_indicator"
            continue
        assert all(0 <= d <= 1 for r in result.rows for d in r.degrees)
        assert all(sum(r.degrees) == pytest.approx(1, abs=1e-5) for r in result.rows)
        assert sum(r.weight for r in result.rows) == pytest.approx(1, abs=1e-5)
        assert sum(result.composite) == pytest.approx(1, abs=1e-5) and all(0 <= b <= 1 for b in result.composite)
        centres = [lv.centre for lv in levels]
        assert min(centres) - 1e-9 <= result.score <= max(centres) + 1e-9
        assert result.composite[levels.index(result.grade)] == max(result.composite)


def engine_details(measures=MEASURES, **overrides):
    scheme = parse_scheme(example_scheme(**overrides))
    return scheme, compute(EngineInput(scheme=scheme, units=sorted(measures), measures=measures))["units"]


def test_with_the_schemes_points_the_weighted_levels_are_the_total():
    # Under the rescale N/A policy the total is Σ_j (p_j / Σ applicable p) · x_j with x_j = 100 · score_j / p_j:
    # the POINTS fuzzy evaluation weighs exactly the figures the total weighs. UC (answer rate N/A):
    # (100·20 + 33.3335·20 + 100·10 + 100·20) / 70 = 80.95.
    scheme, details = engine_details()
    cohort = evaluate_cohort(scheme, details, "points")
    for unit, detail in zip(cohort.units, sorted(details, key=lambda d: d["unit"]), strict=True):
        weighted = sum(r.weight * r.level for r in unit.rows)
        assert weighted == pytest.approx(detail["total"], abs=0.01), unit.unit
    uc = next(u for u in cohort.units if u.unit == "UC")
    assert [f.indicator for f in uc.left_out] == ["answer_rate"] and len(uc.rows) == 4
    ua = next(u for u in cohort.units if u.unit == "UA")  # every score full: all excellent, score = centre 95
    assert ua.composite == (1, 0, 0) and ua.score == 95.0 and ua.grade.code == "excellent"


def test_the_cohort_evaluation_does_not_depend_on_unit_order_or_ids():
    scheme, details = engine_details()
    pca = evaluate_cohort(scheme, details, "pca")
    # The same results under other ids that sort the other way round, handed over in another order.
    renamed = {"UA": "Z1", "UB": "Y2", "UC": "X3", "UD": "W4"}
    other = [{**d, "unit": renamed[d["unit"]]} for d in reversed(details)]
    again = evaluate_cohort(scheme, other, "pca")
    assert again.weights.weights == pytest.approx(pca.weights.weights, abs=2e-6)
    mine = {u.unit: u for u in pca.units}
    for unit in again.units:
        original = mine[next(k for k, v in renamed.items() if v == unit.unit)]
        assert unit.composite == pytest.approx(original.composite, abs=1e-5) and unit.grade == original.grade
    # ``shown`` picks units without changing the weights, which come from every unit.
    only = evaluate_cohort(scheme, details, "pca", shown={"UB"})
    assert [u.unit for u in only.units] == ["UB"] and only.weights == pca.weights


def test_the_cohort_evaluation_refuses_what_the_method_refuses():
    scheme, details = engine_details()
    with pytest.raises(WeightError, match="inconsistent"):
        codes = ["answer_rate", "satisfaction_rate", "complaints"]
        evaluate_cohort(scheme, details, "ahp", (codes, [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]]))


def test_the_method_paragraph_states_grades_functions_weights_and_operator():
    text = explain_method(
        "pca", LEVELS, 100, [("a", "接通率", "Answer rate", 0.6), ("b", "满意率", "Satisfaction", 0.4)]
    )
    assert "主成分分析法" in text["zh"] and "接通率 0.6" in text["zh"] and "M(·,⊕)" in text["zh"]
    assert "优秀(90–100,中点 95)" in text["zh"] and "qualified [60, 80, 85, 95]" in text["en"]
    assert "principal component analysis: Answer rate 0.6, Satisfaction 0.4" in text["en"]
    assert "maximum membership (a tie goes to the higher grade)" in text["en"]
