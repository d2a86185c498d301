"""Tables of the appeals service, all in the Postgres schema ``appeals`` (created by its migrations): SQLModel
table classes on ``AppealsModel``, whose own metadata (``service_registry``) holds this service's tables only.

The classes declare what the migrations built (``tests/platform/test_models_match_migrations.py`` compares
them); a change of a table is a new migration first, then the class. The migrations left primary and foreign
keys unnamed: the classes declare them under the names PostgreSQL gave them (``appeal_pkey``,
``appeal_decision_appeal_id_fkey``; appeal and peer_consequence refer to each other, so ``use_alter`` on one side).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    Identity,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field

from hotline.kit.db import ServiceModel, postgres_named_keys, service_registry
from hotline.kit.directory import UnitRefColumns, UnitRefStateColumns, unit_ref_state_table_args, unit_ref_table_args
from services.appeals import SCHEMA

TIMESTAMPTZ = DateTime(timezone=True)
STATUSES = "'draft','submitted','in_review','information_requested','decided','escalated','withdrawn'"
OUTCOMES = "'upheld','partly_upheld','rejected'"
EVENT_KINDS = (
    "'filed','edited','submitted','assigned','information_requested','information_given','decided',"
    "'escalated','withdrawn','revision_applied','evidence_added'"
)


class AppealsModel(ServiceModel, registry=service_registry(SCHEMA)):
    """Base of the appeals service's table classes (its own metadata, schema ``appeals``)."""


# The metadata Alembic compares against (migrations/env.py).
metadata = AppealsModel.metadata


def _identity() -> dict:
    """A ``bigint GENERATED ALWAYS AS IDENTITY`` primary key's Field arguments (a new Identity per column)."""
    return {"primary_key": True, "sa_type": BigInteger, "sa_column_args": [Identity(always=True)]}


