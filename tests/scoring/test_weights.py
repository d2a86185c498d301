"""Weight suggestions: entropy, CRITIC, PCA and AHP with its consistency ratio."""

from __future__ import annotations

import numpy as np
import pytest

from services.scoring.weights import WeightError, ahp_weights, critic_weights, entropy_weights, pca_weights


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


# Two indicators move together exactly (x2 = 2·x1) and a third is uncorrelated with both.
PCA_EXAMPLE = [[1, 2, 2], [2, 4, 1], [3, 6, 1], [4, 8, 2]]


def test_pca_hand_computed_example():
    # Standardised, x1 and x2 are the same column and x3 is orthogonal to it (centred x1 = (−1.5, −0.5, 0.5,
    # 1.5), centred x3 = (0.5, −0.5, −0.5, 0.5): their product sums to 0), so the correlation matrix is
    #   R = [[1, 1, 0], [1, 1, 0], [0, 0, 1]], eigenvalues 2, 1, 0 with eigenvectors
    #   u1 = (1, 1, 0)/√2, u2 = (0, 0, 1), u3 = (1, −1, 0)/√2.
    # Shares of variance 2/3, 1/3, 0: one component explains 66.7 % < 85 %, two explain 100 % → keep 2.
    # Composite coefficients c_j = Σ_k (λ_k / (λ1 + λ2)) |u_jk|:
    #   c1 = c2 = 2/3 · 1/√2 = √2/3, c3 = 1/3 · 1 = 1/3; Σc = (2√2 + 1)/3.
    #   w1 = w2 = √2 / (2√2 + 1) = 0.369398, w3 = 1 / (2√2 + 1) = 0.261204.
    result = pca_weights(PCA_EXAMPLE)
    assert result.weights == [0.369398, 0.369398, 0.261204]
    assert result.eigenvalues == [2.0, 1.0, 0.0] and result.components == 2 and result.cumulative_share == 1.0


def test_pca_keeps_one_component_when_it_explains_enough():
    # Perfectly correlated: R = [[1, 1], [1, 1]], eigenvalues 2 and 0, the first explains 100 % → one component,
    # u1 = (1, 1)/√2 → equal weights.
    result = pca_weights([[1, 10], [2, 20], [4, 40]])
    assert result.weights == [0.5, 0.5] and result.components == 1 and result.eigenvalues == [2.0, 0.0]


def _pca_by_svd(matrix):
    """The same weights computed independently: the singular value decomposition of the standardised
    matrix Z = U S Vᵀ gives the correlation matrix's eigenvalues s²/(n − 1) and eigenvectors (rows of Vᵀ)."""
    x = np.asarray(matrix, dtype=float)
    z = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    lam = s**2 / (len(x) - 1)
    share = np.cumsum(lam) / lam.sum()
    kept = next(k + 1 for k, c in enumerate(share) if c >= 0.85)
    coefficients = np.abs(vt[:kept].T) @ (lam[:kept] / lam[:kept].sum())
    return coefficients / coefficients.sum(), lam, kept


def test_pca_agrees_with_an_independent_svd_computation():
    rng = np.random.default_rng(20250301)
    base = rng.normal(size=(30, 2))
    # Six indicators driven by two factors plus noise: a structure where several components matter.
    mixing = np.array([[1.0, 0.2], [0.9, 0.1], [0.1, 1.0], [0.3, 0.8], [0.5, 0.5], [0.0, 0.1]])
    matrix = (base @ mixing.T + 0.3 * rng.normal(size=(30, 6))) * [1, 10, 100, 1, 5, 2] + [0, 50, 0, 7, 0, 3]
    weights, lam, kept = _pca_by_svd(matrix)
    result = pca_weights(matrix.tolist())
    assert result.components == kept and 1 < kept < 6
    assert result.weights == pytest.approx(weights.tolist(), abs=1e-6)
    assert result.eigenvalues == pytest.approx(lam.tolist(), abs=1e-6)
    assert abs(sum(result.weights) - 1) < 1e-5


def test_pca_ignores_direction_and_unit_order_and_scale():
    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(12, 4)) @ rng.normal(size=(4, 4))
    weights = pca_weights(matrix.tolist()).weights
    flipped = matrix * [1, -1, 1, 1] + [0, 100, 0, 0]  # a lower-is-better column turned around
    rescaled = matrix * [1000, 1, 0.01, 1]  # other units of measurement
    shuffled = matrix[rng.permutation(12)]
    for other in (flipped, rescaled, shuffled):
        assert pca_weights(other.tolist()).weights == pytest.approx(weights, abs=2e-6)


def test_pca_gives_no_weight_to_a_constant_indicator_and_refuses_when_nothing_varies():
    result = pca_weights([[1, 2, 5], [2, 4, 5], [3, 7, 5]])
    assert result.weights[2] == 0.0 and abs(sum(result.weights) - 1) < 1e-5 and min(result.weights[:2]) > 0
    with pytest.raises(WeightError, match="no indicator varies"):
        pca_weights([[1, 5], [1, 5], [1, 5]])
    with pytest.raises(WeightError, match="finite"):
        pca_weights([[1, 5], [float("nan"), 5]])
    with pytest.raises(WeightError, match="two units"):
        pca_weights([[1, 5]])
