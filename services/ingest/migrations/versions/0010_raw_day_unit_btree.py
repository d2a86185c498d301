"""Raw partitions: a btree index on (day, unit_id), so that a batch re-sums only the (unit, day) keys it touched.

Revision ID: ingest_0010
Revises: ingest_0009
Create Date: 2026-12-04

A daily file, or a few thousand corrections, touches a few thousand (unit, day) keys of a month that holds
millions of rows. The aggregation reads the rows of exactly those keys (``aggregation.recompute``), and the BRIN
index on ``(day, batch_id)`` cannot find them: a month loaded out of day order (late files, corrections, a
month rebuilt whole) has every day in nearly every block range, so the BRIN index reads the whole month. A
btree on ``(day, unit_id)`` stays selective whatever order the rows came in: the rows of one key, or of one
day, are found through it. Its cost: about 40 bytes a row, and one more index built when a month is built
whole (``newmonth``, which builds the parent's indexes on its scratch table).
"""

from alembic import op

revision = "ingest_0010"
down_revision = "ingest_0009"
branch_labels = None
depends_on = None

KINDS = ("call", "work_order", "rating", "inspection", "callback", "chat_session", "smart_test", "knowledge_update",
         "reported_item")  # fmt: skip


# a work order counts for its handling unit too (``rules.SIDES``): found by that side's own expression, which the
# index of ``ingest_0002`` on (day, handling_unit_id) does not serve (it gives way to this one)
HANDLING = (
    "CREATE INDEX ix_raw_work_order_day_handling ON ingest.raw_work_order (day, coalesce(handling_unit_id, unit_id))"
)


def upgrade() -> None:
    for kind in KINDS:
        op.execute(f"CREATE INDEX ix_raw_{kind}_day_unit ON ingest.raw_{kind} (day, unit_id)")
    op.execute("DROP INDEX ingest.ix_raw_work_order_day_handling")
    op.execute(HANDLING)


def downgrade() -> None:
    op.execute("DROP INDEX ingest.ix_raw_work_order_day_handling")
    op.execute("CREATE INDEX ix_raw_work_order_day_handling ON ingest.raw_work_order (day, handling_unit_id)")
    for kind in KINDS:
        op.execute(f"DROP INDEX ingest.ix_raw_{kind}_day_unit")
