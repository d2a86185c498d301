"""Tables of the scoring service, all in the Postgres schema ``scoring``."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Sequence,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from hotline.kit.db import declarative_base_for
from hotline.kit.directory import unit_ref_table
from services.scoring import SCHEMA

Base = declarative_base_for(SCHEMA)
UnitRef = unit_ref_table(Base.metadata)
# Every publication, revision or finalisation of a result takes the next number: the cursor of the
# provincial platforms' incremental pull.
RESULT_CHANGE_SEQ = Sequence("result_change_seq", schema=SCHEMA, metadata=Base.metadata)
RUN_STATUSES = ("queued", "fetching", "computing", "done", "failed")


class EvaluationRun(Base):
    """One evaluation of a published scheme version over one period for one cohort (评价批次).

    Starting the same run twice (same scheme version, cohort and period) returns this row. Once
    done it is immutable; re-computations are new revisions (``run_revision``).
    """

    __tablename__ = "evaluation_run"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    scheme_id: Mapped[str] = mapped_column(Text)
    scheme_version: Mapped[int] = mapped_column(Integer)
    scheme_document: Mapped[dict] = mapped_column(JSONB)
    organizer_id: Mapped[str] = mapped_column(Text)
    cohort_units: Mapped[list] = mapped_column(JSONB)
    cohort_hash: Mapped[str] = mapped_column(Text)
    period_kind: Mapped[str] = mapped_column(Text)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(Text, default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    current_revision: Mapped[int] = mapped_column(Integer, default=0)
    requested_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    published_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    appeal_window_closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    final_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        UniqueConstraint("scheme_id", "scheme_version", "cohort_hash", "period_from", "period_to"),
        CheckConstraint("status IN ('queued','fetching','computing','done','failed')", name="status_known"),
        CheckConstraint("period_to >= period_from", name="period_ordered"),
        Index("ix_evaluation_run_organizer_id", "organizer_id"),
    )


class RunJob(Base):
    """The job queue: a worker claims the oldest queued job with ``FOR UPDATE SKIP LOCKED``."""

    __tablename__ = "run_job"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_run.id"))
    kind: Mapped[str] = mapped_column(Text)  # compute (first revision) | recompute (fresh data)
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="queued")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        CheckConstraint("status IN ('queued','running','done','failed')", name="status_known"),
        Index("ix_run_job_queued", "id", postgresql_where="status = 'queued'"),
    )


class RunRevision(Base):
    """One computation of a run: every input it used and the digest of its canonical outcome."""

    __tablename__ = "run_revision"

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_run.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    appeal_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    inputs: Mapped[dict] = mapped_column(JSONB)
    cohort_summary: Mapped[dict] = mapped_column(JSONB)
    outcome_sha256: Mapped[str] = mapped_column(Text)
    # 1: units stored as ``result_revision.detail``, digest over the canonical JSON; 2: ``figures``; 3: figures
    # of the exact arithmetic (``totals``) with coverage — each format reproduced with its own arithmetic.
    outcome_format: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    # An appeal revision's effects on the cohort (``consequences.effects``): references moved, results changed.
    consequences: Mapped[dict | None] = mapped_column(JSONB, nullable=True)


class UnitResult(Base):
    """A unit's result in a run (stable id across revisions; the latest revision's headline figures)."""

    __tablename__ = "unit_result"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_run.id"))
    unit_id: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    total: Mapped[float | None] = mapped_column(Float, nullable=True)
    grade: Mapped[str | None] = mapped_column(Text, nullable=True)
    rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    change_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("run_id", "unit_id"),
        Index("ix_unit_result_unit_id", "unit_id"),
        Index("ix_unit_result_change_seq", "change_seq"),
    )


class ResultRevision(Base):
    """A unit's full result (indicators, subtotals, explanation) in one revision of the run: the compact
    JSON ``detail`` (outcome format 1), or ``head`` + ``extras`` + ``figures`` (format 2, ``figures.py``)."""

    __tablename__ = "result_revision"

    result_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("unit_result.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    detail: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # json, not jsonb: see the migration
    head: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    extras: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    figures: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class ExpertScore(Base):
    """An expert's score of a unit's expert-scored indicator (专家评分), with the written justification."""

    __tablename__ = "expert_score"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_run.id"))
    unit_id: Mapped[str] = mapped_column(Text)
    indicator: Mapped[str] = mapped_column(Text)
    expert: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    justification: Mapped[str] = mapped_column(Text)
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("run_id", "unit_id", "indicator", "expert"),
        CheckConstraint("length(btrim(justification)) > 0", name="justified"),
    )


class Alert(Base):
    """An alert raised by a rule over daily measures (seed 000), addressed to the unit's parent."""

    __tablename__ = "alert"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    rule: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[str] = mapped_column(Text)
    notify_unit_id: Mapped[str] = mapped_column(Text)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    detail: Mapped[dict] = mapped_column(JSONB)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    acknowledgement_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        UniqueConstraint("rule", "unit_id", "first_day"),
        Index("ix_alert_notify_unit_id", "notify_unit_id"),
    )
