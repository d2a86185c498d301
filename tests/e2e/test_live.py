"""Live updates through the real gateway (issue 16, point 3): GraphQL subscriptions over server-sent events and
graphql-ws, from PostgreSQL's NOTIFY (the services' triggers) to the client, scoped like the queries.

A province runs a special scheme over two of its cities (东莞, 珠海: no other end-to-end test files appeals
for them, the session database being shared). Its organizer follows the run's progress to ``done`` over SSE
(the run is held in ``fetching`` by a lock on ingest's daily measures until the subscription has its first event,
so there is progress to follow) and a recomputation over graphql-ws; each city receives its own published result
and never the other's; the province's reviewer receives a city's submitted appeal, the city never its draft's
steps, and the other city nothing of it. Subscribing without a valid token is refused, and a token that expires
ends the subscription.

"Nothing arrives" is bounded by something that must arrive after it on the same subscription: NOTIFY delivers in
commit order, so an event a caller must not see would come before the one it must.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import asyncpg
import httpx
import pytest
import websockets

from hotline.kit.auth import mint_token
from tests.support import TEST_SECRET, data_of, gql

SOURCE = "e2e-live-bot"
SCHEME = {
    "code": "GD-LIVE-2025Q3",
    "name_zh": "智能客服专项评价（2025年第三季度）",
    "name_en": "Smart-service special evaluation, 2025 Q3",
    "kind": "special",
    "cohort": {"units": ["GD-DG", "GD-ZH"]},
    "period": {"granularity": "quarter"},
    "items": [
        {
            "indicator": {"code": "smart_answer_accuracy", "version": 1},
            "points": 60,
            "rule": {"type": "linear_band", "floor": 50, "target": 100},
            "reference": {"policy": "target", "value": 100},
        },
        {
            "indicator": {"code": "smart_answer_time", "version": 1},
            "points": 40,
            "rule": {"type": "ratio_to_reference"},
            "reference": {"policy": "best_in_cohort"},
        },
    ],
}
RUN_INPUT = {"periodKind": "QUARTER", "period": "2025-Q3", "schemeVersion": 1}


def bearer(unit_id: str, role: str, ttl_seconds: int = 3600) -> str:
    token = mint_token(
        secret=TEST_SECRET, unit_id=unit_id, roles=[role], subject=f"live-{unit_id}-{role}", ttl_seconds=ttl_seconds
    )
    return f"Bearer {token}"


PROVINCE = bearer("GD", "organizer")
REVIEWER = bearer("GD", "reviewer")
DG, ZH = bearer("GD-DG", "unit"), bearer("GD-ZH", "unit")

PROGRESS = "subscription($id: ID!) { runProgress(runId: $id) { id status progress error currentRevision } }"
PUBLISHED = "subscription { resultsPublished { change run { id } results { id unitId total published } } }"
INBOX = "subscription { appealInboxEvents { appealId kind } }"


class SseSubscription:
    """A subscription over server-sent events: POST /graphql with ``Accept: text/event-stream``."""

    def __init__(self, client: httpx.AsyncClient, query: str, variables: dict | None, authorization: str | None):
        headers = {"accept": "text/event-stream", **({"authorization": authorization} if authorization else {})}
        self._stream = client.stream("POST", "/graphql", json={"query": query, "variables": variables}, headers=headers)

    async def __aenter__(self) -> SseSubscription:
        self.response = await self._stream.__aenter__()
        self._lines = self.response.aiter_lines()
        return self

    async def __aexit__(self, *exc) -> None:
        await self._stream.__aexit__(*exc)

    async def next(self) -> dict | None:
        """The next result; None once the stream has completed."""
        return await asyncio.wait_for(self._next(), 15)

    async def _next(self) -> dict | None:
        event, data = None, ""
        async for line in self._lines:
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif line == "" and event == "complete":
                return None
            elif line == "" and data:
                return json.loads(data)
        return None


class WsSubscription:
    """A subscription over graphql-ws (``graphql-transport-ws``), the token in the connection's params."""

    def __init__(self, url: str, query: str, variables: dict | None, authorization: str | None):
        self._url = url.replace("http://", "ws://") + "/graphql"
        self._params = {"authorization": authorization} if authorization else {}
        self._subscribe = {"query": query, "variables": variables or {}}

    async def __aenter__(self) -> WsSubscription:
        self._socket = await websockets.connect(self._url, subprotocols=["graphql-transport-ws"])
        await self._socket.send(json.dumps({"type": "connection_init", "payload": self._params}))
        assert json.loads(await self._socket.recv())["type"] == "connection_ack"
        await self._socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": self._subscribe}))
        return self

    async def __aexit__(self, *exc) -> None:
        await self._socket.close()

    async def next(self) -> dict | None:
        return await asyncio.wait_for(self._next(), 15)

    async def _next(self) -> dict | None:
        while True:
            message = json.loads(await self._socket.recv())
            if message["type"] == "ping":
                await self._socket.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                return message["payload"]
            elif message["type"] == "error":
                return {"errors": message["payload"]}
            elif message["type"] == "complete":
                return None


