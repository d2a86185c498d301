"""Notifications of every appeal step: an inbox per unit and signed webhooks through a DB-backed outbox.

Each recorded event is written, in the same transaction, as one inbox entry per party (the appellant,
the organizer, and the unit escalated to — of a draft, the filing unit alone) and one outbox row per party
that registered a webhook — so a notification exists if and only if the step committed. A decision whose
revision moves another unit's result tells that unit the same way (``peer_result_changed``). Every body names
the acting unit and person (``actor_unit``, ``actor``) and spells statuses as the GraphQL enums do. The delivery worker POSTs due outbox rows with
an HMAC-SHA256 signature over ``<timestamp>.<body>`` (header ``X-Hotline-Signature: t=<ts>,v1=<hex>``),
retries quickly within one pass (stamina), and otherwise backs off in the database (the next attempt
doubles from 30 s up to 1 h) until ``MAX_ATTEMPTS``, when the row is marked failed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
import stamina
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.kit import metrics
from hotline.kit.db import Database
from services.appeals.models import Appeal, AppealEvent, Notification, PeerConsequence, Webhook, WebhookDelivery
from services.appeals.spelling import spelled, spelled_data
from services.appeals.workflow import Problem

logger = logging.getLogger("hotline.appeals.webhooks")
WEBHOOK_PASSES = metrics.counter(
    "appeals_webhook_deliveries", "Webhook delivery attempts' outcomes (delivered, retrying, failed)", ["outcome"]
)
WEBHOOK_PENDING = metrics.gauge(
    "appeals_webhook_deliveries_pending", "Webhook deliveries not yet delivered or given up"
)

SIGNATURE_HEADER = "x-hotline-signature"
DELIVERY_HEADER = "x-hotline-delivery"
EVENT_HEADER = "x-hotline-event"
MAX_ATTEMPTS = 8
# The step told to a unit whose result a decision on another unit's appeal moved.
CONSEQUENCE_EVENT = "peer_result_changed"
MIN_SECRET_LENGTH = 16


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for a body sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance_seconds: int = 300) -> bool:
    """What a receiver does: recompute the HMAC, compare in constant time, refuse stale timestamps."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def backoff(attempts: int) -> timedelta:
    """Wait before the next pass after ``attempts`` failed ones: 30 s, 60 s, 120 s … capped at one hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def _private_host(host: str) -> bool:
    if host in ("localhost", "") or host.endswith((".localhost", ".internal", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local or address.is_reserved


def check_webhook(url: str, secret: str, *, production: bool) -> list[Problem]:
    """In production a webhook is https to a public host: the worker must not be turned into a way to
    reach internal services (SSRF). Hosts are judged by name and IP literal; names that resolve to
    private addresses must also be blocked by egress rules (deploy/ NetworkPolicies)."""
    problems = []
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        problems.append(Problem("BAD_URL", "the webhook URL must be an absolute http(s) URL", "url"))
    elif production and (parsed.scheme != "https" or _private_host(parsed.hostname or "")):
        problems.append(Problem("BAD_URL", "in production a webhook must be https to a public host", "url"))
    if len(secret) < MIN_SECRET_LENGTH:
        problems.append(Problem("WEAK_SECRET", f"the secret needs at least {MIN_SECRET_LENGTH} characters", "secret"))
    return problems


def parties(appeal: Appeal) -> list[str]:
    """Who is told of each step: the appellant, the organizer and, once escalated, the parent unit — but of
    an appeal never submitted (a draft, or a draft withdrawn), the filing unit alone."""
    if appeal.submitted_at is None:
        return [appeal.unit_id]
    return list(dict.fromkeys(u for u in (appeal.unit_id, appeal.organizer_id, appeal.escalated_to) if u))


async def notify(session: AsyncSession, appeal: Appeal, event: AppealEvent) -> None:
    """Inbox entries and outbox rows for one recorded event (same transaction as the event)."""
    payload = {
        "event": event.kind,
        "event_id": event.id,
        "appeal_id": str(appeal.id),
        "result_id": appeal.result_id,
        "run_id": appeal.run_id,
        "status": spelled(appeal.status),
        "actor_unit": event.actor_unit_id,
        "actor": event.actor_subject,
        "occurred_at": event.occurred_at.isoformat(),
        "data": spelled_data(event.data),
    }
    await _tell(session, parties(appeal), appeal.id, payload, event_id=event.id)


async def notify_consequence(session: AsyncSession, consequence: PeerConsequence, data: dict[str, Any]) -> None:
    """The inbox entry and outbox row telling a unit that a decision on another unit's appeal moved its result."""
    payload = {
        "event": CONSEQUENCE_EVENT,
        "consequence_id": str(consequence.id),
        "appeal_id": str(consequence.cause_appeal_id),
        "result_id": consequence.result_id,
        "run_id": consequence.run_id,
        "revision": consequence.revision,
        "actor_unit": consequence.deciding_unit_id,
        "actor": consequence.decided_by,
        "occurred_at": consequence.created_at.isoformat(),
        "data": data,
    }
    await _tell(session, [consequence.unit_id], consequence.cause_appeal_id, payload, consequence_id=consequence.id)


