"""Scoring: a run announces its changes for the live updates (GraphQL subscriptions, ``services/scoring/live.py``).

Every change of a run's status, progress, error, revision, publication or finality sends, when its transaction
commits, ``NOTIFY hotline_scoring`` with ``{"run": <id>, "results": null | "published" | "revised" | "final"}`` —
``results`` when the change made new published results (publication, a new revision of a published run, the
results becoming final). A trigger, so that every path that writes a run announces it (the worker's status writes,
publication, recomputations, appeal revisions, settlement), on any replica. The payload names the run only: a
subscriber reads the run again with the queries' scoped SQL.

Revision ID: scoring_0005
Revises: scoring_0004
Create Date: 2026-12-07
"""

from alembic import op

revision = "scoring_0005"
down_revision = "scoring_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE FUNCTION scoring.announce_run_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            results text;
        BEGIN
            IF NEW.published_at IS NOT NULL THEN
                IF OLD.published_at IS NULL THEN
                    results := 'published';
                ELSIF OLD.final_at IS NULL AND NEW.final_at IS NOT NULL THEN
                    results := 'final';
                ELSIF NEW.current_revision <> OLD.current_revision THEN
                    results := 'revised';
                END IF;
            END IF;
            PERFORM pg_notify('hotline_scoring', json_build_object('run', NEW.id, 'results', results)::text);
            RETURN NULL;
        END $$"""
    )
    op.execute(
        """CREATE TRIGGER evaluation_run_announce AFTER UPDATE ON scoring.evaluation_run FOR EACH ROW
        WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.progress IS DISTINCT FROM NEW.progress
              OR OLD.error IS DISTINCT FROM NEW.error OR OLD.current_revision IS DISTINCT FROM NEW.current_revision
              OR OLD.published_at IS DISTINCT FROM NEW.published_at OR OLD.final_at IS DISTINCT FROM NEW.final_at)
        EXECUTE FUNCTION scoring.announce_run_change()"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER evaluation_run_announce ON scoring.evaluation_run")
    op.execute("DROP FUNCTION scoring.announce_run_change()")
