"""Unit directory: the unit tree with materialized paths, and its change history.

Revision ID: ingest_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "ingest_0001"
down_revision = None
branch_labels = ("ingest",)
depends_on = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.create_table(
        "unit",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False, server_default=""),
        sa.Column("population", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_unit"),
        sa.ForeignKeyConstraint(["parent_id"], [f"{SCHEMA}.unit.id"], name="fk_unit_parent_id_unit"),
        sa.UniqueConstraint("path", name="uq_unit_path"),
        sa.CheckConstraint(
            "kind IN ('province_body','city_body','district','undertaking_unit','agent_team','agent')",
            name="ck_unit_kind_known",
        ),
        sa.CheckConstraint("population IS NULL OR population >= 0", name="ck_unit_population_non_negative"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_unit_validity_ordered"),
        sa.CheckConstraint("id ~ '^[A-Z0-9][A-Z0-9-]{0,63}$'", name="ck_unit_id_format"),
        schema=SCHEMA,
    )
    # Prefix matches (scope filters: path LIKE 'GD/GD-GZ/%') use this b-tree index.
    op.create_index("ix_unit_path_prefix", "unit", ["path"], schema=SCHEMA, postgresql_ops={"path": "text_pattern_ops"})
    op.create_index("ix_unit_parent_id", "unit", ["parent_id"], schema=SCHEMA)
    op.create_table(
        "unit_change",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_unit_change"),
        sa.CheckConstraint("change IN ('created','updated','moved')", name="ck_unit_change_change_known"),
        schema=SCHEMA,
    )
    op.create_index("ix_unit_change_unit_id_changed_at", "unit_change", ["unit_id", "changed_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("unit_change", schema=SCHEMA)
    op.drop_table("unit", schema=SCHEMA)
