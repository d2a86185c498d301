"""Robust references: best in cohort among units with a minimum sample, and the cohort's percentile."""

from __future__ import annotations

import numpy as np
import pytest

from services.scoring.engine import EngineInput, compute
from services.scoring.explain import explain_indicator
from services.scoring.references import percentile_value, resolve_reference
from services.scoring.scheme import SchemeError, parse_scheme
from tests.scoring.example import example_scheme, indicator
from tests.scoring.test_runs import ORGANIZER, results_by_unit
from tests.support import data_of, gql

RESOLUTION = indicator("average_resolution_time", "orders.resolution_hours / orders.closed", direction="lower_better",
                       unit="hours", dimension="resolution_quality", name_zh="诉求解决平均用时",
                       name_en="Average resolution time")  # fmt: skip
ON_TIME = indicator("on_time_closure_rate", "orders.closed_on_time / orders.assigned * 100",
                    dimension="resolution_quality", name_zh="按期办结率", name_en="On-time closure rate")  # fmt: skip


def orders(assigned, on_time, hours):
    return {"orders.assigned": assigned, "orders.closed": assigned, "orders.closed_on_time": on_time,
            "orders.resolution_hours": hours}  # fmt: skip


# The demo's shape: a small unit (20 orders, 2.5 h each) beside large ones.
MEASURES = {
    "SMALL": orders(20, 20, 50),  # 2.5 h, 100 %
    "BIG": orders(400, 360, 24_000),  # 60 h, 90 %
    "MID": orders(200, 170, 16_000),  # 80 h, 85 %
    "SLOW": orders(100, 80, 24_000),  # 240 h, 80 %
}


def scheme(*items):
    return example_scheme(kind="special", items=list(items))


def item(indicator_, reference, points=50, rule=None):
    return {"indicator": indicator_, "points": points, "rule": rule or {"type": "ratio_to_reference"},
            "reference": reference}  # fmt: skip


def run(document, measures=MEASURES):
    parsed = parse_scheme(document)
    outcome = compute(EngineInput(scheme=parsed, units=sorted(measures), measures=measures))
    return {u["unit"]: {i["indicator"]: i for i in u["indicators"]} | {"total": u["total"]} for u in outcome["units"]}


def test_a_unit_below_the_reference_sample_cannot_set_it_but_is_scored_against_it():
    reference = {"policy": "best_in_cohort", "min_sample": {"measure": "orders.closed", "count": 100}}
    found = run(scheme(item(RESOLUTION, reference, points=100)))
    # SMALL's 2.5 h would set the reference for everyone (plain best in cohort); with 20 orders closed it may
    # not: the best of BIG (60 h), MID (80 h) and SLOW (240 h) — the three with ≥ 100 closed — is BIG's 60 h.
    ref = found["BIG"]["average_resolution_time"]["reference"]
    assert ref == {"value": 60.0, "policy": "best_in_cohort", "set_by": "BIG", "periods": [],
                   "min_sample": {"measure": "orders.closed", "count": 100.0}, "qualifying_units": 3}  # fmt: skip
    # lower is better: reference / value × 100 — BIG 100, MID 60/80 × 100 = 75, SLOW 60/240 × 100 = 25;
    # SMALL, better than the reference, is capped at the full 100 points.
    assert {u: found[u]["average_resolution_time"]["score"] for u in MEASURES} == {
        "SMALL": 100.0, "BIG": 100.0, "MID": 75.0, "SLOW": 25.0
    }  # fmt: skip
    explanation = explain_indicator(found["MID"]["average_resolution_time"])
    assert "仅限办结量(orders.closed)不少于 100 的单位参与设定,共 3 家" in explanation["zh"]
    assert "由 BIG 创造" in explanation["zh"]
    assert "only the 3 units with at least 100 orders.closed could set it), set by BIG" in explanation["en"]
    # Without the reference's sample SMALL sets it, and MID would score 2.5/80 × 100 = 3.125.
    plain = run(scheme(item(RESOLUTION, {"policy": "best_in_cohort"}, points=100)))
    assert plain["MID"]["average_resolution_time"]["score"] == 3.125
    assert plain["MID"]["average_resolution_time"]["reference"] == {
        "value": 2.5, "policy": "best_in_cohort", "set_by": "SMALL", "periods": []
    }  # fmt: skip


