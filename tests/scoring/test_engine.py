"""The pure engine: the hand-computed example, determinism, N/A policies, experts, trends, overrides."""

from __future__ import annotations

import pytest

from services.scoring.engine import EarlierPeriod, EngineInput, ExpertEntry, canonical_json, compute
from services.scoring.explain import explain_indicator
from services.scoring.scheme import SchemeError, parse_scheme
from tests.scoring.example import MEASURES, example_scheme, indicator


def run(scheme=None, measures=MEASURES, **kwargs):
    scheme = parse_scheme(scheme or example_scheme())
    return compute(EngineInput(scheme=scheme, units=sorted(measures), measures=measures, **kwargs))


def by_unit(outcome):
    return {u["unit"]: u for u in outcome["units"]}


def scores(result):
    return {i["indicator"]: i["score"] for i in result["indicators"]}


def test_the_hand_computed_example():
    # answer_rate = answered / offered × 100, 30 points, best in cohort, min sample 100 offered:
    #   UA 900/1000 = 90 %, UB 800/1000 = 80 %, UD 400/500 = 80 %, UC offered 50 < 100 → N/A.
    #   reference = best applicable = 90 (set by UA).
    #   UA 90/90 × 30 = 30; UB = UD = 80/90 × 30 = 26.6667.
    # average_answer_wait = wait seconds / answered, lower is better, 20 points, best in cohort:
    #   UA 9000/900 = 10 s, UB 16000/800 = 20 s, UC 450/45 = 10 s, UD 6000/400 = 15 s.
    #   reference = lowest = 10, UA and UC tie → set by the first id, UA.
    #   UA 10/10 × 20 = 20; UB 10/20 × 20 = 10; UC 20; UD 10/15 × 20 = 13.3333.
    # satisfaction_rate, linear band floor 80 → target 95, 20 points:
    #   UA 190/200 = 95 % → 20; UB 90 % → (90−80)/15 × 20 = 13.3333; UC 85 % → 5/15 × 20 = 6.6667;
    #   UD 70/80 = 87.5 % → 7.5/15 × 20 = 10.
    # complaints, deduction 2 per occurrence after 1 free, 10 points:
    #   UA 0 → 10; UB 3 → 10 − (3−1) × 2 = 6; UC 1 → 10; UD 3 → 6.
    # average_handle_time, target band 60–180 s, tolerance 60, 20 points:
    #   UA 108000/900 = 120 → 20; UB 160000/800 = 200 → 20 s outside → (1 − 20/60) × 20 = 13.3333;
    #   UC 6750/45 = 150 → 20; UD 80000/400 = 200 → 13.3333.
    # totals (rescale: N/A points leave the denominator, the total is scaled to 100):
    #   UA 30 + 20 + 20 + 10 + 20 = 100 → 100.00, grade excellent (≥ 90)
    #   UB 26.6667 + 10 + 13.3333 + 6 + 13.3333 = 69.3333 → 69.33, needs improvement (< 70)
    #   UC (20 + 6.6667 + 10 + 20) = 56.6667 of 70 applicable → × 100/70 = 80.9524 → 80.95, qualified
    #   UD 26.6667 + 13.3333 + 10 + 6 + 13.3333 = 69.3333 → 69.33 — ties UB
    # ranks (competition): UA 1, UC 2, UB 3, UD 3.
    outcome = by_unit(run())
    assert scores(outcome["UA"]) == {
        "answer_rate": 30.0, "average_answer_wait": 20.0, "satisfaction_rate": 20.0, "complaints": 10.0,
        "average_handle_time": 20.0,
    }  # fmt: skip
    assert scores(outcome["UB"]) == {
        "answer_rate": 26.6667, "average_answer_wait": 10.0, "satisfaction_rate": 13.3333, "complaints": 6.0,
        "average_handle_time": 13.3333,
    }  # fmt: skip
    assert scores(outcome["UC"]) == {
        "answer_rate": None, "average_answer_wait": 20.0, "satisfaction_rate": 6.6667, "complaints": 10.0,
        "average_handle_time": 20.0,
    }  # fmt: skip
    assert scores(outcome["UD"]) == {
        "answer_rate": 26.6667, "average_answer_wait": 13.3333, "satisfaction_rate": 10.0, "complaints": 6.0,
        "average_handle_time": 13.3333,
    }  # fmt: skip
    assert {u: r["total"] for u, r in outcome.items()} == {"UA": 100.0, "UB": 69.33, "UC": 80.95, "UD": 69.33}
    assert {u: r["rank"] for u, r in outcome.items()} == {"UA": 1, "UB": 3, "UC": 2, "UD": 3}
    assert {u: r["grade"]["code"] for u, r in outcome.items()} == {
        "UA": "excellent", "UB": "needs_improvement", "UC": "qualified", "UD": "needs_improvement",
    }  # fmt: skip
    uc = outcome["UC"]
    assert uc["applicable_points"] == 70.0 and uc["earned_points"] == 56.6667
    answer_rate = next(i for i in uc["indicators"] if i["indicator"] == "answer_rate")
    assert answer_rate["na_reason"] == "sample_below_minimum" and not answer_rate["applicable"]
    wait = next(i for i in outcome["UB"]["indicators"] if i["indicator"] == "average_answer_wait")
    assert wait["reference"] == {"value": 10.0, "policy": "best_in_cohort", "set_by": "UA", "periods": []}
    rate = next(i for i in outcome["UB"]["indicators"] if i["indicator"] == "answer_rate")
    assert (rate["value"], rate["numerator"], rate["denominator"]) == (80.0, 800.0, 1000.0)
    assert rate["reference"]["set_by"] == "UA"
    # Dimension subtotals of UB: service response = 26.6667 + 10 + 13.3333; satisfaction = 13.3333 + 6 =
    # 19.3333…, shown at the scheme's precision for subtotals (2 places by default).
    dims = {d["dimension"]: (d["score"], d["points"]) for d in outcome["UB"]["dimensions"]}
    assert dims == {"service_response": (50.0, 70.0), "satisfaction": (19.33, 30.0)}
    # The tie is flagged: their total intervals overlap.
    assert "UD" in outcome["UB"]["rank_overlaps"]
    # UB and UD tie exactly (the same scores in another order), not only on display.
    assert outcome["UB"]["display_tie_with"] == outcome["UD"]["display_tie_with"] == []


