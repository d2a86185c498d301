"""Tables of the indicators service, all in the Postgres schema ``indicators``: SQLModel table classes on
``IndicatorsModel``, whose own metadata (``service_registry``) holds this service's tables and no other's.

Versioned rows (``indicator_version``, ``scheme_template``, published ``scheme_version``) are
immutable; triggers created by the migrations refuse any update or delete of them, so no code path —
a resolver, an import, a hand-written SQL statement — can change what a run has pinned.

The classes declare what the migrations built (``tests/platform/test_models_match_migrations.py`` compares
them); a change of a table is a new migration first, then the class.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, CheckConstraint, DateTime, ForeignKeyConstraint, Index, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field

from hotline.kit.db import ServiceModel, service_registry
from hotline.kit.directory import UnitRefColumns, UnitRefStateColumns, unit_ref_state_table_args, unit_ref_table_args
from services.indicators import SCHEMA

NOW = {"server_default": func.now()}


class IndicatorsModel(ServiceModel, registry=service_registry(SCHEMA)):
    """Base of the indicators service's table classes (its own metadata, schema ``indicators``)."""


# The metadata Alembic compares against (migrations/env.py).
metadata = IndicatorsModel.metadata


class Standard(IndicatorsModel, table=True):
    """A source standard the catalog draws indicators from (the 12345 spec, seed 000/001/003 sets)."""

    __tablename__ = "standard"

    code: str = Field(primary_key=True, sa_type=Text)
    name_zh: str = Field(sa_type=Text)
    name_en: str = Field(sa_type=Text)
    source: str = Field(sa_type=Text)


class Dimension(IndicatorsModel, table=True):
    """An evaluation dimension (评价维度): the 12345 spec's seven, or another standard's own grouping."""

    __tablename__ = "dimension"
    __table_args__ = (UniqueConstraint("standard", "position"),)

    code: str = Field(primary_key=True, sa_type=Text)
    position: int
    clause: str = Field(sa_type=Text)
    name_zh: str = Field(sa_type=Text)
    name_en: str = Field(sa_type=Text)
    description: str = Field(sa_type=Text)
    standard: str = Field(foreign_key="standard.code", sa_type=Text)


class Indicator(IndicatorsModel, table=True):
    """An indicator's identity; its definitions are the immutable rows of ``indicator_version``."""

    __tablename__ = "indicator"

    code: str = Field(primary_key=True, sa_type=Text)
    standard: str = Field(foreign_key="standard.code", sa_type=Text)
    latest_version: int


class IndicatorVersion(IndicatorsModel, table=True):
    """One immutable version of an indicator's definition."""

    __tablename__ = "indicator_version"
    __table_args__ = (
        CheckConstraint("method IN ('system','sampling','reported_expert')", name="method_known"),
        CheckConstraint("direction IN ('higher_better','lower_better','target_band')", name="direction_known"),
        CheckConstraint("(method = 'reported_expert') = (formula IS NULL)", name="formula_iff_measured"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    code: str = Field(primary_key=True, foreign_key="indicator.code", sa_type=Text)
    version: int = Field(primary_key=True)
    name_zh: str = Field(sa_type=Text)
    name_en: str = Field(sa_type=Text)
    dimension: str = Field(foreign_key="dimension.code", sa_type=Text)
    clause: str = Field(sa_type=Text)
    method: str = Field(sa_type=Text)
    unit: str = Field(sa_type=Text)
    direction: str = Field(sa_type=Text)
    band: dict | None = Field(default=None, sa_type=JSONB(none_as_null=True))
    levels: list[str] = Field(sa_type=ARRAY(Text))
    formula: str | None = Field(default=None, sa_type=Text)
    description: str = Field(sa_type=Text)
    definition_hash: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), sa_column_kwargs=NOW)


class SchemeTemplate(IndicatorsModel, table=True):
    """One immutable version of a built-in scheme template (the skeleton a scheme starts from)."""

    __tablename__ = "scheme_template"

    code: str = Field(primary_key=True, sa_type=Text)
    version: int = Field(primary_key=True)
    body: dict = Field(sa_type=JSONB)
    body_hash: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), sa_column_kwargs=NOW)


class Scheme(IndicatorsModel, table=True):
    """An evaluation scheme (评价方案): its identity and organizer; the content is in its versions."""

    __tablename__ = "scheme"
    __table_args__ = (UniqueConstraint("organizer_id", "code"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=UUID(as_uuid=True))
    code: str = Field(sa_type=Text)
    organizer_id: str = Field(sa_type=Text)
    created_by: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), sa_column_kwargs=NOW)


class SchemeVersion(IndicatorsModel, table=True):
    """A version of a scheme: a draft (editable), published (immutable, 公示 to its cohort) or archived."""

    __tablename__ = "scheme_version"
    __table_args__ = (
        ForeignKeyConstraint(["scheme_id"], ["scheme.id"]),
        CheckConstraint("status IN ('draft','published','archived')", name="status_known"),
        CheckConstraint("(status = 'draft') = (published_at IS NULL)", name="published_iff_not_draft"),
        # At most one draft per scheme: an edit of a published scheme opens exactly one new version.
        Index("uq_scheme_version_one_draft", "scheme_id", unique=True, postgresql_where=text("status = 'draft'")),
    )

    scheme_id: uuid.UUID = Field(primary_key=True, sa_type=UUID(as_uuid=True))
    version: int = Field(primary_key=True)
    status: str = Field(sa_type=Text)
    body: dict = Field(sa_type=JSONB)
    created_by: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), sa_column_kwargs=NOW)
    updated_at: datetime = Field(sa_type=DateTime(timezone=True), sa_column_kwargs=NOW)
    published_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    published_by: str | None = Field(default=None, sa_type=Text)
    archived_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class UnitRefRow(UnitRefColumns, IndicatorsModel, table=True):
    """The unit directory's read model (``hotline.kit.directory``), synced from the ingest service."""

    __tablename__ = "unit_ref"
    __table_args__ = unit_ref_table_args()


class UnitRefState(UnitRefStateColumns, IndicatorsModel, table=True):
    """The version of the unit directory the read model holds."""

    __tablename__ = "unit_ref_state"
    __table_args__ = unit_ref_state_table_args()


# Queries join the read model as a table (``UnitRef.c.path``).
UnitRef = UnitRefRow.__table__
