"""Tables of the scoring service, all in the Postgres schema ``scoring``: SQLModel table classes on
``ScoringModel``, whose own metadata (``service_registry``) holds this service's tables and no other's.

The classes declare what the migrations built (``tests/platform/test_models_match_migrations.py`` compares
them); a change of a table is a new migration first, then the class. Bulk writes stay SQL (``store.py``:
``INSERT … SELECT FROM unnest`` and ``COPY``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    Identity,
    Index,
    LargeBinary,
    Sequence,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.sql.elements import conv
from sqlmodel import Field

from hotline.kit.db import ServiceModel, service_registry
from hotline.kit.directory import UnitRefColumns, UnitRefStateColumns, unit_ref_state_table_args, unit_ref_table_args
from services.scoring import SCHEMA

NOW = {"server_default": func.now()}
TIMESTAMPTZ = DateTime(timezone=True)


class ScoringModel(ServiceModel, registry=service_registry(SCHEMA)):
    """Base of the scoring service's table classes (its own metadata, schema ``scoring``)."""


# The metadata Alembic compares against (migrations/env.py).
metadata = ScoringModel.metadata
# Every publication, revision or finalisation of a result takes the next number: the cursor of the
# provincial platforms' incremental pull.
RESULT_CHANGE_SEQ = Sequence("result_change_seq", schema=SCHEMA, metadata=metadata)
RUN_STATUSES = ("queued", "fetching", "computing", "done", "failed")


class EvaluationRun(ScoringModel, table=True):
    """One evaluation of a published scheme version over one period for one cohort (评价批次).

    Starting the same run twice (same scheme version, cohort and period) returns this row. Once
    done it is immutable; re-computations are new revisions (``run_revision``).
    """

    __tablename__ = "evaluation_run"
    __table_args__ = (
        # The migration's name for it is longer than PostgreSQL's 63 bytes, which cut it to this (the naming
        # convention would shorten it differently, with a hash): the name the database has.
        UniqueConstraint(
            "scheme_id",
            "scheme_version",
            "cohort_hash",
            "period_from",
            "period_to",
            name=conv("uq_evaluation_run_scheme_id_scheme_version_cohort_hash_period_f"),
        ),
        CheckConstraint("status IN ('queued','fetching','computing','done','failed')", name="status_known"),
        CheckConstraint("period_to >= period_from", name="period_ordered"),
        Index("ix_evaluation_run_organizer_id", "organizer_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=UUID(as_uuid=True))
    scheme_id: str = Field(sa_type=Text)
    scheme_version: int
    scheme_document: dict = Field(sa_type=JSONB)
    organizer_id: str = Field(sa_type=Text)
    cohort_units: list = Field(sa_type=JSONB)
    cohort_hash: str = Field(sa_type=Text)
    period_kind: str = Field(sa_type=Text)
    period_from: date = Field(sa_type=Date)
    period_to: date = Field(sa_type=Date)
    status: str = Field(default="queued", sa_type=Text, sa_column_kwargs={"server_default": "queued"})
    progress: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    error: str | None = Field(default=None, sa_type=Text)
    current_revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    requested_by: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs=NOW)
    finished_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    published_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    published_by: str | None = Field(default=None, sa_type=Text)
    appeal_window_closes_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    final_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)


class RunJob(ScoringModel, table=True):
    """The job queue: a worker claims the oldest queued job with ``FOR UPDATE SKIP LOCKED``."""

    __tablename__ = "run_job"
    __table_args__ = (
        CheckConstraint("status IN ('queued','running','done','failed')", name="status_known"),
        # The worker's poll reads only queued jobs: a partial index keeps it cheap however long the history.
        Index("ix_run_job_queued", "id", postgresql_where=text("status = 'queued'")),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger, sa_column_args=[Identity()])
    run_id: uuid.UUID = Field(foreign_key="evaluation_run.id", sa_type=UUID(as_uuid=True))
    kind: str = Field(sa_type=Text)  # compute (first revision) | recompute (fresh data)
    reason: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    requested_by: str = Field(sa_type=Text)
    status: str = Field(default="queued", sa_type=Text, sa_column_kwargs={"server_default": "queued"})
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs=NOW)
    started_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    finished_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)


