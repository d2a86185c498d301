"""Repeat callers computed from hashed callers; work orders with a due time and closed late; skipped rows.

Revision ID: ingest_0009
Revises: ingest_0007
Create Date: 2026-11-24

- ``raw_call.repeat_lookback``: ingest's own verdict of the 7-day look-back (``services/ingest/repeats.py``) for
  a call with a caller hash whose source did not set ``repeat_caller``; NULL when not computed. Not a field of the
  canonical format (re-sends compare the source's fields only).
- No index of its own: the look-back reads the stored calls of the days around a batch's calls, found by partition
  (month) and each month's BRIN index on ``(day, batch_id)``, and joins them to the batch's callers by hash. An
  index on ``(caller_hash, started_at)`` would serve a batch of a few hundred calls better, but every stored call
  would pay for it: 0.85 s of a core to build for a month of 1,000,000 calls (0.1 s for 200,000), or an insertion
  per call loaded, while the days around a batch are at most 17 days of calls read once per load.
- ``daily_measure``: ``orders.with_due`` and ``orders.closed_late``, added like the measures of ``ingest_0003``.
- ``batch.rows_skipped`` (rows a mapping's ``skip_when`` / ``keep_when`` left out) and ``batch.repeat_callers``
  (how the batch's calls got their repeat flag).

Calls stored before this revision get their look-back here, and ``calls.repeat`` is recomputed from it, so that
stored and new calls are judged alike. The SQL is a frozen copy of the rule of this revision.
"""

from alembic import op

revision = "ingest_0009"
down_revision = "ingest_0008"
branch_labels = None
depends_on = None

MEASURES = ("orders.with_due", "orders.closed_late")

# every stored call with a caller hash and no source flag: did the same caller call the same hotline body (nearest
# province or city body above its unit) in the 168 hours before it?
BACKFILL = """
WITH body AS (
    SELECT u.id AS unit_id,
           (SELECT p.id FROM unnest(string_to_array(u.path, '/')) WITH ORDINALITY AS p(id, n)
            JOIN ingest.unit a ON a.id = p.id
            WHERE a.kind IN ('province_body', 'city_body') ORDER BY p.n DESC LIMIT 1) AS body_id
    FROM ingest.unit u
),
judged AS (
    SELECT r.source, r.record_id, r.day, r.repeat_caller IS NULL AS target,
           r.direction = 'inbound' AND r.outcome <> 'phantom'
           AND count(*) FILTER (WHERE r.direction = 'inbound' AND r.outcome <> 'phantom') OVER (
               PARTITION BY r.caller_hash COLLATE "C", b.body_id ORDER BY r.started_at
               RANGE BETWEEN interval '168 hours' PRECEDING AND interval '1 microsecond' PRECEDING) > 0 AS repeat
    FROM ingest.raw_call r JOIN body b ON b.unit_id = r.unit_id
    WHERE r.caller_hash IS NOT NULL
)
UPDATE ingest.raw_call r SET repeat_lookback = j.repeat
FROM judged j
WHERE j.target AND r.record_id = j.record_id COLLATE "C" AND r.source = j.source COLLATE "C" AND r.day = j.day
"""

RECOUNT = """
WITH per_unit AS (
    SELECT r.unit_id, r.day,
           sum(CASE WHEN r.direction = 'inbound' AND r.outcome = 'answered'
                    AND {flag} THEN 1 ELSE 0 END)::double precision AS v
    FROM ingest.raw_call r GROUP BY 1, 2
),
rolled AS (
    SELECT a.unit_id, p.day, sum(p.v) AS v
    FROM per_unit p JOIN ingest.unit u ON u.id = p.unit_id
    CROSS JOIN LATERAL unnest(string_to_array(u.path, '/')) AS a(unit_id)
    GROUP BY 1, 2
)
UPDATE ingest.daily_measure d SET "calls.repeat" = r.v
FROM rolled r
WHERE d.unit_id = r.unit_id AND d.day = r.day AND d."calls.repeat" <> r.v
"""

# the two measures' rules of this revision, for orders already stored (handling side: the undertaking unit, else
# the receiving one; the day received)
WITH_DUE = "(CASE WHEN r.due_at IS NOT NULL THEN 1 ELSE 0 END)"
CLOSED_LATE = (
    "(CASE WHEN r.closed_at IS NOT NULL AND NOT coalesce(r.on_time, r.closed_at <= r.due_at) THEN 1 ELSE 0 END)"
)
ORDERS = f"""
WITH per_unit AS (
    SELECT coalesce(r.handling_unit_id, r.unit_id) AS unit_id, r.day,
           sum({WITH_DUE})::double precision AS with_due, sum({CLOSED_LATE})::double precision AS closed_late
    FROM ingest.raw_work_order r GROUP BY 1, 2
),
rolled AS (
    SELECT a.unit_id, p.day, sum(p.with_due) AS with_due, sum(p.closed_late) AS closed_late
    FROM per_unit p JOIN ingest.unit u ON u.id = p.unit_id
    CROSS JOIN LATERAL unnest(string_to_array(u.path, '/')) AS a(unit_id)
    GROUP BY 1, 2
)
UPDATE ingest.daily_measure d SET "orders.with_due" = r.with_due, "orders.closed_late" = r.closed_late
FROM rolled r
WHERE d.unit_id = r.unit_id AND d.day = r.day AND (r.with_due <> 0 OR r.closed_late <> 0)
"""


def upgrade() -> None:
    # on the partitioned parent: every month partition gets the column too
    op.execute("ALTER TABLE ingest.raw_call ADD COLUMN repeat_lookback boolean")
    for measure in MEASURES:
        op.execute(f'ALTER TABLE ingest.daily_measure ADD COLUMN "{measure}" double precision NOT NULL DEFAULT 0')
    op.execute(
        "ALTER TABLE ingest.batch ADD COLUMN rows_skipped integer NOT NULL DEFAULT 0, ADD COLUMN repeat_callers jsonb"
    )
    op.execute(BACKFILL)
    op.execute(RECOUNT.format(flag="coalesce(r.repeat_caller, r.repeat_lookback)"))
    op.execute(ORDERS)


def downgrade() -> None:
    op.execute(RECOUNT.format(flag="r.repeat_caller"))  # the rule before this revision: the source's flag only
    op.execute("ALTER TABLE ingest.batch DROP COLUMN rows_skipped, DROP COLUMN repeat_callers")
    for measure in MEASURES:
        op.execute(f'ALTER TABLE ingest.daily_measure DROP COLUMN "{measure}"')
    op.execute("ALTER TABLE ingest.raw_call DROP COLUMN repeat_lookback")
