"""What the appeals service holds for its lifetime: the scoring client, the clock, the webhook sender."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.appeals.notifications import WebhookSender
from services.appeals.scoring import ScoringClient

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The server's clock (every rule about time uses it; tests inject their own)."""
    return datetime.now(UTC)


@dataclass
class Runtime:
    scoring: ScoringClient
    clock: Clock
    sender: WebhookSender
