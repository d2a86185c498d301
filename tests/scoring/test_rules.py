"""Every scoring rule, reference policy, ranking and interval, on small hand-checked numbers."""

from __future__ import annotations

import pytest

from hotline.domain.formula import parse
from services.scoring import rules
from services.scoring.numbers import rnd
from services.scoring.ranking import competition_ranks, overlapping_neighbours
from services.scoring.references import HistoryPeriod, best_in_cohort, dynamic_baseline, resolve_reference
from services.scoring.scheme import parse_scheme
from services.scoring.statistics import rate_parts, wilson_interval
from tests.scoring.example import example_scheme, indicator


def item(rule, direction="higher_better", points=10, reference=None):
    raw = {
        "indicator": indicator("x", "calls.answered", direction=direction),
        "points": points,
        "rule": rule,
        "reference": reference or {"policy": "target", "value": 1},
    }
    return parse_scheme(example_scheme(items=[raw])).items[0]


@pytest.mark.parametrize(
    ("value", "reference", "direction", "expected"),
    [
        (45, 90, "higher_better", 5.0),  # 45/90 × 10
        (120, 90, "higher_better", 10.0),  # never above the points
        (20, 10, "lower_better", 5.0),  # 10/20 × 10
        (5, 10, "lower_better", 10.0),  # better than the reference: capped
        (0, 10, "lower_better", 10.0),  # zero waiting is the best possible
    ],
)
def test_ratio_to_reference(value, reference, direction, expected):
    assert rules.ratio_to_reference(value, reference, item({"type": "ratio_to_reference"}, direction)) == expected


def test_ratio_without_a_reference_is_not_applicable():
    assert rules.ratio_to_reference(5, None, item({"type": "ratio_to_reference"})) is None


@pytest.mark.parametrize(("value", "direction", "expected"), [(85, "higher_better", 10), (84.9, "higher_better", 0),
                                                             (15, "lower_better", 10), (16, "lower_better", 0)])  # fmt: skip
def test_threshold(value, direction, expected):
    target = 85 if direction == "higher_better" else 15
    assert rules.threshold(value, item({"type": "threshold", "target": target}, direction)) == expected


@pytest.mark.parametrize(("value", "expected"), [(70, 0.0), (80, 0.0), (87.5, 5.0), (95, 10.0), (99, 10.0)])
def test_linear_band_higher_is_better(value, expected):
    assert rules.linear_band(value, item({"type": "linear_band", "floor": 80, "target": 95})) == expected


@pytest.mark.parametrize(("value", "expected"), [(30, 0.0), (20, 5.0), (10, 10.0), (5, 10.0)])
def test_linear_band_lower_is_better(value, expected):
    # Queue seconds: 30 s or worse → 0, 10 s or better → full, 20 s → half.
    rule = {"type": "linear_band", "floor": 30, "target": 10}
    assert rules.linear_band(value, item(rule, "lower_better")) == expected


@pytest.mark.parametrize(("value", "expected"), [(60, 10.0), (180, 10.0), (30, 5.0), (210, 5.0), (0, 0.0), (400, 0.0)])
def test_target_band_punishes_too_short_as_much_as_too_long(value, expected):
    rule = {"type": "target_band", "low": 60, "high": 180, "tolerance": 60}
    assert rules.target_band(value, item(rule, "target_band")) == expected


@pytest.mark.parametrize(("occurrences", "expected"), [(0, 10.0), (3, 10.0), (4, 8.0), (5, 6.0), (20, 0.0)])
def test_deduction_per_occurrence_after_free_ones(occurrences, expected):
    # "timeouts > 3 a month": 3 free, 2 points per occurrence beyond, never below 0.
    rule = {"type": "deduction", "per_occurrence": 2, "free_occurrences": 3}
    assert rules.deduction(occurrences, item(rule, "lower_better")) == expected


def test_expert_aggregation():
    assert rules.aggregate_expert_scores([], "mean") is None
    assert rules.aggregate_expert_scores([6, 9], "trimmed_mean") == 7.5  # fewer than 3: plain mean
    assert rules.aggregate_expert_scores([1, 6, 9, 10], "trimmed_mean") == 7.5


