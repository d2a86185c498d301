"""Runs through the scoring API: start (idempotent), the job's states, the hand-computed example
stored and served, reproducibility, recomputation after a data correction, revisions and diffs."""

from __future__ import annotations

from services.scoring import worker
from services.scoring.inputs import evaluate
from services.scoring.models import RunRevision
from tests.scoring.example import SCHEME_ID, example_scheme
from tests.support import auth, data_of, gql, problem

ORGANIZER = auth("GD-GZ", "organizer")
START = """
mutation($input: StartRunInput!) { startRun(input: $input) {
  existing problems { path code message } run { id status progress currentRevision period { label startDate endDate } cohort } } }
"""
RUN = """
query($id: ID!) { run(id: $id) { id status progress error currentRevision scheme { id }
  revisions { revision reason outcomeSha256 }
  results(first: 10) { edges { node { id unitId total rank grade { code nameZh } rankOverlaps
    dimensions { dimension score points }
    indicators { indicator value score applicable naReason reference { value policy setBy } } } } } } }
"""


def month_input(**extra):
    return {"schemeId": SCHEME_ID, "schemeVersion": 1, "periodKind": "MONTH", "period": "2025-03", **extra}


async def start(scoring, headers=ORGANIZER, **extra):
    return data_of(await gql(scoring, START, {"input": month_input(**extra)}, headers=headers))["startRun"]


async def finished_run(scoring, drain, headers=ORGANIZER) -> dict:
    started = await start(scoring, headers)
    assert started["problems"] == [], started
    await drain()
    return data_of(await gql(scoring, RUN, {"id": started["run"]["id"]}, headers=headers))["run"]


def results_by_unit(run):
    return {e["node"]["unitId"]: e["node"] for e in run["results"]["edges"]}


async def test_a_run_is_queued_then_computed_and_matches_the_hand_computed_example(scoring, drain):
    started = await start(scoring)
    assert started["problems"] == [] and started["existing"] is False
    run = started["run"]
    assert (run["status"], run["progress"], run["currentRevision"]) == ("queued", 0, 0)
    assert run["period"] == {"label": "2025-03", "startDate": "2025-03-01", "endDate": "2025-03-31"}
    assert run["cohort"] == ["UA", "UB", "UC", "UD"]
    assert await drain() == 1
    done = data_of(await gql(scoring, RUN, {"id": run["id"]}, headers=ORGANIZER))["run"]
    assert (done["status"], done["progress"], done["currentRevision"]) == ("done", 100, 1)
    assert done["scheme"] == {"id": f"{SCHEME_ID}:1"}
    results = results_by_unit(done)
    # The same figures as tests/scoring/test_engine.py::test_the_hand_computed_example.
    assert {u: r["total"] for u, r in results.items()} == {"UA": 100.0, "UB": 69.33, "UC": 80.95, "UD": 69.33}
    assert {u: r["rank"] for u, r in results.items()} == {"UA": 1, "UB": 3, "UC": 2, "UD": 3}
    assert results["UB"]["grade"] == {"code": "needs_improvement", "nameZh": "待改进"}
    wait = next(i for i in results["UB"]["indicators"] if i["indicator"] == "average_answer_wait")
    assert wait == {"indicator": "average_answer_wait", "value": 20.0, "score": 10.0, "applicable": True, "naReason": None,
                    "reference": {"value": 10.0, "policy": "best_in_cohort", "setBy": "UA"}}  # fmt: skip
    na = next(i for i in results["UC"]["indicators"] if i["indicator"] == "answer_rate")
    assert (na["applicable"], na["naReason"], na["score"]) == (False, "sample_below_minimum", None)


async def test_starting_the_same_run_twice_returns_the_existing_one(scoring, drain):
    first = await start(scoring)
    second = await start(scoring)
    assert second["existing"] is True and second["run"]["id"] == first["run"]["id"]
    assert await drain() == 1  # computed once