def test_na_policy_zero_scores_the_missing_points_as_zero():
    # UC with na_policy zero: 20 + 6.6667 + 10 + 20 = 56.6667 → 56.67, no rescaling.
    outcome = by_unit(run(example_scheme(na_policy="zero")))
    assert outcome["UC"]["total"] == 56.67 and outcome["UC"]["grade"]["code"] == "needs_improvement"


def test_the_same_inputs_give_byte_identical_results():
    reordered = dict(reversed(list(MEASURES.items())))
    assert canonical_json(run()) == canonical_json(run(measures=reordered))


def test_a_division_by_zero_is_not_applicable():
    measures = {**MEASURES, "UB": {**MEASURES["UB"], "surveys.rated": 0, "surveys.satisfied": 0}}
    ub = by_unit(run(measures=measures))["UB"]
    sat = next(i for i in ub["indicators"] if i["indicator"] == "satisfaction_rate")
    assert sat["na_reason"] == "division_by_zero" and sat["score"] is None
    explanation = explain_indicator(sat)
    assert "分母为零" in explanation["zh"] and "denominator is zero" in explanation["en"]


def test_explanations_name_the_value_parts_reference_and_rule():
    ub = by_unit(run())["UB"]
    rate = next(i for i in ub["indicators"] if i["indicator"] == "answer_rate")
    explanation = explain_indicator(rate)
    assert "numerator 800" in explanation["en"] and "set by UA" in explanation["en"]
    assert "26.6667 of 30 points" in explanation["en"]
    assert "由 UA 创造" in explanation["zh"] and "得分 26.6667" in explanation["zh"]


