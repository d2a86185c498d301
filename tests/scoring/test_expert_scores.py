"""Documents as indicators serves them (a cohort by kind, expert items without a formula), items awaiting
expert scores, and experts' sheets: stored whole or not at all, one revision per sheet, none lost."""

from __future__ import annotations

import asyncio

import pytest

from services.scoring import worker
from services.scoring.engine import EngineInput, ExpertEntry, compute
from services.scoring.inputs import needed_measures
from services.scoring.scheme import SchemeError, parse_scheme
from tests.scoring.example import MEASURES, example_scheme
from tests.scoring.test_runs import ORGANIZER, finished_run, results_by_unit, start
from tests.support import auth, data_of, gql

EXPERT_A, EXPERT_B = auth("GD-GZ", "expert"), auth("GD", "expert")


def reported(code: str) -> dict:
    """A reported, expert-scored indicator as indicators' document spells it: no formula."""
    return {"code": code, "version": 1, "name_zh": "服务创新", "name_en": "Innovation", "clause": "6.7.1",
            "dimension": "innovation", "unit": "points", "direction": "higher_better", "formula": None,
            "method": "reported_expert"}  # fmt: skip


def with_expert_item(**overrides) -> dict:
    """The example scheme (100 points) and an innovation item of 10 points scored by experts."""
    scheme = example_scheme(organizer="GD-GZ", **overrides)
    scheme["items"].append(
        {"indicator": reported("innovation"), "points": 10, "rule": {"type": "expert"}, "reference": {"policy": "none"}}
    )
    return scheme


RUN = """query($id: ID!) { run(id: $id) { status error currentRevision expertScoresNotInRevision
  revisions { revision reason }
  awaitingExpertScores { indicator nameZh points unitIds }
  results { edges { node { unitId total indicators { indicator formula applicable naReason score series { month }
    experts { expert score justification } explanation { zh en } } } } } } }"""
SHEET = """mutation($run: ID!, $scores: [ExpertScoreInput!]!) { enterExpertScores(runId: $run, scores: $scores) {
  accepted revisionQueued problems { path code message } run { id status } } }"""
ONE = """mutation($run: ID!, $unit: String!, $score: Float!) { enterExpertScore(runId: $run, unitId: $unit,
  indicator: "innovation", score: $score, justification: "联动机制") { accepted problems { path code message } } }"""


async def read(scoring, run_id: str, headers=ORGANIZER) -> dict:
    return data_of(await gql(scoring, RUN, {"id": run_id}, headers=headers))["run"]


async def sheet(scoring, run_id: str, scores: list[dict], headers=EXPERT_A) -> dict:
    return data_of(await gql(scoring, SHEET, {"run": run_id, "scores": scores}, headers=headers))["enterExpertScores"]


def scored(units, score, why="建成网格联动机制"):
    return [{"unitId": u, "indicator": "innovation", "score": score, "justification": why} for u in units]


def innovation(run: dict) -> dict[str, dict]:
    return {
        unit: next(i for i in result["indicators"] if i["indicator"] == "innovation")
        for unit, result in results_by_unit(run).items()
    }


async def test_a_cohort_by_kind_without_under_is_the_organizers(scoring, schemes):
    # A document published before indicators stated `cohort.under`: the cohort lies under the organizer.
    schemes.add(example_scheme(organizer="GD-GZ", cohort={"kind": "undertaking_unit"}))
    started = await start(scoring)
    assert started["problems"] == [] and started["run"]["cohort"] == ["UA", "UB", "UC", "UD"]
    province = example_scheme(id="province-wide", organizer="GD", cohort={"kind": "undertaking_unit"})
    schemes.add(province)
    wide = data_of(
        await gql(
            scoring,
            "mutation($i: StartRunInput!) { startRun(input: $i) { problems { path code message } run { cohort } } }",
            {"i": {"schemeId": "province-wide", "schemeVersion": 1, "periodKind": "MONTH", "period": "2025-03"}},
            headers=auth("GD", "organizer"),
        )
    )["startRun"]
    assert wide["problems"] == [] and wide["run"]["cohort"] == ["SZ-HOUSING", "UA", "UB", "UC", "UD"]