async def test_the_job_moves_through_its_states(scoring, scoring_app):
    run_id = (await start(scoring))["run"]["id"]
    claimed = await worker.claim_job(scoring_app.state.database)
    assert claimed is not None and str(claimed[1]) == run_id
    polled = data_of(await gql(scoring, RUN, {"id": run_id}, headers=ORGANIZER))["run"]
    assert (polled["status"], polled["progress"]) == ("fetching", 10)
    assert await worker.claim_job(scoring_app.state.database) is None  # nobody else takes it


async def test_a_unit_ingest_reports_missing_is_not_applicable_rather_than_zero(scoring, drain, measures):
    measures.paths.pop("UB")  # ingest no longer knows UB: it comes back as missing
    run = await finished_run(scoring, drain)
    assert run["status"] == "done"
    ub = results_by_unit(run)["UB"]
    assert ub["total"] is None and {i["naReason"] for i in ub["indicators"]} == {"no_data"}
    assert results_by_unit(run)["UA"]["total"] == 100.0


async def test_a_failing_fetch_fails_the_run_with_the_reason(scoring, drain, measures):
    measures.query = lambda caller, body: (_ for _ in ()).throw(RuntimeError("measures store down"))
    run = await finished_run(scoring, drain)
    assert run["status"] == "failed" and "measures store down" in run["error"] and run["currentRevision"] == 0


async def test_refusals_are_listed_as_problems(scoring, schemes):
    unit = await start(scoring, auth("UA", "unit"))
    assert unit["run"] is None
    assert unit["problems"] == [problem("", "forbidden", "starting a run needs the role organizer or admin")]
    other_city = await start(scoring, auth("GD-SZ", "organizer"))
    outside = problem("input.schemeId", "outside_scope", "the scheme's organizer GD-GZ is outside your scope")
    assert outside in other_city["problems"]
    # Every cohort unit outside the caller's subtree is named too, with its own problem.
    assert [p["code"] for p in other_city["problems"]] == ["outside_scope"] + ["unknown_unit"] * 4
    schemes.add(example_scheme(id="draft-1", organizer="GD-GZ", status="draft"))
    draft = await start(scoring, schemeId="draft-1")
    assert [(p["path"], p["code"]) for p in draft["problems"]] == [("input.schemeId", "not_published")]
    unknown = await start(scoring, schemeId="nope")
    assert unknown["problems"] == [
        problem("input.schemeId", "not_found", "scheme nope version 1 is unknown or outside your scope")
    ]
    schemes.add(example_scheme(id="special-1", organizer="GD-GZ", kind="special"))
    short = await start(scoring, schemeId="special-1")
    assert short["problems"] == [
        problem("input.period", "period_too_short", "a special evaluation needs at least 3 months of data")
    ]
    bad_period = await start(scoring, period="2025-13")
    assert bad_period["problems"] == [
        problem("input.period", "invalid_period", "'2025-13' is not a month (expected e.g. 2025-03, 2025-Q1 or 2025)")
    ]
    by_quarter = await start(scoring, periodKind="QUARTER", period="2025-Q1")
    assert by_quarter["problems"] == [
        problem("input.periodKind", "period_mismatch", "the scheme evaluates by month, not by quarter")
    ]
    no_end = await start(scoring, periodKind="CUSTOM", period=None, startDate="2025-03-01")
    assert [(p["path"], p["code"]) for p in no_end["problems"]] == [("input.endDate", "invalid_period")]


