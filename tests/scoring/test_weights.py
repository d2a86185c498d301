"""Weight suggestions: entropy, CRITIC and AHP with its consistency ratio."""

from __future__ import annotations

import pytest

from services.scoring.weights import WeightError, ahp_weights, critic_weights, entropy_weights


def test_entropy_gives_no_weight_to_an_indicator_that_does_not_vary():
    matrix = [[90, 5], [80, 5], [70, 5]]
    assert entropy_weights(matrix, [False, False]) == [1.0, 0.0]


def test_entropy_symmetric_indicators_share_equally():
    # Normalised columns are (0, 1) and (1, 0): the same dispersion, so equal weights.
    assert entropy_weights([[0, 10], [1, 0]], [False, False]) == [0.5, 0.5]


def test_entropy_respects_direction():
    # Reversing a direction mirrors the normalised column, which changes its entropy and so the weights.
    matrix = [[1, 3], [2, 1], [4, 2]]
    assert entropy_weights(matrix, [False, False]) != entropy_weights(matrix, [True, False])


def test_critic_weights_add_to_one_and_ignore_constants():
    matrix = [[90, 10, 1], [80, 30, 1], [70, 20, 1], [60, 40, 1]]
    weights = critic_weights(matrix, [False, True, False])
    assert weights[2] == 0.0 and abs(sum(weights) - 1) < 1e-5 and all(w > 0 for w in weights[:2])


def test_critic_favours_the_indicator_that_conflicts():
    # Columns 0 and 1 are perfectly correlated (redundant); column 2 is not — it carries more information.
    matrix = [[1, 2, 3], [2, 4, 1], [3, 6, 4], [4, 8, 2]]
    weights = critic_weights(matrix, [False, False, False])
    assert weights[2] > weights[0] and weights[0] == weights[1]


def test_ahp_consistent_matrix():
    # a = 2 b = 4 c: weights 4/7, 2/7, 1/7 and a consistency ratio of 0.
    result = ahp_weights([[1, 2, 4], [1 / 2, 1, 2], [1 / 4, 1 / 2, 1]])
    assert result.weights == [round(4 / 7, 6), round(2 / 7, 6), round(1 / 7, 6)]
    assert result.consistency_ratio == 0.0 and result.lambda_max == 3.0


def test_ahp_refuses_inconsistent_judgements():
    with pytest.raises(WeightError, match="consistency ratio"):
        ahp_weights([[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]])


def test_ahp_refuses_a_matrix_that_is_not_reciprocal():
    with pytest.raises(WeightError, match="reciprocal"):
        ahp_weights([[1, 3], [3, 1]])


def test_too_little_data():
    with pytest.raises(WeightError):
        entropy_weights([[1, 2]], [False, False])
