"""The unit tree and its change history."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, Identity, Index, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import conv
from sqlmodel import Field

from services.ingest.models.base import NOW, TIMESTAMPTZ, IngestModel


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
    # ingest_0001 gave its checks full names and the naming convention prefixed them again: the names the
    # database has (nothing refers to them; a rename would be a migration for looks only).
    __table_args__ = (
        CheckConstraint(
            "kind IN ('province_body','city_body','district','undertaking_unit','agent_team','agent')",
            name=conv("ck_unit_ck_unit_kind_known"),
        ),
        CheckConstraint("population IS NULL OR population >= 0", name=conv("ck_unit_ck_unit_population_non_negative")),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name=conv("ck_unit_ck_unit_validity_ordered")),
        CheckConstraint("id ~ '^[A-Z0-9][A-Z0-9-]{0,63}$'", name=conv("ck_unit_ck_unit_id_format")),
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
    # As for unit: the name the database has.
    __table_args__ = (
        CheckConstraint(
            "change IN ('created','updated','moved')", name=conv("ck_unit_change_ck_unit_change_change_known")
        ),
        Index("ix_unit_change_unit_id_changed_at", "unit_id", "changed_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger, sa_column_args=[Identity()])
    unit_id: str = Field(sa_type=Text)
    change: str = Field(sa_type=Text)
    changed_at: datetime = Field(sa_type=TIMESTAMPTZ, sa_column_kwargs=NOW)
    changed_by: str = Field(sa_type=Text)
    before: dict | None = Field(default=None, sa_type=JSONB(none_as_null=True))
    after: dict = Field(sa_type=JSONB)
