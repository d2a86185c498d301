"""The unit directory's read model (``unit_ref``), synced from ingest, for scope filters.

Revision ID: indicators_0003
Revises: indicators_0002
Create Date: 2026-11-23
"""

from alembic import op

from hotline.kit.directory import create_unit_ref_tables, drop_unit_ref_tables

revision = "indicators_0003"
down_revision = "indicators_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_unit_ref_tables(op, "indicators")


def downgrade() -> None:
    drop_unit_ref_tables(op, "indicators")
