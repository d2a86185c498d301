"""Scoring: a unit's result stored as figures (outcome format 2) rather than one JSON document.

``result_revision`` gains ``head`` (json: the unit's total, grade, rank, subtotals — everything but the
indicator rows), ``extras`` (json, usually null: experts' scores, monthly series and trends) and
``figures`` (bytea: the indicator figures and measure sums as little-endian float64, layout in
``services/scoring/figures.py``); ``detail`` stays for the revisions written before (format 1) and is
null for the new ones. ``run_revision.outcome_format`` says which form a revision's rows have and how
its SHA-256 is taken (1: over the canonical JSON of the compact outcome; 2: ``inputs.digest_figures``).

Revision ID: scoring_0002
Revises: scoring_0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "scoring_0002"
down_revision = "scoring_0001"
branch_labels = None
depends_on = None

STATEMENTS = [
    "ALTER TABLE scoring.result_revision ALTER COLUMN detail DROP NOT NULL",
    "ALTER TABLE scoring.result_revision ADD COLUMN head json, ADD COLUMN extras json, ADD COLUMN figures bytea",
    """ALTER TABLE scoring.result_revision ADD CONSTRAINT ck_result_revision_one_form
           CHECK ((detail IS NOT NULL) <> (head IS NOT NULL AND figures IS NOT NULL))""",
    # Written once, read whole: lz4 where the server has it (as for detail), else the default.
    """
    DO $$ BEGIN
        ALTER TABLE scoring.result_revision ALTER COLUMN figures SET COMPRESSION lz4;
    EXCEPTION WHEN OTHERS THEN NULL;
    END $$
    """,
    "ALTER TABLE scoring.run_revision ADD COLUMN outcome_format smallint NOT NULL DEFAULT 1",
    "ALTER TABLE scoring.run_revision ADD CONSTRAINT ck_run_revision_outcome_format CHECK (outcome_format IN (1, 2))",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    # Format-2 revisions cannot be kept in format 1's columns: refuse rather than lose them.
    op.execute(
        """DO $$ BEGIN
               IF EXISTS (SELECT 1 FROM scoring.run_revision WHERE outcome_format = 2) THEN
                   RAISE EXCEPTION 'format-2 revisions exist; recompute them before downgrading';
               END IF;
           END $$"""
    )
    op.execute("ALTER TABLE scoring.run_revision DROP CONSTRAINT ck_run_revision_outcome_format")
    op.execute("ALTER TABLE scoring.run_revision DROP COLUMN outcome_format")
    op.execute("ALTER TABLE scoring.result_revision DROP CONSTRAINT ck_result_revision_one_form")
    op.execute("ALTER TABLE scoring.result_revision DROP COLUMN head, DROP COLUMN extras, DROP COLUMN figures")
    op.execute("ALTER TABLE scoring.result_revision ALTER COLUMN detail SET NOT NULL")
