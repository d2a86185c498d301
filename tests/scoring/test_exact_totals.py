"""Exact totals (issue 14, point 4): item scores, earned points, subtotals and totals computed unrounded and rounded
once, to the scheme's precision; ranks and ties decided on the exact figures; a tie that is one only at the
displayed precision flagged on both results."""

from __future__ import annotations

from services.scoring.engine import EngineInput, compute
from services.scoring.scheme import parse_scheme
from tests.scoring.example import example_scheme, indicator


def thirds(**scheme):
    """Three items of 10 points each scoring 2/3 of their points: 6.6666… each, 20 in all (not 3 × 6.6667)."""
    items = [
        {"indicator": indicator(f"part_{k}", "calls.answered", unit="count", dimension=f"d{k % 2}"), "points": 10,
         "rule": {"type": "ratio_to_reference"}, "reference": {"policy": "fixed", "value": 3}}
        for k in range(3)
    ]  # fmt: skip
    return example_scheme(items=items, **scheme)


def run(scheme, measures, legacy=False):
    data = EngineInput(scheme=parse_scheme(scheme), units=sorted(measures), measures=measures, legacy=legacy)
    return {u["unit"]: u for u in compute(data)["units"]}


def test_totals_are_summed_from_the_exact_scores_and_rounded_once():
    measures = {"UA": {"calls.answered": 2}}
    exact = run(thirds(precision={"total": 4, "score": 4}), measures)["UA"]
    assert [i["score"] for i in exact["indicators"]] == [6.6667, 6.6667, 6.6667]  # each shown to 4 places
    # 20 earned (of the scheme's 30 points, all applicable): not the sum of the shown scores, 20.0001.
    assert (exact["earned_points"], exact["total"]) == (20.0, 20.0)
    assert {d["dimension"]: d["score"] for d in exact["dimensions"]} == {"d0": 13.3333, "d1": 6.6667}
    # Formats 1 and 2 summed the rounded scores: earned 20.0001.
    assert run(thirds(), measures, legacy=True)["UA"]["earned_points"] == 20.0001


def test_the_precision_is_the_schemes():
    result = run(thirds(precision={"total": 1, "score": 2}), {"UA": {"calls.answered": 2}})["UA"]
    assert [i["score"] for i in result["indicators"]] == [6.67, 6.67, 6.67]
    assert result["total"] == 20.0 and result["earned_points"] == 20.0
    assert {d["dimension"]: d["score"] for d in result["dimensions"]} == {"d0": 13.3, "d1": 6.7}
    # UB: 1 of 3 on each item → 3.3333… each, 10 in all; rescaled over 30 points it stays 10.
    other = run(thirds(precision={"total": 1, "score": 2}), {"UB": {"calls.answered": 1}})["UB"]
    assert [i["score"] for i in other["indicators"]] == [3.33, 3.33, 3.33] and other["total"] == 10.0
    default = run(thirds(), {"UA": {"calls.answered": 2}})["UA"]  # totals 2 places, scores 4
    assert default["total"] == 20.0 and default["indicators"][0]["score"] == 6.6667


def single(**scheme):
    item = {"indicator": indicator("rate", "calls.answered / calls.offered * 100"), "points": 100,
            "rule": {"type": "ratio_to_reference"}, "reference": {"policy": "fixed", "value": 100}}  # fmt: skip
    return example_scheme(items=[item], **scheme)


def test_ranks_are_decided_on_the_exact_totals_and_a_tie_only_on_display_is_flagged():
    # Totals 80.951 (UA, UC), 80.9549 (UB): all three display 80.95.
    measures = {
        "UA": {"calls.answered": 80951, "calls.offered": 100000},
        "UB": {"calls.answered": 809549, "calls.offered": 1000000},
        "UC": {"calls.answered": 80951, "calls.offered": 100000},
        "UD": {"calls.answered": 70, "calls.offered": 100},
    }
    results = run(single(), measures)
    assert {u: r["total"] for u, r in results.items()} == {"UA": 80.95, "UB": 80.95, "UC": 80.95, "UD": 70.0}
    assert {u: r["rank"] for u, r in results.items()} == {"UA": 2, "UB": 1, "UC": 2, "UD": 4}
    assert {u: r["display_tie_with"] for u, r in results.items()} == {
        "UA": ["UB"], "UB": ["UA", "UC"], "UC": ["UB"], "UD": [],
    }  # fmt: skip
    # The indicator's own ranks too: formats 1 and 2 ranked the rounded scores (80.951 ~ 80.9549 → 80.951, 80.9549
    # at 4 places: here they differ anyway); at 2 places for scores the exact order still decides.
    two_places = run(single(precision={"total": 2, "score": 2}), measures)
    assert {u: (r["indicators"][0]["score"], r["indicators"][0]["rank"]) for u, r in two_places.items()} == {
        "UA": (80.95, 2), "UB": (80.95, 1), "UC": (80.95, 2), "UD": (70.0, 4),
    }  # fmt: skip


def test_an_exact_tie_shares_its_rank_and_is_not_flagged():
    # UA scores 0.1, 0.2, 0.3 and UB 0.3, 0.2, 0.1 on three items of 1 point: 0.6 each, though summed in scheme
    # order as floats they differ in the last bit — still one tie, not a tie "only on display".
    assert 0.1 + 0.2 + 0.3 != 0.3 + 0.2 + 0.1
    codes = ("calls.answered", "calls.abandoned", "calls.transferred")
    items = [
        {"indicator": indicator(f"i{k}", f"{code} / 10", unit="count"), "points": 1,
         "rule": {"type": "ratio_to_reference"}, "reference": {"policy": "fixed", "value": 1}}
        for k, code in enumerate(codes)
    ]  # fmt: skip
    measures = {"UA": dict(zip(codes, (1, 2, 3), strict=True)), "UB": dict(zip(codes, (3, 2, 1), strict=True))}
    scheme = example_scheme(items=items, na_policy="zero", precision={"total": 6, "score": 6})
    results = run(scheme, measures)
    assert [i["score"] for i in results["UA"]["indicators"]] == [0.1, 0.2, 0.3]
    assert [i["score"] for i in results["UB"]["indicators"]] == [0.3, 0.2, 0.1]
    assert results["UA"]["total"] == results["UB"]["total"] == 0.6
    assert results["UA"]["rank"] == results["UB"]["rank"] == 1
    assert results["UA"]["display_tie_with"] == results["UB"]["display_tie_with"] == []
