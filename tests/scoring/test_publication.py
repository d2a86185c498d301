"""Who sees what: publication, peers' details, scope on every path (entities included), incremental pull, roll-up."""

from __future__ import annotations

from tests.scoring.example import example_scheme
from tests.scoring.test_runs import ORGANIZER, finished_run, results_by_unit
from tests.support import auth, data_of, gql, problem

UNIT_UB = auth("UB", "unit")
OTHER_CITY = auth("GD-SZ", "organizer")
PROVINCE = auth("GD", "viewer")
PUBLISH = "mutation($id: ID!) { publishRun(runId: $id) { problems { path code message } run { publishedAt appealWindowClosesAt } } }"
MINE = """
query($id: ID!) { run(id: $id) { id summary { units total { mean max } indicators { indicator applicableUnits } }
  results { edges { node { unitId total rank indicators { indicator score explanation { zh en } } } } }
  ranking { unitId total rank result { indicators { indicator score } } } } }
"""
ENTITIES = """
query($reps: [_Any!]!) { _entities(representations: $reps) { ... on UnitResult { id unitId total } } }
"""


async def publish(scoring, run_id, headers=ORGANIZER):
    return data_of(await gql(scoring, PUBLISH, {"id": run_id}, headers=headers))["publishRun"]


async def test_units_see_nothing_before_publication_and_their_own_result_after(scoring, drain):
    run = await finished_run(scoring, drain)
    assert data_of(await gql(scoring, MINE, {"id": run["id"]}, headers=UNIT_UB))["run"] is None
    published = await publish(scoring, run["id"])
    assert published["problems"] == [] and published["run"]["appealWindowClosesAt"] > published["run"]["publishedAt"]
    mine = data_of(await gql(scoring, MINE, {"id": run["id"]}, headers=UNIT_UB))["run"]
    assert [e["node"]["unitId"] for e in mine["results"]["edges"]] == ["UB"]
    own = mine["results"]["edges"][0]["node"]
    assert (own["total"], own["rank"]) == (69.33, 3) and len(own["indicators"]) == 5
    assert mine["summary"]["units"] == 4 and mine["summary"]["total"]["max"] == 100.0
    assert mine["ranking"] == []  # rankings are not public in this scheme: no peers' details


async def test_public_rankings_show_peers_details_to_the_cohort(scoring, drain, schemes):
    schemes.add(example_scheme(organizer="GD-GZ", rankings_public=True))
    run = await finished_run(scoring, drain)
    await publish(scoring, run["id"])
    ranking = data_of(await gql(scoring, MINE, {"id": run["id"]}, headers=UNIT_UB))["run"]["ranking"]
    assert [(r["unitId"], r["rank"]) for r in ranking] == [("UA", 1), ("UC", 2), ("UB", 3), ("UD", 3)]
    assert len(ranking[0]["result"]["indicators"]) == 5
    # A unit outside the cohort sees neither the run nor its ranking.
    assert data_of(await gql(scoring, MINE, {"id": run["id"]}, headers=auth("SZ-HOUSING", "unit")))["run"] is None


async def test_publishing_is_for_the_organizer_side_and_only_once(scoring, drain):
    run = await finished_run(scoring, drain)
    assert (await publish(scoring, run["id"], auth("GD-GZ", "viewer")))["problems"] == [
        problem("", "forbidden", "publishing needs the role organizer or admin")
    ]
    assert (await publish(scoring, run["id"], OTHER_CITY))["problems"] == [
        problem("runId", "not_found", "run not found")
    ]
    await publish(scoring, run["id"])
    assert (await publish(scoring, run["id"]))["problems"] == [
        problem("runId", "already_published", "the run is already published")
    ]


