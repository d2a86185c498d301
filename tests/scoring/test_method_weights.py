"""Weights by method for a run's scheme (``suggestions.method_weights``): the one path that both
``suggestedWeights`` and the fuzzy evaluation take."""

from __future__ import annotations

import pytest

from services.scoring.engine import EngineInput, compute
from services.scoring.scheme import parse_scheme
from services.scoring.suggestions import NOT_JUDGED, NOT_MEASURED, cohort_matrix, method_weights
from services.scoring.weights import WeightError, entropy_weights, pca_weights
from tests.scoring.example import MEASURES, example_scheme, indicator

CODES = ["answer_rate", "average_answer_wait", "satisfaction_rate", "complaints", "average_handle_time"]


def details(scheme):
    return compute(EngineInput(scheme=scheme, units=sorted(MEASURES), measures=MEASURES))["units"]


def test_points_are_the_schemes_own_weights():
    weights = method_weights(parse_scheme(example_scheme()), "points")
    assert weights.by_indicator() == dict(zip(CODES, [0.3, 0.2, 0.2, 0.1, 0.2], strict=True))
    assert weights.excluded == []


def test_data_methods_read_the_units_with_every_measured_indicator_applicable():
    scheme = parse_scheme(example_scheme())
    results = details(scheme)
    # UC's answer rate is N/A (sample below the minimum): its row is left out of the matrix.
    matrix = cohort_matrix(scheme.items, results)
    assert matrix == [[90.0, 10.0, 95.0, 0.0, 120.0], [80.0, 20.0, 90.0, 3.0, 200.0], [80.0, 15.0, 87.5, 3.0, 200.0]]
    pca = method_weights(scheme, "pca", results)
    assert pca.indicators == CODES and pca.units_used == 3
    assert pca.weights == pca_weights(matrix).weights and pca.components == pca_weights(matrix).components
    entropy = method_weights(scheme, "entropy", results)
    lower = [False, True, False, True, False]
    assert entropy.weights == entropy_weights(matrix, lower)


def test_data_methods_leave_out_expert_scored_indicators():
    document = example_scheme()
    document["items"].append(
        {"indicator": indicator("innovation", "reported.innovation", unit="points", method="expert"), "points": 10,
         "rule": {"type": "expert"}, "reference": {"policy": "none"}}
    )  # fmt: skip
    scheme = parse_scheme(document)
    weights = method_weights(scheme, "critic", details(scheme))
    assert "innovation" not in weights.indicators and weights.excluded == [("innovation", NOT_MEASURED)]
    assert "innovation" in method_weights(scheme, "points").indicators


def test_ahp_weighs_the_judged_indicators_in_scheme_order():
    scheme = parse_scheme(example_scheme())
    # Satisfaction twice as important as the answer rate: weights 1/3 and 2/3, listed in scheme order.
    weights = method_weights(scheme, "ahp", ahp=(["satisfaction_rate", "answer_rate"], [[1, 2], [0.5, 1]]))
    assert weights.by_indicator() == {"answer_rate": 0.333333, "satisfaction_rate": 0.666667}
    assert weights.consistency_ratio == 0.0
    assert [c for c, _ in weights.excluded] == ["average_answer_wait", "complaints", "average_handle_time"]
    assert {why for _, why in weights.excluded} == {NOT_JUDGED}


@pytest.mark.parametrize(
    ("method", "ahp", "message"),
    [
        ("ahp", None, "needs a judgement matrix"),
        ("pca", (["answer_rate"], [[1]]), "only read by the method ahp"),
        ("ahp", (["answer_rate", "nope"], [[1, 2], [0.5, 1]]), "not an indicator of the run's scheme: nope"),
        ("ahp", (["answer_rate", "answer_rate"], [[1, 1], [1, 1]]), "appears twice"),
        ("ahp", (["answer_rate", "complaints"], [[1]]), "1 rows for 2 indicators"),
        ("ahp", (["answer_rate", "complaints"], [[1, 3], [3, 1]]), "reciprocal"),
        ("ahp", (["answer_rate", "complaints"], [[1, 2], [0.5]]), "square"),
        ("ahp", ([], []), "square with at least two"),
        ("median", None, "unknown method 'median'"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(method, ahp, message):
    with pytest.raises(WeightError, match=message):
        method_weights(parse_scheme(example_scheme()), method, ahp=ahp)


def test_data_methods_need_two_complete_units():
    scheme = parse_scheme(example_scheme())
    with pytest.raises(WeightError, match=r"at least two units .* \(1 in this run\)"):
        method_weights(
            scheme, "pca", [d for d in details(scheme) if d["unit"] in ("UA", "UC")]
        )  # UC's answer rate is N/A
