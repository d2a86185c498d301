"""Scoring: outcome format 3 — results computed from exact item scores and rounded once (scheme precision),
totals withheld below the scheme's minimum applicable share, coverage applied (``services/scoring/totals.py``).

The stored layout is format 2's (``result_revision.head``, ``extras``, ``figures``); the head gains the
unit's applicable share, the threshold, why a total is withheld and the units it ties with only on display;
the extras name each row's uncovered measures. Revisions stored in formats 1 and 2 keep their arithmetic and
reproduce their digests (``inputs.evaluate(..., outcome_format=…)``).

Revision ID: scoring_0003
Revises: scoring_0002
Create Date: 2026-12-01
"""

from alembic import op

revision = "scoring_0003"
down_revision = "scoring_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE scoring.run_revision DROP CONSTRAINT ck_run_revision_outcome_format")
    op.execute(
        "ALTER TABLE scoring.run_revision ADD CONSTRAINT ck_run_revision_outcome_format CHECK (outcome_format IN (1, 2, 3))"
    )


def downgrade() -> None:
    # Format-3 revisions cannot be read by the code before this one: refuse rather than misread them.
    op.execute(
        """DO $$ BEGIN
               IF EXISTS (SELECT 1 FROM scoring.run_revision WHERE outcome_format = 3) THEN
                   RAISE EXCEPTION 'format-3 revisions exist; they cannot be read before scoring_0003';
               END IF;
           END $$"""
    )
    op.execute("ALTER TABLE scoring.run_revision DROP CONSTRAINT ck_run_revision_outcome_format")
    op.execute(
        "ALTER TABLE scoring.run_revision ADD CONSTRAINT ck_run_revision_outcome_format CHECK (outcome_format IN (1, 2))"
    )
