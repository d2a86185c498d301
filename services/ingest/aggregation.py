"""Daily measures: recompute the touched (unit, day) keys from the raw rows, rolled up to every ancestor.

Storage choice — ``ingest.daily_measure`` is ONE WIDE ROW PER (unit, day) WITH ONE COLUMN PER CATALOG
MEASURE (``"calls.offered" double precision``…). A province-scale scoring run reads 3,000 units ×
365 days × ~80 measures: as wide rows that is ~1.1 M rows read through the primary key (unit_id, day)
and summed column-wise in one ``GROUP BY``; as one row per (unit, day, measure) it would be ~88 M
rows (80× the tuples, each with its own 24-byte header and key), and a ``jsonb`` document per day
would have to be unpacked per measure. A ``double precision[]`` in catalog order is as compact but
cannot be summed element-wise without unnesting, and its meaning would silently shift if the catalog
order changed; named columns make each measure addressable and a new measure is an
``ALTER TABLE … ADD COLUMN … DEFAULT 0``. Each record kind writes only its own columns, so the
kinds aggregate independently. Measured (``bench/measure_storage_bench.py --units 200``: 200 units ×
365 days × 79 measures, summed per unit over the year, on the shared development machine): wide
0.08 s and 50 MB, narrow 0.83 s and 512 MB — ten times faster and ten times smaller.

Incremental and idempotent: a batch collects the keys it touched (the units of new, corrected,
replaced or withdrawn rows, on both sides of a work order, and their days); every ancestor of those
units on those days is recomputed from its rows or its children's sums — so running it twice, or after a
correction or withdrawal, gives the same values. The one increment: an agent's key whose values are whole numbers
keeps its stored sums minus the rows a correction replaced (``increments``) — exact, the very number a re-sum gives. Rows that fall to all zeros are deleted, so a row's
existence means the unit had data that day.

In proportion to the batch (issue 20): a daily file or a few corrections touch a few thousand keys of months
holding millions of rows. Only the affected keys are read — the touched (unit, day) and their ancestors' — each
key's own raw rows summed (through the raw partitions' btree on ``(day, unit)``, migration ``ingest_0010``,
selective whatever order a month was loaded in), and for an ancestor, the stored sums of its children the batch
did not touch (the *frontier*, read by primary key), which are the sums of their subtrees. This relies on every
stored daily row being its subtree's sum, which every recompute keeps. A unit moved in the tree (``directory``)
recomputes no measures: its old and new ancestors keep the old tree's sums, and a later batch re-sums an ancestor
from its children's stored sums (before, a batch re-summed each touched day whole, which set that day right for
the moved unit's ancestors, on that day only); re-summing a moved unit's days belongs with the move. A month built
whole (``newmonth``) has its every unit's sums already and rolls them up as before (``recompute_sql``).
"""

from __future__ import annotations

from services.ingest import increments
from services.ingest.rules import SIDES, rules_by_kind

# Temp table holding the keys a batch touched: CREATE TEMP TABLE touched (unit_id text, day date).
TOUCHED_DDL = "CREATE TEMP TABLE IF NOT EXISTS touched (unit_id text NOT NULL, day date NOT NULL) ON COMMIT DROP"


def quote(measure: str) -> str:
    return '"' + measure.replace('"', '""') + '"'


# The affected days (those of the touched keys whose unit is known), as the parameter of ``per_unit_sql``.
AFFECTED_DAYS_SQL = "SELECT array_agg(DISTINCT t.day) FROM touched t JOIN ingest.unit u ON u.id = t.unit_id"
PER_UNIT = "per_unit_sums"


def per_unit_table(side: str) -> str:
    """The temporary table of one side's sums per (unit, day)."""
    return f"{PER_UNIT}_{side}"


def per_unit_sql(kind: str, side: str) -> str:
    """The raw rows of the affected days ($1) summed per (unit, day) into a temporary table.

    Two levels: the rows are summed per (unit, day) first (a few thousand groups), and only those sums are
    rolled up to every ancestor — instead of multiplying every raw row by the depth of its unit's path. Its own
    ``CREATE TABLE … AS`` with the days as a parameter (no temporary table read) so that PostgreSQL can scan and
    sum the raw rows in parallel workers; the ``INSERT … ON CONFLICT`` that writes the measures cannot.
    """
    return f"CREATE TEMP TABLE {per_unit_table(side)} ON COMMIT DROP AS\n" + per_unit_select(
        kind, side, f"ingest.raw_{kind} r\nWHERE r.day = ANY($1::date[])"
    )


