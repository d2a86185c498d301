"""Tables of the indicators service, all in the Postgres schema ``indicators``.

Versioned rows (``indicator_version``, ``scheme_template``, published ``scheme_version``) are
immutable; triggers created by the migrations refuse any update or delete of them, so no code path —
a resolver, an import, a hand-written SQL statement — can change what a run has pinned.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, DateTime, ForeignKey, ForeignKeyConstraint, Integer, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from hotline.kit.db import declarative_base_for
from hotline.kit.directory import unit_ref_table
from services.indicators import SCHEMA

Base = declarative_base_for(SCHEMA)


class Standard(Base):
    """A source standard the catalog draws indicators from (the 12345 spec, seed 000/001/003 sets)."""

    __tablename__ = "standard"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)


class Dimension(Base):
    """An evaluation dimension (评价维度): the 12345 spec's seven, or another standard's own grouping."""

    __tablename__ = "dimension"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    standard: Mapped[str] = mapped_column(ForeignKey("standard.code"))
    position: Mapped[int] = mapped_column(Integer)
    clause: Mapped[str] = mapped_column(Text)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("standard", "position"),)


class Indicator(Base):
    """An indicator's identity; its definitions are the immutable rows of ``indicator_version``."""

    __tablename__ = "indicator"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    standard: Mapped[str] = mapped_column(ForeignKey("standard.code"))
    latest_version: Mapped[int] = mapped_column(Integer)


class IndicatorVersion(Base):
    """One immutable version of an indicator's definition."""

    __tablename__ = "indicator_version"

    code: Mapped[str] = mapped_column(ForeignKey("indicator.code"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    dimension: Mapped[str] = mapped_column(ForeignKey("dimension.code"))
    clause: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(Text)
    band: Mapped[dict | None] = mapped_column(JSONB, nullable=True)
    levels: Mapped[list[str]] = mapped_column(ARRAY(Text))
    formula: Mapped[str | None] = mapped_column(Text, nullable=True)
    description: Mapped[str] = mapped_column(Text)
    definition_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SchemeTemplate(Base):
    """One immutable version of a built-in scheme template (the skeleton a scheme starts from)."""

    __tablename__ = "scheme_template"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[dict] = mapped_column(JSONB)
    body_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Scheme(Base):
    """An evaluation scheme (评价方案): its identity and organizer; the content is in its versions."""

    __tablename__ = "scheme"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(Text)
    organizer_id: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("organizer_id", "code"),)


class SchemeVersion(Base):
    """A version of a scheme: a draft (editable), published (immutable, 公示 to its cohort) or archived."""

    __tablename__ = "scheme_version"

    scheme_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(Text)
    body: Mapped[dict] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    published_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (ForeignKeyConstraint(["scheme_id"], ["scheme.id"]),)


# The unit directory's read model (hotline.kit.directory), synced from the ingest service.
UnitRef = unit_ref_table(Base.metadata)
