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


@pytest.mark.parametrize(("name", "outcome_format"), sorted(STORED_DIGESTS))
def test_revisions_stored_in_formats_1_and_2_reproduce_their_digests(name, outcome_format):
    document, inputs = {"comprehensive": comprehensive, "special": special}[name]()
    assert evaluate(document, inputs, outcome_format=outcome_format)[1] == STORED_DIGESTS[(name, outcome_format)]


def test_format_3_is_its_own_digest_and_an_unknown_format_is_refused():
    document, inputs = comprehensive()
    digests = {evaluate(document, inputs, outcome_format=f)[1] for f in (1, 2, 3)}
    assert len(digests) == 3  # a format-3 digest can never be mistaken for a revision of another format
    with pytest.raises(ValueError, match="unknown outcome format 4"):
        evaluate(document, inputs, outcome_format=4)
