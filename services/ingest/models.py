"""Tables of the ingest service, all in the Postgres schema ``ingest``: SQLModel table classes on ``IngestModel``,
whose own metadata (``service_registry``) holds this service's tables and no other's.

The classes declare what the migrations built (``tests/platform/test_models_match_migrations.py`` compares
them); a change of a table is a new migration first, then the class. The raw record tables are partitioned
parents (``PARTITION BY RANGE (day)``) whose monthly partitions — and each partition's unique key index on
``(record_id, source)`` — are created at run time (``ingest.ensure_partition``, the new-month path); the loader
writes them with ``COPY`` and set-based SQL, never row by row through these classes.
"""

from __future__ import annotations

import enum
import types
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from hotline.kit.db import ServiceModel, service_registry
from services.ingest import SCHEMA

TIMESTAMPTZ = DateTime(timezone=True)
NOW = {"server_default": func.now()}


class IngestModel(ServiceModel, registry=service_registry(SCHEMA)):
    """Base of the ingest service's table classes (its own metadata, schema ``ingest``)."""


# The metadata Alembic compares against (migrations/env.py).
metadata = IngestModel.metadata


class UnitKind(enum.StrEnum):
    """Kinds of unit in the tree (DOMAIN §1)."""

    PROVINCE_BODY = "province_body"
    CITY_BODY = "city_body"
    DISTRICT = "district"
    UNDERTAKING_UNIT = "undertaking_unit"
    AGENT_TEAM = "agent_team"
    AGENT = "agent"


class Unit(IngestModel, table=True):
    """A node of the unit tree: a hotline body, district, undertaking unit, agent team or agent.

    ``id`` is a stable code and never changes; ``path`` is the materialized list of ancestor ids
    (``GD/GD-GZ/GZ-HOUSING``) and is rewritten for the whole subtree when a unit moves.
    """

    __tablename__ = "unit"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('province_body','city_body','district','undertaking_unit','agent_team','agent')",
            name="kind_known",
        ),
        CheckConstraint("population IS NULL OR population >= 0", name="population_non_negative"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint("id ~ '^[A-Z0-9][A-Z0-9-]{0,63}$'", name="id_format"),
        # Prefix matches (scope filters: path LIKE 'GD/GD-GZ/%') use this b-tree index.
        Index("ix_unit_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
        Index("ix_unit_parent_id", "parent_id"),
    )

    id: str = Field(primary_key=True, sa_type=Text)
    parent_id: str | None = Field(default=None, foreign_key="unit.id", sa_type=Text)
    path: str = Field(unique=True, sa_type=Text)
    depth: int
    kind: str = Field(sa_type=Text)
    name_zh: str = Field(sa_type=Text)
    name_en: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    population: int | None = Field(default=None, sa_type=BigInteger)
    active: bool = Field(default=True, sa_type=Boolean, sa_column_kwargs={"server_default": text("true")})
    valid_from: date = Field(sa_type=Date)
    valid_to: date | None = Field(default=None, sa_type=Date)
    created_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs=NOW)
    updated_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs={**NOW, "onupdate": func.now()})