def test_rate_indicators_carry_wilson_intervals():
    ua = by_unit(run())["UA"]
    rate = next(i for i in ua["indicators"] if i["indicator"] == "answer_rate")
    low, high = rate["interval"]
    assert low < 90 < high and high - low < 4  # n = 1000 gives a narrow interval
    wait = next(i for i in ua["indicators"] if i["indicator"] == "average_answer_wait")
    assert wait["interval"] is None  # seconds per call is not a proportion


def expert_scheme(aggregation):
    return example_scheme(
        expert_aggregation=aggregation,
        items=[
            {
                "indicator": indicator("innovation", "reported.items", unit="points", dimension="innovation",
                                       method="expert"),
                "points": 10,
                "rule": {"type": "expert"},
            }
        ],
    )  # fmt: skip


@pytest.mark.parametrize(("aggregation", "expected"), [("mean", 7.0), ("trimmed_mean", 7.5)])
def test_expert_scores_mean_or_trimmed_mean(aggregation, expected):
    # Scores 4, 7, 8, 9: mean = 28/4 = 7; trimmed mean drops 4 and 9 → (7 + 8)/2 = 7.5.
    entries = [ExpertEntry("UA", "innovation", f"expert-{s}", s, f"reason {s}") for s in (4, 7, 8, 9)]
    outcome = by_unit(run(expert_scheme(aggregation), expert_entries=entries))
    assert next(iter(outcome["UA"]["indicators"]))["score"] == expected
    assert next(e["justification"] for e in outcome["UA"]["indicators"][0]["experts"]) == "reason 4"
    assert outcome["UB"]["indicators"][0]["na_reason"] == "no_expert_score" and outcome["UB"]["total"] is None


def test_an_expert_score_never_exceeds_the_points():
    entries = [ExpertEntry("UA", "innovation", "e1", 15, "generous")]
    assert by_unit(run(expert_scheme("mean"), expert_entries=entries))["UA"]["indicators"][0]["score"] == 10.0


def test_overrides_from_appeals_change_exactly_what_they_touch():
    before = by_unit(run())
    after = by_unit(run(value_overrides={"UB": {"complaints": 1}}))
    assert scores(after["UB"])["complaints"] == 10.0 and after["UB"]["total"] == 73.33

    def unranked(result):  # per-indicator ranks are relative to the cohort and may move
        return [{k: v for k, v in i.items() if k not in ("rank", "rank_overlaps")} for i in result["indicators"]]

    for unit in ("UA", "UC", "UD"):
        assert unranked(after[unit]) == unranked(before[unit]) and after[unit]["total"] == before[unit]["total"]
    assert after["UB"]["rank"] == 3 and after["UD"]["rank"] == 4  # the tie is broken


def test_change_from_the_previous_period():
    outcome = by_unit(run(previous={"UB": {"run_id": "r0", "total": 60.0, "rank": 4}}))
    assert outcome["UB"]["change"] == 9.33 and outcome["UB"]["rank_change"] == 1
    assert outcome["UA"]["change"] is None


def test_special_schemes_give_monthly_series_and_trends():
    months = {
        "2025-01": {"UA": {"calls.answered": 80, "calls.offered": 100}},
        "2025-02": {"UA": {"calls.answered": 85, "calls.offered": 100}},
        "2025-03": {"UA": {"calls.answered": 90, "calls.offered": 100}},
    }
    scheme = example_scheme(kind="special", items=[example_scheme()["items"][0]])
    measures = {"UA": {"calls.answered": 255, "calls.offered": 300}}
    ua = by_unit(run(scheme, measures=measures, monthly=months))["UA"]
    rate = ua["indicators"][0]
    assert rate["series"] == [["2025-01", 80.0], ["2025-02", 85.0], ["2025-03", 90.0]]
    assert rate["trend"] == {"slope": 5.0, "direction": "improving"}


