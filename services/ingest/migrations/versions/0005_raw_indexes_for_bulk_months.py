"""Raw partitions index the record id alone (bytewise) and their days with BRIN.

Revision ID: ingest_0005
Revises: ingest_0004
Create Date: 2026-11-23

A month's partition of a large batch is built whole and its indexes are built when it is attached
(``newmonth``, ``loader.insert_into_raw``); their build was most of the cost of storing a month
(1,000,000 calls: key ``(source, record_id)`` 0.9–1.2 s, ``(day, unit_id)`` 0.85–0.95 s).

- The natural key is looked up by equality of both columns. Indexing ``record_id`` alone serves the
  same lookups (the source is checked on the few rows a record id finds) and builds in about 0.6 s.
- ``(day, unit_id)`` served the aggregation's ``day = ANY(…)`` scans. A raw partition is a log of
  one month, written in the order records arrive — mostly in time order — which is what BRIN is for:
  0.2 s to build, a few pages in size. Where a month's rows are not in time order, a scan for a few of
  its days reads the whole month's partition (1,000,000 rows: about 0.2 s), never more.
"""

from alembic import op

revision = "ingest_0005"
down_revision = "ingest_0004"
branch_labels = None
depends_on = None

KINDS = ("call", "work_order", "rating", "inspection", "callback", "chat_session", "smart_test", "knowledge_update",
         "reported_item")  # fmt: skip


def upgrade() -> None:
    for kind in KINDS:
        op.execute(f"DROP INDEX ingest.ix_raw_{kind}_key")
        op.execute(f'CREATE INDEX ix_raw_{kind}_key ON ingest.raw_{kind} (record_id COLLATE "C")')
        op.execute(f"DROP INDEX ingest.ix_raw_{kind}_day_unit")
        op.execute(f"CREATE INDEX ix_raw_{kind}_day ON ingest.raw_{kind} USING brin (day)")


def downgrade() -> None:
    for kind in KINDS:
        op.execute(f"DROP INDEX ingest.ix_raw_{kind}_day")
        op.execute(f"CREATE INDEX ix_raw_{kind}_day_unit ON ingest.raw_{kind} (day, unit_id)")
        op.execute(f"DROP INDEX ingest.ix_raw_{kind}_key")
        op.execute(f'CREATE INDEX ix_raw_{kind}_key ON ingest.raw_{kind} (source COLLATE "C", record_id COLLATE "C")')
