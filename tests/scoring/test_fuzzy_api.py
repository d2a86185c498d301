"""``EvaluationRun.fuzzyEvaluation`` through the scoring API: the stored results of the current revision,
each method's weights, refusals as problems, and who sees which rows."""

from __future__ import annotations

import pytest

from tests.scoring.example import example_scheme
from tests.scoring.test_publication import publish
from tests.scoring.test_runs import ORGANIZER, RECOMPUTE, finished_run
from tests.support import auth, data_of, error_codes, gql

FUZZY = """
query($id: ID!, $method: WeightMethod!, $ahp: AhpJudgementsInput) { run(id: $id) { currentRevision
  fuzzyEvaluation(method: $method, ahp: $ahp) {
    method revision operator fullScale problems { path code message } consistencyRatio unitsUsed
    grades { code nameZh lower upper centre corners }
    weights { indicator weight } excluded { indicator reason }
    principalComponents { eigenvalues components cumulativeShare }
    explanation { zh en }
    units { unitId total leftOut composite grade { code nameZh } tied score reason explanation { zh en }
      membership { indicator score points level weight memberships } } } } }
"""
SUGGESTED = (
    'query($id: ID!) { suggestedWeights(runId: $id, method: "pca") { indicators weights problems { message } } }'
)


async def fuzzy(scoring, run_id, method, headers=ORGANIZER, ahp=None):
    variables = {"id": run_id, "method": method, "ahp": ahp}
    run = data_of(await gql(scoring, FUZZY, variables, headers=headers))["run"]
    return None if run is None else run["fuzzyEvaluation"]


def by_unit(evaluation):
    return {u["unitId"]: u for u in evaluation["units"]}


async def test_the_organizer_sees_every_unit_weighted_by_the_schemes_points(scoring, drain):
    """UB with the points as weights (0.3, 0.2, 0.2, 0.1, 0.2), its stored scores as levels x = 100 · score / points:
    answer rate 26.6667/30 → 88.889: (0.3889, 0.6111, 0); wait 10/20 → 50: (0, 0, 1);
    satisfaction 13.3333/20 → 66.6665: (0, 0.333325, 0.666675); complaints 6/10 → 60: (0, 0, 1);
    AHT 13.3333/20 → 66.6665: (0, 0.333325, 0.666675).
    B = (0.3 · 0.3889, 0.3 · 0.6111 + 0.4 · 0.333325, 0.2 + 0.1 + 0.4 · 0.666675) = (0.11667, 0.31666, 0.56667)
    → 待改进; score 0.11667 · 95 + 0.31666 · 80 + 0.56667 · 35 = 56.2499."""
    run = await finished_run(scoring, drain)
    evaluation = await fuzzy(scoring, run["id"], "POINTS")
    assert evaluation["problems"] == [] and evaluation["revision"] == 1 and evaluation["operator"] == "M(·,⊕)"
    assert [(g["code"], g["centre"], g["corners"]) for g in evaluation["grades"]] == [
        ("excellent", 95.0, [85.0, 95.0, 100.0, 100.0]),
        ("qualified", 80.0, [60.0, 80.0, 85.0, 95.0]),
        ("needs_improvement", 35.0, [0.0, 0.0, 60.0, 80.0]),
    ]
    assert [w["weight"] for w in evaluation["weights"]] == [0.3, 0.2, 0.2, 0.1, 0.2]
    units = by_unit(evaluation)
    assert sorted(units) == ["UA", "UB", "UC", "UD"]
    ub = units["UB"]
    assert [r["memberships"] for r in ub["membership"]] == [
        [0.3889, 0.6111, 0.0], [0.0, 0.0, 1.0], [0.0, 0.333325, 0.666675], [0.0, 0.0, 1.0], [0.0, 0.333325, 0.666675]
    ]  # fmt: skip
    assert ub["composite"] == [0.11667, 0.31666, 0.56667] and ub["score"] == 56.2499
    assert ub["grade"] == {"code": "needs_improvement", "nameZh": "待改进"} and ub["total"] == 69.33
    assert "[0.3889, 0.6111, 0]" in ub["explanation"]["zh"] and "方案分值" in ub["explanation"]["zh"]
    assert "the scheme's points: Answer rate 0.3" in evaluation["explanation"]["en"]
    # UC's answer rate is N/A: left out, the other four reweighted by 20, 20, 10, 20 over 70.
    uc = units["UC"]
    assert uc["leftOut"] == ["answer_rate"] and [r["weight"] for r in uc["membership"]] == [
        0.285714, 0.285714, 0.142857, 0.285714
    ]  # fmt: skip


