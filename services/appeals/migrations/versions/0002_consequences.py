"""Appeals, issue 17: consequences for peers, accepted values, time waiting for information.

- ``peer_consequence``: a unit whose result a decision on another unit's appeal moved — the figures before and
  after, the references that moved, the cause (appeal, decision level, the corrections that moved it) and
  whether and until when it may appeal that consequence.
- ``appeal.consequence_id``: an appeal filed against such a consequence (its own window and indicators).
- ``notification``: an inbox entry is an appeal's step (``event_id``) or a consequence (``consequence_id``).
- ``appeal.information_waited_seconds`` (cumulative) and the same on each decision: the time spent waiting for
  the unit's information, which the statistics leave out of the time to decision.
- ``appeal_decision.accepted_values``: per upheld value, the value asked for and the value accepted.
- ``run_settlement.latest_revision``: the run's latest revision appeals has learned of.

Revision ID: appeals_0002
Revises: appeals_0001
Create Date: 2026-11-24
"""

from alembic import op

revision = "appeals_0002"
down_revision = "appeals_0001"
branch_labels = None
depends_on = None

S = '"appeals"'


def upgrade() -> None:
    op.execute(f"""
        CREATE TABLE {S}.peer_consequence (
            id uuid PRIMARY KEY,
            run_id text NOT NULL,
            revision integer NOT NULL,
            result_id text NOT NULL,
            unit_id text NOT NULL,
            organizer_id text NOT NULL,
            cause_appeal_id uuid NOT NULL REFERENCES {S}.appeal (id),
            cause_level integer NOT NULL,
            cause_targets jsonb NOT NULL,
            deciding_unit_id text NOT NULL,
            decided_by text NOT NULL,
            figures jsonb NOT NULL,
            reference_moves jsonb NOT NULL,
            appealable boolean NOT NULL,
            appealable_indicators text[] NOT NULL,
            appealable_until timestamptz,
            created_at timestamptz NOT NULL,
            CONSTRAINT uq_peer_consequence_cause_unit UNIQUE (cause_appeal_id, cause_level, unit_id),
            CONSTRAINT ck_peer_consequence_window CHECK (NOT appealable OR appealable_until IS NOT NULL)
        )
    """)
    op.execute(f"CREATE INDEX ix_peer_consequence_unit_id ON {S}.peer_consequence (unit_id)")
    op.execute(f"CREATE INDEX ix_peer_consequence_run_id ON {S}.peer_consequence (run_id)")
    op.execute(
        f"ALTER TABLE {S}.appeal ADD COLUMN consequence_id uuid REFERENCES {S}.peer_consequence (id), "
        "ADD COLUMN information_waited_seconds double precision NOT NULL DEFAULT 0"
    )
    op.execute(
        f"ALTER TABLE {S}.appeal_decision ADD COLUMN accepted_values jsonb NOT NULL DEFAULT '[]', "
        "ADD COLUMN information_waited_seconds double precision NOT NULL DEFAULT 0"
    )
    op.execute(
        f"ALTER TABLE {S}.notification ALTER COLUMN event_id DROP NOT NULL, "
        f"ADD COLUMN consequence_id uuid REFERENCES {S}.peer_consequence (id), "
        "ADD CONSTRAINT ck_notification_step_or_consequence CHECK ((event_id IS NULL) <> (consequence_id IS NULL))"
    )
    op.execute(f"ALTER TABLE {S}.run_settlement ADD COLUMN latest_revision integer")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.run_settlement DROP COLUMN latest_revision")
    op.execute(f"DELETE FROM {S}.webhook_delivery WHERE notification_id IN "
               f"(SELECT id FROM {S}.notification WHERE consequence_id IS NOT NULL)")  # fmt: skip
    op.execute(f"DELETE FROM {S}.notification WHERE consequence_id IS NOT NULL")
    op.execute(
        f"ALTER TABLE {S}.notification DROP CONSTRAINT ck_notification_step_or_consequence, "
        "DROP COLUMN consequence_id, ALTER COLUMN event_id SET NOT NULL"
    )
    op.execute(f"ALTER TABLE {S}.appeal_decision DROP COLUMN accepted_values, DROP COLUMN information_waited_seconds")
    op.execute(f"ALTER TABLE {S}.appeal DROP COLUMN consequence_id, DROP COLUMN information_waited_seconds")
    op.execute(f"DROP TABLE {S}.peer_consequence")
