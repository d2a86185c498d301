"""Tables of the appeals service, all in the Postgres schema ``appeals`` (created by its migrations)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, LargeBinary, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from hotline.kit.db import declarative_base_for
from hotline.kit.directory import unit_ref_table
from services.appeals import SCHEMA

Base = declarative_base_for(SCHEMA)
UnitRef = unit_ref_table(Base.metadata)


class Appeal(Base):
    """An appeal (申诉) of an evaluated unit against one published result, with its current state.

    ``version`` is the optimistic-concurrency counter: every change is ``UPDATE … WHERE version = :seen``.
    The result's facts (run, organizer, publication, limits, scores at filing) are copied from scoring
    when the appeal is filed, so scope and rules never need a call to scoring.
    """

    __tablename__ = "appeal"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    result_id: Mapped[str] = mapped_column(Text)
    # The disputed result and the results of the revisions this appeal's decisions made (UnitResult.appeals).
    result_ids: Mapped[list[str]] = mapped_column(ARRAY(Text))
    run_id: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[str] = mapped_column(Text)
    organizer_id: Mapped[str] = mapped_column(Text)
    deciding_unit_id: Mapped[str] = mapped_column(Text)
    escalated_to: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(Text)
    reason_category: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    indicators: Mapped[list[str]] = mapped_column(ARRAY(Text))
    asks: Mapped[list[dict]] = mapped_column(JSONB)
    evidence_records: Mapped[list[dict]] = mapped_column(JSONB)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    escalation_days: Mapped[int] = mapped_column(Integer)
    decision_days: Mapped[int] = mapped_column(Integer)
    decision_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    score_at_filing: Mapped[dict] = mapped_column(JSONB)
    filed_by: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    assigned_to: Mapped[str | None] = mapped_column(Text, nullable=True)
    information_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    information_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
    upheld_indicators: Mapped[list[str]] = mapped_column(ARRAY(Text))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # An appeal of a consequence (another unit's appeal moved this unit's result): its own window and indicators.
    consequence_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("peer_consequence.id"), nullable=True)
    # Time spent waiting for the unit's information, all requests together (left out of the time to decision).
    information_waited_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class AppealDecision(Base):
    """One decision on an appeal: the first (level 0, the organizer) and, if escalated, the second (level 1)."""

    __tablename__ = "appeal_decision"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    appeal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appeal.id"))
    level: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    upheld_indicators: Mapped[list[str]] = mapped_column(ARRAY(Text))
    decided_by: Mapped[str] = mapped_column(Text)
    deciding_unit_id: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    new_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score_change: Mapped[dict | None] = mapped_column(JSONB, nullable=True)
    # Per upheld value: {indicator, asked, accepted} — the decision may accept a value other than the one asked.
    accepted_values: Mapped[list[dict]] = mapped_column(JSONB, default=list)
    # The appeal's time waiting for information when this decision was made (cumulative).
    information_waited_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class AppealEvent(Base):
    """The append-only record (who, when, what) of every step; the database refuses UPDATE and DELETE."""

    __tablename__ = "appeal_event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    appeal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appeal.id"))
    kind: Mapped[str] = mapped_column(Text)
    actor_subject: Mapped[str] = mapped_column(Text)
    actor_unit_id: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict] = mapped_column(JSONB)


class EvidenceFile(Base):
    """A file of evidence, stored in the database (bytea) with its sniffed type and SHA-256."""

    __tablename__ = "evidence_file"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    appeal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appeal.id"))
    filename: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(Text)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Webhook(Base):
    """A unit's webhook: where its notifications are POSTed, and the secret that signs them."""

    __tablename__ = "webhook"

    unit_id: Mapped[str] = mapped_column(Text, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PeerConsequence(Base):
    """A unit whose result moved because of a decision on another unit's appeal (a reference, a cohort mean or a
    rank moved): what changed, why, and whether and until when it may appeal the consequence."""

    __tablename__ = "peer_consequence"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    run_id: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    result_id: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[str] = mapped_column(Text)
    organizer_id: Mapped[str] = mapped_column(Text)
    cause_appeal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appeal.id"))
    cause_level: Mapped[int] = mapped_column(Integer)
    # The corrections that moved it: indicator → the unit whose value the decision adjusted.
    cause_targets: Mapped[dict] = mapped_column(JSONB)
    deciding_unit_id: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(Text)
    # total/rank/grade before and after, and each changed indicator's value and score before and after.
    figures: Mapped[dict] = mapped_column(JSONB)
    reference_moves: Mapped[list[dict]] = mapped_column(JSONB)
    appealable: Mapped[bool] = mapped_column(Boolean)
    appealable_indicators: Mapped[list[str]] = mapped_column(ARRAY(Text))
    appealable_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Notification(Base):
    """One step of an appeal, or one consequence of another unit's appeal, told to one unit: its inbox entry."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(Text)
    appeal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appeal.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("appeal_event.id"), nullable=True)
    consequence_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("peer_consequence.id"), nullable=True)
    kind: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookDelivery(Base):
    """The outbox: a notification to POST to its unit's webhook, with its attempts and next try."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id"))
    unit_id: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSONB)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class RunSettlement(Base):
    """A run the appeals service knows, and when it told scoring that the run's results are final."""

    __tablename__ = "run_settlement"

    run_id: Mapped[str] = mapped_column(Text, primary_key=True)
    organizer_id: Mapped[str] = mapped_column(Text)
    window_closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The latest revision of the run appeals has learned of (from results read and revisions made).
    latest_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
