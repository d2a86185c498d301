"""Explanations a unit can check with a calculator: for every rule × direction × reference policy, every applicable
score is recomputed from the numbers its Chinese and English explanation state (``explanations.check``), and the
text names what was applied — the reference by its policy and label, the band, the uncovered measures, the minimum
sample — and nothing that was not."""

from __future__ import annotations

import pytest

from services.scoring.engine import EarlierPeriod, EngineInput, ExpertEntry, compute
from services.scoring.explain import explain_indicator
from services.scoring.scheme import parse_scheme
from tests.scoring.example import example_scheme, indicator
from tests.scoring.explanations import check


def m(offered, answered, wait, handle, complaints):
    return {"calls.offered": offered, "calls.answered": answered, "calls.answer_wait_seconds": wait,
            "calls.handle_seconds": handle, "calls.complaints": complaints}  # fmt: skip


# Answer rate %, wait s, AHT s and complaints of six units, chosen so that every branch of every rule is taken:
# capped ratios (fixed references below the values), a wait of 0 s, values below a band's floor and above its
# target, AHT inside, below and far outside its band, complaints within the free ones and past 0 points.
MEASURES = {
    "UA": m(1000, 950, 9500, 114000, 0),  # 95 %, 10 s, AHT 120 s, 0 complaints
    "UB": m(1000, 800, 16000, 160000, 3),  # 80 %, 20 s, 200 s, 3
    "UC": m(500, 450, 0, 13500, 1),  # 90 %, 0 s, 30 s, 1
    "UD": m(2000, 1850, 27750, 740000, 9),  # 92.5 %, 15 s, 400 s, 9
    "UE": m(333, 287, 3157, 55965, 2),  # 86.1862 %, 11 s, 195 s, 2
    "UF": m(777, 700, 8365, 84000, 4),  # 90.0901 %, 11.95 s, 120 s, 4
}
HISTORY = [
    EarlierPeriod("2025-01", (1,), {"UA": m(100, 88, 1100, 0, 0), "UB": m(100, 84, 1512, 0, 0)}),
    EarlierPeriod("2025-02", (2,), {"UA": m(100, 91, 1001, 0, 0), "UC": m(10, 9, 117, 0, 0)}),
]
RATE = ("calls.answered / calls.offered * 100", "higher_better", "percent")
WAIT = ("calls.answer_wait_seconds / calls.answered", "lower_better", "seconds")
AHT = ("calls.handle_seconds / calls.answered", "target_band", "seconds")
COMPLAINTS = ("calls.complaints", "lower_better", "count")
VOLUME = ("calls.offered", "higher_better", "count")
POLICIES = [
    {"policy": "best_in_cohort"},
    {"policy": "cohort_mean"},
    {"policy": "target", "value": 95},
    {"policy": "dynamic_baseline", "lookback_periods": 2, "match": "any"},
]
LABELLED = {"label_zh": "全国优秀值", "label_en": "the national excellent value"}


def item(measure, rule, reference=None, points=20):
    formula, direction, unit = measure
    return {"indicator": indicator("x", formula, direction=direction, unit=unit, name_zh="测试指标", name_en="Test"),
            "points": points, "rule": rule, "reference": reference or {"policy": "none"}}  # fmt: skip


CASES = {
    **{f"ratio higher {p['policy']}": item(RATE, {"type": "ratio_to_reference"}, p) for p in POLICIES},
    **{f"ratio lower {p['policy']}": item(WAIT, {"type": "ratio_to_reference"}, p) for p in POLICIES},
    "ratio higher fixed, labelled": item(RATE, {"type": "ratio_to_reference"}, {"policy": "fixed", "value": 92, **LABELLED}),
    "ratio higher fixed": item(RATE, {"type": "ratio_to_reference"}, {"policy": "fixed", "value": 92}),
    "ratio lower fixed": item(WAIT, {"type": "ratio_to_reference"}, {"policy": "fixed", "value": 12}),
    "threshold higher": item(RATE, {"type": "threshold", "target": 90}),
    "threshold lower": item(WAIT, {"type": "threshold", "target": 12}),
    "linear band higher": item(RATE, {"type": "linear_band", "floor": 85, "target": 94}),
    "linear band lower": item(WAIT, {"type": "linear_band", "floor": 18, "target": 10}),
    "linear band of no width": item(RATE, {"type": "linear_band", "floor": 90, "target": 90}),
    **{
        f"linear band relative {p['policy']}": item(
            VOLUME, {"type": "linear_band", "floor": 80, "target": 120, "relative": True}, p
        )
        for p in [{"policy": "cohort_mean"}, {"policy": "best_in_cohort"}, {"policy": "fixed", "value": 900}]
    },
    "target band": item(AHT, {"type": "target_band", "low": 60, "high": 180, "tolerance": 150}),
    "target band without tolerance": item(AHT, {"type": "target_band", "low": 100, "high": 200, "tolerance": 0}),
    "deduction with free occurrences": item(COMPLAINTS, {"type": "deduction", "per_occurrence": 2, "free_occurrences": 1}),
    "deduction": item(COMPLAINTS, {"type": "deduction", "per_occurrence": 3}),
}  # fmt: skip


