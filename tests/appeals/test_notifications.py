"""Notifications: inbox entries per party, signed webhook deliveries, retries with backoff, failure."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta

from sqlalchemy import select

from services.appeals.models import WebhookDelivery
from services.appeals.notifications import MAX_ATTEMPTS, SIGNATURE_HEADER, backoff, sign, verify
from tests.appeals.conftest import REVIEWER, TAKE, UNIT, auth, call, file_appeal
from tests.support import data_of, error_codes, gql

SECRET = "s3cret-of-gz-housing-0001"
REGISTER = "mutation($u: String!, $s: String!) { registerAppealWebhook(url: $u, secret: $s) { webhook { url } problems { code } } }"
INBOX = "query($u: Boolean!) { appealInbox(unreadOnly: $u) { id appealId kind readAt } }"


async def _register(appeals, headers=UNIT, url="https://hooks.gz-housing.example/appeals", secret=SECRET):
    return data_of(await gql(appeals, REGISTER, {"u": url, "s": secret}, headers=headers))["registerAppealWebhook"]


def test_signatures_verify_and_refuse_tampering_and_staleness():
    body = b'{"event":"filed"}'
    header = sign(SECRET, 1_700_000_000, body)
    assert verify(SECRET, header, body, now=1_700_000_100)
    assert not verify(SECRET, header, body + b" ", now=1_700_000_100)
    assert not verify("another-secret-value", header, body, now=1_700_000_100)
    assert not verify(SECRET, header, body, now=1_700_000_000 + 301)
    assert not verify(SECRET, "garbage", body, now=1_700_000_000)


def test_backoff_doubles_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(20) == timedelta(hours=1)


async def test_webhook_registration_is_checked(appeals):
    assert [p["code"] for p in (await _register(appeals, url="ftp://x", secret="short"))["problems"]] == [
        "BAD_URL",
        "WEAK_SECRET",
    ]
    assert [p["code"] for p in (await _register(appeals, headers=auth("GZ-HOUSING", "viewer")))["problems"]] == [
        "FORBIDDEN_ROLE"
    ]
    assert (await _register(appeals))["webhook"]["url"].startswith("https://hooks")
    shown = data_of(await gql(appeals, "{ appealWebhook { url registeredBy } }", headers=UNIT))["appealWebhook"]
    assert shown["url"] == "https://hooks.gz-housing.example/appeals" and "secret" not in shown


async def test_every_step_reaches_each_partys_inbox(appeals):
    appeal = (await file_appeal(appeals))["appeal"]
    await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER)
    unit_inbox = data_of(await gql(appeals, INBOX, {"u": True}, headers=UNIT))["appealInbox"]
    city_inbox = data_of(await gql(appeals, INBOX, {"u": True}, headers=auth("GD-GZ", "organizer")))["appealInbox"]
    assert [e["kind"] for e in unit_inbox] == ["assigned", "submitted", "filed"]
    # Filing made a draft, which is the unit's alone (issue 17): the city hears of the appeal from its submission.
    assert [e["kind"] for e in city_inbox] == ["assigned", "submitted"]
    assert data_of(await gql(appeals, INBOX, {"u": False}, headers=auth("GZ-WATER", "unit")))["appealInbox"] == []
    marked = await gql(
        appeals,
        "mutation($ids: [ID!]!) { markAppealInboxRead(ids: $ids) }",
        {"ids": [e["id"] for e in unit_inbox] + [city_inbox[0]["id"]]},
        headers=UNIT,
    )
    assert data_of(marked)["markAppealInboxRead"] == 3  # the city's entry is not the unit's to mark
    assert data_of(await gql(appeals, INBOX, {"u": True}, headers=UNIT))["appealInbox"] == []
    assert len(data_of(await gql(appeals, INBOX, {"u": True}, headers=auth("GD-GZ", "organizer")))["appealInbox"]) == 2


async def test_deliveries_are_signed_retried_with_backoff_and_then_delivered(appeals_app, appeals, receiver, clock, db):
    await _register(appeals)
    await file_appeal(appeals, submit=False)  # one step: filed → one delivery to the unit (the city has no hook)
    sender = appeals_app.state.appeals.sender
    receiver.statuses = [500, 0, 502]  # the first pass: three quick attempts, all failing (one unreachable)
    assert await sender.deliver_due(clock()) == {"delivered": 0, "retrying": 1, "failed": 0}
    assert len(receiver.requests) == 3
    assert await sender.deliver_due(clock()) == {"delivered": 0, "retrying": 0, "failed": 0}  # not due yet
    clock.advance(seconds=30)
    assert await sender.deliver_due(clock()) == {"delivered": 1, "retrying": 0, "failed": 0}
    assert len(receiver.requests) == 4
    request = receiver.requests[-1]
    body = request.content
    assert verify(SECRET, request.headers[SIGNATURE_HEADER], body, now=int(clock().timestamp()))
    payload = json.loads(body)
    assert payload["event"] == "filed" and payload["unit"] == "GZ-HOUSING" and payload["result_id"] == "R-HOUSING"
    assert request.headers["x-hotline-event"] == "filed"
    async with db.session() as session:
        delivery = (await session.scalars(select(WebhookDelivery))).one()
    assert delivery.delivered_at == clock() and delivery.attempts == 4 and delivery.last_error == "answered 502"
    clock.advance(days=1)
    assert await sender.deliver_due(clock()) == {"delivered": 0, "retrying": 0, "failed": 0}  # never twice


async def test_a_receiver_that_never_accepts_ends_failed(appeals_app, appeals, receiver, clock):
    await _register(appeals)
    await file_appeal(appeals, submit=False)
    sender = appeals_app.state.appeals.sender
    receiver.statuses = [500] * 100
    outcomes = []
    for _ in range(5):
        outcomes.append(await sender.deliver_due(clock()))
        clock.advance(hours=2)
    assert [o["retrying"] for o in outcomes[:2]] == [1, 1] and outcomes[2]["failed"] == 1
    assert len(receiver.requests) == 9 and MAX_ATTEMPTS == 8  # 3 passes of 3 attempts reach the limit
    assert outcomes[3:] == [{"delivered": 0, "retrying": 0, "failed": 0}] * 2


def test_production_webhooks_must_be_https_to_public_hosts():
    from services.appeals.notifications import check_webhook

    for url in (
        "http://hooks.example.org/x",
        "https://127.0.0.1/x",
        "https://10.0.0.8/x",
        "https://localhost/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest",
        "https://ingest.internal/units",
    ):
        assert [p.code for p in check_webhook(url, SECRET, production=True)] == ["BAD_URL"], url
    assert check_webhook("https://hooks.example.org/x", SECRET, production=True) == []
    assert check_webhook("http://127.0.0.1:9000/x", SECRET, production=False) == []  # local receivers in development


async def test_the_inbox_pages_by_cursor(appeals):
    # One cursor argument type across the API (issue 17): `after: String`, an entry's opaque `cursor`.
    await file_appeal(appeals)
    first = data_of(await gql(appeals, "{ appealInbox(first: 1) { id cursor kind } }", headers=UNIT))["appealInbox"]
    rest = data_of(
        await gql(
            appeals,
            "query($a: String) { appealInbox(first: 5, after: $a) { kind } }",
            {"a": first[0]["cursor"]},
            headers=UNIT,
        )
    )["appealInbox"]
    assert [e["kind"] for e in first + rest] == ["submitted", "filed"]
    bad = await gql(appeals, 'query { appealInbox(after: "not a cursor") { kind } }', headers=UNIT)
    assert error_codes(bad) == ["BAD_REQUEST"]


async def test_the_worker_in_the_lifespan_delivers(appeals_app, appeals, receiver, clock):
    from services.appeals.app import run_worker

    await _register(appeals)
    await file_appeal(appeals, submit=False)
    worker = asyncio.create_task(run_worker(appeals_app, delivery_interval=0.01, sweep_interval=3600))
    try:
        for _ in range(500):
            if receiver.requests:
                break
            await asyncio.sleep(0.01)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    assert len(receiver.requests) == 1 and json.loads(receiver.requests[0].content)["event"] == "filed"