def test_when_no_unit_has_the_reference_sample_the_item_applies_to_nobody():
    reference = {"policy": "best_in_cohort", "min_sample": {"measure": "orders.closed", "count": 1000}}
    found = run(scheme(item(RESOLUTION, reference), item(ON_TIME, {"policy": "fixed", "value": 100})))
    for unit in MEASURES:
        row = found[unit]["average_resolution_time"]
        assert (row["applicable"], row["na_reason"], row["score"]) == (False, "no_reference", None)
        assert row["value"] is not None  # the unit's own value is still shown
    ref = found["BIG"]["average_resolution_time"]["reference"]
    assert (ref["value"], ref["set_by"], ref["qualifying_units"]) == (None, None, 0)
    # rescale: the total is the on-time closure score alone, scaled from 50 to 100 points (BIG 90 % → 45 of 50).
    assert found["BIG"]["total"] == 90.0 and found["SLOW"]["total"] == 80.0
    explanation = explain_indicator(found["BIG"]["average_resolution_time"])
    assert "没有单位达到设定参照值所需的最小样本(办结量(orders.closed)不少于 1000)" in explanation["zh"]
    assert "no unit had the sample needed to set the reference (at least 1000 orders.closed)" in explanation["en"]


@pytest.mark.parametrize(
    ("values", "p", "direction", "expected"),
    [
        # 5 values sorted 10 20 30 40 50; h = (5 − 1) × q / 100.
        ([30, 10, 50, 20, 40], 90, "higher_better", 46.0),  # q 90: h 3.6 → 40 + 0.6 × (50 − 40)
        ([30, 10, 50, 20, 40], 90, "lower_better", 14.0),  # q 10: h 0.4 → 10 + 0.4 × (20 − 10)
        ([30, 10, 50, 20, 40], 50, "higher_better", 30.0),  # the median
        ([30, 10, 50, 20, 40], 100, "higher_better", 50.0),  # the best
        ([30, 10, 50, 20, 40], 100, "lower_better", 10.0),
        ([7.5], 90, "higher_better", 7.5),  # one value is its own percentile
        ([1, 2, 3, 4], 75, "higher_better", 3.25),  # h 2.25 → 3 + 0.25 × (4 − 3)
    ],
)
def test_the_percentile_is_numpys_linear_interpolation_and_direction_aware(values, p, direction, expected):
    assert percentile_value(values, p, direction) == pytest.approx(expected, abs=1e-12)
    q = 100 - p if direction == "lower_better" else p
    assert percentile_value(values, p, direction) == float(np.percentile(values, q))


def test_a_percentile_reference_scores_the_cohort_against_its_pth_percentile():
    found = run(scheme(item(ON_TIME, {"policy": "percentile", "percentile": 90}),
                       item(RESOLUTION, {"policy": "percentile", "percentile": 75})))  # fmt: skip
    # On-time, higher is better: 80 85 90 100, q = 90 → h = 3 × 0.9 = 2.7 → 90 + 0.7 × 10 = 97.
    on_time = found["BIG"]["on_time_closure_rate"]["reference"]
    assert on_time == {"value": 97.0, "policy": "percentile", "set_by": None, "periods": [], "percentile": 90.0,
                       "qualifying_units": 4}  # fmt: skip
    # BIG 90/97 × 50 = 46.3918; SMALL's 100 % is above the reference: capped at 50.
    assert found["BIG"]["on_time_closure_rate"]["score"] == 46.3918
    assert found["SMALL"]["on_time_closure_rate"]["score"] == 50.0
    # Resolution time, lower is better: 2.5 60 80 240, q = 100 − 75 = 25 → h = 0.75 → 2.5 + 0.75 × 57.5 = 45.625;
    # MID: 45.625/80 × 50 = 28.5156.
    assert found["MID"]["average_resolution_time"]["reference"]["value"] == 45.625
    assert found["MID"]["average_resolution_time"]["score"] == 28.5156
    zh, en = (lambda e: (e["zh"], e["en"]))(explain_indicator(found["MID"]["on_time_closure_rate"]))
    assert "参照值 97%,为评价范围内的百分位值(第 90 百分位:90% 的单位不优于此值,按线性插值,取自 4 家单位的指标值)" in zh
    assert "the 90th percentile: 90 % of units do no better, linear interpolation over 4 units' values" in en


def test_a_percentile_with_a_minimum_sample_is_taken_over_the_qualifying_units_only():
    reference = {"policy": "percentile", "percentile": 50, "min_sample": {"measure": "orders.closed", "count": 150}}
    found = run(scheme(item(RESOLUTION, reference, points=100)))
    # BIG (400 closed) 60 h and MID (200) 80 h qualify: the median of the two is 70 h.
    ref = found["SLOW"]["average_resolution_time"]["reference"]
    assert (ref["value"], ref["qualifying_units"], ref["percentile"]) == (70.0, 2, 50.0)
    assert found["SLOW"]["average_resolution_time"]["score"] == 29.1667  # 70/240 × 100
    zh = explain_indicator(found["SLOW"]["average_resolution_time"])["zh"]
    assert "仅限办结量(orders.closed)不少于 150 的单位参与设定,共 2 家;第 50 百分位" in zh