class UnitChange(IngestModel, table=True):
    """Append-only history of the unit tree: every creation, update and move, with who and when."""

    __tablename__ = "unit_change"
    __table_args__ = (
        CheckConstraint("change IN ('created','updated','moved')", name="change_known"),
        Index("ix_unit_change_unit_id_changed_at", "unit_id", "changed_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger, sa_column_args=[Identity()])
    unit_id: str = Field(sa_type=Text)
    change: str = Field(sa_type=Text)
    changed_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs=NOW)
    changed_by: str = Field(sa_type=Text)
    before: dict | None = Field(default=None, sa_type=JSONB(none_as_null=True))
    after: dict = Field(sa_type=JSONB)


class Batch(IngestModel, table=True):
    """One submitted file (or API batch) of records of one kind from one source: its progress and counts."""

    __tablename__ = "batch"
    __table_args__ = (
        CheckConstraint(
            "status IN ('received','validating','loading','aggregating','done','failed','withdrawn')",
            name="status_known",
        ),
        Index("ix_batch_submitter_unit_id", "submitter_unit_id"),
        Index("ix_batch_source", "source"),
        Index("ix_batch_kind_source_content_sha256", "kind", "source", "content_sha256"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger, sa_column_args=[Identity(always=True)])
    kind: str = Field(sa_type=Text)
    source: str = Field(sa_type=Text)
    status: str = Field(default="received", sa_type=Text, sa_column_kwargs={"server_default": "received"})
    format: str | None = Field(default=None, sa_type=Text)
    filename: str | None = Field(default=None, sa_type=Text)
    time_zone: str = Field(default="Asia/Shanghai", sa_type=Text, sa_column_kwargs={"server_default": "Asia/Shanghai"})
    mapping_name: str | None = Field(default=None, sa_type=Text)
    submitted_by: str = Field(sa_type=Text)
    submitter_unit_id: str = Field(sa_type=Text)
    received_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs=NOW)
    finished_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    withdrawn_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    withdrawn_by: str | None = Field(default=None, sa_type=Text)
    period_from: date | None = Field(default=None, sa_type=Date)
    period_to: date | None = Field(default=None, sa_type=Date)
    expected_rows: int | None = None
    rows_read: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    rows_valid: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    rows_rejected: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    rows_new: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    rows_corrected: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    rows_duplicate: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    rows_repeated_in_file: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    error: str | None = Field(default=None, sa_type=Text)
    quality: dict | None = Field(default=None, sa_type=JSONB(none_as_null=True))
    content_sha256: str | None = Field(default=None, sa_type=Text)
    rows_skipped: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    repeat_callers: dict | None = Field(default=None, sa_type=JSONB(none_as_null=True))


PROBLEM_MAPPER_ARGS = {"primary_key": ["batch_id", "row_no", "field", "reason"]}


class BatchProblem(IngestModel, table=True):
    """One problem of one row of a batch (a rejected row, or a warning on a stored one).

    The table has no primary key (the migration made none: a row may have several problems, and problems are only
    ever read and deleted by batch); ``(batch_id, row_no, field, reason)`` is the mapper's key, for reading through the ORM.
    """

    __tablename__ = "batch_problem"
    __table_args__ = (Index("ix_batch_problem_batch_id_row_no", "batch_id", "row_no"),)
    __mapper_args__ = PROBLEM_MAPPER_ARGS

    batch_id: int = Field(sa_type=BigInteger, sa_column_args=[ForeignKey("batch.id", ondelete="CASCADE")])
    row_no: int
    field: str | None = Field(default=None, sa_type=Text)
    value: str | None = Field(default=None, sa_type=Text)
    reason: str = Field(sa_type=Text)


class ColumnMapping(IngestModel, table=True):
    """A saved mapping of a source's own columns onto a canonical record format (``mapping.py``)."""

    __tablename__ = "column_mapping"
    __table_args__ = (CheckConstraint("name ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'", name="name_format"),)

    name: str = Field(primary_key=True, sa_type=Text)
    kind: str = Field(sa_type=Text)
    description: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    spec: dict = Field(sa_type=JSONB)
    owner_unit_id: str = Field(sa_type=Text)
    updated_by: str = Field(sa_type=Text)
    updated_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs=NOW)


class BatchCoverage(IngestModel, table=True):
    """What a done batch covers: its kind, days, the fields it held, whether days and units were declared."""

    __tablename__ = "batch_coverage"
    __table_args__ = (CheckConstraint("last_day >= first_day", name="days_ordered"),)

    batch_id: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_args=[ForeignKey("batch.id", ondelete="CASCADE")]
    )
    kind: str = Field(sa_type=Text)
    first_day: date = Field(sa_type=Date)
    last_day: date = Field(sa_type=Date)
    days_declared: bool = Field(sa_type=Boolean)
    units_declared: bool = Field(sa_type=Boolean)
    fields: list[str] = Field(sa_type=ARRAY(Text))


