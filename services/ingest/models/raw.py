"""The raw record tables: partitioned parents, one per canonical format (``records.py``).

Their monthly partitions — and each partition's unique key index on ``(record_id, source)`` — are created at run
time (``ingest.ensure_partition``, the new-month path); the loader writes them with ``COPY`` and set-based SQL,
never row by row through these classes.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ARRAY, BigInteger, Boolean, Date, Float, Index, Integer, Text, text
from sqlmodel import Field

from services.ingest.models.base import TIMESTAMPTZ, IngestModel

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
        Index("ix_raw_call_day_unit", "day", "unit_id"),
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
        Index("ix_raw_work_order_day_unit", "day", "unit_id"),
        Index("ix_raw_work_order_day_handling", "day", text("coalesce(handling_unit_id, unit_id)")),
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
        Index("ix_raw_rating_day_unit", "day", "unit_id"),
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
        Index("ix_raw_inspection_day_unit", "day", "unit_id"),
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
        Index("ix_raw_callback_day_unit", "day", "unit_id"),
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
        Index("ix_raw_chat_session_day_unit", "day", "unit_id"),
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
        Index("ix_raw_smart_test_day_unit", "day", "unit_id"),
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
        Index("ix_raw_knowledge_update_day_unit", "day", "unit_id"),
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
        Index("ix_raw_reported_item_day_unit", "day", "unit_id"),
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
