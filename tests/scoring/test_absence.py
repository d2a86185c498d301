"""Absence is not zero (issue 14): what no source covered makes an item not applicable (``no_data``) whatever its
rule, and a unit whose total would rest on too little — or on not-applicable items alone — gets no total, grade
or rank and takes no part in its peers' ranks. The pure engine, on the hand-computed example."""

from __future__ import annotations

from services.scoring.engine import EarlierPeriod, EngineInput, ExpertEntry, compute
from services.scoring.scheme import parse_scheme
from tests.scoring.example import MEASURE_CODES, MEASURES, example_scheme, indicator

EMPTY = {code: 0.0 for code in MEASURE_CODES}  # what ingest answers for a unit no record was ever sent for


def run(scheme=None, measures=MEASURES, **kwargs):
    data = EngineInput(scheme=parse_scheme(scheme or example_scheme()), units=sorted(measures), measures=measures,
                       **kwargs)  # fmt: skip
    return {u["unit"]: u for u in compute(data)["units"]}, compute(data)["cohort"]


def rows(result):
    return {i["indicator"]: i for i in result["indicators"]}


def test_a_unit_without_a_single_record_no_longer_comes_first():
    measures = {**MEASURES, "UE": EMPTY}
    # Before (outcome format 2's arithmetic, no coverage): the deduction item gave UE full points for "no
    # complaints", every other item was N/A, and rescaling made that 100, 优秀, rank 1.
    before, _ = run(measures=measures, legacy=True)
    assert (before["UE"]["total"], before["UE"]["grade"]["code"], before["UE"]["rank"]) == (100.0, "excellent", 1)
    # Now, with ingest's coverage: nothing was covered for UE, so every item is no_data, naming what was missing.
    results, cohort = run(measures=measures, uncovered={"UE": MEASURE_CODES})
    ue = results["UE"]
    assert {code: (r["na_reason"], r["score"]) for code, r in rows(ue).items()} == {
        code: ("no_data", None) for code in rows(ue)
    }
    assert rows(ue)["complaints"]["uncovered"] == ["calls.complaints"]
    assert rows(ue)["answer_rate"]["uncovered"] == ["calls.answered", "calls.offered"]
    assert rows(ue)["complaints"]["measures"] == {}  # absent, not shown as 0
    assert (ue["total"], ue["grade"], ue["rank"], ue["rank_overlaps"]) == (None, None, None, [])
    assert (ue["withheld"], ue["applicable_share"], ue["applicable_points"]) == ("nothing_applicable", 0.0, 0.0)
    # It takes no part: the others rank as they did without it, nobody overlaps with it, the totals' statistics
    # count four units.
    assert {u: r["rank"] for u, r in results.items()} == {"UA": 1, "UB": 3, "UC": 2, "UD": 3, "UE": None}
    assert all("UE" not in r["rank_overlaps"] for r in results.values())
    assert cohort["total"]["count"] == 4 and cohort["withheld_units"] == 1
    # Without coverage (an ingest that does not answer it), the minimum share still withholds it: only the
    # complaints item (10 of 100 points) applied.
    results, _ = run(measures=measures)
    assert (results["UE"]["total"], results["UE"]["withheld"]) == (None, "below_min_applicable_share")
    assert results["UE"]["applicable_share"] == 0.1 and results["UA"]["rank"] == 1


def test_a_measure_the_source_did_not_supply_is_not_applicable_not_full_points():
    # UB's calls came from a source that sent no complaint flag and no handle time: ingest wrote 0 for both.
    scheme = example_scheme()
    scheme["items"][4]["rule"] = {"type": "target_band", "low": 60, "high": 180, "tolerance": 150}
    measures = {**MEASURES, "UB": {**MEASURES["UB"], "calls.complaints": 0, "calls.handle_seconds": 0}}
    before, _ = run(scheme, measures, legacy=True)
    # Before: 0 complaints → the full 10 points; AHT 0 s → 60 s below the band → (1 − 60/150) × 20 = 12 of 20.
    assert (
        rows(before["UB"])["complaints"]["score"] == 10.0 and rows(before["UB"])["average_handle_time"]["score"] == 12.0
    )
    results, _ = run(scheme, measures, uncovered={"UB": ["calls.complaints", "calls.handle_seconds"]})
    ub = rows(results["UB"])
    assert (ub["complaints"]["na_reason"], ub["complaints"]["score"]) == ("no_data", None)
    assert (ub["average_handle_time"]["na_reason"], ub["average_handle_time"]["score"]) == ("no_data", None)
    assert ub["average_handle_time"]["uncovered"] == ["calls.handle_seconds"]
    # Its other items stand: 26.6667 + 10 + 13.3333 = 50 of 70 applicable → 71.43.
    assert results["UB"]["total"] == 71.43 and results["UB"]["applicable_share"] == 0.7


def test_a_declared_zero_scores_full_points():
    # The source covered complaints for UA (coverage says so) and found none: 0 complaints is a real 0 → full points.
    results, _ = run(uncovered={"UB": ["calls.handle_seconds"]})
    assert rows(results["UA"])["complaints"]["value"] == 0.0 and rows(results["UA"])["complaints"]["score"] == 10.0
    assert rows(results["UA"])["complaints"]["na_reason"] is None and results["UA"]["total"] == 100.0


def test_an_uncovered_minimum_sample_measure_makes_the_item_no_data():
    # The satisfaction item's minimum sample counts calls.offered, which its formula does not name.
    scheme = example_scheme()
    scheme["items"][2]["min_sample"] = {"measure": "calls.offered", "count": 10}
    results, _ = run(scheme, uncovered={"UD": ["calls.offered"]})
    row = rows(results["UD"])["satisfaction_rate"]
    assert (row["na_reason"], row["uncovered"]) == ("no_data", ["calls.offered"])
    assert rows(results["UA"])["satisfaction_rate"]["score"] == 20.0


