"""The raw tables' month partitions: their names and bounds, their key index and key ranges, the summaries of their
BRIN index, and the lock of a kind's writers.

Shared by ``loader`` (the staged path), ``direct`` (a plain file COPYed straight into its month) and ``newmonth`` (a
month built whole), none importing another in a circle.
"""

from __future__ import annotations

from datetime import date

from services.ingest.records import RecordKind

# writers of one record kind hold this advisory lock (with the kind's name) for their transaction
KIND_LOCK = "ingest:raw:"


def key_match(left: str, right: str) -> str:
    """SQL: two rows have the same natural key, compared bytewise so that the raw tables' key index serves it
    (migration ingest_0004; for the database's deterministic collation the same as ``=``)."""
    return f'{left}.source = {right}.source COLLATE "C" AND {left}.record_id = {right}.record_id COLLATE "C"'


# every month partition's own unique index on the natural key (migration ingest_0007: a unique index of the
# partitioned table would have to hold ``day``, letting a key repeat on two days)
KEY_INDEX = 'CREATE UNIQUE INDEX {name} ON {table} (record_id COLLATE "C", source COLLATE "C")'


def key_index_sql(partition: str, table: str | None = None, name: str | None = None) -> str:
    """Build the key index of month partition ``partition`` (a bare name) on ``table`` (default: the partition),
    named ``name`` (default: the partition's name and ``_key``)."""
    return KEY_INDEX.format(name=name or f"{partition}_key", table=table or f"ingest.{partition}")


def partition_name(kind: RecordKind, month: date) -> str:
    """The monthly partition of a raw table (the name ``ingest.ensure_partition`` gives it)."""
    return f"{kind.table}_{month:%Y}m{month:%m}"


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


async def month_ranges(apg, kind: RecordKind) -> list[tuple[str, str, str, int]]:
    """Per month partition holding rows: its name, its least and greatest record id (``COLLATE "C"``: the first and
    last entry of its unique key index) and its estimated rows."""
    partitions = await apg.fetch(
        # never analysed (a month built whole and attached): its size at ~200 bytes a row
        "SELECT c.oid::regclass::text AS name, (CASE WHEN c.reltuples >= 0 THEN c.reltuples "
        "ELSE pg_relation_size(c.oid) / 200 END)::bigint AS rows FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1",
        f"ingest.{kind.table}",
    )
    months = []
    for partition in partitions:
        name = partition["name"]
        first, last = await apg.fetchrow(
            f'SELECT (SELECT record_id FROM ONLY {name} ORDER BY record_id COLLATE "C" LIMIT 1), '
            f'(SELECT record_id FROM ONLY {name} ORDER BY record_id COLLATE "C" DESC LIMIT 1)'
        )
        if first is not None:
            months.append((name, first, last, partition["rows"]))
    return months


async def summarize_brin(apg, partition: str) -> None:
    """Summarize the page ranges of ``partition``'s BRIN index on ``(day, batch_id)`` that rows were just inserted
    into. A BRIN index summarizes only the ranges that existed when it was built (a month attached whole, or
    built with its first file); ranges filled later stay unsummarized — every one of them matches any condition —
    until autovacuum summarizes them, if it runs at all (``autosummarize`` is off, and so is autovacuum on some
    servers). Unsummarized, the index made "the stored calls of these days" a read of the whole month (the
    province-year's look-back in December: 64,846 pages read for one day's 103,015 calls, 3.1 s); summarized, the
    ranges of those days. Only the new ranges are read: those the file's rows went into (a daily file: ~20)."""
    await apg.execute(
        "SELECT brin_summarize_new_values(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = $1::regclass AND a.amname = 'brin'",
        partition,
    )