def outcome(raw_item, **scheme):
    document = example_scheme(items=[raw_item], **scheme)
    data = EngineInput(scheme=parse_scheme(document), units=sorted(MEASURES), measures=MEASURES, history=HISTORY)
    return compute(data)


def rows_of(result):
    return [(u["unit"], u["indicators"][0]) for u in result["units"]]


@pytest.mark.parametrize("places", [4, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_explained_score_is_recomputed_from_the_explanations_own_numbers(case, places):
    checked = 0
    for _unit, row in rows_of(outcome(CASES[case], precision={"total": 2, "score": places})):
        if not row["applicable"]:
            continue
        text = explain_indicator(row)
        numbers = check(row, text["zh"], text["en"], score_places=places)
        # The calculation carried as data shows exactly the text's numbers.
        calculation = text["calculation"]
        assert (calculation["value"], calculation["points"], calculation["score"]) == (
            numbers["value"], numbers["points"], numbers["score"],
        )  # fmt: skip
        if numbers["reference"] is not None:
            assert calculation["reference"] == numbers["reference"]
        if numbers["chain"] is not None:
            assert (calculation["expression"], calculation["result"]) == numbers["chain"]
        checked += 1
    assert checked >= 4, f"{case}: too few applicable rows to prove anything"


def test_the_branches_the_cases_were_chosen_for_are_taken():
    bounded = {
        c: {explain_indicator(r)["calculation"].get("bounded") for _, r in rows_of(outcome(CASES[c]))} for c in CASES
    }
    assert "points" in bounded["ratio higher fixed"] and "points" in bounded["ratio lower fixed"]
    assert "zero" in bounded["linear band higher"] and "points" in bounded["linear band higher"]
    assert "zero" in bounded["target band"] and "zero" in bounded["deduction"]
    best = dict(rows_of(outcome(CASES["ratio lower fixed"])))["UC"]  # 0 s of waiting
    assert "越低越好时为最优" in explain_indicator(best)["zh"] and best["score"] == 20.0


def test_the_lower_is_better_ratio_is_written_reference_over_value():
    # The example: reference 5 s, value 8 s, 15 points → 5 ÷ 8 × 15 = 9.375 (not 8 ÷ 5 × 15).
    measures = {"UA": m(100, 100, 500, 0, 0), "UB": m(100, 100, 800, 0, 0)}
    raw = item(WAIT, {"type": "ratio_to_reference"}, {"policy": "best_in_cohort"}, points=15)
    scheme = parse_scheme(example_scheme(items=[raw]))
    ub = compute(EngineInput(scheme=scheme, units=["UA", "UB"], measures=measures))["units"][1]["indicators"][0]
    text = explain_indicator(ub)
    assert "得分 = 参照值 ÷ 指标值 × 分值 = 5 ÷ 8 × 15 = 9.375" in text["zh"]
    assert "score = reference ÷ value × points = 5 ÷ 8 × 15 = 9.375" in text["en"]
    assert "指标值 8 秒" in text["zh"] and "was 8 s" in text["en"] and "参照值 5 秒" in text["zh"]
    assert "指标值 ÷ 参照值" not in text["zh"] and "value ÷ reference" not in text["en"]


def test_references_are_named_by_their_policy_and_a_fixed_value_by_its_own_label():
    def text_of(case, unit="UB"):
        return explain_indicator(dict(rows_of(outcome(CASES[case])))[unit])

    labelled, plain = text_of("ratio higher fixed, labelled"), text_of("ratio higher fixed")
    assert "为全国优秀值" in labelled["zh"] and "the national excellent value" in labelled["en"]
    assert "组织单位设定的固定值" in plain["zh"] and "a fixed value set by the organizer" in plain["en"]
    assert "优秀" not in plain["zh"] and "excellent" not in plain["en"]  # never every fixed value national-excellent
    best = text_of("ratio higher best_in_cohort")
    assert "评价范围内最优值,由 UA 创造" in best["zh"] and "the best value in the cohort, set by UA" in best["en"]
    assert "平均值" in text_of("ratio higher cohort_mean")["zh"]
    assert "方案设定的目标值" in text_of("ratio higher target")["zh"]
    baseline = text_of("ratio higher dynamic_baseline")
    assert "2025-01、2025-02" in baseline["zh"] and "2025-01, 2025-02" in baseline["en"]
    # A rule that uses no reference does not mention one, whatever the scheme put there.
    satisfied = item(RATE, {"type": "threshold", "target": 90}, {"policy": "target", "value": 95})
    threshold = explain_indicator(dict(rows_of(outcome(satisfied)))["UB"])  # 80 %
    assert "不设参照值" in threshold["zh"] and "参照值 95" not in threshold["zh"] and "95" not in threshold["zh"]
    assert "no reference value is used" in threshold["en"] and "the reference is" not in threshold["en"]


def test_values_carry_their_unit_and_bands_are_the_ones_applied():
    rate, wait = (
        rows_of(outcome(CASES["ratio higher best_in_cohort"]))[1][1],
        rows_of(outcome(CASES["threshold lower"]))[1][1],
    )
    assert "指标值 80%" in explain_indicator(rate)["zh"] and "was 80%" in explain_indicator(rate)["en"]
    assert "指标值 20 秒" in explain_indicator(wait)["zh"] and "was 20 s" in explain_indicator(wait)["en"]
    aht = explain_indicator(dict(rows_of(outcome(CASES["target band"])))["UB"])
    assert "目标区间 60–180 秒" in aht["zh"] and "偏离 = 200 − 180 = 20 秒" in aht["zh"] and "容差 150 秒" in aht["zh"]
    relative = explain_indicator(dict(rows_of(outcome(CASES["linear band relative fixed"])))["UA"])
    assert "下限 = 参照值 × 80 ÷ 100 = 900 × 80 ÷ 100 = 720" in relative["zh"]
    assert "target = reference × 120 ÷ 100 = 900 × 120 ÷ 100 = 1080" in relative["en"]
    deduction = explain_indicator(dict(rows_of(outcome(CASES["deduction"])))["UB"])
    assert "免扣" not in deduction["zh"] and "free" not in deduction["en"]  # only the parameters applied


def test_experts_scores_and_their_aggregation_are_shown():
    expert_item = {"indicator": indicator("innovation", "reported.items", unit="points", dimension="innovation",
                                          method="expert"), "points": 10, "rule": {"type": "expert"}}  # fmt: skip
    entries = [ExpertEntry("UA", "innovation", f"e{s}", s, "j") for s in (4, 7, 8, 9)]
    entries += [ExpertEntry("UB", "innovation", f"e{s}", s, "j") for s in (12, 14)]  # above the points
    for aggregation, used in (("mean", [4, 7, 8, 9]), ("trimmed_mean", [7, 8])):
        scheme = parse_scheme(example_scheme(items=[expert_item], expert_aggregation=aggregation))
        data = EngineInput(scheme=scheme, units=["UA", "UB", "UC"], measures={}, expert_entries=entries,
                           expert_overrides={"UC": {"innovation": 6}})  # fmt: skip
        rows = {u["unit"]: u["indicators"][0] for u in compute(data)["units"]}
        ua = explain_indicator(rows["UA"])
        check(rows["UA"], ua["zh"], ua["en"], experts_used=used)
        assert "4 位专家评分 4、7、8、9" in ua["zh"]
        assert ("去掉最高分 9 与最低分 4" in ua["zh"]) == (aggregation == "trimmed_mean")
        ub = explain_indicator(rows["UB"])
        check(rows["UB"], ub["zh"], ub["en"], experts_used=[12, 14])
        assert "(12 + 14) ÷ 2 = 13,超过分值,得 10 分" in ub["zh"]
        uc = explain_indicator(rows["UC"])
        check(rows["UC"], uc["zh"], uc["en"])
        assert "申诉复核更正的专家评分 6" in uc["zh"] and "corrected on appeal" in uc["en"]


def test_not_applicable_rows_say_which_measure_and_how_many():
    sample = {**CASES["ratio higher best_in_cohort"], "min_sample": {"measure": "calls.offered", "count": 600}}
    short = dict(rows_of(outcome(sample)))["UC"]  # 500 offered
    text = explain_indicator(short)
    assert "人工呼入量(calls.offered) 为 500,低于方案规定的最小样本 600" in text["zh"]
    assert "Calls offered (calls.offered) was 500, below the scheme's minimum sample of 600" in text["en"]
    assert text["calculation"] == {"applicable": False, "reason": "sample_below_minimum", "measure": "calls.offered",
                                   "found": 500.0, "needed": 600.0, "points": 20.0}  # fmt: skip
    scheme = parse_scheme(example_scheme(items=[CASES["deduction"]]))
    data = EngineInput(scheme=scheme, units=sorted(MEASURES), measures=MEASURES, uncovered={"UB": ["calls.complaints"]})
    absent = {u["unit"]: u["indicators"][0] for u in compute(data)["units"]}["UB"]
    text = explain_indicator(absent)
    assert absent["na_reason"] == "no_data" and absent["uncovered"] == ["calls.complaints"]
    assert "数据源未覆盖该单位在本期的 投诉量(calls.complaints)" in text["zh"] and "不按 0 计" in text["zh"]
    assert "no source covered Service complaints (calls.complaints)" in text["en"] and "not a zero" in text["en"]
