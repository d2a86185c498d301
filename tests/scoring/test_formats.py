"""Revisions stored in outcome formats 1 and 2 reproduce, with this code, the digests the code that stored
them gave. The digests below were computed by commit f9dc6d7 (before outcome format 3) from exactly these
inputs — every path of the engine: a unit ingest does not know, a corrected value, the previous period, a
special scheme's monthly series, a dynamic baseline, experts' scores (trimmed mean) and an expert override."""

from __future__ import annotations

import pytest

from services.scoring.inputs import evaluate
from tests.scoring.example import MEASURES, example_scheme, indicator

STORED_DIGESTS = {
    ("comprehensive", 1): "07017364d78f939b64746f17a583ba28bc612252ffe08bf030151f42c34480b8",
    ("comprehensive", 2): "d6d33216044395d32441c50698c4aab44baecabb420c0b61b9e92df9ad9402f9",
    ("special", 1): "715d464424cd3e96c0e55a89a9440ce6e1362cf493667b5cc873d5a3b2df2090",
    ("special", 2): "240d7037085566bc418ff27391b9acc7d82723664acc827a043efa2f0d6a3e2b",
    ("relative", 1): "014f592196f737b23105fb1a2926eb4a84f3713c5c284762a0a4cf030b044cc2",
    ("relative", 2): "932403727f5ee0d1cfe808fc57b18de47639136b048e9f7a256c39a69f59a70d",
}


def comprehensive() -> tuple[dict, dict]:
    document = example_scheme(organizer="GD-GZ")
    inputs = {
        "period": {"kind": "month", "from": "2025-03-01", "to": "2025-03-31", "label": "2025-03", "months": [3]},
        "units": ["UA", "UB", "UC", "UD", "UX"],
        "measures": MEASURES,
        "missing_units": ["UX"],
        "days_with_data": {"UA": 1, "UB": 1, "UC": 1, "UD": 1},
        "history": [],
        "expert_entries": [],
        "previous": {"UB": {"run_id": "r0", "total": 60.0, "rank": 4}},
        "value_overrides": {"UD": {"average_answer_wait": 12.5}},
    }
    return document, inputs


def special() -> tuple[dict, dict]:
    items = [dict(i) for i in example_scheme()["items"][:2]]
    items[0] = {
        **items[0],
        "points": 50,
        "reference": {"policy": "dynamic_baseline", "lookback_periods": 2, "match": "any"},
    }
    items[1] = {**items[1], "points": 40}
    items.append(
        {
            "indicator": indicator(
                "innovation", "reported.items", unit="points", dimension="innovation", method="expert"
            ),
            "points": 10,
            "rule": {"type": "expert"},
        }
    )
    document = example_scheme(
        organizer="GD-GZ",
        kind="special",
        period={"granularity": "quarter"},
        items=items,
        expert_aggregation="trimmed_mean",
    )
    monthly = {
        label: {u: {k: v / share for k, v in m.items()} for u, m in MEASURES.items()}
        for label, share in (("2025-01", 3), ("2025-02", 7), ("2025-03", 11))
    }
    history = [
        {"label": "2024-Q3", "months": [7, 8, 9], "measures": {"UA": {"calls.answered": 70, "calls.offered": 100}}},
        {"label": "2024-Q4", "months": [10, 11, 12], "measures": {"UB": {"calls.answered": 77, "calls.offered": 99}}},
    ]
    experts = [
        {"unit": "UA", "indicator": "innovation", "expert": f"e{s}", "score": s, "justification": "j"}
        for s in (4, 7, 8, 9)
    ]
    inputs = {
        "period": {"kind": "quarter", "from": "2025-01-01", "to": "2025-03-31", "label": "2025-Q1", "months": [1, 2, 3]},
        "units": ["UA", "UB", "UC", "UD"], "measures": MEASURES, "missing_units": [], "days_with_data": {},
        "monthly": monthly, "history": history, "previous": {},
        "expert_entries": [*experts, {"unit": "UB", "indicator": "innovation", "expert": "e1", "score": 6.5,
                                      "justification": "j"}],
        "expert_overrides": {"UC": {"innovation": 3}},
    }  # fmt: skip
    return document, inputs


def relative() -> tuple[dict, dict]:
    """Relative linear bands, which formats 1 and 2 scored as if floor and target were values (the array path
    ignored ``relative``): their revisions reproduce as stored; format 3 scores them as the rule says."""
    items = [
        {"indicator": indicator("volume", "calls.offered", unit="count"), "points": 60,
         "rule": {"type": "linear_band", "floor": 80, "target": 120, "relative": True},
         "reference": {"policy": "cohort_mean"}},
        {"indicator": indicator("wait", "calls.answer_wait_seconds / calls.answered", direction="lower_better",
                                unit="seconds"), "points": 40,
         "rule": {"type": "linear_band", "floor": 120, "target": 80, "relative": True},
         "reference": {"policy": "best_in_cohort"}},
    ]  # fmt: skip
    inputs = {
        "period": {"kind": "month", "from": "2025-03-01", "to": "2025-03-31", "label": "2025-03", "months": [3]},
        "units": ["UA", "UB", "UC", "UD"], "measures": MEASURES, "missing_units": [], "days_with_data": {},
        "history": [], "expert_entries": [], "previous": {},
    }  # fmt: skip
    return example_scheme(organizer="GD-GZ", items=items), inputs


@pytest.mark.parametrize(("name", "outcome_format"), sorted(STORED_DIGESTS))
def test_revisions_stored_in_formats_1_and_2_reproduce_their_digests(name, outcome_format):
    document, inputs = {"comprehensive": comprehensive, "special": special, "relative": relative}[name]()
    assert evaluate(document, inputs, outcome_format=outcome_format)[1] == STORED_DIGESTS[(name, outcome_format)]


def test_format_3_scores_a_relative_band_against_the_reference():
    # Offered calls: UA 1000, UB 1000, UC 50, UD 500 → cohort mean 637.5; floor 80 % = 510, target 120 % = 765.
    # UA, UB above the target → 60; UD (500 − 510) ÷ (765 − 510) × 60 < 0 → 0; UC → 0.
    document, inputs = relative()
    exact = {u["unit"]: u["indicators"][0]["score"] for u in evaluate(document, inputs)[0]["units"]}
    assert exact == {"UA": 60.0, "UB": 60.0, "UC": 0.0, "UD": 0.0}
    legacy = {u["unit"]: u["indicators"][0]["score"] for u in evaluate(document, inputs, outcome_format=2)[0]["units"]}
    assert legacy == {"UA": 60.0, "UB": 60.0, "UC": 0.0, "UD": 60.0}  # 500 read against 80 → 120 itself


def test_format_3_is_its_own_digest_and_an_unknown_format_is_refused():
    document, inputs = comprehensive()
    digests = {evaluate(document, inputs, outcome_format=f)[1] for f in (1, 2, 3)}
    assert len(digests) == 3  # a format-3 digest can never be mistaken for a revision of another format
    with pytest.raises(ValueError, match="unknown outcome format 4"):
        evaluate(document, inputs, outcome_format=4)
