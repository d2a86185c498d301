"""Cross-channel consistency (12366): two inspection flags and their two daily measures.

Revision ID: ingest_0003
Revises: ingest_0002
Create Date: 2026-11-23
"""

from alembic import op

revision = "ingest_0003"
down_revision = "ingest_0002"
branch_labels = None
depends_on = None

MEASURES = ("inspections.channel_compared", "inspections.channel_mismatched")


def upgrade() -> None:
    # On the partitioned parent: every monthly partition gets the columns too.
    op.execute(
        "ALTER TABLE ingest.raw_inspection ADD COLUMN channel_compared boolean, ADD COLUMN channel_mismatch boolean"
    )
    for measure in MEASURES:
        op.execute(f'ALTER TABLE ingest.daily_measure ADD COLUMN "{measure}" double precision NOT NULL DEFAULT 0')


def downgrade() -> None:
    for measure in MEASURES:
        op.execute(f'ALTER TABLE ingest.daily_measure DROP COLUMN "{measure}"')
    op.execute("ALTER TABLE ingest.raw_inspection DROP COLUMN channel_compared, DROP COLUMN channel_mismatch")