class BatchCoverageUnit(IngestModel, table=True):
    """A unit a batch covers: declared by the submitter, inferred from its rows, or an ancestor of one."""

    __tablename__ = "batch_coverage_unit"
    __table_args__ = (
        CheckConstraint("role IN ('declared', 'inferred', 'ancestor')", name="role_known"),
        # the measures API looks coverage up by the ids on a unit's path (an index-only scan)
        Index("ix_batch_coverage_unit_unit_id", "unit_id", "batch_id", postgresql_include=["role"]),
    )

    batch_id: int = Field(
        primary_key=True,
        sa_type=BigInteger,
        sa_column_args=[ForeignKey("batch_coverage.batch_id", ondelete="CASCADE")],
    )
    unit_id: str = Field(primary_key=True, sa_type=Text)
    role: str = Field(sa_type=Text)


# The daily measures' columns, one per catalog ``sum`` measure, as the migrations added them (ingest_0002, then
# ingest_0003 and ingest_0009); a new measure is a new migration and a new name here.
DAILY_MEASURES: tuple[str, ...] = (
    "calls.offered",
    "calls.answered",
    "calls.answered_within_15s",
    "calls.answered_within_20s",
    "calls.abandoned",
    "calls.answer_wait_seconds",
    "calls.abandon_wait_seconds",
    "calls.queue_seconds",
    "calls.ring_seconds",
    "calls.talk_seconds",
    "calls.handle_seconds",
    "calls.ivr_entered",
    "calls.ivr_seconds",
    "calls.ivr_resolved",
    "calls.inbound",
    "calls.outbound",
    "calls.transferred",
    "calls.resolved_first_contact",
    "calls.repeat",
    "calls.complaints",
    "orders.received",
    "orders.received_mobile",
    "orders.mobile_responded_on_time",
    "orders.handled_directly",
    "orders.direct_reopened",
    "orders.dispatched",
    "orders.dispatched_on_time",
    "orders.dispatched_precisely",
    "orders.sent_back_to_origin",
    "orders.submission_seconds",
    "orders.submitted",
    "orders.assigned",
    "orders.first_contact_on_time",
    "orders.closed",
    "orders.closed_on_time",
    "orders.closed_first_time",
    "orders.resolution_hours",
    "orders.returned_for_redo",
    "orders.reopened",
    "orders.supervised",
    "orders.supervised_resolved",
    "orders.replied",
    "orders.reply_complete",
    "surveys.rated",
    "surveys.satisfied",
    "surveys.score_sum",
    "surveys.service_rated",
    "surveys.service_satisfied",
    "surveys.outcome_rated",
    "surveys.outcome_satisfied",
    "surveys.dissatisfied",
    "surveys.dissatisfied_verified",
    "surveys.dissatisfied_followed_up",
    "surveys.reason.repeated_unhandled",
    "surveys.reason.result_unexpected",
    "surveys.reason.result_mismatch",
    "surveys.reason.too_slow",
    "surveys.reason.attitude",
    "inspections.sampled",
    "inspections.passed",
    "inspections.attitude_points",
    "inspections.professionalism_points",
    "inspections.expression_points",
    "inspections.accuracy_points",
    "inspections.order_quality_points",
    "inspections.accurate",
    "inspections.recorded_within_60s",
    "inspections.knowledge_errors",
    "callbacks.required",
    "callbacks.done",
    "chats.sessions",
    "chats.first_response_seconds",
    "chats.duration_seconds",
    "smart.tests",
    "smart.correct",
    "smart.response_seconds",
    "knowledge.updates",
    "knowledge.updates_within_24h",
    "reported.items",
    "inspections.channel_compared",
    "inspections.channel_mismatched",
    "orders.with_due",
    "orders.closed_late",
)


def measure_attribute(measure: str) -> str:
    """The attribute of ``DailyMeasure`` holding a measure's column (``calls.offered`` → ``calls__offered``)."""
    return measure.replace(".", "__")


def _daily_measure_body(namespace: dict[str, Any]) -> None:
    annotations: dict[str, Any] = {"unit_id": str, "day": date}
    namespace["__doc__"] = (
        "The daily measures of one unit on one day: one wide row, one double-precision column per catalog ``sum``"
        ' measure (named as the measure: ``"calls.offered"``; attribute ``calls__offered``), summed over the unit'
        " and its descendants. Written by set-based SQL (``aggregation.py``), read by the measures API."
    )
    namespace["__tablename__"] = "daily_measure"
    namespace["unit_id"] = Field(primary_key=True, sa_type=Text)
    namespace["day"] = Field(primary_key=True, sa_type=Date)
    for measure in DAILY_MEASURES:
        attribute = measure_attribute(measure)
        annotations[attribute] = float
        namespace[attribute] = Field(default=0.0, sa_column=Column(measure, Float, nullable=False, server_default="0"))
    namespace["__annotations__"] = annotations