def test_dynamic_baseline_uses_earlier_periods_of_the_same_season():
    # Filing season = months 3–5. The current period is May; earlier Aprils/Marches are peak, Junes not.
    item = {**example_scheme()["items"][0], "min_sample": None}
    item["reference"] = {
        "policy": "dynamic_baseline",
        "lookback_periods": 2,
        "match": "season",
        "peak_months": [3, 4, 5],
    }
    history = [
        EarlierPeriod("2024-04", (4,), {"UA": {"calls.answered": 70, "calls.offered": 100}}),
        EarlierPeriod("2024-06", (6,), {"UA": {"calls.answered": 99, "calls.offered": 100}}),
        EarlierPeriod("2025-03", (3,), {"UA": {"calls.answered": 80, "calls.offered": 100}}),
        EarlierPeriod("2025-04", (4,), {"UA": {"calls.answered": 90, "calls.offered": 100}}),
    ]
    measures = {"UA": {"calls.answered": 85, "calls.offered": 100}}
    # Same season, latest two: 2025-04 (90) and 2025-03 (80) → baseline 85; 85/85 × 30 = 30.
    ua = by_unit(run(example_scheme(items=[item]), measures=measures, period_months=(5,), history=history))["UA"]
    ref = ua["indicators"][0]["reference"]
    assert ref == {"value": 85.0, "policy": "dynamic_baseline", "set_by": None, "periods": ["2025-03", "2025-04"]}
    assert ua["indicators"][0]["score"] == 30.0


def test_a_bad_scheme_lists_every_problem():
    bad = example_scheme(na_policy="drop", grade_bands=[])
    bad["items"][0]["rule"] = {"type": "guess"}
    with pytest.raises(SchemeError) as caught:
        parse_scheme(bad)
    assert len(caught.value.problems) == 3


def test_the_stored_compact_form_expands_back_to_exactly_the_engines_rows():
    from services.scoring.detail import Expander, compact_unit

    outcome = run()
    expander = Expander(example_scheme(), {"cohort": outcome["cohort"]})
    for unit in outcome["units"]:
        compact = compact_unit(unit)
        assert "name_zh" not in compact["indicators"][0] and "reference" not in compact["indicators"][0]
        assert canonical_json(expander.expand(compact)) == canonical_json(unit)


def test_explanations_of_rules_without_a_reference_say_so():
    ua = by_unit(run())["UA"]
    complaints = next(i for i in ua["indicators"] if i["indicator"] == "complaints")
    none = {**complaints, "reference": {**complaints["reference"], "policy": "none", "value": None, "set_by": None}}
    explanation = explain_indicator(none)
    assert "不设参照值" in explanation["zh"] and "no reference value is used" in explanation["en"]
    assert "none" not in explanation["zh"]


def test_a_documents_baseline_match_list_is_read_as_the_engine_matches():
    """Contracts §5: `match: [period_type]` with `peak_months` compares periods of the same type (as `season`),
    `[same_months]` the same calendar months, `[]` any earlier period — the list indicators validates."""
    history = [
        EarlierPeriod("2024-05", (5,), {"UA": {"calls.answered": 60, "calls.offered": 100}}),
        EarlierPeriod("2024-06", (6,), {"UA": {"calls.answered": 99, "calls.offered": 100}}),
        EarlierPeriod("2025-03", (3,), {"UA": {"calls.answered": 80, "calls.offered": 100}}),
        EarlierPeriod("2025-04", (4,), {"UA": {"calls.answered": 90, "calls.offered": 100}}),
    ]
    measures = {"UA": {"calls.answered": 85, "calls.offered": 100}}
    expected = {  # May 2025, peak months 3–5: the latest three of each kind of earlier period
        ("period_type",): (76.6667, ["2024-05", "2025-03", "2025-04"]),  # peak months only: (60 + 80 + 90) / 3
        ("same_months",): (60.0, ["2024-05"]),  # the Mays only
        (): (89.6667, ["2024-06", "2025-03", "2025-04"]),  # any: the latest three, (99 + 80 + 90) / 3
    }
    for match, (value, periods) in expected.items():
        item = {**example_scheme()["items"][0], "min_sample": None}
        item["reference"] = {"policy": "dynamic_baseline", "lookback_periods": 3, "match": list(match),
                             "peak_months": [3, 4, 5]}  # fmt: skip
        ua = by_unit(run(example_scheme(items=[item]), measures=measures, period_months=(5,), history=history))["UA"]
        ref = ua["indicators"][0]["reference"]
        assert (ref["value"], ref["periods"]) == (value, periods), match
