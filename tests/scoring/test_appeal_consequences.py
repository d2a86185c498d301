"""What a decision's revision does to the rest of the cohort (contracts §6, issue 17): the dry run before the
decision, the references moved and every result changed in the revision's answer, the peers' explanations,
and the plausibility facts appeals checks a corrected value against.

The example (``tests/scoring/example.py``): average answer wait, lower is better, 20 points, best in cohort —
UA 10 s, UB 20 s, UC 10 s, UD 15 s; the reference is 10 s, set by UA (the first of equals). UB asks for 8 s:
the reference becomes 8 s, set by UB; UB 10 → 20 points; UA and UC 20 → 8/10 × 20 = 16; UD 13.3333 →
8/15 × 20 = 10.6667.
"""

from __future__ import annotations

from sqlalchemy import select

from services.scoring.models import RunRevision
from tests.scoring.test_appeals_api import service
from tests.scoring.test_publication import publish
from tests.scoring.test_runs import ORGANIZER, finished_run, results_by_unit
from tests.support import auth, data_of, gql

BODY = {
    "appeal_id": "appeal-8:0",
    "reason": "the wait was measured from the IVR start",
    "adjustments": [{"kind": "correct_value", "unit": "UB", "indicator": "average_answer_wait", "value": 8}],
}
MOVED = [
    {"indicator": "average_answer_wait", "policy": "best_in_cohort", "before": 10.0, "after": 8.0,
     "set_by_before": "UA", "set_by_after": "UB"}
]  # fmt: skip


def wait_of(entry: dict) -> dict:
    [row] = [i for i in entry["indicators"] if i["indicator"] == "average_answer_wait"]
    return row


async def test_a_dry_run_shows_every_unit_a_decision_would_move_and_stores_nothing(scoring, drain):
    run = await finished_run(scoring, drain)
    await publish(scoring, run["id"])
    response = await scoring.post(f"/runs/{run['id']}/revisions/dry-run", json=BODY, headers=service("GD-GZ"))
    assert response.status_code == 200, response.text
    preview = response.json()
    assert (preview["dry_run"], preview["revision"]) == (True, 2)
    assert preview["references"] == MOVED
    by_unit = {c["unit"]: c for c in preview["consequences"]}
    assert sorted(by_unit) == ["UA", "UB", "UC", "UD"]
    assert [u for u, c in by_unit.items() if c["adjusted"]] == ["UB"]
    assert wait_of(by_unit["UB"]) == {"indicator": "average_answer_wait", "value_before": 20.0, "value_after": 8.0,
                                      "score_before": 10.0, "score_after": 20.0}  # fmt: skip
    for unit, (before, after) in {"UA": (20.0, 16.0), "UC": (20.0, 16.0), "UD": (13.3333, 10.6667)}.items():
        assert (wait_of(by_unit[unit])["score_before"], wait_of(by_unit[unit])["score_after"]) == (before, after)
        assert wait_of(by_unit[unit])["value_before"] == wait_of(by_unit[unit])["value_after"]  # their own value
    # Totals, ranks and grades before and after: UB passes UC and UD; UC's answer rate is not applicable, so
    # its 4 points lost count over 70 (rescaled: −5.71).
    headline = {u: (c["total_before"], c["total_after"], c["rank_before"], c["rank_after"], c["grade_after"])
                for u, c in by_unit.items()}  # fmt: skip
    assert headline == {
        "UA": (100.0, 96.0, 1, 1, "excellent"), "UB": (69.33, 79.33, 3, 2, "qualified"),
        "UC": (80.95, 75.24, 2, 3, "qualified"), "UD": (69.33, 66.67, 3, 4, "needs_improvement"),
    }  # fmt: skip
    results = results_by_unit(run)
    assert {u: c["result_id"] for u, c in by_unit.items()} == {u: results[u]["id"] for u in by_unit}
    # Nothing was stored: the run is still at revision 1, and the real revision answers the same effects.
    query = "query($id: ID!) { run(id: $id) { currentRevision } }"
    assert data_of(await gql(scoring, query, {"id": run["id"]}, headers=ORGANIZER))["run"]["currentRevision"] == 1
    made = await scoring.post(f"/runs/{run['id']}/revisions", json=BODY, headers=service("GD-GZ"))
    assert made.status_code == 201, made.text
    answer = made.json()
    assert answer["references"] == preview["references"] and answer["consequences"] == preview["consequences"]
    # The existing part of the answer: the results whose total changed or an adjustment named.
    assert sorted(r["unit"] for r in answer["results"]) == ["UA", "UB", "UC", "UD"]
    again = await scoring.post(f"/runs/{run['id']}/revisions", json=BODY, headers=service("GD-GZ"))
    assert again.status_code == 200 and again.json() == answer


