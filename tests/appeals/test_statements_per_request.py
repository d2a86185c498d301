"""A list of appeals with their records makes the same number of SQL statements for N appeals as for 2N
(issue 16): events, decisions and asks come by data loader, one statement per field for the whole page."""

from __future__ import annotations

from sqlalchemy import event

from tests.appeals.conftest import ORGANIZER, OTHER_UNIT, file_appeal
from tests.support import data_of, gql

LIST = """{ appeals(first: 20) { edges { node { id status indicators events { kind occurredAt }
  decisions { level outcome } asks { indicator kind } } } } }"""


async def statements_for_list(appeals, engine) -> tuple[int, int]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        data = data_of(await gql(appeals, LIST, headers=ORGANIZER))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    edges = data["appeals"]["edges"]
    assert all(e["node"]["events"] for e in edges)
    return len(edges), len(statements)


async def test_statements_per_request_do_not_grow_with_the_appeals(appeals, engine):
    assert (await file_appeal(appeals))["ok"]
    await statements_for_list(appeals, engine)  # warm
    one = await statements_for_list(appeals, engine)
    assert (await file_appeal(appeals, result="R-WATER", headers=OTHER_UNIT))["ok"]
    two = await statements_for_list(appeals, engine)
    assert (one[0], two[0]) == (1, 2)
    assert 0 < one[1] == two[1] <= 10, (one, two)