def test_best_in_cohort_records_who_set_it():
    higher = item({"type": "ratio_to_reference"}, reference={"policy": "best_in_cohort"})
    lower = item({"type": "ratio_to_reference"}, "lower_better", reference={"policy": "best_in_cohort"})
    values = {"B": 80.0, "A": 90.0, "C": 90.0, "D": 70.0}
    assert best_in_cohort(values, higher).value == 90 and best_in_cohort(values, higher).set_by == "A"
    assert best_in_cohort(values, lower).set_by == "D"
    assert best_in_cohort({}, higher).value is None


def test_fixed_and_target_references():
    fixed = item({"type": "ratio_to_reference"}, reference={"policy": "fixed", "value": 92.5})
    ref = resolve_reference(fixed, {"A": 50.0})
    assert (ref.value, ref.policy, ref.set_by) == (92.5, "fixed", None)


def test_dynamic_baseline_same_month_and_any():
    base = {"policy": "dynamic_baseline", "lookback_periods": 1, "match": "same_month"}
    same_month = item({"type": "ratio_to_reference"}, reference=base)
    history = [
        HistoryPeriod("2024-01", (1,), {"A": 60.0, "B": 80.0}),
        HistoryPeriod("2024-12", (12,), {"A": 99.0}),
    ]
    assert dynamic_baseline((1,), history, same_month).value == 70.0
    any_period = item({"type": "ratio_to_reference"}, reference={**base, "match": "any"})
    assert dynamic_baseline((1,), history, any_period).value == 99.0
    assert dynamic_baseline((1,), [], any_period).value is None


def test_competition_ranking_ties_share_a_rank():
    assert competition_ranks({"a": 90, "b": 80, "c": 90, "d": 70}) == {"a": 1, "c": 1, "b": 3, "d": 4}
    assert competition_ranks({"a": 1, "b": 2}, higher_better=False) == {"a": 1, "b": 2}


def test_overlapping_neighbours_are_flagged():
    ranks = {"a": 1, "b": 2, "c": 3}
    found = overlapping_neighbours(ranks, {"a": (80, 90), "b": (85, 88), "c": (10, 20)})
    assert found == {"a": ["b"], "b": ["a"], "c": []}


def test_wilson_interval_known_values():
    low, high = wilson_interval(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and round(high, 4) == 0.2775
    assert wilson_interval(3, 0) is None and wilson_interval(11, 10) is None


def test_rate_parts_find_the_scale():
    parts = rate_parts(parse("calls.answered / calls.offered * 100"))
    assert (parts.numerator.text, parts.denominator.text, parts.scale) == ("calls.answered", "calls.offered", 100)
    assert rate_parts(parse("calls.answered * 100 / calls.offered")).scale == 100
    assert rate_parts(parse("calls.answered + 1")) is None


def test_rounding_is_correct_rounding_of_the_binary_value_and_never_negative_zero():
    # 1.00005 is stored as 1.0000500000000001…: it goes up; 2.00005 is 2.0000499999… and goes down.
    assert rnd(1.00005) == 1.0001 and rnd(2.00005) == 2.0
    assert rnd(80 / 90 * 30) == 26.6667 and rnd(-0.00001) == 0.0 and rnd(None) is None


def test_cohort_mean_and_no_reference():
    mean = item({"type": "ratio_to_reference"}, reference={"policy": "cohort_mean"})
    ref = resolve_reference(mean, {"A": 90.0, "B": 60.0, "C": 75.0})
    assert (ref.value, ref.policy, ref.set_by) == (75.0, "cohort_mean", None)  # (90 + 60 + 75) / 3
    assert resolve_reference(mean, {}).value is None
    none = item({"type": "threshold", "target": 95}, reference={"policy": "none"})
    assert resolve_reference(none, {"A": 90.0}).value is None
    # A ratio needs something to be a ratio to.
    with pytest.raises(Exception, match="other than none"):
        item({"type": "ratio_to_reference"}, reference={"policy": "none"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (96.0, 0.0),  # 80 % of the team average 120 = 96: the floor
        (120.0, 5.0),  # 100 % of it: half-way from 80 % to 120 %
        (144.0, 10.0),  # 120 % of it: full points
        (200.0, 10.0),  # never above the points
    ],
)
def test_linear_band_relative_to_the_reference(value, expected):
    # Seed 001: order volume against the team average — ≥ 120 % excellent, < 80 % fails.
    band = item({"type": "linear_band", "floor": 80, "target": 120, "relative": True},
                reference={"policy": "cohort_mean"})  # fmt: skip
    assert rules.score_value(value, 120.0, band) == expected
    assert rules.score_value(value, None, band) is None  # no team average: not applicable
