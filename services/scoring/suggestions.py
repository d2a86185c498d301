"""Weights for a run's indicators by method (the edge around ``weights``): from the stored indicator
values (entropy, CRITIC, PCA), from pairwise judgements (AHP) or from the scheme's own points.

``method_weights`` is plain data in, plain data out; ``suggestedWeights`` and the fuzzy comprehensive
evaluation both use it, so the same method over the same run gives the same weights in both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository
from services.scoring.models import EvaluationRun, UnitResult
from services.scoring.problems import Problem
from services.scoring.scheme import Item, Scheme, parse_scheme
from services.scoring.weights import WeightError, ahp_weights, critic_weights, entropy_weights, pca_weights

DATA_METHODS = ("entropy", "critic", "pca")
METHODS = ("points", *DATA_METHODS, "ahp")
NOT_MEASURED = "scored by experts, not measured: the data methods weigh measured indicators only"
NOT_JUDGED = "not in the AHP judgement matrix"


@dataclass(frozen=True)
class MethodWeights:
    """Weights of the indicators a method weighs (scheme order), and the indicators it leaves out."""

    method: str
    indicators: list[str]
    weights: list[float]
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (indicator, why)
    consistency_ratio: float | None = None  # AHP
    eigenvalues: list[float] | None = None  # PCA: of the correlation matrix, largest first
    components: int | None = None  # PCA: leading components kept
    cumulative_share: float | None = None  # PCA: share of the variance they explain
    units_used: int | None = None  # data methods: units with every weighed indicator applicable

    def by_indicator(self) -> dict[str, float]:
        return dict(zip(self.indicators, self.weights, strict=True))


def cohort_matrix(items: Sequence[Item], details: Iterable[Mapping[str, Any]]) -> list[list[float]]:
    """One row of values per unit (in unit id order) that has every one of ``items`` applicable."""
    matrix = []
    for detail in sorted(details, key=lambda d: d["unit"]):
        values = {i["indicator"]: i["value"] for i in detail["indicators"] if i["applicable"]}
        if all(i.code in values for i in items):
            matrix.append([values[i.code] for i in items])
    return matrix


def method_weights(
    scheme: Scheme,
    method: str,
    details: Iterable[Mapping[str, Any]] = (),
    ahp: tuple[Sequence[str], Sequence[Sequence[float]]] | None = None,
) -> MethodWeights:
    """The weights of ``method`` for the run's scheme: ``details`` are the units' stored results (for
    the data methods), ``ahp`` the indicator codes and their pairwise judgements. Raises ``WeightError``
    saying what is wrong (unknown method, too few units, an inconsistent or malformed matrix …)."""
    if method not in METHODS:
        raise WeightError(f"unknown method {method!r}: {', '.join(METHODS)}", "unknown_method")
    if ahp is not None and method != "ahp":
        raise WeightError("a judgement matrix is only read by the method ahp", "invalid_matrix")
    items = list(scheme.items)
    if method == "points":
        total = sum(i.points for i in items)
        if total <= 0:
            raise WeightError("the scheme's indicators have no points", "insufficient_data")
        return MethodWeights(method, [i.code for i in items], [round(i.points / total, 6) for i in items])
    if method == "ahp":
        return _ahp(scheme, ahp)
    excluded = [(i.code, NOT_MEASURED) for i in items if i.rule.type == "expert"]
    items = [i for i in items if i.rule.type != "expert"]
    if not items:
        raise WeightError("the scheme has no measured indicator for a data method to weigh", "insufficient_data")
    matrix = cohort_matrix(items, details)
    if len(matrix) < 2:
        raise WeightError(
            f"need at least two units with every measured indicator applicable ({len(matrix)} in this run)",
            "insufficient_data",
        )
    codes = [i.code for i in items]
    if method == "pca":
        pca = pca_weights(matrix)
        return MethodWeights(
            method, codes, pca.weights, excluded, eigenvalues=pca.eigenvalues, components=pca.components,
            cumulative_share=pca.cumulative_share, units_used=len(matrix),
        )  # fmt: skip
    lower = [i.direction == "lower_better" for i in items]
    weigh = entropy_weights if method == "entropy" else critic_weights
    return MethodWeights(method, codes, weigh(matrix, lower), excluded, units_used=len(matrix))


def _ahp(scheme: Scheme, ahp) -> MethodWeights:
    if ahp is None:
        raise WeightError(
            "the method ahp needs a judgement matrix: the indicators and their pairwise judgements", "invalid_matrix"
        )
    codes, judgements = list(ahp[0]), ahp[1]
    unknown = [c for c in codes if scheme.item(c) is None]
    if unknown:
        raise WeightError(f"not an indicator of the run's scheme: {', '.join(unknown)}", "unknown_indicator")
    if len(set(codes)) != len(codes):
        raise WeightError("an indicator appears twice in the judgement matrix", "invalid_matrix")
    if len(judgements) != len(codes):
        raise WeightError(
            f"the judgement matrix has {len(judgements)} rows for {len(codes)} indicators", "size_mismatch"
        )
    result = ahp_weights(judgements)
    by_code = dict(zip(codes, result.weights, strict=True))
    order = [i.code for i in scheme.items if i.code in by_code]  # scheme order, as every other method
    excluded = [(i.code, NOT_JUDGED) for i in scheme.items if i.code not in by_code]
    return MethodWeights(
        "ahp", order, [by_code[c] for c in order], excluded, consistency_ratio=result.consistency_ratio
    )


async def from_run(
    session: AsyncSession, run: EvaluationRun, method: str
) -> tuple[list[str], list[float], list[Problem]]:
    """Entropy, CRITIC or PCA weights over the units with every measured indicator applicable."""
    if method not in DATA_METHODS:
        message = f"unknown method {method!r}: entropy, critic or pca (AHP takes judgements)"
        return [], [], [Problem("method", "unknown_method", message)]
    scheme = parse_scheme(run.scheme_document)
    rows = await session.execute(
        select(UnitResult.id, UnitResult.revision).where(UnitResult.run_id == run.id).order_by(UnitResult.unit_id)
    )
    found = await repository.details(session, [(r, v) for r, v in rows])
    try:
        weights = method_weights(scheme, method, found.values())
    except WeightError as exc:
        return [i.code for i in scheme.items if i.rule.type != "expert"], [], [Problem("runId", exc.code, str(exc))]
    return weights.indicators, weights.weights, []
