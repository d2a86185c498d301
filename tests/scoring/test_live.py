"""Scoring's subscriptions (``services/scoring/live.py``) on the subgraph: what each caller receives, read with the
queries' scope. The tests' changes never commit, so the test announces what the trigger of migration scoring_0005
would (``tests/platform/test_live.py`` shows the trigger does; ``tests/e2e/test_live.py`` the whole way round)."""

from __future__ import annotations

import pytest

from services.scoring.schema import schema
from tests.scoring.test_publication import publish
from tests.scoring.test_runs import ORGANIZER, finished_run, start
from tests.support import FakeFeed, Subscriber, data_of, gql, subscribe, token

PROGRESS = "subscription($id: ID!) { runProgress(runId: $id) { id status progress error currentRevision } }"
PUBLISHED = """subscription { resultsPublished { change run { id currentRevision final }
  results { unitId revision total published } } }"""
RECOMPUTE = 'mutation($id: ID!) { recomputeRun(runId: $id, reason: "重新计算") { problems { message } } }'


@pytest.fixture
def feed() -> FakeFeed:
    return FakeFeed()


async def follow(scoring_app, feed, query, variables=None, *, as_: str | None) -> Subscriber:
    return await subscribe(scoring_app, schema, feed, query, variables, token=as_)


async def data(subscriber: Subscriber) -> dict:
    result = await subscriber.next()
    assert result is not None, "the subscription ended"
    assert not result.errors, result.errors
    return result.data


async def progress(subscriber: Subscriber) -> tuple:
    run = (await data(subscriber))["runProgress"]
    return run["status"], run["progress"], run["currentRevision"]


async def ends(subscriber: Subscriber) -> bool:
    return await subscriber.next() is None


async def test_a_run_is_followed_from_where_it_stands_to_done_and_a_recompute_again(scoring_app, scoring, drain, feed):
    run_id = (await start(scoring))["run"]["id"]
    organizer = token("GD-GZ", "organizer")
    following = await follow(scoring_app, feed, PROGRESS, {"id": run_id}, as_=organizer)
    assert await progress(following) == ("queued", 0, 0)
    # An announcement that changed nothing the subscriber follows sends nothing.
    await feed.announce({"run": run_id, "results": None})
    assert following.results.empty()
    # The worker's three status writes, announced after it: read then, they are one event, where the run stands.
    await drain()
    for _ in range(3):
        await feed.announce({"run": run_id, "results": None})
    assert await progress(following) == ("done", 100, 1)
    assert await ends(following) and feed.listeners == []

    # Subscribed to a finished run: that one event, and the end.
    following = await follow(scoring_app, feed, PROGRESS, {"id": run_id}, as_=organizer)
    assert await progress(following) == ("done", 100, 1) and await ends(following)

    # Subscribed while a recomputation waits: followed to its own end.
    assert data_of(await gql(scoring, RECOMPUTE, {"id": run_id}, headers=ORGANIZER))["recomputeRun"]["problems"] == []
    following = await follow(scoring_app, feed, PROGRESS, {"id": run_id}, as_=organizer)
    assert await progress(following) == ("queued", 0, 1)
    await drain()
    await feed.announce({"run": run_id, "results": None})
    assert await progress(following) == ("done", 100, 2) and await ends(following)


async def test_a_run_the_caller_may_not_see_is_null_once_as_for_run_by_id(scoring_app, scoring, drain, feed):
    run = await finished_run(scoring, drain)
    for caller in (token("GD-SZ", "organizer"), token("UB", "unit"), token("GD-GZ", "organizer")):
        following = await follow(scoring_app, feed, PROGRESS, {"id": "not-a-run-id"}, as_=caller)
        assert await data(following) == {"runProgress": None} and await ends(following)
    # The sibling city's organizer; and a unit of the cohort before publication.
    for caller in (token("GD-SZ", "organizer"), token("UB", "unit")):
        following = await follow(scoring_app, feed, PROGRESS, {"id": run["id"]}, as_=caller)
        assert await data(following) == {"runProgress": None} and await ends(following)
    await publish(scoring, run["id"])
    following = await follow(scoring_app, feed, PROGRESS, {"id": run["id"]}, as_=token("UB", "unit"))
    assert await progress(following) == ("done", 100, 1) and await ends(following)