def codes(result: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors") or []]


async def live_subscriptions(client: httpx.AsyncClient, stack, service: str) -> int:
    text = (await client.get(f"{stack.service_url(service)}/metrics")).text
    found = re.search(rf'hotline_live_subscriptions{{channel="hotline_{service}"}} (\S+)', text)
    return int(float(found.group(1))) if found else 0


async def until_subscribed(client: httpx.AsyncClient, stack, service: str, count: int) -> None:
    """Wait (up to 10 s) until ``service`` has ``count`` subscriptions listening: only then is a change sure to
    reach them (a subscription's HTTP response starts at the gateway before the subgraph listens)."""
    deadline = time.monotonic() + 10
    while await live_subscriptions(client, stack, service) < count:
        assert time.monotonic() < deadline, f"{service} has not {count} subscriptions listening"
        await asyncio.sleep(0.05)


class MeasuresLock:
    """Holds ingest's daily measures (ACCESS EXCLUSIVE): a run's worker waits in ``fetching`` until released."""

    def __init__(self, stack) -> None:
        self._url = stack.database_url
        self._connection: asyncpg.Connection | None = None

    async def __aenter__(self) -> MeasuresLock:
        self._connection = await asyncpg.connect(self._url)
        await self._connection.execute("BEGIN; LOCK TABLE ingest.daily_measure IN ACCESS EXCLUSIVE MODE")
        return self

    async def release(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()  # ends the transaction, and the lock with it

    async def __aexit__(self, *exc) -> None:
        await self.release()


def spot_tests() -> list[dict]:
    rows = []
    for n in range(1, 11):  # GD-DG: 8 of 10 correct, 3 s; GD-ZH: 9 of 10 correct, 2 s
        rows.append({"record_id": f"L-DG-{n:02}", "unit_id": "GD-DG", "tested_at": f"2025-08-{n + 5:02} 10:00:00",
                     "correct": n not in (2, 9), "response_seconds": 3})  # fmt: skip
        rows.append({"record_id": f"L-ZH-{n:02}", "unit_id": "GD-ZH", "tested_at": f"2025-08-{n + 5:02} 11:00:00",
                     "correct": n != 4, "response_seconds": 2})  # fmt: skip
    return rows


@pytest.fixture(scope="module")
async def scheme_id(stack) -> str:
    """Spot tests in ingest and the province's published scheme over its two cities."""
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as gateway:
        ndjson = "\n".join(json.dumps(r) for r in spot_tests()) + "\n"
        response = await gateway.post(
            f"{stack.service_url('ingest')}/batches",
            params={"kind": "smart_test", "source": SOURCE, "format": "ndjson", "filename": "live.ndjson"},
            content=ndjson.encode(),
            headers={"authorization": bearer("GD", "admin"), "content-type": "application/x-ndjson"},
        )
        assert response.status_code == 200 and response.json()["status"] == "done", response.text
        payload = "{ ok problems { path code message } scheme { schemeId } }"
        created = data_of(
            await gql(gateway, f"mutation($b: JSON!) {{ createScheme(body: $b) {payload} }}", {"b": SCHEME},
                      headers={"authorization": PROVINCE})
        )["createScheme"]  # fmt: skip
        assert created["ok"], created
        scheme = created["scheme"]["schemeId"]
        published = data_of(
            await gql(gateway, f'mutation($s: ID!) {{ publishScheme(schemeId: $s, version: 1) {payload} }}',
                      {"s": scheme}, headers={"authorization": PROVINCE})
        )["publishScheme"]  # fmt: skip
        assert published["ok"], published
        return scheme


async def start_run(gateway: httpx.AsyncClient, scheme: str) -> str:
    """Starts the run (or finds it: starting is idempotent)."""
    start = "mutation($i: StartRunInput!) { startRun(input: $i) { problems { code message } run { id } } }"
    started = data_of(await gql(gateway, start, {"i": {"schemeId": scheme, **RUN_INPUT}},
                                headers={"authorization": PROVINCE}))["startRun"]  # fmt: skip
    assert started["problems"] == [], started
    return started["run"]["id"]


def progress(result: dict) -> tuple:
    run = result["data"]["runProgress"]
    return run["status"], run["progress"], run["currentRevision"]


async def followed_to_the_end(subscription, first: dict) -> list[tuple]:
    events = [progress(first)]
    while (result := await subscription.next()) is not None:
        assert not result.get("errors"), result
        events.append(progress(result))
    return events


PIPELINE = ("queued", "fetching", "computing", "done")


async def test_a_run_is_followed_to_done_over_sse_and_its_recompute_over_graphql_ws(stack, gateway, scheme_id):
    async with MeasuresLock(stack) as measures:
        run_id = await start_run(gateway, scheme_id)
        async with SseSubscription(gateway, PROGRESS, {"id": run_id}, PROVINCE) as followed:
            first = await followed.next()  # the run where it stands: it cannot be past fetching yet
            # A city may not see the run before publication: one null, and the end.
            async with SseSubscription(gateway, PROGRESS, {"id": run_id}, DG) as city:
                assert await city.next() == {"data": {"runProgress": None}} and await city.next() is None
            await measures.release()
            events = await followed_to_the_end(followed, first)
    assert events[0] in {("queued", 0, 0), ("fetching", 10, 0)}, events
    assert events[-1] == ("done", 100, 1) and len(events) >= 2, events
    assert [PIPELINE.index(status) for status, _, _ in events] == sorted(PIPELINE.index(s) for s, _, _ in events)

    recompute = 'mutation($id: ID!) { recomputeRun(runId: $id, reason: "数据补录") { problems { message } } }'
    async with MeasuresLock(stack) as measures:
        queued = data_of(await gql(gateway, recompute, {"id": run_id}, headers={"authorization": PROVINCE}))
        assert queued["recomputeRun"]["problems"] == []
        async with WsSubscription(stack.gateway_url, PROGRESS, {"id": run_id}, PROVINCE) as followed:
            first = await followed.next()
            await measures.release()
            events = await followed_to_the_end(followed, first)
    assert events[0] in {("queued", 0, 1), ("fetching", 10, 1)}, events
    assert events[-1] == ("done", 100, 2) and len(events) >= 2, events


async def finished_run(gateway: httpx.AsyncClient, scheme: str) -> str:
    """The province's run, followed to its end (started if the first test did not run)."""
    run_id = await start_run(gateway, scheme)
    async with SseSubscription(gateway, PROGRESS, {"id": run_id}, PROVINCE) as followed:
        last = await followed.next()
        while (result := await followed.next()) is not None:
            last = result
    assert progress(last)[0] == "done", last
    return run_id


async def publish(gateway: httpx.AsyncClient, run_id: str) -> list[dict]:
    mutation = "mutation($id: ID!) { publishRun(runId: $id) { problems { code message } } }"
    return data_of(await gql(gateway, mutation, {"id": run_id}, headers={"authorization": PROVINCE}))["publishRun"][
        "problems"
    ]


async def test_each_city_receives_its_own_published_result_and_never_the_others(stack, gateway, scheme_id):
    run_id = await finished_run(gateway, scheme_id)
    listening = await live_subscriptions(gateway, stack, "scoring")
    async with (
        SseSubscription(gateway, PUBLISHED, None, DG) as dongguan,
        WsSubscription(stack.gateway_url, PUBLISHED, None, ZH) as zhuhai,
        SseSubscription(gateway, PUBLISHED, None, PROVINCE) as province,
    ):
        await until_subscribed(gateway, stack, "scoring", listening + 3)
        assert await publish(gateway, run_id) == []
        seen = {}
        for name, subscription in (("GD-DG", dongguan), ("GD-ZH", zhuhai), ("GD", province)):
            event = (await subscription.next())["data"]["resultsPublished"]
            assert (event["change"], event["run"]["id"]) == ("PUBLISHED", run_id)
            seen[name] = [(r["unitId"], r["published"]) for r in event["results"]]
    assert seen == {
        "GD-DG": [("GD-DG", True)],
        "GD-ZH": [("GD-ZH", True)],
        "GD": [("GD-DG", True), ("GD-ZH", True)],
    }


FILE = """mutation($r: ID!, $submit: Boolean!) { fileAppeal(resultId: $r, indicators: ["smart_answer_accuracy"],
  reasonCategory: WRONG_DATA, reason: "两次抽测在系统维护期间进行", submit: $submit,
  asks: [{indicator: "smart_answer_accuracy", kind: CORRECT_VALUE, value: 90}]) {
  ok problems { code message } appeal { id version status } } }"""
SUBMIT = """mutation($id: ID!, $v: Int!) { submitAppeal(id: $id, expectedVersion: $v) {
  ok problems { code message } appeal { id version status } } }"""


async def appeal_step(gateway, mutation: str, variables: dict, authorization: str) -> dict:
    payload = next(
        iter(data_of(await gql(gateway, mutation, variables, headers={"authorization": authorization})).values())
    )
    assert payload["ok"], payload
    return payload["appeal"]


async def test_the_reviewer_receives_a_submitted_appeal_its_city_no_draft_step_the_other_city_nothing(
    stack, gateway, scheme_id
):
    run_id = await finished_run(gateway, scheme_id)
    assert (await publish(gateway, run_id)) in (
        [],
        [{"code": "already_published", "message": "the run is already published"}],
    )
    query = "query($id: ID!) { run(id: $id) { results { edges { node { id unitId } } } } }"
    edges = data_of(await gql(gateway, query, {"id": run_id}, headers={"authorization": PROVINCE}))["run"]["results"]
    result_of = {e["node"]["unitId"]: e["node"]["id"] for e in edges["edges"]}
    listening = await live_subscriptions(gateway, stack, "appeals")
    async with (
        SseSubscription(gateway, INBOX, None, REVIEWER) as reviewer,
        SseSubscription(gateway, INBOX, None, DG) as dongguan,
        WsSubscription(stack.gateway_url, INBOX, None, ZH) as zhuhai,
    ):
        await until_subscribed(gateway, stack, "appeals", listening + 3)
        draft = await appeal_step(gateway, FILE, {"r": result_of["GD-DG"], "submit": False}, DG)
        assert draft["status"] == "DRAFT"
        submitted = await appeal_step(gateway, SUBMIT, {"id": draft["id"], "v": draft["version"]}, DG)
        theirs = await appeal_step(gateway, FILE, {"r": result_of["GD-ZH"], "submit": True}, ZH)
        assert submitted["status"] == theirs["status"] == "SUBMITTED"

        async def entry(subscription) -> tuple[str, str]:
            seen = (await subscription.next())["data"]["appealInboxEvents"]
            return seen["appealId"], seen["kind"]

        # The reviewer: each city's appeal once submitted (the steps of a draft are its filing unit's alone).
        assert [await entry(reviewer) for _ in range(2)] == [(draft["id"], "submitted"), (theirs["id"], "submitted")]
        # Dongguan: its draft's step was in its inbox, and never pushed.
        assert await entry(dongguan) == (draft["id"], "submitted")
        # Zhuhai: its own appeal first (filed and submitted at once) — Dongguan's steps, committed before, never
        # reached it.
        assert [await entry(zhuhai) for _ in range(2)] == [(theirs["id"], "filed"), (theirs["id"], "submitted")]


async def test_subscribing_without_a_valid_token_is_refused_over_sse_and_graphql_ws(stack, gateway):
    expired = bearer("GD", "organizer", ttl_seconds=-60)
    for authorization in (None, "Bearer not.a.jwt", expired):
        async with SseSubscription(gateway, INBOX, None, authorization) as refused:
            assert codes(await refused.next()) == ["UNAUTHENTICATED"] and await refused.next() is None
        async with WsSubscription(stack.gateway_url, INBOX, None, authorization) as refused:
            assert codes(await refused.next()) == ["UNAUTHENTICATED"] and await refused.next() is None


async def test_a_subscription_ends_with_unauthenticated_when_its_token_expires(stack, gateway):
    listening = await live_subscriptions(gateway, stack, "appeals")
    short = bearer("GD", "reviewer", ttl_seconds=2)

    async def until_the_end(subscription) -> list[dict]:
        async with subscription:
            results = []
            while (result := await subscription.next()) is not None:
                results.append(result)
            return results

    started = time.monotonic()
    over_sse, over_ws = await asyncio.gather(
        until_the_end(SseSubscription(gateway, INBOX, None, short)),
        until_the_end(WsSubscription(stack.gateway_url, INBOX, None, short)),
    )
    assert time.monotonic() - started < 5
    for results in (over_sse, over_ws):
        [ended] = results
        assert codes(ended) == ["UNAUTHENTICATED"] and "the token expired at" in ended["errors"][0]["message"]
    # Both subgraph subscriptions were released.
    deadline = time.monotonic() + 5
    while await live_subscriptions(gateway, stack, "appeals") > listening:
        assert time.monotonic() < deadline, "the appeals subscriptions were not released"
        await asyncio.sleep(0.05)