# Built from the list (eighty-odd identical columns); a table class like the others.
DailyMeasure = types.new_class("DailyMeasure", (IngestModel,), {"table": True}, _daily_measure_body)
DailyMeasure.__module__ = __name__

# The raw record tables: one per canonical format, partitioned by month on ``day``.
PARTITIONED = {"postgresql_partition_by": "RANGE (day)"}
# No primary key in the database (a partitioned table's key would have to include ``day``, and the natural key is
# kept unique per month partition by its own index); the mapper's key is the natural key within its month.
RAW_MAPPER_ARGS = {"primary_key": ["day", "source", "record_id"]}


class RawCall(IngestModel, table=True):
    """A stored call record (canonical format ``call``, ``records.py``)."""

    __tablename__ = "raw_call"
    __table_args__ = (
        Index("ix_raw_call_day_batch", "day", "batch_id", postgresql_using="brin"),
        PARTITIONED,
    )
    __mapper_args__ = RAW_MAPPER_ARGS

    source: str = Field(sa_type=Text)
    record_id: str = Field(sa_type=Text)
    unit_id: str = Field(sa_type=Text)
    started_at: datetime = Field(sa_type=TIMESTAMPTZ)
    direction: str = Field(sa_type=Text)
    outcome: str = Field(sa_type=Text)
    ivr_seconds: float | None = Field(default=None, sa_type=Float)
    queue_seconds: float | None = Field(default=None, sa_type=Float)
    ring_seconds: float | None = Field(default=None, sa_type=Float)
    talk_seconds: float | None = Field(default=None, sa_type=Float)
    handle_seconds: float | None = Field(default=None, sa_type=Float)
    answered_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    ended_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    transferred: bool | None = Field(default=None, sa_type=Boolean)
    resolved_first_contact: bool | None = Field(default=None, sa_type=Boolean)
    repeat_caller: bool | None = Field(default=None, sa_type=Boolean)
    complaint: bool | None = Field(default=None, sa_type=Boolean)
    caller_hash: str | None = Field(default=None, sa_type=Text)
    work_order_id: str | None = Field(default=None, sa_type=Text)
    day: date = Field(sa_type=Date)
    batch_id: int = Field(sa_type=BigInteger)
    row_no: int = Field(sa_type=Integer)
    repeat_lookback: bool | None = Field(default=None, sa_type=Boolean)


class RawWorkOrder(IngestModel, table=True):
    """A stored work order record (canonical format ``work_order``, ``records.py``)."""

    __tablename__ = "raw_work_order"
    __table_args__ = (
        Index("ix_raw_work_order_day_batch", "day", "batch_id", postgresql_using="brin"),
        Index("ix_raw_work_order_day_handling", "day", "handling_unit_id"),
        PARTITIONED,
    )
    __mapper_args__ = RAW_MAPPER_ARGS

    source: str = Field(sa_type=Text)
    record_id: str = Field(sa_type=Text)
    unit_id: str = Field(sa_type=Text)
    received_at: datetime = Field(sa_type=TIMESTAMPTZ)
    channel: str = Field(sa_type=Text)
    category: str | None = Field(default=None, sa_type=Text)
    handled_directly: bool | None = Field(default=None, sa_type=Boolean)
    handling_unit_id: str | None = Field(default=None, sa_type=Text)
    dispatched_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    reassignments: int | None = Field(default=None, sa_type=Integer)
    sent_back_to_origin: bool | None = Field(default=None, sa_type=Boolean)
    call_ended_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    submitted_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    first_response_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    first_contact_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    due_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    replied_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    reply_complete: bool | None = Field(default=None, sa_type=Boolean)
    closed_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    on_time: bool | None = Field(default=None, sa_type=Boolean)
    returned_for_redo: int | None = Field(default=None, sa_type=Integer)
    supervised: bool | None = Field(default=None, sa_type=Boolean)
    resolved: bool | None = Field(default=None, sa_type=Boolean)
    reopened: bool | None = Field(default=None, sa_type=Boolean)
    status: str | None = Field(default=None, sa_type=Text)
    day: date = Field(sa_type=Date)
    batch_id: int = Field(sa_type=BigInteger)
    row_no: int = Field(sa_type=Integer)