def test_uncovered_months_have_no_value_in_the_series_and_earlier_periods_none_in_a_baseline():
    rate = {**example_scheme()["items"][0], "min_sample": None}
    months = {
        "2025-01": {"UA": {"calls.answered": 80, "calls.offered": 100}},
        "2025-02": {"UA": {"calls.answered": 0, "calls.offered": 0}},  # no calls were sent for February
        "2025-03": {"UA": {"calls.answered": 90, "calls.offered": 100}},
    }
    measures = {"UA": {"calls.answered": 170, "calls.offered": 200}}
    scheme = example_scheme(kind="special", items=[rate])
    uncovered = {"2025-02": {"UA": ["calls.answered", "calls.offered"]}}
    results, _ = run(scheme, measures, monthly=months, monthly_uncovered=uncovered)
    assert rows(results["UA"])["answer_rate"]["series"] == [["2025-01", 80.0], ["2025-02", None], ["2025-03", 90.0]]
    # A dynamic baseline of the two months before: UB's uncovered February is left out, not counted as 0 %.
    baseline = {**rate, "reference": {"policy": "dynamic_baseline", "lookback_periods": 2, "match": "any"}}
    history = [
        EarlierPeriod("2025-01", (1,), {"UA": {"calls.answered": 80, "calls.offered": 100},
                                        "UB": {"calls.answered": 60, "calls.offered": 100}}),
        EarlierPeriod("2025-02", (2,), {"UA": {"calls.answered": 90, "calls.offered": 100},
                                        "UB": {"calls.answered": 0, "calls.offered": 100}},
                      uncovered={"UB": ["calls.answered"]}),
    ]  # fmt: skip
    now = {"UA": {"calls.answered": 85, "calls.offered": 100}, "UB": {"calls.answered": 70, "calls.offered": 100}}
    results, _ = run(example_scheme(items=[baseline]), now, period_months=(3,), history=history)
    # (80 + 60 + 90) / 3 = 76.6667 — with UB's February as 0 it would have been (80 + 60 + 90 + 0) / 4 = 57.5.
    assert rows(results["UA"])["answer_rate"]["reference"]["value"] == 76.6667


def test_the_minimum_applicable_share_is_the_schemes_own():
    # UC has 70 of 100 points applicable (its answer rate is below the minimum sample).
    results, _ = run(example_scheme(min_applicable_share=0.8))
    assert (results["UC"]["total"], results["UC"]["withheld"]) == (None, "below_min_applicable_share")
    assert (results["UC"]["applicable_share"], results["UC"]["min_applicable_share"]) == (0.7, 0.8)
    assert {u: r["rank"] for u, r in results.items()} == {"UA": 1, "UB": 2, "UC": None, "UD": 2}
    results, _ = run(example_scheme(min_applicable_share=0.7))  # exactly the share: a total
    assert results["UC"]["total"] == 80.95 and results["UC"]["withheld"] is None
    # 0 turns the threshold off, but a unit with nothing applicable still has no total.
    results, _ = run(example_scheme(min_applicable_share=0), {**MEASURES, "UE": EMPTY}, uncovered={"UE": MEASURE_CODES})
    assert results["UE"]["withheld"] == "nothing_applicable"


def test_under_na_policy_zero_an_empty_unit_is_not_ranked_last_at_0_but_has_no_total():
    results, _ = run(example_scheme(na_policy="zero"), {**MEASURES, "UE": EMPTY}, uncovered={"UE": MEASURE_CODES})
    assert (results["UE"]["total"], results["UE"]["rank"]) == (None, None)
    assert results["UC"]["total"] == 56.67 and results["UC"]["rank"] == 4  # 70 % applicable, its N/A scored 0


def expert_heavy(points_expert=60):
    items = [{**example_scheme()["items"][3], "points": 100 - points_expert},
             {"indicator": indicator("innovation", "reported.items", unit="points", dimension="innovation",
                                     method="expert"), "points": points_expert, "rule": {"type": "expert"}}]  # fmt: skip
    return example_scheme(items=items)


def test_pending_expert_items_count_as_not_applicable():
    # 40 points of complaints (data) and 60 of expert scores: before any expert scores, 40 % applies → no total.
    results, _ = run(expert_heavy())
    assert all(r["withheld"] == "below_min_applicable_share" and r["total"] is None for r in results.values())
    assert rows(results["UA"])["innovation"]["na_reason"] == "no_expert_score"
    scored = [ExpertEntry(u, "innovation", "e1", 45, "solid") for u in ("UA", "UB")]
    results, _ = run(expert_heavy(), expert_entries=scored)
    # UA: 40 (0 complaints) + 45 = 85; UB: 40 − (3 − 1) × 2 = 36 (2 points per complaint after 1 free), + 45 = 81.
    assert (results["UA"]["total"], results["UB"]["total"]) == (85.0, 81.0)
    assert results["UC"]["withheld"] == "below_min_applicable_share"  # still awaiting its expert score


def test_expert_scores_alone_never_make_a_total_of_a_scheme_that_measures_data():
    scored = [ExpertEntry(u, "innovation", "e1", 50, "good") for u in ("UA", "UE")]
    results, _ = run(expert_heavy(), {**MEASURES, "UE": EMPTY}, uncovered={"UE": MEASURE_CODES}, expert_entries=scored)
    # UE: the expert item (60 % of the points) is scored, its only data item is no_data.
    assert (results["UE"]["applicable_share"], results["UE"]["withheld"]) == (0.6, "no_applicable_data")
    assert results["UE"]["total"] is None and results["UA"]["total"] == 90.0
