"""Weight suggestions: entropy, CRITIC and PCA from a cohort's indicator values, AHP from pairwise judgements.

Inputs are plain matrices (units × indicators, or indicators × indicators); outputs are weights that
add up to 1, rounded to 6 places, in the order of the indicators given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Saaty's random consistency index by matrix size.
RANDOM_INDEX = {1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49,
                11: 1.51, 12: 1.48, 13: 1.56, 14: 1.57, 15: 1.59}  # fmt: skip
MAX_CONSISTENCY_RATIO = 0.1
# PCA keeps the fewest leading components that explain at least this share of the variance.
PCA_CUMULATIVE_SHARE = 0.85


class WeightError(ValueError):
    """The data or judgements cannot give weights (too few units, inconsistent judgements …); ``code`` says
    which: ``insufficient_data``, ``invalid_matrix`` or ``inconsistent``."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class AhpResult:
    weights: list[float]
    lambda_max: float
    consistency_index: float
    consistency_ratio: float


@dataclass(frozen=True, slots=True)
class PcaResult:
    weights: list[float]
    eigenvalues: list[float]  # of the correlation matrix, largest first
    components: int  # how many leading components were kept
    cumulative_share: float  # the share of the variance they explain


def _normalised(matrix: Sequence[Sequence[float]], lower_better: Sequence[bool]) -> np.ndarray:
    x = np.asarray(matrix, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise WeightError("need at least two units and one indicator", "insufficient_data")
    if x.shape[1] != len(lower_better):
        raise WeightError("one direction per indicator is needed", "insufficient_data")
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    positive = (x - lo) / span
    negative = (hi - x) / span
    return np.where(np.asarray(lower_better)[None, :], negative, positive)


def _finish(raw: np.ndarray) -> list[float]:
    total = raw.sum()
    if total <= 0:
        raw, total = np.ones_like(raw), float(len(raw))
    return [round(float(w), 6) for w in raw / total]


def entropy_weights(matrix: Sequence[Sequence[float]], lower_better: Sequence[bool]) -> list[float]:
    """Entropy weight method: indicators whose values differ more across units weigh more."""
    z = _normalised(matrix, lower_better) + 1e-12  # shift so log(0) never occurs
    p = z / z.sum(axis=0)
    n = z.shape[0]
    entropy = -(p * np.log(p)).sum(axis=0) / np.log(n)
    return _finish(1 - entropy)


def critic_weights(matrix: Sequence[Sequence[float]], lower_better: Sequence[bool]) -> list[float]:
    """CRITIC: contrast (standard deviation) times conflict (1 − correlation with the others)."""
    z = _normalised(matrix, lower_better)
    sigma = z.std(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(z, rowvar=False) if z.shape[1] > 1 else np.ones((1, 1))
    corr = np.nan_to_num(np.atleast_2d(corr), nan=0.0)
    conflict = (1 - corr).sum(axis=0)
    return _finish(sigma * conflict)


def ahp_weights(judgements: Sequence[Sequence[float]]) -> AhpResult:
    """AHP: the principal eigenvector of a reciprocal pairwise matrix; refuses (``WeightError``) when the
    consistency ratio exceeds 0.1 or the matrix is not positive and reciprocal."""
    n = len(judgements)
    if n < 2 or any(len(row) != n for row in judgements):
        raise WeightError("the judgement matrix must be square with at least two indicators", "invalid_matrix")
    a = np.asarray(judgements, dtype=float)
    if not np.isfinite(a).all():
        raise WeightError("the judgement matrix must hold finite numbers", "invalid_matrix")
    if (a <= 0).any() or not np.allclose(a * a.T, 1.0, rtol=1e-6):
        raise WeightError(
            "the judgement matrix must be positive and reciprocal (a[j][i] = 1 / a[i][j])", "invalid_matrix"
        )
    eigenvalues, eigenvectors = np.linalg.eig(a)
    k = int(np.argmax(eigenvalues.real))
    lambda_max = float(eigenvalues[k].real)
    vector = np.abs(eigenvectors[:, k].real)
    ci = (lambda_max - n) / (n - 1)
    ri = RANDOM_INDEX.get(n, 1.59)
    cr = 0.0 if ri == 0 else ci / ri
    if cr > MAX_CONSISTENCY_RATIO:
        raise WeightError(
            f"the judgements are inconsistent: consistency ratio {cr:.3f} > {MAX_CONSISTENCY_RATIO}", "inconsistent"
        )
    return AhpResult(
        weights=_finish(vector),
        lambda_max=round(lambda_max, 6),
        consistency_index=round(ci, 6),
        consistency_ratio=round(cr, 6),
    )


def pca_weights(matrix: Sequence[Sequence[float]]) -> PcaResult:
    """Principal-component weights (主成分分析法; seed 001: 模糊综合评价法结合主成分分析确定指标权重).

    1. Standardise each indicator over the units: z = (x − mean) / sd (sd with n − 1). An indicator
       that does not vary carries no information: it is left out and weighs 0.
    2. R = ZᵀZ / (n − 1), the correlation matrix; its eigenvalues λ₁ ≥ … ≥ λₘ and unit eigenvectors uₖ
       (``numpy.linalg.eigh``).
    3. Keep the fewest leading components whose cumulative share Σλₖ / Σλ reaches 85 %.
    4. Indicator j's coefficient in component k is its loading over √λₖ, i.e. uⱼₖ; its coefficient in
       the composite is cⱼ = Σₖ (λₖ / Σ_kept λ) · |uⱼₖ| — the kept components weighted by the variance
       they explain. The magnitude is taken because an eigenvector's sign is arbitrary (so an
       indicator's direction, which only flips the sign of its column, does not matter either).
    5. wⱼ = cⱼ / Σ c.
    """
    x = np.asarray(matrix, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise WeightError("need at least two units and one indicator", "insufficient_data")
    if not np.isfinite(x).all():
        raise WeightError("the indicator values must be finite numbers", "insufficient_data")
    n = x.shape[0]
    mean, sd = x.mean(axis=0), x.std(axis=0, ddof=1)
    varying = sd > 1e-12 * np.maximum(1.0, np.abs(mean))
    if not varying.any():
        raise WeightError(
            "no indicator varies across the units: principal components have no variance to explain",
            "insufficient_data",
        )
    z = (x[:, varying] - mean[varying]) / sd[varying]
    correlation = z.T @ z / (n - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(correlation)
    order = np.argsort(-eigenvalues, kind="stable")
    lam = np.clip(eigenvalues[order], 0.0, None)  # rounding can leave a zero eigenvalue slightly negative
    vectors = eigenvectors[:, order]
    cumulative = np.cumsum(lam) / lam.sum()
    kept = int(np.argmax(cumulative >= PCA_CUMULATIVE_SHARE - 1e-12)) + 1
    coefficients = np.abs(vectors[:, :kept]) @ (lam[:kept] / lam[:kept].sum())
    raw = np.zeros(x.shape[1])
    raw[varying] = coefficients
    return PcaResult(
        weights=_finish(raw),
        eigenvalues=[round(float(v), 6) for v in lam],
        components=kept,
        cumulative_share=round(float(cumulative[kept - 1]), 6),
    )
