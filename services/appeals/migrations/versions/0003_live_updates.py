"""Appeals: every inbox entry announces itself for the live updates (``appealInboxEvents``, ``services/appeals/live.py``).

Each row inserted into ``appeals.notification`` sends, when its transaction commits,
``NOTIFY hotline_appeals`` with ``{"unit": <the inbox's unit>, "entry": <the entry's id>}``. A trigger, so that
every path that writes an inbox entry announces it, on any replica. The payload carries no content: a
subscriber reads the entry with the inbox's own filters (its unit, the appeal visible, no draft).

Revision ID: appeals_0003
Revises: appeals_0002
Create Date: 2026-12-07
"""

from alembic import op

revision = "appeals_0003"
down_revision = "appeals_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE FUNCTION appeals.announce_inbox_entry() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('hotline_appeals', json_build_object('unit', NEW.unit_id, 'entry', NEW.id)::text);
            RETURN NULL;
        END $$"""
    )
    op.execute(
        """CREATE TRIGGER notification_announce AFTER INSERT ON appeals.notification FOR EACH ROW
        EXECUTE FUNCTION appeals.announce_inbox_entry()"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER notification_announce ON appeals.notification")
    op.execute("DROP FUNCTION appeals.announce_inbox_entry()")