async def test_the_scheme_is_named_by_its_id_or_by_the_key_of_its_version(scoring):
    """`schemeId` takes the bare scheme id with `schemeVersion`, or `<id>:<version>` (a SchemeVersion's `id`)."""
    bare = await start(scoring)
    assert bare["problems"] == [] and bare["existing"] is False
    keyed = await start(scoring, schemeId=f"{SCHEME_ID}:1", schemeVersion=None)
    assert keyed["problems"] == [] and keyed["existing"] is True and keyed["run"]["id"] == bare["run"]["id"]
    both = await start(scoring, schemeId=f"{SCHEME_ID}:1", schemeVersion=1)
    assert both["problems"] == [] and both["run"]["id"] == bare["run"]["id"]
    conflict = await start(scoring, schemeId=f"{SCHEME_ID}:2", schemeVersion=1)
    assert conflict["run"] is None and conflict["problems"] == [
        problem(
            "input.schemeId",
            "version_conflict",
            "the id names version 2 but schemeVersion is 1: give the version once, or the same twice",
        )
    ]
    missing = await start(scoring, schemeVersion=None)
    assert [(p["path"], p["code"]) for p in missing["problems"]] == [("input.schemeVersion", "version_required")]
    for malformed in (f"{SCHEME_ID}:one", f"{SCHEME_ID}:0", f"{SCHEME_ID}:1:2", "", "a b"):
        refused = await start(scoring, schemeId=malformed, schemeVersion=None)
        assert [(p["path"], p["code"]) for p in refused["problems"]] == [("input.schemeId", "invalid_id")], malformed
        assert "`<scheme id>` or `<scheme id>:<version>`" in refused["problems"][0]["message"]


async def test_a_run_is_reproducible_from_its_stored_inputs(scoring, drain, db):
    run = await finished_run(scoring, drain)
    async with db.session() as session:
        import uuid

        from services.scoring.models import EvaluationRun

        row = await session.get(EvaluationRun, uuid.UUID(run["id"]))
        stored = await session.get(RunRevision, (row.id, 1))
        _, sha = evaluate(row.scheme_document, stored.inputs)
    assert sha == stored.outcome_sha256 == run["revisions"][0]["outcomeSha256"]
    assert stored.inputs["measures"]["UB"]["calls.complaints"] == 3.0  # the measures it used are kept


RECOMPUTE = "mutation($id: ID!, $reason: String!) { recomputeRun(runId: $id, reason: $reason) { problems { path code message } run { status } } }"
DIFF = (
    "query($id: ID!) { run(id: $id) { diff(fromRevision: 1, toRevision: 2) { unitId indicator field before after } } }"
)


async def test_recomputing_unchanged_data_gives_byte_identical_results(scoring, drain):
    run = await finished_run(scoring, drain)
    queued = data_of(await gql(scoring, RECOMPUTE, {"id": run["id"], "reason": "check"}, headers=ORGANIZER))[
        "recomputeRun"
    ]
    assert queued == {"problems": [], "run": {"status": "queued"}}
    await drain()
    again = data_of(await gql(scoring, RUN, {"id": run["id"]}, headers=ORGANIZER))["run"]
    first, second = again["revisions"]
    assert first["outcomeSha256"] == second["outcomeSha256"] and second["reason"] == "check"
    assert data_of(await gql(scoring, DIFF, {"id": run["id"]}, headers=ORGANIZER))["run"]["diff"] == []


async def test_a_data_correction_changes_exactly_what_it_touches(scoring, drain, measures):
    run = await finished_run(scoring, drain)
    measures.put("UB", "2025-03-10", {"calls.complaints": 1})  # two complaints withdrawn upstream
    await gql(scoring, RECOMPUTE, {"id": run["id"], "reason": "corrected complaints"}, headers=ORGANIZER)
    await drain()
    diff = data_of(await gql(scoring, DIFF, {"id": run["id"]}, headers=ORGANIZER))["run"]["diff"]
    # UB: complaints 3 → 1, deduction 6 → 10, total 69.33 → 73.33 (grade 待改进 → 合格), rank stays 3;
    # UD drops to 4 (the tie is broken). Nothing else moves.
    assert diff == [
        {"unitId": "UB", "indicator": None, "field": "total", "before": 69.33, "after": 73.33},
        {"unitId": "UB", "indicator": None, "field": "grade", "before": "needs_improvement", "after": "qualified"},
        {"unitId": "UB", "indicator": "complaints", "field": "value", "before": 3.0, "after": 1.0},
        {"unitId": "UB", "indicator": "complaints", "field": "score", "before": 6.0, "after": 10.0},
        {"unitId": "UD", "indicator": None, "field": "rank", "before": 3, "after": 4},
    ]
    old = await gql(scoring, "query($id: ID!) { unitResult(id: $id) { atRevision(revision: 1) { total revision } total } }",
                    {"id": results_by_unit(run)["UB"]["id"]}, headers=ORGANIZER)  # fmt: skip
    assert data_of(old)["unitResult"] == {"atRevision": {"total": 69.33, "revision": 1}, "total": 73.33}