async def test_pca_weights_are_the_suggested_ones_and_units_see_only_what_they_may(scoring, drain):
    run = await finished_run(scoring, drain)
    # Before publication a unit does not see the run at all.
    assert await fuzzy(scoring, run["id"], "PCA", auth("UB", "unit")) is None
    await publish(scoring, run["id"])
    organizer = await fuzzy(scoring, run["id"], "PCA")
    suggested = data_of(await gql(scoring, SUGGESTED, {"id": run["id"]}, headers=ORGANIZER))["suggestedWeights"]
    assert suggested["problems"] == [] and [w["weight"] for w in organizer["weights"]] == suggested["weights"]
    assert organizer["unitsUsed"] == 3 and organizer["principalComponents"]["components"] >= 1
    assert organizer["principalComponents"]["cumulativeShare"] >= 0.85
    # The unit: its own row, the same weights (cohort-level figures, like the summary it already reads).
    mine = await fuzzy(scoring, run["id"], "PCA", auth("UB", "unit"))
    assert [u["unitId"] for u in mine["units"]] == ["UB"] and mine["weights"] == organizer["weights"]
    assert mine["units"][0] == by_unit(organizer)["UB"]
    # Another city sees neither the run nor its evaluation.
    assert await fuzzy(scoring, run["id"], "PCA", auth("GD-SZ", "organizer")) is None


async def test_public_rankings_show_the_whole_cohort_to_its_units(scoring, drain, schemes):
    schemes.add(example_scheme(organizer="GD-GZ", rankings_public=True))
    run = await finished_run(scoring, drain)
    await publish(scoring, run["id"])
    seen = await fuzzy(scoring, run["id"], "ENTROPY", auth("UB", "unit"))
    assert sorted(by_unit(seen)) == ["UA", "UB", "UC", "UD"]
    assert await fuzzy(scoring, run["id"], "ENTROPY", auth("SZ-HOUSING", "unit")) is None


async def test_ahp_weighs_the_judged_indicators_and_bad_requests_are_problems(scoring, drain):
    run = await finished_run(scoring, drain)
    ahp = {"indicators": ["satisfaction_rate", "answer_rate"], "judgements": [[1, 2], [0.5, 1]]}
    judged = await fuzzy(scoring, run["id"], "AHP", ahp=ahp)
    assert judged["weights"] == [
        {"indicator": "answer_rate", "weight": 0.333333}, {"indicator": "satisfaction_rate", "weight": 0.666667}
    ]  # fmt: skip
    assert judged["consistencyRatio"] == 0.0 and len(judged["excluded"]) == 3
    # UC: only satisfaction (85 % → 6.6667 of 20 → x = 33.3335) applies: all 待改进.
    uc = by_unit(judged)["UC"]
    assert uc["leftOut"] == ["answer_rate"] and uc["composite"] == [0.0, 0.0, 1.0] and uc["score"] == 35.0
    inconsistent = {"indicators": ["answer_rate", "complaints", "satisfaction_rate"],
                    "judgements": [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]]}  # fmt: skip
    for method, matrix, problem in [
        ("AHP", None, "the method ahp needs a judgement matrix"),
        ("AHP", inconsistent, "consistency ratio"),
        ("AHP", {"indicators": ["answer_rate", "nope"], "judgements": [[1, 2], [0.5, 1]]}, "nope"),
        ("AHP", {"indicators": ["answer_rate", "complaints"], "judgements": [[1, 2]]}, "1 rows for 2 indicators"),
        ("PCA", ahp, "only read by the method ahp"),
    ]:
        refused = await fuzzy(scoring, run["id"], method, ahp=matrix)
        assert refused["units"] == [] and problem in refused["problems"][0]["message"], (method, refused["problems"])
    wrong = await gql(scoring, FUZZY, {"id": run["id"], "method": "MEDIAN"}, headers=ORGANIZER)
    assert error_codes(wrong) == ["GRAPHQL_VALIDATION_FAILED"] and "MEDIAN" in wrong["errors"][0]["message"]


async def test_it_reads_the_current_revision(scoring, drain, measures):
    run = await finished_run(scoring, drain)
    measures.put("UB", "2025-03-10", {"calls.complaints": 1})  # complaints 3 → 1: score 6 → 10, x = 100
    await gql(scoring, RECOMPUTE, {"id": run["id"], "reason": "corrected complaints"}, headers=ORGANIZER)
    await drain()
    evaluation = await fuzzy(scoring, run["id"], "POINTS")
    ub = by_unit(evaluation)["UB"]
    # B gains the complaints' weight 0.1 in 优秀 and loses it in 待改进: (0.21667, 0.31666, 0.46667);
    # score 0.21667 · 95 + 0.31666 · 80 + 0.46667 · 35 = 62.2499.
    assert evaluation["revision"] == 2 and ub["total"] == 73.33
    assert ub["composite"] == [0.21667, 0.31666, 0.46667] and ub["score"] == pytest.approx(62.2499, abs=1e-4)


async def test_a_run_without_results_says_so(scoring):
    started = data_of(await gql(scoring, """mutation { startRun(input: {schemeId: "5f0c0000-0000-4000-8000-000000000001",
        schemeVersion: 1, periodKind: MONTH, period: "2025-03"}) { run { id } } }""", headers=ORGANIZER))  # fmt: skip
    evaluation = await fuzzy(scoring, started["startRun"]["run"]["id"], "POINTS")
    assert [p["message"] for p in evaluation["problems"]] == ["the run has no results yet"] and evaluation[
        "units"
    ] == []
