"""What each applied batch covers: its kind, days, units and fields (absence is not zero).

Revision ID: ingest_0008
Revises: ingest_0007
Create Date: 2026-11-24

``batch_coverage`` holds one row per applied batch that covers something (docs/contracts.md §4, "Coverage");
``batch_coverage_unit`` its units, each ``declared`` (named with ``covers=``: its subtree too), ``inferred`` (its
rows' units) or ``ancestor`` (an ancestor of either, which the measures roll up to). The loader writes both in the
load's transaction (``services/ingest/coverage.py``); a withdrawal deletes them.

Backfill, for the batches already stored (status ``done``), inferred from the rows each one still holds: its days
are the declared period where given, else the first and last day of its rows; its units are its rows' units (work
orders: both sides) with their ancestors; its fields are the required ones and every optional field at least one
of its rows holds a value for (what a batch's header or mapping named is not stored, so a column sent empty is not
counted as supplied). Nothing was declared before this revision. The raw tables' columns are read from the
catalog, so the backfill needs nothing of the code as it may later be.
"""

from alembic import op
from sqlalchemy import text

revision = "ingest_0008"
down_revision = "ingest_0007"
branch_labels = None
depends_on = None

KINDS = ("call", "work_order", "rating", "inspection", "callback", "chat_session", "smart_test", "knowledge_update",
         "reported_item")  # fmt: skip
SYSTEM_COLUMNS = ("day", "batch_id", "row_no")
# the columns naming the units a kind's rows count for (work orders: the receiving and the handling unit)
UNIT_COLUMNS = {"work_order": ("unit_id", "handling_unit_id")}

DDL = (
    """CREATE TABLE ingest.batch_coverage (
        batch_id bigint CONSTRAINT pk_batch_coverage PRIMARY KEY
            CONSTRAINT fk_batch_coverage_batch_id_batch REFERENCES ingest.batch (id) ON DELETE CASCADE,
        kind text NOT NULL,
        first_day date NOT NULL,
        last_day date NOT NULL,
        days_declared boolean NOT NULL,
        units_declared boolean NOT NULL,
        fields text[] NOT NULL,
        CONSTRAINT ck_batch_coverage_days_ordered CHECK (last_day >= first_day)
    )""",
    """CREATE TABLE ingest.batch_coverage_unit (
        batch_id bigint NOT NULL CONSTRAINT fk_batch_coverage_unit_batch_id_batch_coverage
            REFERENCES ingest.batch_coverage (batch_id) ON DELETE CASCADE,
        unit_id text NOT NULL,
        role text NOT NULL,
        CONSTRAINT pk_batch_coverage_unit PRIMARY KEY (batch_id, unit_id),
        CONSTRAINT ck_batch_coverage_unit_role_known CHECK (role IN ('declared', 'inferred', 'ancestor'))
    )""",
    # the measures API looks coverage up by the ids on a unit's path (an index-only scan)
    "CREATE INDEX ix_batch_coverage_unit_unit_id ON ingest.batch_coverage_unit (unit_id, batch_id) INCLUDE (role)",
)


def _backfill(kind: str) -> tuple[str, str]:
    """The two statements filling the coverage of the kind's done batches from their stored rows."""
    columns = op.get_bind().execute(
        text(
            "SELECT column_name, is_nullable = 'NO' FROM information_schema.columns "
            "WHERE table_schema = 'ingest' AND table_name = :table ORDER BY ordinal_position"
        ),
        {"table": f"raw_{kind}"},
    )
    required, optional = [], []
    for name, not_null in columns:
        if name not in SYSTEM_COLUMNS:
            (required if not_null else optional).append(name)
    held = ", ".join(f"CASE WHEN bool_or(r.{name} IS NOT NULL) THEN '{name}' END" for name in optional)
    fields = f"ARRAY[{', '.join(repr(n) for n in required)}]::text[] || array_remove(ARRAY[{held}]::text[], NULL)"
    coverage = f"""
        INSERT INTO ingest.batch_coverage (batch_id, kind, first_day, last_day, days_declared, units_declared, fields)
        SELECT b.id, b.kind, coalesce(b.period_from, s.first_day), coalesce(b.period_to, s.last_day),
               b.period_from IS NOT NULL AND b.period_to IS NOT NULL, false,
               ARRAY(SELECT f FROM unnest(s.fields) AS f ORDER BY f)
        FROM (SELECT r.batch_id, min(r.day) AS first_day, max(r.day) AS last_day, {fields} AS fields
              FROM ingest.raw_{kind} r GROUP BY r.batch_id) s
        JOIN ingest.batch b ON b.id = s.batch_id
        WHERE b.status = 'done' AND b.kind = '{kind}'
          AND coalesce(b.period_from, s.first_day) <= coalesce(b.period_to, s.last_day)"""
    unit_values = ", ".join(f"(r.{c})" for c in UNIT_COLUMNS.get(kind, ("unit_id",)))
    units = f"""
        WITH own AS (
            SELECT DISTINCT r.batch_id, x.unit_id
            FROM ingest.raw_{kind} r CROSS JOIN LATERAL (VALUES {unit_values}) AS x(unit_id)
            WHERE x.unit_id IS NOT NULL
              AND r.batch_id IN (SELECT batch_id FROM ingest.batch_coverage WHERE kind = '{kind}')
        ),
        ranked AS (
            SELECT o.batch_id, a.id AS unit_id, min(CASE WHEN a.id = o.unit_id THEN 1 ELSE 2 END) AS strength
            FROM own o JOIN ingest.unit u ON u.id = o.unit_id
            CROSS JOIN LATERAL unnest(string_to_array(u.path, '/')) AS a(id)
            GROUP BY 1, 2
        )
        INSERT INTO ingest.batch_coverage_unit (batch_id, unit_id, role)
        SELECT batch_id, unit_id, CASE strength WHEN 1 THEN 'inferred' ELSE 'ancestor' END FROM ranked"""
    return coverage, units


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)
    for kind in KINDS:
        for statement in _backfill(kind):
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE ingest.batch_coverage_unit")
    op.execute("DROP TABLE ingest.batch_coverage")
