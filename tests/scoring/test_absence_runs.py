"""Absence is not zero, through scoring's API and worker (issue 14), with a fake ingest answering coverage as
contracts §4 says (``FakeMeasures.cover``): the unit no record was sent for, the measure a source did not supply,
the zero a source declared; what a revision stores, reproduces and shows; monthly series; roll-ups; exact totals
and their flags over GraphQL; an appeal revision of a revision stored before keeping its arithmetic."""

from __future__ import annotations

import uuid

from services.scoring.inputs import evaluate
from services.scoring.models import EvaluationRun, RunRevision
from services.scoring.store import store_revision
from tests.scoring.conftest import EXAMPLE_DAY
from tests.scoring.example import MEASURE_CODES, example_scheme
from tests.scoring.explanations import check
from tests.scoring.test_appeals_api import service
from tests.scoring.test_runs import ORGANIZER, START, month_input, results_by_unit
from tests.support import auth, data_of, gql

RESULTS = """query($id: ID!) { run(id: $id) { id status error summary { withheldUnits total { count } }
  results(first: 10) { edges { node { id unitId total rank grade { code } rankOverlaps applicableShare
    minApplicableShare tiedOnDisplayWith
    totalWithheld { reason applicableShare minApplicableShare explanation { zh en calculation } }
    indicators { indicator applicable naReason value score points direction uncoveredMeasures
      measures { code value } rule { type params } reference { value policy setBy labelZh labelEn }
      explanation { zh en calculation } } } } } } }"""
MARCH = ("2025-03-01", "2025-03-31")


async def empty_unit(ingest, measures) -> None:
    """UE: an undertaking unit of Guangzhou for which no record was ever sent."""
    unit = {"id": "UE", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "戊单位"}
    assert (await ingest.post("/units/bulk", json=[unit], headers=auth("GD", "admin"))).status_code == 200
    measures.paths["UE"] = "GD/GD-GZ/UE"


async def run_scheme(scoring, drain, schemes, scheme_id="absence", **scheme) -> dict:
    schemes.add(example_scheme(id=scheme_id, organizer="GD-GZ", **scheme))
    started = data_of(await gql(scoring, START, {"input": month_input(schemeId=scheme_id)}, headers=ORGANIZER))
    assert started["startRun"]["problems"] == [], started
    await drain()
    run = data_of(await gql(scoring, RESULTS, {"id": started["startRun"]["run"]["id"]}, headers=ORGANIZER))["run"]
    assert run["status"] == "done", run["error"]
    return run


def indicators(result) -> dict:
    return {i["indicator"]: i for i in result["indicators"]}