async def _tell(
    session: AsyncSession,
    recipients: list[str],
    appeal_id: uuid.UUID,
    payload: dict[str, Any],
    *,
    event_id: int | None = None,
    consequence_id: uuid.UUID | None = None,
) -> None:
    """One inbox entry per recipient, and one outbox row per recipient with a webhook (``payload`` + the
    entry's id and the recipient)."""
    occurred_at = datetime.fromisoformat(payload["occurred_at"])
    rows = await session.execute(
        insert(Notification)
        .values(
            [
                {
                    "unit_id": u,
                    "appeal_id": appeal_id,
                    "event_id": event_id,
                    "consequence_id": consequence_id,
                    "kind": payload["event"],
                    "created_at": occurred_at,
                }
                for u in recipients
            ]
        )
        .returning(Notification.id, Notification.unit_id)
    )
    notification_ids = dict((unit, nid) for nid, unit in rows.all())
    hooked = set(await session.scalars(select(Webhook.unit_id).where(Webhook.unit_id.in_(recipients))))
    deliveries = [
        {
            "notification_id": notification_ids[unit],
            "unit_id": unit,
            "payload": {"notification_id": notification_ids[unit], "unit": unit, **payload},
            "attempts": 0,
            "next_attempt_at": occurred_at,
        }
        for unit in recipients
        if unit in hooked
    ]
    if deliveries:
        await session.execute(insert(WebhookDelivery), deliveries)


class _Undelivered(Exception):
    """A delivery attempt the receiver did not accept (non-2xx) or could not be reached."""


class WebhookSender:
    """Delivers due outbox rows. ``transport`` replaces the network in tests."""

    def __init__(
        self,
        database: Database,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        attempts_per_pass: int = 3,
        wait_initial: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        self._database = database
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._attempts_per_pass = attempts_per_pass
        self._wait_initial = wait_initial

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, url: str, secret: str, delivery: WebhookDelivery, now: datetime) -> int:
        body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(secret, int(now.timestamp()), body),
            DELIVERY_HEADER: str(delivery.id),
            EVENT_HEADER: delivery.payload["event"],
        }
        tries = 0
        async for attempt in stamina.retry_context(
            on=_Undelivered,
            attempts=self._attempts_per_pass,
            wait_initial=self._wait_initial,
            wait_max=5.0,
            wait_jitter=self._wait_initial,
        ):
            with attempt:
                tries += 1
                try:
                    response = await self._client.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    raise _Undelivered(f"{type(exc).__name__}: {exc}") from exc
                if not 200 <= response.status_code < 300:
                    raise _Undelivered(f"answered {response.status_code}")
        return tries

    async def deliver_due(self, now: datetime, *, limit: int = 50) -> dict[str, int]:
        """One pass over the due outbox rows; returns counts of delivered, retrying and failed rows."""
        counts = {"delivered": 0, "retrying": 0, "failed": 0}
        async with self._database.unit_of_work() as session:
            # SKIP LOCKED: several replicas of the service share the outbox without sending twice.
            rows = (
                await session.execute(
                    select(WebhookDelivery, Webhook.url, Webhook.secret)
                    .join(Webhook, Webhook.unit_id == WebhookDelivery.unit_id, isouter=True)
                    .where(
                        WebhookDelivery.delivered_at.is_(None),
                        WebhookDelivery.failed_at.is_(None),
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .order_by(WebhookDelivery.id)
                    .limit(limit)
                    .with_for_update(of=WebhookDelivery, skip_locked=True)
                )
            ).all()
            for delivery, url, secret in rows:
                values = await self._attempt(delivery, url, secret, now)
                counts[values.pop("_outcome")] += 1
                await session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(values))
            pending = await session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.delivered_at.is_(None), WebhookDelivery.failed_at.is_(None))
            )
        for outcome, n in counts.items():
            WEBHOOK_PASSES.labels(outcome=outcome).inc(n)
        WEBHOOK_PENDING.set(pending or 0)
        return counts

    async def _attempt(self, delivery: WebhookDelivery, url: str | None, secret: str | None, now: datetime) -> dict:
        if url is None or secret is None:
            return {"_outcome": "failed", "failed_at": now, "last_error": "the unit removed its webhook"}
        try:
            tries = await self._post(url, secret, delivery, now)
        except _Undelivered as exc:
            attempts = delivery.attempts + self._attempts_per_pass
            logger.warning("webhook delivery %s to %s failed (%s attempts): %s", delivery.id, url, attempts, exc)
            if attempts >= MAX_ATTEMPTS:
                return {"_outcome": "failed", "attempts": attempts, "failed_at": now, "last_error": str(exc)}
            return {
                "_outcome": "retrying",
                "attempts": attempts,
                "next_attempt_at": now + backoff(attempts // self._attempts_per_pass),
                "last_error": str(exc),
            }
        return {"_outcome": "delivered", "attempts": delivery.attempts + tries, "delivered_at": now}