class RawRating(IngestModel, table=True):
    """A stored rating record (canonical format ``rating``, ``records.py``)."""

    __tablename__ = "raw_rating"
    __table_args__ = (
        Index("ix_raw_rating_day_batch", "day", "batch_id", postgresql_using="brin"),
        PARTITIONED,
    )
    __mapper_args__ = RAW_MAPPER_ARGS

    source: str = Field(sa_type=Text)
    record_id: str = Field(sa_type=Text)
    unit_id: str = Field(sa_type=Text)
    rated_at: datetime = Field(sa_type=TIMESTAMPTZ)
    target: str = Field(sa_type=Text)
    rating: int = Field(sa_type=Integer)
    reasons: list[str] | None = Field(default=None, sa_type=ARRAY(Text))
    verified: bool | None = Field(default=None, sa_type=Boolean)
    followed_up: bool | None = Field(default=None, sa_type=Boolean)
    work_order_id: str | None = Field(default=None, sa_type=Text)
    call_id: str | None = Field(default=None, sa_type=Text)
    day: date = Field(sa_type=Date)
    batch_id: int = Field(sa_type=BigInteger)
    row_no: int = Field(sa_type=Integer)


class RawInspection(IngestModel, table=True):
    """A stored inspection record (canonical format ``inspection``, ``records.py``)."""

    __tablename__ = "raw_inspection"
    __table_args__ = (
        Index("ix_raw_inspection_day_batch", "day", "batch_id", postgresql_using="brin"),
        PARTITIONED,
    )
    __mapper_args__ = RAW_MAPPER_ARGS

    source: str = Field(sa_type=Text)
    record_id: str = Field(sa_type=Text)
    unit_id: str = Field(sa_type=Text)
    inspected_at: datetime = Field(sa_type=TIMESTAMPTZ)
    subject: str = Field(sa_type=Text)
    subject_id: str | None = Field(default=None, sa_type=Text)
    attitude: float | None = Field(default=None, sa_type=Float)
    professionalism: float | None = Field(default=None, sa_type=Float)
    expression: float | None = Field(default=None, sa_type=Float)
    accuracy: float | None = Field(default=None, sa_type=Float)
    order_quality: float | None = Field(default=None, sa_type=Float)
    passed: bool = Field(sa_type=Boolean)
    accurate: bool | None = Field(default=None, sa_type=Boolean)
    recorded_within_60s: bool | None = Field(default=None, sa_type=Boolean)
    knowledge_error: bool | None = Field(default=None, sa_type=Boolean)
    day: date = Field(sa_type=Date)
    batch_id: int = Field(sa_type=BigInteger)
    row_no: int = Field(sa_type=Integer)
    channel_compared: bool | None = Field(default=None, sa_type=Boolean)
    channel_mismatch: bool | None = Field(default=None, sa_type=Boolean)


class RawCallback(IngestModel, table=True):
    """A stored callback record (canonical format ``callback``, ``records.py``)."""

    __tablename__ = "raw_callback"
    __table_args__ = (
        Index("ix_raw_callback_day_batch", "day", "batch_id", postgresql_using="brin"),
        PARTITIONED,
    )
    __mapper_args__ = RAW_MAPPER_ARGS

    source: str = Field(sa_type=Text)
    record_id: str = Field(sa_type=Text)
    unit_id: str = Field(sa_type=Text)
    due_at: datetime = Field(sa_type=TIMESTAMPTZ)
    done_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    work_order_id: str | None = Field(default=None, sa_type=Text)
    day: date = Field(sa_type=Date)
    batch_id: int = Field(sa_type=BigInteger)
    row_no: int = Field(sa_type=Integer)


