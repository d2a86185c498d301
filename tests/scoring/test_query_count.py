"""Fetching one unit's result with its explanation makes a bounded number of queries (no N+1)."""

from __future__ import annotations

from sqlalchemy import event

from tests.scoring.example import example_scheme
from tests.scoring.test_runs import ORGANIZER
from tests.support import data_of, gql

START = "mutation($input: StartRunInput!) { startRun(input: $input) { problems { path code message } run { id } } }"
RESULTS = "query($id: ID!) { run(id: $id) { results { edges { node { id unitId } } } } }"
DETAIL = """query($id: ID!) { unitResult(id: $id) { total rank grade { code } dimensions { dimension score }
  run { id status } indicators { indicator score reference { value setBy } measures { code value } explanation { zh en } } } }"""


def scheme_with(count: int) -> dict:
    base = example_scheme()["items"][0]
    items = [
        {**base, "indicator": {**base["indicator"], "code": f"answer_rate_{i}"}, "points": 100 / count}
        for i in range(count)
    ]
    return example_scheme(id=f"wide-{count}", organizer="GD-GZ", items=items)


async def queries_for_one_result(scoring, drain, schemes, engine, count: int) -> int:
    schemes.add(scheme_with(count))
    variables = {"input": {"schemeId": f"wide-{count}", "schemeVersion": 1, "periodKind": "MONTH", "period": "2025-03"}}
    run_id = data_of(await gql(scoring, START, variables, headers=ORGANIZER))["startRun"]["run"]["id"]
    await drain()
    edges = data_of(await gql(scoring, RESULTS, {"id": run_id}, headers=ORGANIZER))["run"]["results"]["edges"]
    statements: list[str] = []

    def count_statement(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count_statement)
    try:
        data = data_of(await gql(scoring, DETAIL, {"id": edges[0]["node"]["id"]}, headers=ORGANIZER))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count_statement)
    assert len(data["unitResult"]["indicators"]) == count
    return len(statements)


async def test_the_number_of_queries_does_not_grow_with_the_indicators(scoring, drain, schemes, engine):
    few = await queries_for_one_result(scoring, drain, schemes, engine, 5)
    many = await queries_for_one_result(scoring, drain, schemes, engine, 40)
    # Savepoints of the test transaction, the directory check, scope, result, detail and run: a handful, constant.
    assert few == many and many <= 12, (few, many)