def test_the_pure_resolution_and_the_engine_agree():
    parsed = parse_scheme(scheme(item(RESOLUTION, {"policy": "best_in_cohort",
                                                   "min_sample": {"measure": "orders.closed", "count": 100}})))  # fmt: skip
    values = {u: m["orders.resolution_hours"] / m["orders.closed"] for u, m in MEASURES.items()}
    samples = {u: m["orders.closed"] for u, m in MEASURES.items()}
    ref = resolve_reference(parsed.items[0], values, samples=samples)
    engine = run(scheme(item(RESOLUTION, {"policy": "best_in_cohort",
                                          "min_sample": {"measure": "orders.closed", "count": 100}})))  # fmt: skip
    stated = engine["BIG"]["average_resolution_time"]["reference"]
    assert (ref.value, ref.set_by, ref.qualifying_units) == (stated["value"], stated["set_by"], 3)


def test_bad_reference_parameters_are_refused_by_scoring_too():
    bad = scheme(
        item(ON_TIME, {"policy": "percentile"}),
        item(RESOLUTION, {"policy": "fixed", "value": 10, "min_sample": {"measure": "orders.closed", "count": 5}}),
    )
    with pytest.raises(SchemeError) as refused:
        parse_scheme(bad)
    assert refused.value.problems == [
        "items[0] (on_time_closure_rate): reference policy percentile needs a percentile above 0 and at most 100",
        "items[1] (average_resolution_time): reference min_sample is for best_in_cohort and percentile only",
    ]
    with pytest.raises(SchemeError, match="min_sample is"):
        parse_scheme(scheme(item(RESOLUTION, {"policy": "best_in_cohort", "min_sample": 100})))


START = "mutation($input: StartRunInput!) { startRun(input: $input) { problems { path code message } run { id } } }"
REFERENCES = """query($id: ID!) { run(id: $id) { status error
  summary { indicators { indicator reference { value setBy percentile qualifyingUnits minSample { measure count } } } }
  results { edges { node { unitId indicators { indicator score reference { value policy setBy percentile
    qualifyingUnits minSample { measure count } } explanation { en } } } } } } }"""


async def test_the_api_states_the_reference_sample_and_the_percentile(scoring, drain, schemes, measures):
    robust = example_scheme(id="robust", organizer="GD-GZ", items=[
        {**example_scheme()["items"][0], "min_sample": None,
         "reference": {"policy": "best_in_cohort", "min_sample": {"measure": "calls.offered", "count": 600}}},
        {**example_scheme()["items"][1], "points": 70, "reference": {"policy": "percentile", "percentile": 90}},
    ])  # fmt: skip
    schemes.add(robust)
    period = {"schemeId": "robust", "schemeVersion": 1, "periodKind": "MONTH", "period": "2025-03"}
    started = data_of(await gql(scoring, START, {"input": period}, headers=ORGANIZER))["startRun"]
    assert started["problems"] == []
    await drain()
    run_ = data_of(await gql(scoring, REFERENCES, {"id": started["run"]["id"]}, headers=ORGANIZER))["run"]
    assert run_["status"] == "done", run_["error"]
    # Answer rate: UA 90 % (1000 offered) and UB 80 % (1000) may set it; UD (500) and UC (50) may not.
    ua = {i["indicator"]: i for i in results_by_unit(run_)["UA"]["indicators"]}
    assert ua["answer_rate"]["reference"] == {"value": 90.0, "policy": "best_in_cohort", "setBy": "UA",
                                              "percentile": None, "qualifyingUnits": 2,
                                              "minSample": {"measure": "calls.offered", "count": 600.0}}  # fmt: skip
    # Wait, lower is better: 10 10 15 20 s, q = 10 → h = 0.3 → 10 s.
    assert ua["average_answer_wait"]["reference"] == {"value": 10.0, "policy": "percentile", "setBy": None,
                                                      "percentile": 90.0, "qualifyingUnits": 4, "minSample": None}  # fmt: skip
    assert "only the 2 units with at least 600 calls.offered could set it" in ua["answer_rate"]["explanation"]["en"]
    summary = {s["indicator"]: s["reference"] for s in run_["summary"]["indicators"]}
    assert summary["answer_rate"]["qualifyingUnits"] == 2 and summary["average_answer_wait"]["percentile"] == 90.0