async def test_no_record_an_undeclared_measure_and_a_declared_zero(scoring, drain, schemes, measures, ingest, db):
    await empty_unit(ingest, measures)
    # UB's calls came from a source without the complaint flag and the handle time: ingest wrote 0 for both.
    measures.put("UB", EXAMPLE_DAY, {"calls.complaints": 0, "calls.handle_seconds": 0})
    # UA's source covered complaints and found none: a declared zero.
    measures.cover(["UA", "UC", "UD"], MEASURE_CODES, *MARCH)
    measures.cover(["UB"], set(MEASURE_CODES) - {"calls.complaints", "calls.handle_seconds"}, *MARCH)
    scheme = example_scheme(cohort={"units": ["UA", "UB", "UC", "UD", "UE"]})
    scheme["items"][4]["rule"] = {"type": "target_band", "low": 60, "high": 180, "tolerance": 150}
    run = await run_scheme(scoring, drain, schemes, cohort=scheme["cohort"], items=scheme["items"])
    results = results_by_unit(run)

    ue = results["UE"]  # no record at all: no total, no grade, no rank — not 100, 优秀, rank 1
    assert (ue["total"], ue["grade"], ue["rank"], ue["applicableShare"]) == (None, None, None, 0.0)
    assert (
        ue["totalWithheld"]["reason"] == "nothing_applicable"
        and "不计总分、等级和排名" in ue["totalWithheld"]["explanation"]["zh"]
    )
    assert {i["naReason"] for i in ue["indicators"]} == {"no_data"}
    assert indicators(ue)["complaints"]["uncoveredMeasures"] == ["calls.complaints"]
    assert indicators(ue)["complaints"]["measures"] == []  # absent, not 0
    assert "投诉量(calls.complaints)" in indicators(ue)["complaints"]["explanation"]["zh"]

    ub = indicators(results["UB"])  # the undeclared measures: N/A no_data, not full points and not 12 of 20
    assert (ub["complaints"]["applicable"], ub["complaints"]["naReason"], ub["complaints"]["score"]) == (
        False,
        "no_data",
        None,
    )
    assert ub["complaints"]["uncoveredMeasures"] == ["calls.complaints"]
    assert (ub["average_handle_time"]["naReason"], ub["average_handle_time"]["score"]) == ("no_data", None)
    assert "no source covered Handle seconds (calls.handle_seconds)" in ub["average_handle_time"]["explanation"]["en"]
    assert results["UB"]["total"] == 71.43 and results["UB"]["applicableShare"] == 0.7  # 50 of 70 applicable

    ua = indicators(results["UA"])  # the declared zero: covered, none found → full points
    assert (ua["complaints"]["value"], ua["complaints"]["score"], ua["complaints"]["uncoveredMeasures"]) == (
        0.0,
        10.0,
        [],
    )
    # UD with the wider tolerance: AHT 200 s → (1 − 20/150) × 20 = 17.3333, total 73.33; UE has no rank.
    assert {u: (r["total"], r["rank"]) for u, r in results.items()} == {
        "UA": (100.0, 1), "UB": (71.43, 4), "UC": (80.95, 2), "UD": (73.33, 3), "UE": (None, None),
    }  # fmt: skip
    assert run["summary"] == {"withheldUnits": 1, "total": {"count": 4}}
    for result in results.values():  # every applicable score is explained in numbers that recompute it
        for row in result["indicators"]:
            if row["applicable"]:
                check(row, row["explanation"]["zh"], row["explanation"]["en"])

    # The revision stores the coverage with its inputs and reproduces from them.
    async with db.session() as session:
        stored = await session.get(RunRevision, (uuid.UUID(run["id"]), 1))
        document = (await session.get(EvaluationRun, uuid.UUID(run["id"]))).scheme_document
    assert stored.inputs["uncovered"] == {"UB": ["calls.complaints", "calls.handle_seconds"], "UE": MEASURE_CODES}
    assert stored.outcome_format == 3 and evaluate(document, stored.inputs)[1] == stored.outcome_sha256
    # The province's roll-up of Guangzhou leaves the withheld total out.
    rollup = 'query($run: ID!) { resultRollup(runId: $run, under: "GD-GZ") { units withheld total { count } } }'
    assert data_of(await gql(scoring, rollup, {"run": run["id"]}, headers=ORGANIZER))["resultRollup"] == {
        "units": 4, "withheld": 1, "total": {"count": 4},
    }  # fmt: skip


async def test_an_uncovered_month_has_no_value_in_a_special_evaluations_series(scoring, drain, schemes, measures):
    complaints = example_scheme()["items"][3]
    # UA: 2 complaints in January; no batch at all in February (ingest answers 0); March: the example's 0.
    measures.put("UA", "2025-01-05", {"calls.complaints": 2})
    measures.cover(["UA", "UB", "UC", "UD"], MEASURE_CODES, "2025-03-01", "2025-03-31")
    measures.cover(["UA"], ["calls.complaints"], "2025-01-01", "2025-01-31")
    schemes.add(example_scheme(id="special-c", organizer="GD-GZ", kind="special", period={"granularity": "quarter"},
                               items=[complaints]))  # fmt: skip
    quarter = month_input(schemeId="special-c", periodKind="QUARTER", period="2025-Q1")
    started = data_of(await gql(scoring, START, {"input": quarter}, headers=ORGANIZER))
    await drain()
    query = "query($id: ID!) { run(id: $id) { results { edges { node { unitId indicators { value series { month value } } } } } } }"
    run = data_of(await gql(scoring, query, {"id": started["startRun"]["run"]["id"]}, headers=ORGANIZER))["run"]
    ua = results_by_unit(run)["UA"]["indicators"][0]
    # February: null — not "0 complaints" (which a deduction would read as a clean month).
    assert ua["series"] == [{"month": "2025-01", "value": 2.0}, {"month": "2025-02", "value": None},
                            {"month": "2025-03", "value": 0.0}]  # fmt: skip
    assert ua["value"] == 2.0  # over the quarter the measure was covered (January and March)
    ub = results_by_unit(run)["UB"]["indicators"][0]
    assert [p["value"] for p in ub["series"]] == [None, None, 3.0]  # UB: covered in March only