def per_unit_select(kind: str, side: str, source: str, extra: tuple[tuple[str, str], ...] = ()) -> str:
    """The rows of ``source`` (a FROM clause, alias ``r``) summed per (unit, day); ``extra``: (name, aggregate)
    pairs of more bigint columns."""
    rules = rules_by_kind()[kind][side]
    per_unit = ",\n        ".join(
        [f"sum({r.expression})::double precision AS {quote(r.measure)}" for r in rules]
        + [f"({aggregate})::bigint AS {name}" for name, aggregate in extra]
    )
    return f"""SELECT {SIDES[side]} AS unit_id, r.day,
        {per_unit}
FROM {source}
GROUP BY 1, 2
"""


def merged_sums_sql(kind: str, side: str, parts: str, extra: tuple[tuple[str, str], ...] = ()) -> str:
    """The sums of ``parts`` (a table of ``per_unit_select`` rows over parts of the same rows) merged into the
    side's temporary table of sums."""
    columns = [(quote(r.measure), "double precision") for r in rules_by_kind()[kind][side]]
    columns += [(name, "bigint") for name, _ in extra]
    merged = ", ".join(f"sum({c})::{t} AS {c}" for c, t in columns)
    return (
        f"CREATE TEMP TABLE {per_unit_table(side)} ON COMMIT DROP AS "
        f"SELECT unit_id, day, {merged} FROM {parts} GROUP BY 1, 2"
    )