class RawChatSession(IngestModel, table=True):
    """A stored chat session record (canonical format ``chat_session``, ``records.py``)."""

    __tablename__ = "raw_chat_session"
    __table_args__ = (
        Index("ix_raw_chat_session_day_batch", "day", "batch_id", postgresql_using="brin"),
        PARTITIONED,
    )
    __mapper_args__ = RAW_MAPPER_ARGS

    source: str = Field(sa_type=Text)
    record_id: str = Field(sa_type=Text)
    unit_id: str = Field(sa_type=Text)
    started_at: datetime = Field(sa_type=TIMESTAMPTZ)
    first_response_seconds: float | None = Field(default=None, sa_type=Float)
    duration_seconds: float | None = Field(default=None, sa_type=Float)
    agent_served: bool | None = Field(default=None, sa_type=Boolean)
    day: date = Field(sa_type=Date)
    batch_id: int = Field(sa_type=BigInteger)
    row_no: int = Field(sa_type=Integer)


class RawSmartTest(IngestModel, table=True):
    """A stored smart test record (canonical format ``smart_test``, ``records.py``)."""

    __tablename__ = "raw_smart_test"
    __table_args__ = (
        Index("ix_raw_smart_test_day_batch", "day", "batch_id", postgresql_using="brin"),
        PARTITIONED,
    )
    __mapper_args__ = RAW_MAPPER_ARGS

    source: str = Field(sa_type=Text)
    record_id: str = Field(sa_type=Text)
    unit_id: str = Field(sa_type=Text)
    tested_at: datetime = Field(sa_type=TIMESTAMPTZ)
    question: str | None = Field(default=None, sa_type=Text)
    correct: bool = Field(sa_type=Boolean)
    response_seconds: float | None = Field(default=None, sa_type=Float)
    day: date = Field(sa_type=Date)
    batch_id: int = Field(sa_type=BigInteger)
    row_no: int = Field(sa_type=Integer)


class RawKnowledgeUpdate(IngestModel, table=True):
    """A stored knowledge update record (canonical format ``knowledge_update``, ``records.py``)."""

    __tablename__ = "raw_knowledge_update"
    __table_args__ = (
        Index("ix_raw_knowledge_update_day_batch", "day", "batch_id", postgresql_using="brin"),
        PARTITIONED,
    )
    __mapper_args__ = RAW_MAPPER_ARGS

    source: str = Field(sa_type=Text)
    record_id: str = Field(sa_type=Text)
    unit_id: str = Field(sa_type=Text)
    published_at: datetime = Field(sa_type=TIMESTAMPTZ)
    entered_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    title: str | None = Field(default=None, sa_type=Text)
    day: date = Field(sa_type=Date)
    batch_id: int = Field(sa_type=BigInteger)
    row_no: int = Field(sa_type=Integer)


class RawReportedItem(IngestModel, table=True):
    """A stored reported item record (canonical format ``reported_item``, ``records.py``)."""

    __tablename__ = "raw_reported_item"
    __table_args__ = (
        Index("ix_raw_reported_item_day_batch", "day", "batch_id", postgresql_using="brin"),
        PARTITIONED,
    )
    __mapper_args__ = RAW_MAPPER_ARGS

    source: str = Field(sa_type=Text)
    record_id: str = Field(sa_type=Text)
    unit_id: str = Field(sa_type=Text)
    submitted_at: datetime = Field(sa_type=TIMESTAMPTZ)
    category: str = Field(sa_type=Text)
    title: str = Field(sa_type=Text)
    summary: str | None = Field(default=None, sa_type=Text)
    document_url: str | None = Field(default=None, sa_type=Text)
    day: date = Field(sa_type=Date)
    batch_id: int = Field(sa_type=BigInteger)
    row_no: int = Field(sa_type=Integer)


RAW_MODELS: dict[str, type[IngestModel]] = {
    "call": RawCall,
    "work_order": RawWorkOrder,
    "rating": RawRating,
    "inspection": RawInspection,
    "callback": RawCallback,
    "chat_session": RawChatSession,
    "smart_test": RawSmartTest,
    "knowledge_update": RawKnowledgeUpdate,
    "reported_item": RawReportedItem,
}
