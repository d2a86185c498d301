"""Batches of records, their problems and coverage, and saved column mappings."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ARRAY, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Identity, Index, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from services.ingest.models.base import NOW, TIMESTAMPTZ, IngestModel


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