def recompute_sql(kind: str, side: str) -> str:
    """One statement: recompute one side's measure columns for every affected (ancestor, day) from the sums
    ``per_unit_sql`` left."""
    rules = rules_by_kind()[kind][side]
    columns = [quote(r.measure) for r in rules]
    sums = ",\n        ".join(f"sum(p.{c}) AS {c}" for c in columns)
    coalesced = ", ".join(f"coalesce(v.{c}, 0)" for c in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
    return f"""
WITH affected AS (
    SELECT DISTINCT a.unit_id, t.day
    FROM touched t
    JOIN ingest.unit u ON u.id = t.unit_id
    CROSS JOIN LATERAL unnest(string_to_array(u.path, '/')) AS a(unit_id)
),
per_unit AS (SELECT * FROM {per_unit_table(side)}),
computed AS (
    SELECT a.unit_id, p.day,
        {sums}
    FROM per_unit p
    JOIN ingest.unit u ON u.id = p.unit_id
    CROSS JOIN LATERAL unnest(string_to_array(u.path, '/')) AS a(unit_id)
    GROUP BY a.unit_id, p.day
)
INSERT INTO ingest.daily_measure AS d (unit_id, day, {", ".join(columns)})
SELECT k.unit_id, k.day, {coalesced}
FROM affected k
LEFT JOIN computed v ON v.unit_id = k.unit_id AND v.day = k.day
ON CONFLICT (unit_id, day) DO UPDATE SET {updates}
"""


def prune_sql(measures: list[str]) -> str:
    """Delete affected daily rows whose every measure is zero (no data that day)."""
    zero = " AND ".join(f"d.{quote(m)} = 0" for m in measures)
    return f"""
DELETE FROM ingest.daily_measure d
USING (SELECT DISTINCT a.unit_id, t.day FROM touched t JOIN ingest.unit u ON u.id = t.unit_id
       CROSS JOIN LATERAL unnest(string_to_array(u.path, '/')) AS a(unit_id)) k
WHERE d.unit_id = k.unit_id AND d.day = k.day AND {zero}
"""


def touch_sql(kind: str, where: str, table: str | None = None) -> str:
    """Add the keys of rows matching ``where`` (alias r; default table the raw one) to ``touched``, on every side."""
    table = table or f"ingest.raw_{kind}"
    parts = [f"SELECT DISTINCT {SIDES[side]}, r.day FROM {table} r WHERE {where}" for side in rules_by_kind()[kind]]
    return "INSERT INTO touched (unit_id, day) " + " UNION ".join(parts)


def first_sums(kind: str) -> str:
    """The temporary table of the first side's sums (where ``newmonth`` keeps its ``extra`` counts)."""
    return per_unit_table(next(iter(rules_by_kind()[kind])))


AFFECTED = "affected_key"
FRONTIER = "frontier_sums"


def affected_sql() -> str:
    """The temporary table of every (unit, day) a batch's keys move: the touched units and all their ancestors."""
    # ``touched`` repeats its keys (a key per corrected row, and per side): made distinct before each is multiplied
    # by the depth of its unit's path (5,000 corrections of 428 agents: 5,428 keys, 21,712 rows unnested before)
    return f"""CREATE TEMP TABLE {AFFECTED} ON COMMIT DROP AS
SELECT DISTINCT a.unit_id, t.day
FROM (SELECT DISTINCT unit_id, day FROM touched) t
JOIN ingest.unit u ON u.id = t.unit_id
CROSS JOIN LATERAL unnest(string_to_array(u.path, '/')) AS a(unit_id)"""


def own_sums_sql(kind: str, side: str, table: str | None = None, keys: str = AFFECTED) -> str:
    """The raw rows of each affected (unit, day) summed, read through the raw partitions' btree on ``(day, unit)``
    (migration ``ingest_0010``): one index scan per key, in the month of its day only — whatever the size of the
    month, and whatever order it was loaded in. Into ``table`` (default: the side's ``per_unit_table``); the keys of
    ``keys`` (default: every affected one)."""
    rules = rules_by_kind()[kind][side]
    sums = ", ".join(f"sum({r.expression})::double precision AS {quote(r.measure)}" for r in rules)
    return f"""CREATE TEMP TABLE {table or per_unit_table(side)} ON COMMIT DROP AS
SELECT k.unit_id, k.day, s.*
FROM {keys} k
CROSS JOIN LATERAL (
    SELECT count(*) AS rows_here, {sums}
    FROM ingest.raw_{kind} r
    WHERE r.day = k.day AND {SIDES[side]} = k.unit_id
) s
WHERE s.rows_here > 0"""


def day_sums_sql(kind: str, side: str, table: str | None = None, keys: str = AFFECTED) -> str:
    """The raw rows of the affected keys summed, read day by day ($1: the affected days, through the index on
    ``(day, unit)``): for keys covering much of their days (a daily file, a backfill), one scan of those days is
    cheaper than an index scan per key. Into ``table`` (default: the side's ``per_unit_table``); the keys of ``keys``."""
    where = f"r.day = ANY($1::date[]) AND ({SIDES[side]}, r.day) IN (SELECT k.unit_id, k.day FROM {keys} k)"
    return f"CREATE TEMP TABLE {table or per_unit_table(side)} ON COMMIT DROP AS\n" + per_unit_select(
        kind, side, f"ingest.raw_{kind} r\nWHERE {where}"
    )


# per-key index scans while the affected keys are fewer than this share of the (unit, day) keys of their days
PER_KEY_SHARE = 0.25


def frontier_sql(kind: str, side: str) -> str:
    """The stored daily rows of the units just below the affected ones (children of an affected unit that are not
    affected themselves, on the same day): their sums hold, and they complete their ancestors' sums."""
    columns = ", ".join(f"d.{quote(r.measure)}" for r in rules_by_kind()[kind][side])
    return f"""CREATE TEMP TABLE {FRONTIER} ON COMMIT DROP AS
SELECT c.id AS unit_id, k.day, d.*
FROM {AFFECTED} k
JOIN ingest.unit c ON c.parent_id = k.unit_id
CROSS JOIN LATERAL (
    SELECT {columns} FROM ingest.daily_measure d WHERE d.unit_id = c.id AND d.day = k.day OFFSET 0
) d
WHERE NOT EXISTS (SELECT FROM {AFFECTED} x WHERE x.unit_id = c.id AND x.day = k.day)"""


def rolled_up_sql(kind: str, side: str) -> str:
    """One statement: every affected (unit, day) gets the sums of its own rows and of the affected units below
    it, plus the stored sums of the frontier below them — the sum of every raw row of its subtree that day."""
    rules = rules_by_kind()[kind][side]
    columns = [quote(r.measure) for r in rules]
    listed = ", ".join(columns)
    sums = ",\n        ".join(f"sum(p.{c}) AS {c}" for c in columns)
    coalesced = ", ".join(f"coalesce(v.{c}, 0)" for c in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
    return f"""
WITH parts AS (
    SELECT unit_id, day, {listed} FROM {per_unit_table(side)}
    UNION ALL
    SELECT unit_id, day, {listed} FROM {FRONTIER}
),
computed AS (
    SELECT a.unit_id, p.day,
        {sums}
    FROM parts p
    JOIN ingest.unit u ON u.id = p.unit_id
    CROSS JOIN LATERAL unnest(string_to_array(u.path, '/')) AS a(unit_id)
    GROUP BY a.unit_id, p.day
)
INSERT INTO ingest.daily_measure AS d (unit_id, day, {listed})
SELECT k.unit_id, k.day, {coalesced}
FROM {AFFECTED} k
LEFT JOIN computed v ON v.unit_id = k.unit_id AND v.day = k.day
ON CONFLICT (unit_id, day) DO UPDATE SET {updates}
"""


def prune_affected_sql(measures: list[str]) -> str:
    """``prune_sql`` over the affected keys (looked up one by one through the primary key)."""
    zero = " AND ".join(f"d.{quote(m)} = 0" for m in measures)
    return f"""
DELETE FROM ingest.daily_measure d
WHERE (d.unit_id, d.day) IN (SELECT k.unit_id, k.day FROM {AFFECTED} k) AND {zero}
"""


STORED = "stored_sums"


def stored_table(side: str) -> str:
    """The temporary table of one side's sums of the rows the affected keys held before a batch's rows went in."""
    return f"{STORED}_{side}"


async def affected(connection) -> None:
    """``AFFECTED`` from ``touched``."""
    await connection.execute(f"DROP TABLE IF EXISTS {AFFECTED}")
    await connection.execute(affected_sql())
    await connection.execute(f"ANALYZE {AFFECTED}")


async def _key_sums(connection, kind: str, table_of, keys: str = AFFECTED) -> None:
    """Per side, the sums of the raw rows the keys of ``keys`` hold now, into ``table_of(side)``: per key through the
    index on ``(day, unit)`` (``own_sums_sql``) when the keys are few beside their days' keys, else by scanning those
    days (``day_sums_sql``)."""
    count, days, units = await connection.fetchrow(
        f"SELECT count(*), array_agg(DISTINCT day), (SELECT count(*) FROM ingest.unit) FROM {keys}"
    )
    return await _sums_of_keys(connection, kind, table_of, keys, count, days or [], units)


async def key_sums(connection, kind: str) -> None:
    """Per side, the sums of the raw rows every affected key holds now, into the side's ``per_unit_table``."""
    await _key_sums(connection, kind, per_unit_table)


async def _sums_of_keys(connection, kind: str, table_of, keys: str, count: int, days: list, units: int) -> None:
    """``_key_sums`` once the keys are counted."""
    per_key = count < PER_KEY_SHARE * len(days or ()) * units
    for side in rules_by_kind()[kind]:
        if per_key:
            await connection.execute(own_sums_sql(kind, side, table_of(side), keys))
        else:  # the days' rows, joined to the keys by hash (a new day has no statistics: 1 row estimated)
            # the days' rows sorted or hashed by key in memory, not spilled (a 100,000-call day: 10 MB)
            await connection.execute("SET LOCAL enable_nestloop = off; SET LOCAL work_mem = '64MB'")
            await connection.execute(day_sums_sql(kind, side, table_of(side), keys), days or [])
            await connection.execute("SET LOCAL enable_nestloop TO DEFAULT; SET LOCAL work_mem TO DEFAULT")


async def sum_stored(connection, kind: str, increments_exact: bool = False) -> int:
    """Before a batch's rows go into the raw table (its replaced rows gone, ``touched`` complete): the sums of the
    rows the affected keys hold already (``stored_table``), so that ``recompute`` with ``batch_rows`` adds the
    batch's own sums, read from its stage, instead of reading its rows back from the month (a daily file's new day:
    its 50,000 rows summed from the stage, the month's index finding no stored row of its keys).

    ``increments_exact`` (the batch changed no stored row but by replacing it, and the replaced rows' sums are in
    ``increments.replaced_table``): agents' keys of whole numbers take their stored sums minus the replaced rows
    (``increments``), the other keys are read from their rows. Returns how many keys took increments."""
    await affected(connection)
    if not increments_exact:
        await _key_sums(connection, kind, stored_table)
        return 0
    await connection.execute(increments.incremented_sql(kind, AFFECTED))
    incremented = await connection.fetchval(f"SELECT count(*) FROM {increments.INCREMENTED}")
    await connection.execute(increments.rest_sql(AFFECTED))
    for side in rules_by_kind()[kind]:
        await connection.execute(increments.kept_sums_sql(kind, side, stored_table(side)))
    count, days, units = await connection.fetchrow(
        f"SELECT count(*), array_agg(DISTINCT day), (SELECT count(*) FROM ingest.unit) FROM {increments.REST}"
    )
    if not count:  # every key incremented (agents' corrections): nothing to read from the raw rows
        await connection.execute(f"DROP TABLE {increments.INCREMENTED}, {increments.REST}")
        return incremented
    await connection.execute(f"ANALYZE {increments.REST}")
    await _sums_of_keys(
        connection, kind, lambda side: f"{stored_table(side)}_read", increments.REST, count, days or [], units
    )
    for side, rules in rules_by_kind()[kind].items():
        columns = ", ".join(["unit_id", "day", *(quote(r.measure) for r in rules)])
        read = f"{stored_table(side)}_read"
        await connection.execute(f"INSERT INTO {stored_table(side)} ({columns}) SELECT {columns} FROM {read}")
        await connection.execute(f"DROP TABLE {read}")
    await connection.execute(f"DROP TABLE {increments.INCREMENTED}, {increments.REST}")
    return incremented


async def recompute(
    connection, kind: str, summed: bool = False, batch_rows: str | None = None, own_sums: bool = False
) -> None:
    """Recompute the daily measures of ``kind`` for the keys in ``touched`` (asyncpg connection).

    ``summed``: the sums per (unit, day) of every side are there already for the days they hold (``newmonth``: a
    month's every day), and their keys in ``touched``; keys of other days in ``touched`` (stored calls of the
    next month whose repeat verdict moved, ``repeats``) are summed here from the raw rows. Every unit's sums of
    those days are made, and rolled up (``recompute_sql``).

    Otherwise (a daily file, corrections, a withdrawal: keys of a few days among months of rows) only the affected
    keys are read — the touched (unit, day) and their ancestors' on those days (``affected_sql``): each affected
    key's own raw rows are summed through the index on ``(day, unit)`` (``own_sums_sql``, a few keys scattered over
    many days; ``day_sums_sql`` when they cover much of their days, as a daily file's do), and an ancestor's other
    children, not affected, bring their stored sums (``frontier_sql``) — the sum of its subtree's rows that day,
    as a recompute of the whole day would make it (the same two levels: rows summed per unit, then per ancestor).
    What it reads grows with the keys the batch touched, not with the rows stored. (Values are the same as a
    whole-day recompute; float sums of non-integer values may differ in their last bits, being added in another
    grouping.)

    ``batch_rows`` (a FROM clause, alias ``r``: the rows the batch just stored, as stored): ``sum_stored`` ran
    before they went in, and each key's rows are those sums plus the batch's rows summed — every row of the key
    once, as a read of the key's rows would give, without reading the batch's rows back from the raw table.

    ``own_sums``: ``AFFECTED`` is made and each side's ``per_unit_table`` holds every touched key's own sums already
    (``direct``: a file's rows summed as they were checked, or read back by ``key_sums``).
    """
    from services.ingest.rules import flow_measures

    if not summed:
        if batch_rows is None and not own_sums:
            await affected(connection)
            await _key_sums(connection, kind, per_unit_table)
        for side in rules_by_kind()[kind]:
            if batch_rows is not None:
                columns = ", ".join(["unit_id", "day", *(quote(r.measure) for r in rules_by_kind()[kind][side])])
                parts = (
                    f"(SELECT {columns} FROM {stored_table(side)} UNION ALL "
                    f"SELECT {columns} FROM ({per_unit_select(kind, side, batch_rows)}) b) p"
                )
                await connection.execute(merged_sums_sql(kind, side, parts))
                await connection.execute(f"DROP TABLE {stored_table(side)}")
            await connection.execute(frontier_sql(kind, side))
            await connection.execute(rolled_up_sql(kind, side))
            await connection.execute(f"DROP TABLE {per_unit_table(side)}, {FRONTIER}")
        await connection.execute(prune_affected_sql(flow_measures()))
        await connection.execute(f"DROP TABLE {AFFECTED}")
        return
    for side in rules_by_kind()[kind]:
        other_days = await connection.fetchval(
            f"{AFFECTED_DAYS_SQL} WHERE t.day NOT IN (SELECT day FROM {per_unit_table(side)})"
        )
        if other_days:
            columns = ", ".join(["unit_id", "day", *(quote(r.measure) for r in rules_by_kind()[kind][side])])
            raw_rows = f"ingest.raw_{kind} r\nWHERE r.day = ANY($1::date[])"
            await connection.execute(
                f"INSERT INTO {per_unit_table(side)} ({columns}) {per_unit_select(kind, side, raw_rows)}",
                other_days,
            )
        await connection.execute(recompute_sql(kind, side))
        await connection.execute(f"DROP TABLE {per_unit_table(side)}")
    await connection.execute(prune_sql(flow_measures()))