async def test_a_tie_only_on_display_is_flagged_over_graphql(scoring, drain, schemes, measures):
    item = {**example_scheme()["items"][0], "min_sample": None, "points": 100,
            "reference": {"policy": "fixed", "value": 100, "label_zh": "满分参照", "label_en": "full marks"}}  # fmt: skip
    for unit, (answered, offered) in {
        "UA": (80951, 100000),
        "UB": (809549, 1000000),
        "UC": (7, 10),
        "UD": (6, 10),
    }.items():
        measures.daily[unit].clear()
        measures.put(unit, EXAMPLE_DAY, {"calls.answered": answered, "calls.offered": offered})
    run = await run_scheme(scoring, drain, schemes, scheme_id="ties", items=[item])
    results = results_by_unit(run)
    assert {u: (r["total"], r["rank"], r["tiedOnDisplayWith"]) for u, r in results.items()} == {
        "UA": (80.95, 2, ["UB"]), "UB": (80.95, 1, ["UA"]), "UC": (70.0, 3, []), "UD": (60.0, 4, []),
    }  # fmt: skip
    reference = results["UA"]["indicators"][0]["reference"]
    assert (reference["labelZh"], reference["labelEn"]) == ("满分参照", "full marks")
    assert "为满分参照" in results["UA"]["indicators"][0]["explanation"]["zh"]


async def test_an_appeal_on_a_revision_stored_before_keeps_its_arithmetic(scoring, drain, db, measures):
    # A run whose current revision was stored in format 2 (the code before): an upheld appeal changes what it
    # touches and nothing else — it is computed with format 2's arithmetic, not the new one.
    started = data_of(await gql(scoring, START, {"input": month_input()}, headers=ORGANIZER))["startRun"]
    await drain()
    run_id = uuid.UUID(started["run"]["id"])
    async with db.unit_of_work() as session:
        run = await session.get(EvaluationRun, run_id)
        first = await session.get(RunRevision, (run_id, 1))
        outcome, sha = evaluate(run.scheme_document, first.inputs, outcome_format=2)
        await store_revision(session, run, revision=2, inputs=first.inputs, outcome=outcome, sha256=sha,
                             reason="stored before", created_by="t")  # fmt: skip
    body = {"appeal_id": "appeal-9", "reason": "the wait was mis-measured",
            "adjustments": [{"kind": "correct_value", "unit": "UB", "indicator": "average_answer_wait", "value": 12.5}]}  # fmt: skip
    response = await scoring.post(f"/runs/{run_id}/revisions", json=body, headers=service("GD-GZ"))
    assert response.status_code == 201, response.text
    assert [r["unit"] for r in response.json()["results"]] == ["UB"]  # only the appealed unit's total moved
    async with db.session() as session:
        third = await session.get(RunRevision, (run_id, 3))
    assert (
        third.outcome_format == 2
        and evaluate(run.scheme_document, third.inputs, outcome_format=2)[1] == third.outcome_sha256
    )


async def test_a_dynamic_baseline_leaves_out_the_earlier_months_a_unit_was_not_covered_in(
    scoring, drain, schemes, measures
):
    complaints = {**example_scheme()["items"][3], "rule": {"type": "ratio_to_reference"},
                  "reference": {"policy": "dynamic_baseline", "lookback_periods": 2, "match": "any"}}  # fmt: skip
    measures.put("UA", "2025-01-08", {"calls.complaints": 4})
    measures.put("UB", "2025-01-08", {"calls.complaints": 2})
    measures.put("UA", "2025-02-08", {"calls.complaints": 6})
    measures.cover(["UA", "UB"], ["calls.complaints"], "2025-01-01", "2025-01-31")
    measures.cover(["UA"], ["calls.complaints"], "2025-02-01", "2025-02-28")  # UB's February: no batch
    measures.cover(["UA", "UB", "UC", "UD"], MEASURE_CODES, *MARCH)
    run = await run_scheme(scoring, drain, schemes, scheme_id="baseline-c", items=[complaints])
    reference = results_by_unit(run)["UA"]["indicators"][0]["reference"]
    # February {UA: 6} and January {UA: 4, UB: 2}: (6 + 4 + 2) / 3 = 4 — not 12 / 8 = 1.5, which reading every
    # uncovered month as 0 complaints gives (UB's February, UC's and UD's January and February).
    assert reference == {"value": 4.0, "policy": "dynamic_baseline", "setBy": None, "labelZh": None, "labelEn": None}