async def test_an_expert_item_without_a_formula_awaits_expert_scores_and_never_fails_the_run(scoring, drain, schemes):
    schemes.add(with_expert_item())
    run = await finished_run(scoring, drain)
    run = await read(scoring, run["id"])
    assert run["status"] == "done" and run["error"] is None
    assert run["awaitingExpertScores"] == [
        {"indicator": "innovation", "nameZh": "服务创新", "points": 10.0, "unitIds": ["UA", "UB", "UC", "UD"]}
    ]
    ua = innovation(run)["UA"]
    assert (ua["applicable"], ua["naReason"], ua["score"], ua["formula"]) == (False, "no_expert_score", None, "")
    assert "awaiting expert scores" in ua["explanation"]["en"] and "待专家评分" in ua["explanation"]["zh"]
    # The other items are scored as in the hand-computed example; the pending item's 10 points leave the
    # applicable points: UA has 100 of 100, scaled to the scheme's 110.
    assert results_by_unit(run)["UA"]["total"] == 110.0


def test_only_an_expert_item_may_go_without_a_formula():
    document = with_expert_item()
    assert needed_measures(document) == sorted(
        {"calls.answered", "calls.offered", "calls.answer_wait_seconds", "surveys.rated", "surveys.satisfied",
         "calls.complaints", "calls.handle_seconds"}
    )  # fmt: skip
    document["items"][-1]["rule"] = {"type": "threshold", "target": 5}
    with pytest.raises(SchemeError) as refused:
        parse_scheme(document)
    assert refused.value.problems == [
        "items[5] (innovation): has no formula, so only the rule expert can score it (not threshold)"
    ]


def test_a_special_scheme_gives_formula_items_a_series_and_expert_items_none():
    scheme = parse_scheme(with_expert_item(kind="special", period={"granularity": "quarter"}))
    monthly = {"2025-03": MEASURES}
    entries = [ExpertEntry("UA", "innovation", "e1", 8, "好")]
    outcome = compute(EngineInput(scheme=scheme, units=sorted(MEASURES), measures=MEASURES, monthly=monthly,
                                  expert_entries=entries))  # fmt: skip
    ua = {i["indicator"]: i for i in next(u for u in outcome["units"] if u["unit"] == "UA")["indicators"]}
    assert ua["answer_rate"]["series"] == [["2025-03", 90.0]]
    assert "series" not in ua["innovation"] and ua["innovation"]["score"] == 8.0


async def test_a_sheet_is_stored_whole_or_not_at_all(scoring, drain, schemes):
    schemes.add(with_expert_item())
    run_id = (await finished_run(scoring, drain))["id"]
    bad = [*scored(["UA"], 8), *scored(["UB"], 11), *scored(["SZ-HOUSING"], 5), *scored(["UA"], 7, why=" ")]
    refused = await sheet(scoring, run_id, bad)
    assert (refused["accepted"], refused["revisionQueued"]) == (0, False)
    assert [(p["path"], p["code"], p["message"]) for p in refused["problems"]] == [
        ("scores[1].score", "out_of_range", "UB, innovation: the score must be between 0 and 10"),
        ("scores[2].unitId", "not_in_cohort",
         "SZ-HOUSING, innovation: SZ-HOUSING is not a unit of this run's cohort in your scope"),
        ("scores[3].justification", "required", "UA, innovation: a written justification is required"),
        ("scores[3].indicator", "duplicate", "UA, innovation: UA is scored on innovation twice in this sheet"),
    ]  # fmt: skip
    as_organizer = await sheet(scoring, run_id, scored(["UA"], 8), headers=ORGANIZER)
    assert as_organizer["problems"] == [
        {"path": "", "code": "forbidden", "message": "entering expert scores needs the role expert"}
    ]
    wrong_item = await sheet(scoring, run_id, [{**scored(["UA"], 8)[0], "indicator": "answer_rate"}])
    assert wrong_item["problems"] == [
        {"path": "scores[0].indicator", "code": "not_expert_scored",
         "message": "UA, answer_rate: answer_rate is not an expert-scored indicator of this scheme"}
    ]  # fmt: skip
    assert await drain() == 0  # nothing was stored, nothing queued
    after = await read(scoring, run_id)
    assert after["expertScoresNotInRevision"] == 0 and after["currentRevision"] == 1


