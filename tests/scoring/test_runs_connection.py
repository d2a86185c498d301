"""`runs` is a cursor connection like `units`: `first`/`after`, edges with cursors, `pageInfo`, `totalCount`;
a stable order (newest period first, then id); a cursor that `runs` did not give is a bad request."""

from __future__ import annotations

import base64

from tests.scoring.example import example_scheme
from tests.scoring.test_publication import publish
from tests.scoring.test_runs import ORGANIZER, finished_run, start
from tests.support import auth, data_of, error_codes, gql

RUNS = """query($first: Int!, $after: String) { runs(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id schemeId period { label } } } } }"""


async def runs(scoring, first: int, after: str | None = None, headers=ORGANIZER) -> dict:
    return data_of(await gql(scoring, RUNS, {"first": first, "after": after}, headers=headers))["runs"]


async def all_pages(scoring, first: int, after: str | None = None) -> tuple[list[dict], list[dict]]:
    """Every node from ``after`` on, following `pageInfo`, and the pages read."""
    nodes, pages = [], []
    while True:
        page = await runs(scoring, first, after)
        pages.append(page)
        nodes += [e["node"] for e in page["edges"]]
        assert page["pageInfo"]["endCursor"] == (page["edges"][-1]["cursor"] if page["edges"] else None)
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, pages
        after = page["pageInfo"]["endCursor"]


async def test_pages_walk_every_run_once_in_a_stable_order(scoring, schemes):
    schemes.add(example_scheme(id="second-scheme", organizer="GD-GZ"))
    started = []
    for period in ("2025-01", "2025-03", "2025-02"):
        started.append((await start(scoring, period=period))["run"]["id"])
        started.append((await start(scoring, schemeId="second-scheme", period=period))["run"]["id"])
    nodes, pages = await all_pages(scoring, 4)
    assert [len(p["edges"]) for p in pages] == [4, 2] and {p["totalCount"] for p in pages} == {6}
    assert sorted(n["id"] for n in nodes) == sorted(started)
    # Newest period first; the two runs of one period in id order (sorts are stable).
    by_id = sorted(nodes, key=lambda n: n["id"])
    assert nodes == sorted(by_id, key=lambda n: n["period"]["label"], reverse=True)
    assert [n["period"]["label"] for n in nodes] == ["2025-03", "2025-03", "2025-02", "2025-02", "2025-01", "2025-01"]
    # One at a time gives the same order; a cursor in the middle continues right after its run.
    assert (await all_pages(scoring, 1))[0] == nodes
    middle = (await runs(scoring, 3))["edges"][2]["cursor"]
    assert [e["node"] for e in (await runs(scoring, 10, middle))["edges"]] == nodes[3:]
    # A run started while a client pages appears where its period puts it; nothing is skipped or repeated.
    first_page = await runs(scoring, 2)
    late = (await start(scoring, period="2024-12"))["run"]["id"]
    rest, _ = await all_pages(scoring, 2, first_page["pageInfo"]["endCursor"])
    assert [e["node"] for e in first_page["edges"]] + rest[:-1] == nodes and rest[-1]["id"] == late
    assert (await runs(scoring, 1))["totalCount"] == 7


async def test_a_cursor_runs_did_not_give_is_a_bad_request(scoring):
    await start(scoring)
    cursor_of = (await runs(scoring, 1))["edges"][0]["cursor"]
    units_cursor = base64.urlsafe_b64encode(b"GD/GD-GZ").decode()  # another connection's cursor
    for bad in ("nope", "%%%", units_cursor, base64.urlsafe_b64encode(b"2025-03-01|not-a-uuid").decode(),
                base64.urlsafe_b64encode(b"March|" + cursor_of.encode()).decode(), "x" * 300):  # fmt: skip
        answer = await gql(scoring, RUNS, {"first": 5, "after": bad}, headers=ORGANIZER)
        assert error_codes(answer) == ["BAD_REQUEST"], (bad, answer)
        message = answer["errors"][0]["message"]
        assert message.startswith("invalid cursor ") and "that `runs` returned" in message and len(message) < 250
        assert answer["data"] == {"runs": None}  # nullable: only the connection is lost, with its error
    assert error_codes(await gql(scoring, RUNS, {"first": 0}, headers=ORGANIZER)) == ["BAD_REQUEST"]


async def test_the_connection_counts_only_what_the_caller_may_see(scoring, drain):
    run = await finished_run(scoring, drain)
    await start(scoring, period="2025-02")
    assert (await runs(scoring, 10))["totalCount"] == 2
    other_city = await runs(scoring, 10, headers=auth("GD-SZ", "organizer"))
    assert other_city == {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}
    assert (await runs(scoring, 10, headers=auth("UB", "unit")))["totalCount"] == 0
    await publish(scoring, run["id"])
    seen = await runs(scoring, 10, headers=auth("UB", "unit"))
    assert seen["totalCount"] == 1 and [e["node"]["id"] for e in seen["edges"]] == [run["id"]]