class RunRevision(ScoringModel, table=True):
    """One computation of a run: every input it used and the digest of its canonical outcome."""

    __tablename__ = "run_revision"
    __table_args__ = (CheckConstraint("outcome_format IN (1, 2, 3)", name="outcome_format"),)

    run_id: uuid.UUID = Field(primary_key=True, foreign_key="evaluation_run.id", sa_type=UUID(as_uuid=True))
    revision: int = Field(primary_key=True)
    reason: str = Field(sa_type=Text)
    appeal_id: str | None = Field(default=None, sa_type=Text)
    created_by: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs=NOW)
    inputs: dict = Field(sa_type=JSONB)
    cohort_summary: dict = Field(sa_type=JSONB)
    outcome_sha256: str = Field(sa_type=Text)
    # 1: units stored as ``result_revision.detail``, digest over the canonical JSON; 2: ``figures``; 3: figures
    # of the exact arithmetic (``totals``) with coverage — each format reproduced with its own arithmetic.
    outcome_format: int = Field(sa_type=SmallInteger, sa_column_kwargs={"server_default": text("1")})
    # An appeal revision's effects on the cohort (``consequences.effects``): references moved, results changed.
    consequences: dict | None = Field(default=None, sa_type=JSONB(none_as_null=True))


class UnitResult(ScoringModel, table=True):
    """A unit's result in a run (stable id across revisions; the latest revision's headline figures)."""

    __tablename__ = "unit_result"
    __table_args__ = (
        UniqueConstraint("run_id", "unit_id"),
        Index("ix_unit_result_unit_id", "unit_id"),
        Index("ix_unit_result_change_seq", "change_seq"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=UUID(as_uuid=True))
    run_id: uuid.UUID = Field(foreign_key="evaluation_run.id", sa_type=UUID(as_uuid=True))
    unit_id: str = Field(sa_type=Text)
    revision: int
    total: float | None = Field(default=None, sa_type=Float)
    grade: str | None = Field(default=None, sa_type=Text)
    rank: int | None = None
    change_seq: int | None = Field(default=None, sa_type=BigInteger)
    changed_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs=NOW)


class ResultRevision(ScoringModel, table=True):
    """A unit's full result (indicators, subtotals, explanation) in one revision of the run: the compact
    JSON ``detail`` (outcome format 1), or ``head`` + ``extras`` + ``figures`` (format 2, ``figures.py``).
    Written with ``COPY`` (``store.py``)."""

    __tablename__ = "result_revision"
    __table_args__ = (
        CheckConstraint("(detail IS NOT NULL) <> (head IS NOT NULL AND figures IS NOT NULL)", name="one_form"),
    )

    result_id: uuid.UUID = Field(primary_key=True, foreign_key="unit_result.id", sa_type=UUID(as_uuid=True))
    revision: int = Field(primary_key=True)
    # json, not jsonb: written once, read whole, never queried inside (see the migration)
    detail: dict | None = Field(default=None, sa_type=JSON(none_as_null=True))
    head: dict | None = Field(default=None, sa_type=JSON(none_as_null=True))
    extras: dict | None = Field(default=None, sa_type=JSON(none_as_null=True))
    figures: bytes | None = Field(default=None, sa_type=LargeBinary)


class ExpertScore(ScoringModel, table=True):
    """An expert's score of a unit's expert-scored indicator (专家评分), with the written justification."""

    __tablename__ = "expert_score"
    __table_args__ = (
        UniqueConstraint("run_id", "unit_id", "indicator", "expert"),
        CheckConstraint("length(btrim(justification)) > 0", name="justified"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger, sa_column_args=[Identity()])
    run_id: uuid.UUID = Field(foreign_key="evaluation_run.id", sa_type=UUID(as_uuid=True))
    unit_id: str = Field(sa_type=Text)
    indicator: str = Field(sa_type=Text)
    expert: str = Field(sa_type=Text)
    score: float = Field(sa_type=Float)
    justification: str = Field(sa_type=Text)
    entered_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs=NOW)


class Alert(ScoringModel, table=True):
    """An alert raised by a rule over daily measures (seed 000), addressed to the unit's parent."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("rule", "unit_id", "first_day"),
        Index("ix_alert_notify_unit_id", "notify_unit_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=UUID(as_uuid=True))
    rule: str = Field(sa_type=Text)
    unit_id: str = Field(sa_type=Text)
    notify_unit_id: str = Field(sa_type=Text)
    first_day: date = Field(sa_type=Date)
    last_day: date = Field(sa_type=Date)
    detail: dict = Field(sa_type=JSONB)
    raised_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs=NOW)
    acknowledged_at: datetime | None = Field(default=None, sa_type=TIMESTAMPTZ)
    acknowledged_by: str | None = Field(default=None, sa_type=Text)
    acknowledgement_note: str | None = Field(default=None, sa_type=Text)


class UnitRefRow(UnitRefColumns, ScoringModel, table=True):
    """The unit directory's read model (``hotline.kit.directory``), synced from the ingest service."""

    __tablename__ = "unit_ref"
    __table_args__ = unit_ref_table_args()


class UnitRefState(UnitRefStateColumns, ScoringModel, table=True):
    """The version of the unit directory the read model holds."""

    __tablename__ = "unit_ref_state"
    __table_args__ = unit_ref_state_table_args()


# Queries join the read model as a table (``UnitRef.c.path``).
UnitRef = UnitRefRow.__table__