async def test_sheets_make_one_revision_each_at_most_and_complete_the_awaiting_items(scoring, drain, schemes):
    schemes.add(with_expert_item())
    run_id = (await finished_run(scoring, drain))["id"]
    first = await sheet(scoring, run_id, scored(["UA", "UB", "UC", "UD"], 8))
    assert (first["accepted"], first["revisionQueued"], first["run"]["status"]) == (4, True, "queued")
    # A second expert's sheet while that recomputation still waits: it takes the sheet in, no second one.
    second = await sheet(scoring, run_id, scored(["UA", "UB"], 6, why="材料较完整"), headers=EXPERT_B)
    assert (second["accepted"], second["revisionQueued"], second["problems"]) == (2, False, [])
    pending = await read(scoring, run_id)
    assert pending["expertScoresNotInRevision"] == 6 and len(pending["awaitingExpertScores"][0]["unitIds"]) == 4
    assert await drain() == 1
    done = await read(scoring, run_id)
    assert (done["status"], done["currentRevision"], done["expertScoresNotInRevision"]) == ("done", 2, 0)
    assert done["awaitingExpertScores"] == []
    assert done["revisions"][-1]["reason"] == "expert scores entered by dev:GD-GZ:expert: 4"
    items = innovation(done)
    assert {u: i["score"] for u, i in items.items()} == {"UA": 7.0, "UB": 7.0, "UC": 8.0, "UD": 8.0}  # means
    assert sorted(e["justification"] for e in items["UA"]["experts"]) == ["建成网格联动机制", "材料较完整"]
    assert items["UA"]["applicable"] and items["UA"]["naReason"] is None
    # UA: 100 of 100 and 7 of 10 → 107 / 110 × 110 = 107.
    assert results_by_unit(done)["UA"]["total"] == 107.0


async def test_a_sheet_entered_while_a_revision_computes_gets_a_revision_of_its_own(
    scoring, drain, schemes, monkeypatch
):
    schemes.add(with_expert_item())
    run_id = (await finished_run(scoring, drain))["id"]
    assert (await sheet(scoring, run_id, scored(["UA"], 9)))["revisionQueued"] is True
    loop, compute, answers = asyncio.get_running_loop(), worker.evaluate, []

    def compute_while_a_sheet_arrives(document, inputs):
        # The job has read the scores and the engine computes (in a thread): now another expert's sheet comes.
        if not answers:
            late = sheet(scoring, run_id, scored(["UB"], 4, why="补充材料"), headers=EXPERT_B)
            answers.append(asyncio.run_coroutine_threadsafe(late, loop).result(timeout=60))
        return compute(document, inputs)

    monkeypatch.setattr(worker, "evaluate", compute_while_a_sheet_arrives)
    ran = await drain()
    assert ran == 2  # the job, and the follow-up the worker queued for the late sheet
    assert answers[0]["accepted"] == 1 and answers[0]["revisionQueued"] is False  # a job was running
    done = await read(scoring, run_id)
    assert done["currentRevision"] == 3 and done["expertScoresNotInRevision"] == 0
    assert [r["reason"] for r in done["revisions"]][1:] == [
        "expert scores entered by dev:GD-GZ:expert: 1",
        "expert scores entered during the computation",
    ]
    assert {u: i["score"] for u, i in innovation(done).items()} == {"UA": 9.0, "UB": 4.0, "UC": None, "UD": None}
    assert done["awaitingExpertScores"][0]["unitIds"] == ["UC", "UD"]


async def test_a_single_score_waits_for_the_next_revision(scoring, drain, schemes):
    schemes.add(with_expert_item())
    run_id = (await finished_run(scoring, drain))["id"]
    one = data_of(await gql(scoring, ONE, {"run": run_id, "unit": "UC", "score": 5.0}, headers=EXPERT_A))
    assert one["enterExpertScore"] == {"accepted": True, "problems": []}
    assert await drain() == 0  # no revision per score
    waiting = await read(scoring, run_id)
    assert waiting["expertScoresNotInRevision"] == 1 and "UC" in waiting["awaitingExpertScores"][0]["unitIds"]
    recompute = 'mutation($id: ID!) { recomputeRun(runId: $id, reason: "专家评分") { problems { message } } }'
    assert data_of(await gql(scoring, recompute, {"id": run_id}, headers=ORGANIZER))["recomputeRun"]["problems"] == []
    assert await drain() == 1
    done = await read(scoring, run_id)
    assert done["awaitingExpertScores"][0]["unitIds"] == ["UA", "UB", "UD"] and innovation(done)["UC"]["score"] == 5.0


async def test_final_results_refuse_sheets(scoring, drain, schemes, scoring_app):
    from sqlalchemy import text

    schemes.add(with_expert_item())
    run_id = (await finished_run(scoring, drain))["id"]
    async with scoring_app.state.database.unit_of_work() as session:
        await session.execute(
            text("UPDATE scoring.evaluation_run SET published_at = now(), final_at = now() WHERE id = :id"),
            {"id": run_id},
        )
    refused = await sheet(scoring, run_id, scored(["UA"], 8))
    assert refused["problems"] == [{"path": "runId", "code": "results_final", "message": "the run's results are final"}]
    assert refused["accepted"] == 0
    assert await drain() == 0
