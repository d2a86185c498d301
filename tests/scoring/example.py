"""The hand-computed example shared by the engine test and the run tests (DB and API)."""

from __future__ import annotations

SCHEME_ID = "5f0c0000-0000-4000-8000-000000000001"


def indicator(code, formula, direction="higher_better", unit="percent", dimension="service_response", **extra):
    return {
        "code": code, "version": 1, "name_zh": extra.get("name_zh", code), "name_en": extra.get("name_en", code),
        "clause": "6.1", "dimension": dimension, "unit": unit, "direction": direction, "formula": formula,
        "method": extra.get("method", "system"),
    }  # fmt: skip


def example_scheme(**overrides) -> dict:
    """Five items, 100 points: answer rate (ratio, best in cohort, minimum sample 100 calls offered),
    average answer wait (lower is better, ratio, best in cohort), satisfaction (linear band 80 → 95),
    complaints (deduction 2 per occurrence after 1 free) and AHT (target band 60–180 s, tolerance 60)."""
    scheme = {
        "id": SCHEME_ID,
        "version": 1,
        "code": "TEST-12345",
        "name_zh": "测试综合评价",
        "name_en": "Test comprehensive evaluation",
        "kind": "comprehensive",
        "status": "published",
        "organizer": "GD",
        "cohort": {"units": ["UA", "UB", "UC", "UD"]},
        "period": {"granularity": "month"},
        "na_policy": "rescale",
        "expert_aggregation": "mean",
        "rankings_public": False,
        "appeal": {"window_days": 7, "max_appeals_per_result": 3, "max_indicators_per_appeal": 5},
        "grade_bands": [
            {"code": "excellent", "name_zh": "优秀", "min": 90},
            {"code": "qualified", "name_zh": "合格", "min": 70},
            {"code": "needs_improvement", "name_zh": "待改进", "min": 0},
        ],
        "items": [
            {
                "indicator": indicator("answer_rate", "calls.answered / calls.offered * 100", name_zh="接通率",
                                       name_en="Answer rate"),
                "points": 30,
                "rule": {"type": "ratio_to_reference"},
                "reference": {"policy": "best_in_cohort"},
                "min_sample": {"measure": "calls.offered", "count": 100},
            },
            {
                "indicator": indicator("average_answer_wait", "calls.answer_wait_seconds / calls.answered",
                                       direction="lower_better", unit="seconds", name_zh="平均接通等待时长",
                                       name_en="Average answer wait"),
                "points": 20,
                "rule": {"type": "ratio_to_reference"},
                "reference": {"policy": "best_in_cohort"},
            },
            {
                "indicator": indicator("satisfaction_rate", "surveys.satisfied / surveys.rated * 100",
                                       dimension="satisfaction", name_zh="满意率", name_en="Satisfaction rate"),
                "points": 20,
                "rule": {"type": "linear_band", "floor": 80, "target": 95},
                "reference": {"policy": "target", "value": 95},
            },
            {
                "indicator": indicator("complaints", "calls.complaints", direction="lower_better", unit="count",
                                       dimension="satisfaction", name_zh="投诉数", name_en="Complaints"),
                "points": 10,
                "rule": {"type": "deduction", "per_occurrence": 2, "free_occurrences": 1},
                "reference": {"policy": "fixed", "value": 0},
            },
            {
                "indicator": indicator("average_handle_time", "calls.handle_seconds / calls.answered",
                                       direction="target_band", unit="seconds", dimension="service_response",
                                       name_zh="平均处理时长", name_en="Average handle time"),
                "points": 20,
                "rule": {"type": "target_band", "low": 60, "high": 180, "tolerance": 60},
                "reference": {"policy": "target", "value": 120},
            },
        ],
    }  # fmt: skip
    scheme.update(overrides)
    return scheme


def m(offered, answered, wait, rated, satisfied, complaints, handle):
    return {
        "calls.offered": offered, "calls.answered": answered, "calls.answer_wait_seconds": wait,
        "surveys.rated": rated, "surveys.satisfied": satisfied, "calls.complaints": complaints,
        "calls.handle_seconds": handle,
    }  # fmt: skip


# The period's measures per unit (see test_engine.test_the_hand_computed_example for the arithmetic).
MEASURES = {
    "UA": m(1000, 900, 9000, 200, 190, 0, 108000),  # 90 %, 10 s, 95 %, 0, AHT 120 s
    "UB": m(1000, 800, 16000, 100, 90, 3, 160000),  # 80 %, 20 s, 90 %, 3, AHT 200 s
    "UC": m(50, 45, 450, 100, 85, 1, 6750),  # offered 50 < 100: answer rate N/A; 10 s, 85 %, 1, AHT 150 s
    "UD": m(500, 400, 6000, 80, 70, 3, 80000),  # 80 %, 15 s, 87.5 %, 3, AHT 200 s
}
MEASURE_CODES = sorted(next(iter(MEASURES.values())))
