"""The portal's scoring reads make the same number of SQL statements for N results as for 2N (issue 16): no
query per result, per field or per unit — the ranking of a run, a unit's results through federation
(``_entities``, as the gateway asks for a city's units) and results by id."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from tests.scoring.example import MEASURES, example_scheme
from tests.scoring.test_runs import ORGANIZER
from tests.support import auth, data_of, gql

START = "mutation($input: StartRunInput!) { startRun(input: $input) { problems { path code message } run { id } } }"
RANKING = """query($run: ID!) { run(id: $run) { results(first: 100) { edges { node { id unitId total rank grade { code }
  dimensions { dimension score points } } } } } }"""
UNITS_RESULTS = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Unit {
  results { runId total rank grade { code } } } } }"""
BY_ID = """query($r: [_Any!]!) { _entities(representations: $r) { ... on UnitResult { id total rank
  indicators { indicator score reference { value setBy } explanation { zh en } } } } }"""
IDS_ONLY = """query($r: [_Any!]!) { _entities(representations: $r) { ... on UnitResult { id } } }"""
DAY = "2025-03-10"


@contextmanager
def counted(engine):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def cohort_run(ingest, scoring, drain, schemes, measures, prefix: str, size: int) -> tuple[str, list[str]]:
    """A run of a fresh cohort of ``size`` units under GD-GZ (their measures copied from the example's)."""
    units = [f"{prefix}{n}" for n in range(size)]
    body = [{"id": u, "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": f"单位{u}"} for u in units]
    response = await ingest.post("/units/bulk", json=body, headers=auth("GD", "admin"))
    assert response.status_code == 200, response.text
    examples = list(MEASURES.values())
    for n, unit in enumerate(units):
        measures.paths[unit] = f"GD/GD-GZ/{unit}"
        measures.put(unit, DAY, examples[n % len(examples)])
    scheme_id = f"statements-{prefix}"
    schemes.add(example_scheme(id=scheme_id, organizer="GD-GZ", cohort={"units": units}))
    variables = {"input": {"schemeId": scheme_id, "schemeVersion": 1, "periodKind": "MONTH", "period": "2025-03"}}
    started = data_of(await gql(scoring, START, variables, headers=ORGANIZER))["startRun"]
    assert not started["problems"], started
    await drain()
    return started["run"]["id"], units


async def statements_of(scoring, engine, query: str, variables: dict) -> tuple[int, dict]:
    with counted(engine) as statements:
        data = data_of(await gql(scoring, query, variables, headers=ORGANIZER))
    return len(statements), data


async def test_statements_per_request_do_not_grow_with_the_results(ingest, scoring, drain, schemes, measures, engine):
    small_run, small = await cohort_run(ingest, scoring, drain, schemes, measures, "QN", 4)
    large_run, large = await cohort_run(ingest, scoring, drain, schemes, measures, "QM", 8)
    # Warm: the first read of a run revision loads its scheme and cohort summary once per process.
    for run in (small_run, large_run):
        await statements_of(scoring, engine, RANKING, {"run": run})

    counts = {}
    for name, run, units in (("N", small_run, small), ("2N", large_run, large)):
        ranking, data = await statements_of(scoring, engine, RANKING, {"run": run})
        edges = data["run"]["results"]["edges"]
        assert len(edges) == len(units) and all(e["node"]["total"] is not None for e in edges)
        assert all(e["node"]["dimensions"] for e in edges)
        representations = [{"__typename": "Unit", "id": u} for u in units]
        of_units, data = await statements_of(scoring, engine, UNITS_RESULTS, {"r": representations})
        assert [len(e["results"]) for e in data["_entities"]] == [1] * len(units)
        results = [{"__typename": "UnitResult", "id": e["node"]["id"]} for e in edges]
        by_id, data = await statements_of(scoring, engine, BY_ID, {"r": results})
        assert all(e["indicators"] for e in data["_entities"])
        counts[name] = (ranking, of_units, by_id)
    assert counts["N"] == counts["2N"], counts
    # Small as well as constant: savepoints of the test's transaction included, a handful of statements each.
    assert all(0 < c <= 10 for c in counts["2N"]), counts


async def test_a_result_read_again_is_answered_from_what_the_process_keeps_and_alike(
    ingest, scoring, drain, schemes, measures, engine
):
    """A stored revision never changes: the second read of a ranking and of results with explanations answers
    from the documents and indicator scores the first read kept (fewer statements), with the same answer."""
    from services.scoring import entities, repository

    run, _units = await cohort_run(ingest, scoring, drain, schemes, measures, "QK", 4)
    await statements_of(scoring, engine, RANKING, {"run": run})  # the run revision's scheme and cohort, once
    repository._DETAILS.clear()
    entities._INDICATOR_SCORES.clear()
    cold_ranking, first = await statements_of(scoring, engine, RANKING, {"run": run})
    warm_ranking, again = await statements_of(scoring, engine, RANKING, {"run": run})
    assert again == first and all(
        e["node"]["grade"] and e["node"]["dimensions"] for e in first["run"]["results"]["edges"]
    )
    assert warm_ranking < cold_ranking, (cold_ranking, warm_ranking)

    results = [{"__typename": "UnitResult", "id": e["node"]["id"]} for e in first["run"]["results"]["edges"]]
    repository._DETAILS.clear()
    cold_by_id, first = await statements_of(scoring, engine, BY_ID, {"r": results})
    warm_by_id, again = await statements_of(scoring, engine, BY_ID, {"r": results})
    assert again == first and all(e["indicators"] and e["total"] is not None for e in first["_entities"])
    assert warm_by_id < cold_by_id, (cold_by_id, warm_by_id)
    # Read again, the figures and explanations cost no statement beyond finding the visible results themselves.
    ids_only, _ = await statements_of(scoring, engine, IDS_ONLY, {"r": results})
    assert warm_by_id == ids_only, (warm_by_id, ids_only)