async def test_the_revision_keeps_its_effects_and_a_peers_explanation_names_the_cause(scoring, drain, db):
    run = await finished_run(scoring, drain)
    await publish(scoring, run["id"])
    assert (await scoring.post(f"/runs/{run['id']}/revisions", json=BODY, headers=service("GD-GZ"))).status_code == 201
    async with db.session() as session:
        stored = await session.scalar(select(RunRevision.consequences).where(RunRevision.revision == 2))
    assert stored["appeal_id"] == "appeal-8:0" and stored["references"] == MOVED
    query = """query($id: ID!) { unitResult(id: $id) { revision
      indicators { indicator score corrected explanation { zh en } }
      atRevision(revision: 1) { indicators { indicator explanation { en } } } } }"""
    results = results_by_unit(run)
    ua = data_of(await gql(scoring, query, {"id": results["UA"]["id"]}, headers=auth("UA", "unit")))["unitResult"]
    wait = next(i for i in ua["indicators"] if i["indicator"] == "average_answer_wait")
    assert wait["score"] == 16.0 and not wait["corrected"]
    assert wait["explanation"]["en"].endswith(
        "Revision 2 (the decision on appeal appeal-8:0) moved the reference from 10 to 8 (set by UB); "
        "this score went from 20 to 16."
    )
    assert (
        "第 2 次修订(申诉 appeal-8:0 的决定)使参照值由 10 变为 8(由 UB 创造),本项得分由 20 变为 16。"
        in (wait["explanation"]["zh"])
    )
    # The other indicators, and the same result at revision 1, say nothing of it.
    others = [i["explanation"]["en"] for i in ua["indicators"] if i["indicator"] != "average_answer_wait"]
    assert not [e for e in others if "Revision 2" in e]
    assert not [i for i in ua["atRevision"]["indicators"] if "Revision 2" in i["explanation"]["en"]]
    # The appellant's own corrected score is explained as corrected, not as a peer's consequence.
    ub = data_of(await gql(scoring, query, {"id": results["UB"]["id"]}, headers=auth("UB", "unit")))["unitResult"]
    ub_wait = next(i for i in ub["indicators"] if i["indicator"] == "average_answer_wait")
    assert ub_wait["corrected"] and "Revision 2" not in ub_wait["explanation"]["en"]


async def test_a_result_carries_what_its_values_can_plausibly_be_and_the_peer_appeal_setting(scoring, drain):
    run = await finished_run(scoring, drain)
    await publish(scoring, run["id"])
    body = (await scoring.get(f"/results/{results_by_unit(run)['UB']['id']}", headers=service("UB"))).json()
    assert body["peer_appeals"] == {"allowed": True, "window_days": 7}  # the defaults: yes, the appeal window
    by_code = {i["indicator"]: i for i in body["indicators"]}
    assert (by_code["answer_rate"]["unit"], by_code["answer_rate"]["bounds"]) == ("percent", {"min": 0.0, "max": 100.0})
    assert by_code["average_answer_wait"]["bounds"] == {"min": 0.0, "max": None}
    # Best observed in the cohort: the lowest wait (10 s), the highest answer rate among applicable units (90 %).
    assert by_code["average_answer_wait"]["observed"] == {"best": 10.0, "periods": ["2025-03"]}
    assert by_code["answer_rate"]["observed"] == {"best": 90.0, "periods": ["2025-03"]}
    assert by_code["average_handle_time"]["observed"]["best"] is None  # a target band has no best end
