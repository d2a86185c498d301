"""The raw tables' month partitions: their names and bounds, their key index, and the lock of a kind's writers.

Shared by ``loader`` (the staged path) and ``newmonth`` (a month built whole), neither importing the other.
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
