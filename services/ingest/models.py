"""Tables of the ingest service, all in the Postgres schema ``ingest``."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hotline.kit.db import declarative_base_for
from services.ingest import SCHEMA

Base = declarative_base_for(SCHEMA)


class UnitKind(enum.StrEnum):
    """Kinds of unit in the tree (DOMAIN §1)."""

    PROVINCE_BODY = "province_body"
    CITY_BODY = "city_body"
    DISTRICT = "district"
    UNDERTAKING_UNIT = "undertaking_unit"
    AGENT_TEAM = "agent_team"
    AGENT = "agent"


class Unit(Base):
    """A node of the unit tree: a hotline body, district, undertaking unit, agent team or agent.

    ``id`` is a stable code and never changes; ``path`` is the materialized list of ancestor ids
    (``GD/GD-GZ/GZ-HOUSING``) and is rewritten for the whole subtree when a unit moves.
    """

    __tablename__ = "unit"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("unit.id"), nullable=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    depth: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(Text)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text, default="")
    population: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint(
            "kind IN ('province_body','city_body','district','undertaking_unit','agent_team','agent')",
            name="kind_known",
        ),
        CheckConstraint("population IS NULL OR population >= 0", name="population_non_negative"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        CheckConstraint("id ~ '^[A-Z0-9][A-Z0-9-]{0,63}$'", name="id_format"),
        Index("ix_unit_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
        Index("ix_unit_parent_id", "parent_id"),
    )


class UnitChange(Base):
    """Append-only history of the unit tree: every creation, update and move, with who and when."""

    __tablename__ = "unit_change"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(Text)
    change: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    changed_by: Mapped[str] = mapped_column(Text)
    before: Mapped[dict | None] = mapped_column(JSONB, nullable=True)
    after: Mapped[dict] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint("change IN ('created','updated','moved')", name="change_known"),
        Index("ix_unit_change_unit_id_changed_at", "unit_id", "changed_at"),
    )
