"""Appeals: appeals with optimistic concurrency, decisions, an immutable event record, evidence files,
webhooks with an outbox, inboxes, run settlement, and the unit-directory read model.

Revision ID: appeals_0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

from hotline.kit.directory import create_unit_ref_tables, drop_unit_ref_tables

revision = "appeals_0001"
down_revision = None
branch_labels = ("appeals",)
depends_on = None

SCHEMA = "appeals"
S = f'"{SCHEMA}"'

STATUSES = "'draft','submitted','in_review','information_requested','decided','escalated','withdrawn'"
OUTCOMES = "'upheld','partly_upheld','rejected'"
EVENT_KINDS = (
    "'filed','edited','submitted','assigned','information_requested','information_given','decided',"
    "'escalated','withdrawn','revision_applied','evidence_added'"
)


def upgrade() -> None:
    create_unit_ref_tables(op, SCHEMA)
    op.execute(f"""
        CREATE TABLE {S}.appeal (
            id uuid PRIMARY KEY,
            result_id text NOT NULL,
            result_ids text[] NOT NULL,
            run_id text NOT NULL,
            revision integer NOT NULL,
            unit_id text NOT NULL,
            organizer_id text NOT NULL,
            deciding_unit_id text NOT NULL,
            escalated_to text,
            status text NOT NULL CONSTRAINT ck_appeal_status_known CHECK (status IN ({STATUSES})),
            reason_category text NOT NULL,
            reason text NOT NULL,
            indicators text[] NOT NULL,
            asks jsonb NOT NULL DEFAULT '[]',
            evidence_records jsonb NOT NULL DEFAULT '[]',
            published_at timestamptz NOT NULL,
            window_closes_at timestamptz NOT NULL,
            escalation_days integer NOT NULL,
            decision_days integer NOT NULL,
            decision_due_at timestamptz,
            score_at_filing jsonb NOT NULL,
            filed_by text NOT NULL,
            filed_at timestamptz NOT NULL,
            submitted_at timestamptz,
            assigned_to text,
            information_requested_at timestamptz,
            information_due_at timestamptz,
            decided_at timestamptz,
            outcome text CONSTRAINT ck_appeal_outcome_known CHECK (outcome IN ({OUTCOMES})),
            upheld_indicators text[] NOT NULL DEFAULT '{{}}',
            version integer NOT NULL DEFAULT 1 CONSTRAINT ck_appeal_version_positive CHECK (version > 0),
            updated_at timestamptz NOT NULL,
            CONSTRAINT ck_appeal_decided_has_outcome CHECK (status <> 'decided' OR outcome IS NOT NULL)
        )
    """)
    op.execute(f"CREATE INDEX ix_appeal_run_id_unit_id ON {S}.appeal (run_id, unit_id)")
    op.execute(f"CREATE INDEX ix_appeal_unit_id ON {S}.appeal (unit_id)")
    op.execute(f"CREATE INDEX ix_appeal_organizer_id ON {S}.appeal (organizer_id)")
    op.execute(f"CREATE INDEX ix_appeal_result_ids ON {S}.appeal USING gin (result_ids)")
    op.execute(f"""
        CREATE TABLE {S}.appeal_decision (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            appeal_id uuid NOT NULL REFERENCES {S}.appeal (id),
            level integer NOT NULL CONSTRAINT ck_appeal_decision_level CHECK (level IN (0, 1)),
            outcome text NOT NULL CONSTRAINT ck_appeal_decision_outcome_known CHECK (outcome IN ({OUTCOMES})),
            reason text NOT NULL CONSTRAINT ck_appeal_decision_reason_written CHECK (btrim(reason) <> ''),
            upheld_indicators text[] NOT NULL,
            decided_by text NOT NULL,
            deciding_unit_id text NOT NULL,
            decided_at timestamptz NOT NULL,
            due_at timestamptz,
            new_revision integer,
            score_change jsonb,
            CONSTRAINT uq_appeal_decision_appeal_id_level UNIQUE (appeal_id, level)
        )
    """)
    op.execute(f"""
        CREATE TABLE {S}.appeal_event (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            appeal_id uuid NOT NULL REFERENCES {S}.appeal (id),
            kind text NOT NULL CONSTRAINT ck_appeal_event_kind_known CHECK (kind IN ({EVENT_KINDS})),
            actor_subject text NOT NULL,
            actor_unit_id text NOT NULL,
            occurred_at timestamptz NOT NULL,
            data jsonb NOT NULL DEFAULT '{{}}'
        )
    """)
    op.execute(f"CREATE INDEX ix_appeal_event_appeal_id_id ON {S}.appeal_event (appeal_id, id)")
    # The record is append-only in the database itself, whatever the application does.
    op.execute(f"""
        CREATE FUNCTION {S}.refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'appeal events are append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute(f"""
        CREATE TRIGGER appeal_event_append_only BEFORE UPDATE OR DELETE ON {S}.appeal_event
        FOR EACH ROW EXECUTE FUNCTION {S}.refuse_event_change()
    """)
    op.execute(f"""
        CREATE TRIGGER appeal_event_no_truncate BEFORE TRUNCATE ON {S}.appeal_event
        FOR EACH STATEMENT EXECUTE FUNCTION {S}.refuse_event_change()
    """)
    op.execute(f"""
        CREATE TABLE {S}.evidence_file (
            id uuid PRIMARY KEY,
            appeal_id uuid NOT NULL REFERENCES {S}.appeal (id),
            filename text NOT NULL,
            media_type text NOT NULL,
            size_bytes integer NOT NULL CONSTRAINT ck_evidence_file_size CHECK (size_bytes > 0),
            sha256 text NOT NULL,
            content bytea NOT NULL,
            uploaded_by text NOT NULL,
            uploaded_at timestamptz NOT NULL,
            CONSTRAINT uq_evidence_file_appeal_id_sha256 UNIQUE (appeal_id, sha256)
        )
    """)
    op.execute(f"""
        CREATE TABLE {S}.webhook (
            unit_id text PRIMARY KEY,
            url text NOT NULL,
            secret text NOT NULL,
            registered_by text NOT NULL,
            registered_at timestamptz NOT NULL
        )
    """)
    op.execute(f"""
        CREATE TABLE {S}.notification (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            unit_id text NOT NULL,
            appeal_id uuid NOT NULL REFERENCES {S}.appeal (id),
            event_id bigint NOT NULL REFERENCES {S}.appeal_event (id),
            kind text NOT NULL,
            created_at timestamptz NOT NULL,
            read_at timestamptz,
            CONSTRAINT uq_notification_unit_id_event_id UNIQUE (unit_id, event_id)
        )
    """)
    op.execute(f"CREATE INDEX ix_notification_unit_id_id ON {S}.notification (unit_id, id)")
    op.execute(f"""
        CREATE TABLE {S}.webhook_delivery (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            notification_id bigint NOT NULL REFERENCES {S}.notification (id),
            unit_id text NOT NULL,
            payload jsonb NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            delivered_at timestamptz,
            failed_at timestamptz,
            last_error text
        )
    """)
    op.execute(
        f"CREATE INDEX ix_webhook_delivery_due ON {S}.webhook_delivery (next_attempt_at) "
        "WHERE delivered_at IS NULL AND failed_at IS NULL"
    )
    op.execute(f"""
        CREATE TABLE {S}.run_settlement (
            run_id text PRIMARY KEY,
            organizer_id text NOT NULL,
            window_closes_at timestamptz NOT NULL,
            settled_at timestamptz
        )
    """)


def downgrade() -> None:
    for table in (
        "run_settlement",
        "webhook_delivery",
        "notification",
        "webhook",
        "evidence_file",
        "appeal_event",
        "appeal_decision",
        "appeal",
    ):
        op.execute(f"DROP TABLE {S}.{table}")
    op.execute(f"DROP FUNCTION {S}.refuse_event_change()")
    drop_unit_ref_tables(op, SCHEMA)
