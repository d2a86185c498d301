"""Loading a batch: stream rows → validate in chunks → COPY into staging → set-based dedupe/upsert → aggregate.

The whole load of a batch is one transaction: either every valid row is stored and aggregated, or
nothing is (a row is never half-applied). Natural key: (kind, source, record_id). An identical re-sent
row is a duplicate and changes nothing; a changed row is a correction that replaces the stored
version (whatever batch brought it) and re-aggregates the keys both versions touched. Rows repeated
inside one file count once when identical; a differing repeat is rejected with a pointer to the first.
Writers of one record kind are serialized by an advisory lock. What the batch covers (kind, days, units, fields:
``coverage.py``) is recorded in the same transaction, from the keys of the rows it stored.

A plain canonical CSV (no mapping, UTF-8, no quote characters) takes the bulk path instead of the
Python row loop: PostgreSQL COPYs it (plain lines typed, others as text) and checks it set-based (``bulk.py``); only the
rows it cannot vouch for are checked by ``RowFeed``, so both paths accept, reject and report the same.

At steady state (issue 20: a daily file into a month of millions of rows, among many stored months) the cost
follows the file, not the history: the stage's keys are looked up only in the month partitions whose range of
record ids meets the stage's (``stored_months``), each key through the month's unique index when the stage is
small beside the month (``PROBE_SHARE``); one look-up of the keys finds the duplicates and the stored versions a
correction replaces, which leave in the same statement that records the keys they counted for
(``settle_stored_sql``); new rows go straight into their month's partition; the measures of the touched keys only
are re-summed (``aggregation.recompute``): the keys' stored rows summed before the insert, the batch's own from its
stage.

Speed without a second connection: the heavy set-based steps (the bulk conversion, the stage's key index,
the per-(unit, day) sums of the aggregation) are statements PostgreSQL 15 may run in parallel workers
(``CREATE TABLE … AS`` and ``CREATE INDEX`` over unlogged, not temporary, tables), so they use every core
while the batch stays one transaction. A month new to the raw table is built whole and attached
(``insert_into_raw``).

Not ``synchronous_commit = off`` for the load transaction: the batch is reported ``done`` right after
the commit, and a crash in the moment before the WAL reached disk would lose a batch the client was
told is stored (the client would not re-send it) — a durability loss, for the saving of one flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any, BinaryIO

import asyncpg

from services.ingest import aggregation, bulk, coverage, direct, increments, newmonth, quality, repeats
from services.ingest.feed import RowFeed
from services.ingest.partitions import (
    KIND_LOCK,
    key_index_sql,
    key_match,
    month_ranges,
    next_month,
    partition_name,
    summarize_brin,
)
from services.ingest.reader import CsvLayout, FileFormatError, plain_data
from services.ingest.records import SYSTEM_COLUMNS, RecordKind
from services.ingest.rules import SIDES, rules_by_kind
from services.ingest.validation import Problem

CHUNK_ROWS = 20_000


def same_values_sql(kind: RecordKind, left: str, right: str) -> str:
    """SQL: two rows carry the same canonical values (NULLs equal; timestamps compared as instants)."""
    fields = kind.field_names
    return (
        "ROW(" + ", ".join(f"{left}.{f}" for f in fields) + ") IS NOT DISTINCT FROM "
        "ROW(" + ", ".join(f"{right}.{f}" for f in fields) + ")"
    )


def _take(iterator: Iterator[tuple], size: int) -> list[tuple]:
    return list(islice(iterator, size))


async def stage_rows(apg, kind: RecordKind, feed: RowFeed, rows: Iterator, on_progress=None) -> str:
    """Create the staging table and COPY every valid row into it in chunks; returns its name.

    Parsing and validation run in a worker thread, one chunk ahead of the COPY of the previous chunk:
    the event loop stays free for other requests, and PostgreSQL ingests while Python parses.
    """
    stage = f"stage_{kind.name}_{feed.batch_id}"
    await apg.execute(f"CREATE TEMP TABLE {stage} (LIKE ingest.{kind.table}) ON COMMIT DROP")
    columns = [*kind.field_names, *(c for c, _ in SYSTEM_COLUMNS)]
    iterator = feed.tuples(rows)
    pending = asyncio.ensure_future(asyncio.to_thread(_take, iterator, CHUNK_ROWS))
    try:
        while chunk := await pending:
            pending = asyncio.ensure_future(asyncio.to_thread(_take, iterator, CHUNK_ROWS))
            await apg.copy_records_to_table(stage, records=chunk, columns=columns)
            if on_progress is not None:
                await on_progress("validating", chunk[-1][-1])  # the last data row number copied
    finally:
        if not pending.done():  # a COPY failed: let the parser finish its chunk before unwinding
            with contextlib.suppress(Exception):
                await pending
    return stage


async def _drop_repeats_in_file(apg, kind: RecordKind, stage: str, feed: RowFeed) -> None:
    """Rows repeated in the same file: identical repeats count once, differing ones are rejected."""
    if not feed.repeated_keys:
        return
    keys = list(feed.repeated_keys)
    rows = await apg.fetch(
        f"""
        WITH ranked AS (
            SELECT ctid AS c, row_no, record_id, row_number() OVER w AS n,
                   first_value(ctid) OVER w AS first_c, first_value(row_no) OVER w AS first_row
            FROM {stage}
            WHERE (source, record_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
            WINDOW w AS (PARTITION BY source, record_id ORDER BY row_no)
        ),
        judged AS (
            SELECT r.c, r.row_no, r.record_id, r.first_row, {same_values_sql(kind, "s", "f")} AS same
            FROM ranked r JOIN {stage} s ON s.ctid = r.c JOIN {stage} f ON f.ctid = r.first_c
            WHERE r.n > 1
        )
        DELETE FROM {stage} s USING judged j WHERE s.ctid = j.c
        RETURNING j.row_no, j.record_id, j.first_row, j.same
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    for row in rows:
        if row["same"]:
            feed.counts.rows_repeated_in_file += 1
        else:
            feed.counts.rows_valid -= 1
            feed.counts.reject(
                [
                    Problem(
                        row["row_no"],
                        "record_id",
                        row["record_id"],
                        f"the same source and record_id already appear in row {row['first_row']} with other values",
                    )
                ]
            )


async def merge_stage(apg, kind: RecordKind, stage: str, feed: RowFeed) -> str:
    """Dedupe against stored rows, replace corrected ones, insert the rest; returns the stored rows as a FROM clause
    (``batch_rows``) for ``aggregation.recompute``, whose stored part is summed before the insert."""

    await apg.execute("SELECT pg_advisory_xact_lock(hashtext($1))", KIND_LOCK + kind.name)
    indexed = False
    if feed.repeats_unknown:
        # most files repeat no key: the unique index is the index needed anyway, and proves it
        await apg.execute("SAVEPOINT stage_key")
        try:
            await apg.execute(f'CREATE UNIQUE INDEX ON {stage} (source COLLATE "C", record_id COLLATE "C")')
            await apg.execute("RELEASE SAVEPOINT stage_key")
            indexed = True
        except asyncpg.UniqueViolationError:
            await apg.execute("ROLLBACK TO SAVEPOINT stage_key")
            await apg.execute("RELEASE SAVEPOINT stage_key")
            repeated = await apg.fetch(
                f"SELECT source, record_id FROM {stage} GROUP BY source, record_id HAVING count(*) > 1"
            )
            feed.repeated_keys = {(r["source"], r["record_id"]) for r in repeated}
    await _drop_repeats_in_file(apg, kind, stage, feed)
    if not indexed:
        await apg.execute(f'CREATE INDEX ON {stage} (source COLLATE "C", record_id COLLATE "C")')
    staged = await apg.fetchval(f"SELECT count(*) FROM {stage}")
    months = await stored_months(apg, kind, stage)
    # a stage much smaller than the months it is looked up in: each key through the month's unique index (a hash
    # join would read the whole month — or, before the months were pruned, every month ever stored); a large stage
    # (a backfill of a month) is joined by hash
    probe = bool(months) and staged * PROBE_SHARE < max(rows for _, rows in months)
    if staged > ANALYZED_STAGE:
        # the plans of the joins below need the stage's size and key spread, not fine histograms: a small sample.
        # A small stage (corrections) does without: planned from its pages, its joins are small whatever their plan,
        # and ANALYZE cost ~10 ms of a 5,000-row correction's ~300
        await apg.execute("SET LOCAL default_statistics_target = 10")
        await apg.execute(f"ANALYZE {stage}")
        await apg.execute("SET LOCAL default_statistics_target TO DEFAULT")
    if probe:
        await apg.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
    else:
        # the hash of this join holds the whole stage: with the default 4 MB it spills in many batches (a re-read
        # 1 M-row file of duplicates: 3.7 s → 1.7 s with 128 MB); only for these statements, the load holding the
        # kind's lock
        await apg.execute("SET LOCAL work_mem = '128MB'")
    await apg.execute(aggregation.TOUCHED_DDL)
    if repeats.tracks(kind.name):
        await apg.execute(repeats.CHANGES_DDL)  # the replaced versions' callers: their look-backs are judged again
    for statement in increments.replaced_ddl(kind.name):
        await apg.execute(statement)
    duplicates = corrected = 0
    for partition, _ in months:
        # one look-up of the stage's keys in the month: identical versions leave the stage (duplicates), the stored
        # versions of the others leave the month (corrections), and the keys they counted for are recomputed
        same, replaced = await apg.fetchrow(settle_stored_sql(kind, partition, stage))
        duplicates, corrected = duplicates + same, corrected + replaced
    feed.counts.rows_duplicate = duplicates
    await apg.execute("SET LOCAL enable_hashjoin TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT")
    await apg.execute("SET LOCAL work_mem TO DEFAULT")
    feed.counts.rows_corrected = corrected
    staged -= duplicates
    feed.counts.rows_new = staged - corrected
    # the keys of the rows the batch stores: recomputed, and what its coverage is inferred from
    await apg.execute(coverage.brought_sql(kind.name, stage))
    await apg.execute(f"INSERT INTO touched (unit_id, day) SELECT unit_id, day FROM {coverage.BROUGHT}")
    judged = False
    if repeats.tracks(kind.name):
        feed.repeat_callers, judged = await repeats.judge_stage(apg, stage)
    # the keys' stored rows summed now (agents' by increments, exact, unless stored rows changed other than replaced);
    # the batch's own rows are summed from the stage after the insert
    moved = (feed.repeat_callers or {}).get("otherCallsChanged", 0)
    await aggregation.sum_stored(apg, kind.name, increments_exact=not moved)
    await insert_into_raw(apg, kind, stage, judged)
    return batch_rows(kind, stage, judged)


def _stored_values(kind: RecordKind, stage: str, judged: bool) -> tuple[list[str], list[str], str]:
    """(columns, values, FROM clause over alias ``s``): the stage's rows as the raw table stores them (calls with
    their look-back verdict: ``repeats.stage_join``, from ``repeats.JUDGED`` when ``judged``)."""
    columns = [*kind.field_names, "day", "batch_id", "row_no", *kind.derived_columns]
    values = [f"s.{c}" for c in [*kind.field_names, "day", "batch_id", "row_no"]]
    rows = f"{stage} s"
    if repeats.tracks(kind.name):
        join, verdict = repeats.stage_join("s")
        rows, values = (rows + join, [*values, verdict]) if judged else (rows, [*values, repeats.unjudged("s")])
    return columns, values, rows


def batch_rows(kind: RecordKind, stage: str, judged: bool) -> str:
    """A FROM clause (alias ``r``): the rows ``insert_into_raw`` stored from ``stage``, as stored."""
    columns, values, rows = _stored_values(kind, stage, judged)
    return f"(SELECT {', '.join(f'{v} AS {c}' for v, c in zip(values, columns, strict=True))} FROM {rows}) r"


def settle_stored_sql(kind: RecordKind, partition: str, stage: str) -> str:
    """One statement, one look-up of the stage's keys in ``partition`` (through its unique index when probing): the
    stage's rows identical to their stored version are deleted from the stage (duplicates), the stored versions of
    the others are deleted (corrections), their keys added to ``touched`` (every side) and, for calls, their callers
    to the look-back's changes (``repeats.CHANGES_DDL`` made beforehand); returns (duplicates, corrections)."""
    keys = " UNION ".join(
        f"SELECT {SIDES[side].replace('r.', 'd.')}, d.day FROM d" for side in rules_by_kind()[kind.name]
    )
    changes = ""
    if repeats.tracks(kind.name):
        changes = (
            f", c AS (INSERT INTO {repeats.CHANGES} SELECT caller_hash, started_at FROM d "
            "WHERE caller_hash IS NOT NULL)"
        )
    return (
        f"WITH m AS MATERIALIZED (SELECT s.ctid AS staged, r.ctid AS stored, {same_values_sql(kind, 'r', 's')} AS same "
        f"FROM {stage} s JOIN ONLY {partition} r ON {key_match('r', 's')}), "
        f"dup AS (DELETE FROM {stage} s WHERE s.ctid = ANY(ARRAY(SELECT staged FROM m WHERE same)) RETURNING 1), "
        f"d AS (DELETE FROM ONLY {partition} r WHERE r.ctid = ANY(ARRAY(SELECT stored FROM m WHERE NOT same)) "
        f"RETURNING r.*), t AS (INSERT INTO touched (unit_id, day) {keys}){changes}{increments.replaced_ctes(kind.name, 'd')} "
        "SELECT (SELECT count(*) FROM dup), (SELECT count(*) FROM d)"
    )


# a stage of at most this many rows is not analysed (``merge_stage``)
ANALYZED_STAGE = 20_000
# a stage of fewer than 1/PROBE_SHARE the rows of the largest month it is looked up in looks its keys up one by one
PROBE_SHARE = 8


async def stored_months(apg, kind: RecordKind, stage: str) -> list[tuple[str, int]]:
    """The month partitions that may hold a key of the stage, with their estimated rows: those whose range of record
    ids (the first and last entry of their unique key index, read exactly) meets the stage's. Record ids of a
    source grow with time in practice, so a daily file's keys fall in its own month's range only, and the look-ups
    of its keys read no other month, however many are stored; the answer is exact whatever the ids."""
    low, high = await apg.fetchrow(f'SELECT min(record_id COLLATE "C"), max(record_id COLLATE "C") FROM {stage}')
    if low is None:
        return []
    return [
        (name, rows)
        for name, first, last, rows in await month_ranges(apg, kind)
        if first.encode() <= high.encode() and last.encode() >= low.encode()
    ]


async def insert_into_raw(apg, kind: RecordKind, stage: str, judged: bool = False) -> None:
    """Move the stage's rows into the raw table (calls with their look-back verdict: ``repeats.stage_join``, from
    ``repeats.JUDGED`` when ``judged``).

    A month the raw table has no partition for yet is built whole: a plain table is filled, then attached as the
    month's partition; its key index and (by attaching) the parent's indexes are built in one sorted pass each —
    instead of inserting 1 M rows one by one into each index (1M calls of one month: 3.8 s → 2.5 s). Same
    transaction, so the batch is still stored whole or not at all; the kind's lock (held) keeps other loaders of the kind out. Rows of months
    that already have a partition are inserted as usual. ``touched`` holds every (unit, day) of the stage.
    """
    table = f"ingest.{kind.table}"
    column_list, value_list, rows = _stored_values(kind, stage, judged)
    columns, values = ", ".join(column_list), ", ".join(value_list)
    fresh: list[date] = []
    stored: list[date] = []
    for (month,) in await apg.fetch("SELECT DISTINCT date_trunc('month', day)::date FROM touched ORDER BY 1"):
        missing = await apg.fetchval("SELECT to_regclass($1) IS NULL", f"ingest.{partition_name(kind, month)}")
        (fresh if missing else stored).append(month)
    for month in fresh:
        partition = f"ingest.{partition_name(kind, month)}"
        bounds = f"FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"
        # the CHECK spares ATTACH its scan proving every row belongs in the month; it goes once attached
        await apg.execute(
            f"CREATE TABLE {partition} (LIKE {table}, CONSTRAINT month_bounds "
            f"CHECK (day >= '{month.isoformat()}' AND day < '{next_month(month).isoformat()}'))"
        )
        await apg.execute(
            f"INSERT INTO {partition} ({columns}) SELECT {values} FROM {rows} WHERE s.day >= $1 AND s.day < $2",
            month,
            next_month(month),
        )
        await apg.execute(key_index_sql(partition_name(kind, month)))
        await apg.execute(f"ALTER TABLE {table} ATTACH PARTITION {partition} FOR VALUES {bounds}")
        await apg.execute(f"ALTER TABLE {partition} DROP CONSTRAINT month_bounds")
    for month in stored:  # into the month's partition itself, its rows found by their days
        partition = f"ingest.{partition_name(kind, month)}"
        await apg.execute(
            f"INSERT INTO {partition} ({columns}) SELECT {values} FROM {rows} WHERE s.day >= $1 AND s.day < $2",
            month,
            next_month(month),
        )
        await summarize_brin(apg, partition)


async def withdraw_rows(apg, kind: str, batch_id: int) -> tuple[int, int | None]:
    """Delete a batch's rows and its coverage, and recompute the keys they counted for; returns the rows removed and, for calls, how
    many stored calls' repeat verdicts moved (their look-back held a withdrawn call)."""
    await apg.execute("SELECT pg_advisory_xact_lock(hashtext($1))", KIND_LOCK + kind)
    await apg.execute(aggregation.TOUCHED_DDL)
    await apg.execute(aggregation.touch_sql(kind, f"r.batch_id = {int(batch_id)}"))
    if repeats.tracks(kind):
        await apg.execute(repeats.CHANGES_DDL)
    removed = await apg.fetchval(
        repeats.counted_delete(kind, f"DELETE FROM ingest.raw_{kind} r WHERE r.batch_id = {int(batch_id)}")
    )
    moved = None
    if repeats.tracks(kind):
        moved = await repeats.apply_to_stored(apg) if await repeats.judge(apg) else 0
    await aggregation.recompute(apg, kind)
    await coverage.withdraw(apg, batch_id)
    return removed, moved


@dataclass
class PlainCsv:
    """A canonical CSV with a plain header (``reader.plain_csv_layout``; its data part is checked by the path that
    takes it) and how to stream it through Python instead."""

    binary: BinaryIO
    layout: CsvLayout
    reopen: Callable[[], Iterator]


async def load(
    apg, kind: RecordKind, feed: RowFeed, rows: Iterator, set_status, plain: PlainCsv | None = None, second=None
) -> dict[str, Any]:
    """Run a batch's load inside the caller's transaction; returns the batch's quality report.

    ``second``: opens another connection of the pool (an async context manager giving an asyncpg connection);
    with two of them, a large plain file of one month is COPYed in two streams and stored whole (``newmonth``).
    ``None``: one connection only.
    """
    began = time.perf_counter()
    # JIT compiles the wide expressions of the load's scans (checks, sums) in ~0.1–0.15 s per statement, more than
    # it saves over a million rows (1M calls: 5.6 s → 4.3 s end to end without it)
    await apg.execute("SET LOCAL jit = off")
    await set_status("validating")
    stage = stored_rows = None
    phases: dict[str, float] = {}
    if plain is not None and second is not None:
        if await newmonth.load(apg, second, kind, feed, plain.binary, plain.layout, set_status):
            phases["parallelCopyAttach"] = time.perf_counter() - began
        else:
            plain.binary.seek(0)
    direct_rows = None
    if not phases and plain is not None and await asyncio.to_thread(plain_data, plain.binary, plain.layout.data_offset):
        # a plain file of new keys only: COPYed once, straight into its month (``direct``); else staged below
        if direct_rows := await direct.copy_plain(apg, kind, feed, plain.binary, plain.layout, CHUNK_ROWS, set_status):
            phases["directCopy"] = time.perf_counter() - began
            await direct.settle(apg, kind, direct_rows)
            phases["settle"] = time.perf_counter() - began - sum(phases.values())
        else:
            stage = await bulk.stage_plain_csv(apg, kind, feed, plain.binary, plain.layout, CHUNK_ROWS, set_status)
            if stage is None:  # PostgreSQL does not read it as the Python reader would: stream it through Python
                rows = plain.reopen()
    elif not phases and plain is not None:
        rows = plain.reopen()
    if not phases:  # not stored whole as a new month nor directly: staged, then merged
        if stage is None:
            stage = await stage_rows(apg, kind, feed, rows, set_status)
        if feed.counts.rows_read == 0:
            raise FileFormatError("the file has a header but no data rows")
        phases["parseValidateCopy"] = time.perf_counter() - began
        await set_status("loading", feed.counts.rows_read)
        stored_rows = await merge_stage(apg, kind, stage, feed)
        phases["dedupeStore"] = time.perf_counter() - began - sum(phases.values())
    await set_status("aggregating", feed.counts.rows_read)
    if direct_rows is not None:  # the touched keys' sums made already (``direct.settle``)
        await aggregation.recompute(apg, kind.name, own_sums=True)
    else:
        await aggregation.recompute(apg, kind.name, feed.summed, batch_rows=stored_rows)
    phases["aggregate"] = time.perf_counter() - began - sum(phases.values())
    await coverage.record(apg, feed.batch_id, kind.name, feed.covers, feed.period, feed.supplied())
    phases["coverage"] = time.perf_counter() - began - sum(phases.values())
    report = await quality.batch_quality(apg, kind, feed, stored_rows)
    if stage is not None and "." in stage:  # the bulk path's stage is a table of the schema, not a temporary one
        await apg.execute(f"DROP TABLE {stage}")
    phases["quality"] = time.perf_counter() - began - sum(phases.values())
    feed.timings = {name: round(seconds, 3) for name, seconds in phases.items()}
    return report