async def test_without_a_token_a_subscription_is_refused(scoring_app, scoring, drain, feed):
    run = await finished_run(scoring, drain)
    for query, variables in ((PROGRESS, {"id": run["id"]}), (PUBLISHED, None)):
        following = await follow(scoring_app, feed, query, variables, as_=None)
        refused = await following.next()
        assert [e.formatted["extensions"]["code"] for e in refused.errors] == ["UNAUTHENTICATED"]
        assert await ends(following)
    assert feed.listeners == []


async def test_published_results_reach_each_caller_as_far_as_it_may_see_them(scoring_app, scoring, drain, feed):
    run = await finished_run(scoring, drain)
    organizer = await follow(scoring_app, feed, PUBLISHED, as_=token("GD-GZ", "organizer"))
    ub = await follow(scoring_app, feed, PUBLISHED, as_=token("UB", "unit"))
    sibling_city = await follow(scoring_app, feed, PUBLISHED, as_=token("GD-SZ", "organizer"))

    await publish(scoring, run["id"])
    await feed.announce({"run": run["id"], "results": "published"})
    seen = (await data(organizer))["resultsPublished"]
    assert (seen["change"], seen["run"]) == ("PUBLISHED", {"id": run["id"], "currentRevision": 1, "final": False})
    assert [(r["unitId"], r["revision"], r["published"]) for r in seen["results"]] == [
        ("UA", 1, True), ("UB", 1, True), ("UC", 1, True), ("UD", 1, True)
    ]  # fmt: skip
    seen = (await data(ub))["resultsPublished"]
    assert [(r["unitId"], r["total"]) for r in seen["results"]] == [("UB", 69.33)]
    # Every subscription has dealt with the announcement: the sibling city's sent nothing.
    assert sibling_city.results.empty()

    # A lost connection makes every subscription read again: what each already sent is not sent twice.
    await feed.resync()
    assert organizer.results.empty() and ub.results.empty() and sibling_city.results.empty()

    # A new revision of the published run: its results again, revised.
    assert (
        data_of(await gql(scoring, RECOMPUTE, {"id": run["id"]}, headers=ORGANIZER))["recomputeRun"]["problems"] == []
    )
    await drain()
    await feed.announce({"run": run["id"], "results": "revised"})
    seen = (await data(ub))["resultsPublished"]
    assert (seen["change"], [(r["unitId"], r["revision"]) for r in seen["results"]]) == ("REVISED", [("UB", 2)])
    assert sibling_city.results.empty()
    for subscriber in (organizer, ub, sibling_city):
        await subscriber.close()
    assert feed.listeners == []


async def test_the_subgraph_streams_a_subscription_as_server_sent_events_and_refuses_it_as_a_plain_request(scoring):
    query = {"query": 'subscription { runProgress(runId: "not-a-run-id") { id } }'}
    headers = {**ORGANIZER, "accept": "text/event-stream"}
    streamed = await scoring.post("/graphql", json=query, headers=headers)
    assert streamed.headers["content-type"].startswith("text/event-stream")
    # Events framed with "\n" only: the gateway's HTTP executor splits events on a blank line written "\n\n".
    assert streamed.text == 'event: next\ndata: {"data":{"runProgress":null}}\n\nevent: complete\ndata: \n\n'
    plain = (await scoring.post("/graphql", json=query, headers=ORGANIZER)).json()
    assert [e["extensions"]["code"] for e in plain["errors"]] == ["BAD_REQUEST"]
    assert "Accept: text/event-stream" in plain["errors"][0]["message"]