class Appeal(AppealsModel, table=True):
    """An appeal (申诉) of an evaluated unit against one published result, with its current state.

    ``version`` is the optimistic-concurrency counter: every change is ``UPDATE … WHERE version = :seen``.
    The result's facts (run, organizer, publication, limits, scores at filing) are copied from scoring
    when the appeal is filed, so scope and rules never need a call to scoring.
    """

    __tablename__ = "appeal"
    __table_args__ = (
        *postgres_named_keys(
            "appeal", ("id",), {"consequence_id": "peer_consequence.id"}, use_alter=("consequence_id",)
        ),
        CheckConstraint(f"status IN ({STATUSES})", name="status_known"),
        CheckConstraint(f"outcome IN ({OUTCOMES})", name="outcome_known"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint("status <> 'decided' OR outcome IS NOT NULL", name="decided_has_outcome"),
        Index("ix_appeal_run_id_unit_id", "run_id", "unit_id"),
        Index("ix_appeal_unit_id", "unit_id"),
        Index("ix_appeal_organizer_id", "organizer_id"),
        Index("ix_appeal_result_ids", "result_ids", postgresql_using="gin"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=UUID(as_uuid=True))
    result_id: str = Field(sa_type=Text)
    # The disputed result and the results of the revisions this appeal's decisions made (UnitResult.appeals).
    result_ids: list[str] = Field(sa_type=ARRAY(Text))
    run_id: str = Field(sa_type=Text)
    revision: int
    unit_id: str = Field(sa_type=Text)
    organizer_id: str = Field(sa_type=Text)
    deciding_unit_id: str = Field(sa_type=Text)
    escalated_to: str | None = Field(default=None, sa_type=Text)
    status: str = Field(sa_type=Text)
    reason_category: str = Field(sa_type=Text)
    reason: str = Field(sa_type=Text)
    indicators: list[str] = Field(sa_type=ARRAY(Text))
    asks: list[dict] = Field(sa_type=JSONB, sa_column_kwargs={"server_default": "[]"})
    evidence_records: list[dict] = Field(sa_type=JSONB, sa_column_kwargs={"server_default": "[]"})
    published_at: datetime = Field(sa_type=TIMESTAMPTZ)
    window_closes_at: datetime = Field(sa_type=TIMESTAMPTZ)
    escalation_days: int
    decision_days: int
    decision_due_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    score_at_filing: dict = Field(sa_type=JSONB)
    filed_by: str = Field(sa_type=Text)
    filed_at: datetime = Field(sa_type=TIMESTAMPTZ)
    submitted_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    assigned_to: str | None = Field(default=None, sa_type=Text)
    information_requested_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    information_due_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    decided_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    outcome: str | None = Field(default=None, sa_type=Text)
    upheld_indicators: list[str] = Field(sa_type=ARRAY(Text), sa_column_kwargs={"server_default": "{}"})
    version: int = Field(sa_column_kwargs={"server_default": "1"})
    updated_at: datetime = Field(sa_type=TIMESTAMPTZ)
    # An appeal of a consequence (another unit's appeal moved this unit's result): its own window and indicators.
    consequence_id: uuid.UUID | None = Field(default=None, sa_type=UUID(as_uuid=True))
    # Time spent waiting for the unit's information, all requests together (left out of the time to decision).
    information_waited_seconds: float = Field(
        default=0.0, sa_type=Float, sa_column_kwargs={"server_default": text("0")}
    )


class AppealDecision(AppealsModel, table=True):
    """One decision on an appeal: the first (level 0, the organizer) and, if escalated, the second (level 1)."""

    __tablename__ = "appeal_decision"
    __table_args__ = (
        *postgres_named_keys("appeal_decision", ("id",), {"appeal_id": "appeal.id"}),
        CheckConstraint("level IN (0, 1)", name="level"),
        CheckConstraint(f"outcome IN ({OUTCOMES})", name="outcome_known"),
        CheckConstraint("btrim(reason) <> ''", name="reason_written"),
        UniqueConstraint("appeal_id", "level"),
    )

    id: int | None = Field(default=None, **_identity())
    appeal_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    level: int
    outcome: str = Field(sa_type=Text)
    reason: str = Field(sa_type=Text)
    upheld_indicators: list[str] = Field(sa_type=ARRAY(Text))
    decided_by: str = Field(sa_type=Text)
    deciding_unit_id: str = Field(sa_type=Text)
    decided_at: datetime = Field(sa_type=TIMESTAMPTZ)
    due_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    new_revision: int | None = None
    score_change: dict | None = Field(default=None, sa_type=JSONB(none_as_null=True))
    # Per upheld value: {indicator, asked, accepted} — the decision may accept a value other than the one asked.
    accepted_values: list[dict] = Field(default_factory=list, sa_type=JSONB, sa_column_kwargs={"server_default": "[]"})
    # The appeal's time waiting for information when this decision was made (cumulative).
    information_waited_seconds: float = Field(
        default=0.0, sa_type=Float, sa_column_kwargs={"server_default": text("0")}
    )


class AppealEvent(AppealsModel, table=True):
    """The append-only record (who, when, what) of every step; the database refuses UPDATE and DELETE."""

    __tablename__ = "appeal_event"
    __table_args__ = (
        *postgres_named_keys("appeal_event", ("id",), {"appeal_id": "appeal.id"}),
        CheckConstraint(f"kind IN ({EVENT_KINDS})", name="kind_known"),
        Index("ix_appeal_event_appeal_id_id", "appeal_id", "id"),
    )

    id: int | None = Field(default=None, **_identity())
    appeal_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    kind: str = Field(sa_type=Text)
    actor_subject: str = Field(sa_type=Text)
    actor_unit_id: str = Field(sa_type=Text)
    occurred_at: datetime = Field(sa_type=TIMESTAMPTZ)
    data: dict = Field(sa_type=JSONB, sa_column_kwargs={"server_default": "{}"})


class EvidenceFile(AppealsModel, table=True):
    """A file of evidence, stored in the database (bytea) with its sniffed type and SHA-256."""

    __tablename__ = "evidence_file"
    __table_args__ = (
        *postgres_named_keys("evidence_file", ("id",), {"appeal_id": "appeal.id"}),
        CheckConstraint("size_bytes > 0", name="size"),
        UniqueConstraint("appeal_id", "sha256"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=UUID(as_uuid=True))
    appeal_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    filename: str = Field(sa_type=Text)
    media_type: str = Field(sa_type=Text)
    size_bytes: int
    sha256: str = Field(sa_type=Text)
    content: bytes = Field(sa_type=LargeBinary)
    uploaded_by: str = Field(sa_type=Text)
    uploaded_at: datetime = Field(sa_type=TIMESTAMPTZ)


class Webhook(AppealsModel, table=True):
    """A unit's webhook: where its notifications are POSTed, and the secret that signs them."""

    __tablename__ = "webhook"
    __table_args__ = postgres_named_keys("webhook", ("unit_id",))

    unit_id: str = Field(primary_key=True, sa_type=Text)
    url: str = Field(sa_type=Text)
    secret: str = Field(sa_type=Text)
    registered_by: str = Field(sa_type=Text)
    registered_at: datetime = Field(sa_type=TIMESTAMPTZ)


class PeerConsequence(AppealsModel, table=True):
    """A unit whose result moved because of a decision on another unit's appeal (a reference, a cohort mean or a
    rank moved): what changed, why, and whether and until when it may appeal the consequence."""

    __tablename__ = "peer_consequence"
    __table_args__ = (
        *postgres_named_keys("peer_consequence", ("id",), {"cause_appeal_id": "appeal.id"}),
        UniqueConstraint("cause_appeal_id", "cause_level", "unit_id", name="uq_peer_consequence_cause_unit"),
        CheckConstraint("NOT appealable OR appealable_until IS NOT NULL", name="window"),
        Index("ix_peer_consequence_unit_id", "unit_id"),
        Index("ix_peer_consequence_run_id", "run_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=UUID(as_uuid=True))
    run_id: str = Field(sa_type=Text)
    revision: int
    result_id: str = Field(sa_type=Text)
    unit_id: str = Field(sa_type=Text)
    organizer_id: str = Field(sa_type=Text)
    cause_appeal_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    cause_level: int
    # The corrections that moved it: indicator → the unit whose value the decision adjusted.
    cause_targets: dict = Field(sa_type=JSONB)
    deciding_unit_id: str = Field(sa_type=Text)
    decided_by: str = Field(sa_type=Text)
    # total/rank/grade before and after, and each changed indicator's value and score before and after.
    figures: dict = Field(sa_type=JSONB)
    reference_moves: list[dict] = Field(sa_type=JSONB)
    appealable: bool = Field(sa_type=Boolean)
    appealable_indicators: list[str] = Field(sa_type=ARRAY(Text))
    appealable_until: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    created_at: datetime = Field(sa_type=TIMESTAMPTZ)


class Notification(AppealsModel, table=True):
    """One step of an appeal, or one consequence of another unit's appeal, told to one unit: its inbox entry."""

    __tablename__ = "notification"
    __table_args__ = (
        *postgres_named_keys(
            "notification",
            ("id",),
            {"appeal_id": "appeal.id", "event_id": "appeal_event.id", "consequence_id": "peer_consequence.id"},
        ),
        UniqueConstraint("unit_id", "event_id"),
        CheckConstraint("(event_id IS NULL) <> (consequence_id IS NULL)", name="step_or_consequence"),
        Index("ix_notification_unit_id_id", "unit_id", "id"),
    )

    id: int | None = Field(default=None, **_identity())
    unit_id: str = Field(sa_type=Text)
    appeal_id: uuid.UUID = Field(sa_type=UUID(as_uuid=True))
    event_id: int | None = Field(default=None, sa_type=BigInteger)
    consequence_id: uuid.UUID | None = Field(default=None, sa_type=UUID(as_uuid=True))
    kind: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=TIMESTAMPTZ)
    read_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)


class WebhookDelivery(AppealsModel, table=True):
    """The outbox: a notification to POST to its unit's webhook, with its attempts and next try."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        *postgres_named_keys("webhook_delivery", ("id",), {"notification_id": "notification.id"}),
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, **_identity())
    notification_id: int = Field(sa_type=BigInteger)
    unit_id: str = Field(sa_type=Text)
    payload: dict = Field(sa_type=JSONB)
    attempts: int = Field(sa_column_kwargs={"server_default": text("0")})
    next_attempt_at: datetime = Field(sa_type=TIMESTAMPTZ)
    delivered_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    failed_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    last_error: str | None = Field(default=None, sa_type=Text)


class RunSettlement(AppealsModel, table=True):
    """A run the appeals service knows, and when it told scoring that the run's results are final."""

    __tablename__ = "run_settlement"
    __table_args__ = postgres_named_keys("run_settlement", ("run_id",))

    run_id: str = Field(primary_key=True, sa_type=Text)
    organizer_id: str = Field(sa_type=Text)
    window_closes_at: datetime = Field(sa_type=TIMESTAMPTZ)
    settled_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    # The latest revision of the run appeals has learned of (from results read and revisions made).
    latest_revision: int | None = None


class UnitRefRow(UnitRefColumns, AppealsModel, table=True):
    """The unit directory's read model (``hotline.kit.directory``), synced from the ingest service."""

    __tablename__ = "unit_ref"
    __table_args__ = unit_ref_table_args()


class UnitRefState(UnitRefStateColumns, AppealsModel, table=True):
    """The version of the unit directory the read model holds."""

    __tablename__ = "unit_ref_state"
    __table_args__ = unit_ref_state_table_args()


# Queries join the read model as a table (``UnitRef.c.path``).
UnitRef = UnitRefRow.__table__