async def test_entities_outside_scope_look_exactly_like_missing_ones(scoring, drain):
    run = await finished_run(scoring, drain)
    await publish(scoring, run["id"])
    ids = {u: r["id"] for u, r in results_by_unit(run).items()}
    reps = [{"__typename": "UnitResult", "id": ids["UA"]}, {"__typename": "UnitResult", "id": ids["UB"]},
            {"__typename": "UnitResult", "id": "00000000-0000-4000-8000-000000000000"}]  # fmt: skip
    as_ub = data_of(await gql(scoring, ENTITIES, {"reps": reps}, headers=UNIT_UB))["_entities"]
    assert as_ub == [None, {"id": ids["UB"], "unitId": "UB", "total": 69.33}, None]
    as_other_city = data_of(await gql(scoring, ENTITIES, {"reps": reps}, headers=OTHER_CITY))["_entities"]
    assert as_other_city == [None, None, None]
    run_entity = (
        '{ _entities(representations: [{__typename: "EvaluationRun", id: "%s"}]) { ... on EvaluationRun { id } } }'
    )
    assert data_of(await gql(scoring, run_entity % run["id"], headers=OTHER_CITY))["_entities"] == [None]


async def test_unit_results_through_the_unit_entity(scoring, drain):
    run = await finished_run(scoring, drain)
    query = (
        '{ _entities(representations: [{__typename: "Unit", id: "UB"}]) { ... on Unit { results { unitId total } } } }'
    )
    assert data_of(await gql(scoring, query, headers=UNIT_UB))["_entities"] == [{"results": []}]  # unpublished
    await publish(scoring, run["id"])
    assert data_of(await gql(scoring, query, headers=UNIT_UB))["_entities"] == [
        {"results": [{"unitId": "UB", "total": 69.33}]}
    ]
    assert data_of(await gql(scoring, query, headers=OTHER_CITY))["_entities"] == [{"results": []}]


CHANGES = "query($after: String) { resultChanges(after: $after, first: 3) { cursor hasMore results { unitId total revision } } }"


async def test_incremental_pull_for_the_provincial_platform(scoring, drain):
    run = await finished_run(scoring, drain)
    empty = data_of(await gql(scoring, CHANGES, {}, headers=PROVINCE))["resultChanges"]
    assert empty["results"] == [] and empty["hasMore"] is False  # nothing published yet
    await publish(scoring, run["id"])
    page1 = data_of(await gql(scoring, CHANGES, {}, headers=PROVINCE))["resultChanges"]
    assert len(page1["results"]) == 3 and page1["hasMore"] is True
    page2 = data_of(await gql(scoring, CHANGES, {"after": page1["cursor"]}, headers=PROVINCE))["resultChanges"]
    assert len(page2["results"]) == 1 and page2["hasMore"] is False
    units = sorted(r["unitId"] for r in page1["results"] + page2["results"])
    assert units == ["UA", "UB", "UC", "UD"]
    nothing = data_of(await gql(scoring, CHANGES, {"after": page2["cursor"]}, headers=PROVINCE))["resultChanges"]
    assert nothing["results"] == [] and nothing["cursor"] == page2["cursor"]
    # The other city's platform sees none of it.
    assert data_of(await gql(scoring, CHANGES, {}, headers=OTHER_CITY))["resultChanges"]["results"] == []


ROLLUP = (
    'query($run: ID!) { resultRollup(runId: $run, under: "GD-GZ") { units total { mean min max } grades dimensions } }'
)


async def test_a_parent_sees_a_roll_up_of_its_children(scoring, drain):
    run = await finished_run(scoring, drain)
    rollup = data_of(await gql(scoring, ROLLUP, {"run": run["id"]}, headers=ORGANIZER))["resultRollup"]
    # Totals 100, 69.33, 80.95, 69.33 → mean 79.9025.
    assert rollup["units"] == 4 and rollup["total"] == {"mean": 79.9025, "min": 69.33, "max": 100.0}
    assert rollup["grades"] == {"excellent": 1, "needs_improvement": 2, "qualified": 1}
    assert data_of(await gql(scoring, ROLLUP, {"run": run["id"]}, headers=OTHER_CITY))["resultRollup"] is None
