"""Raw partitions: one BRIN index on (day, batch_id) instead of one on each.

Revision ID: ingest_0006
Revises: ingest_0005
Create Date: 2026-11-23

Building a BRIN index reads the whole partition once, whatever its columns; a multi-column BRIN index
serves conditions on any of its columns (the aggregation's days, a batch's rows for its withdrawal and
its quality checks) as the two single-column ones did. A month of 1,000,000 calls built whole
(``newmonth``) reads its partition once less: about 0.2 s of a core.
"""

from alembic import op

revision = "ingest_0006"
down_revision = "ingest_0005"
branch_labels = None
depends_on = None

KINDS = ("call", "work_order", "rating", "inspection", "callback", "chat_session", "smart_test", "knowledge_update",
         "reported_item")  # fmt: skip


def upgrade() -> None:
    for kind in KINDS:
        op.execute(f"DROP INDEX ingest.ix_raw_{kind}_day")
        op.execute(f"DROP INDEX ingest.ix_raw_{kind}_batch")
        op.execute(f"CREATE INDEX ix_raw_{kind}_day_batch ON ingest.raw_{kind} USING brin (day, batch_id)")


def downgrade() -> None:
    for kind in KINDS:
        op.execute(f"DROP INDEX ingest.ix_raw_{kind}_day_batch")
        op.execute(f"CREATE INDEX ix_raw_{kind}_batch ON ingest.raw_{kind} USING brin (batch_id)")
        op.execute(f"CREATE INDEX ix_raw_{kind}_day ON ingest.raw_{kind} USING brin (day)")