async def test_a_finished_run_refuses_a_second_recompute_while_queued(scoring, drain):
    run = await finished_run(scoring, drain)
    await gql(scoring, RECOMPUTE, {"id": run["id"], "reason": "one"}, headers=ORGANIZER)
    second = data_of(await gql(scoring, RECOMPUTE, {"id": run["id"], "reason": "two"}, headers=ORGANIZER))
    assert second["recomputeRun"]["problems"] == [problem("runId", "not_finished", "the run is still queued")]


async def test_a_job_whose_worker_died_is_taken_again(scoring, scoring_app, drain, db):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from services.scoring.models import RunJob

    run_id = (await start(scoring))["run"]["id"]
    assert await worker.claim_job(scoring_app.state.database) is not None  # claimed, then the worker "dies"
    assert await worker.claim_job(scoring_app.state.database) is None
    async with db.unit_of_work() as session:
        await session.execute(update(RunJob).values(started_at=datetime.now(UTC) - timedelta(hours=1)))
    assert await drain() == 1
    done = data_of(await gql(scoring, RUN, {"id": run_id}, headers=ORGANIZER))["run"]
    assert done["status"] == "done" and done["currentRevision"] == 1


async def test_a_custom_period_must_last_the_schemes_minimum_in_whole_months(scoring, schemes):
    schemes.add(example_scheme(id="special-c", organizer="GD-GZ", kind="special", period={"granularity": "custom"}))
    short = await start(
        scoring, schemeId="special-c", periodKind="CUSTOM", period=None, startDate="2025-01-15", endDate="2025-03-14"
    )
    assert short["problems"] == [
        problem("input.endDate", "period_too_short", "a special evaluation needs at least 3 months of data")
    ]
    enough = await start(
        scoring, schemeId="special-c", periodKind="CUSTOM", period=None, startDate="2025-01-15", endDate="2025-04-14"
    )
    assert enough["problems"] == [] and enough["run"]["period"]["label"] == "2025-01-15..2025-04-14"


async def test_the_stale_timeout_is_configurable(scoring, scoring_app, monkeypatch):
    from hotline.kit.settings import get_settings

    await start(scoring)
    assert await worker.claim_job(scoring_app.state.database) is not None  # claimed, then the worker "dies"
    assert await worker.claim_job(scoring_app.state.database) is None  # 30 minutes by default
    monkeypatch.setattr(get_settings(), "scoring_job_stale_seconds", 0.0)
    assert worker.stale_after().total_seconds() == 0
    assert await worker.claim_job(scoring_app.state.database) is not None  # taken again at once


async def test_each_indicator_score_points_to_the_catalog_version_it_was_scored_by(scoring, drain, schemes):
    """`IndicatorScore.definition` is the indicators service's `IndicatorVersion` entity (key `code version`):
    scoring answers the key, the gateway the rest."""
    document = example_scheme(organizer="GD-GZ")
    document["items"][1]["indicator"]["version"] = 3  # the scheme pinned a later version of one indicator
    schemes.add(document)
    run = await finished_run(scoring, drain)
    query = """query($id: ID!) { run(id: $id) { results(first: 1) { edges { node {
      indicators { indicator definition { __typename code version } } } } } } }"""
    node = data_of(await gql(scoring, query, {"id": run["id"]}, headers=ORGANIZER))["run"]["results"]["edges"][0]
    assert [(i["indicator"], i["definition"]) for i in node["node"]["indicators"]] == [
        (code, {"__typename": "IndicatorVersion", "code": code, "version": version})
        for code, version in [
            ("answer_rate", 1), ("average_answer_wait", 3), ("satisfaction_rate", 1), ("complaints", 1),
            ("average_handle_time", 1),
        ]
    ]  # fmt: skip
