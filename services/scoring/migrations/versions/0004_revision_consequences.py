"""Scoring: an appeal revision keeps its effects on the cohort (``run_revision.consequences``, jsonb): the
references that moved and every result whose total, rank, grade or an indicator changed, before and after
(``services/scoring/consequences.py``) — what appeals tells the peers of a decision and what the peers'
explanations say. Null for first computations, recomputations, and appeal revisions made before it.

Revision ID: scoring_0004
Revises: scoring_0002
Create Date: 2026-11-24
"""

from alembic import op

revision = "scoring_0004"
down_revision = "scoring_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE scoring.run_revision ADD COLUMN consequences jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE scoring.run_revision DROP COLUMN consequences")
