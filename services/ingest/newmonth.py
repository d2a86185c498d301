"""A large plain file of one month: two COPY streams build the month's partition whole.

PostgreSQL runs a COPY in one backend, on one core. A large canonical CSV whose lines are all plain
(``bulk.plain_line_pattern``) is instead COPYed in two halves at once, over two helper connections of the
pool, each half in one COPY fed chunk by chunk (the next chunk is read and checked plain while PostgreSQL
parses the one before), straight into one table shaped like the raw table's partitions (``day`` generated
from the record's time at the month's UTC offset, ``batch_id`` and ``row_no`` filled in by defaults: each
half numbers its rows from its own sequence, so row numbers are the file's). That table is created and
committed beforehand under a name of its own (``ingest.bulk_load_<kind>_<batch>``), and both halves are
committed into it, but nobody reads it — it is not part of the raw table. Calls are then judged for repeat callers
(``repeats.judge_month``, half of the callers on each helper) before anything is summed, and the three connections
share the rest (``_attach_if_clean``): indexes, checks, sums. If the table holds rows of one month only and passes
every check, the load's transaction renames and attaches it as that month's partition. A month the raw table
already holds, if it holds at most ``STORED_SHARE`` times the file's rows, is rebuilt the same way: its rows
are copied as they are into the table before the indexes and sums, and the table takes the old partition's
place. So readers see all of the batch's rows at the load's commit, or none of them.

Every other outcome gives the file back to the usual bulk path (``bulk.stage_plain_csv``), which starts
again from the first line: a chunk that is not all plain, a row the checks refuse (unit outside the
scope, time order, bounds), a key repeated in the file or already stored, rows of several months, a month
holding many more rows than the file, or no helper connection to be had. The table is dropped then, or —
should the load's transaction fail after attaching it — by the failure's clean-up (``drop_leftovers``), or at
the next start of the service.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import asyncpg

from services.ingest import aggregation, bulk, coverage, quality, repeats
from services.ingest.feed import RowFeed
from services.ingest.partitions import KIND_LOCK, key_index_sql, key_match, next_month, partition_name
from services.ingest.reader import CsvLayout
from services.ingest.records import SYSTEM_COLUMNS, RecordKind

# below this many bytes of rows one COPY stream is as quick: the helper connections are not worth opening
MIN_BYTES = 32 << 20
# a month already stored is rebuilt with the file's rows if it holds at most this many times the file's rows (its
# rows are copied, and summed again); a larger one takes the file's rows the usual way
STORED_SHARE = 2
SCRATCH_PREFIX = "bulk_load_"

# how long to wait for each helper connection of the pool before leaving the file to the usual path
HELPER_WAIT_SECONDS = 2.0
# at most one progress write per this many seconds of COPY
PROGRESS_SECONDS = 0.5
# the sums are made in this many ranges of the table's blocks, shared by the three connections
SUM_PARTS = 12
# the memory of each sums statement (three at once; the load's also merges the parts' sums with it)
SUMS_WORK_MEM = "64MB"
# the work after the COPY: one process per connection (parallel workers would only share the same two cores)
_SERIAL = "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL max_parallel_maintenance_workers = 0"

SecondConnection = Callable[[], AbstractAsyncContextManager[Any]]


class _NotForThisPath(Exception):
    """The file must take the usual bulk path."""


def scratch_table(kind: str, batch_id: int) -> str:
    """The batch's scratch table (its sequences: the same name with ``_a`` and ``_b``)."""
    return f"ingest.{SCRATCH_PREFIX}{kind}_{int(batch_id)}"


class _File:
    """Reads of one file from two streams (each read seeks first, so reads are serialized)."""

    def __init__(self, binary: BinaryIO) -> None:
        self.binary = binary
        self.lock = threading.Lock()

    def read_at(self, offset: int, size: int) -> bytes:
        with self.lock:
            self.binary.seek(offset)
            return self.binary.read(size)

    def size(self) -> int:
        with self.lock:
            return self.binary.seek(0, 2)


def _line_values(file: _File, offset: int, layout: CsvLayout) -> dict[str, str] | None:
    """The values by column of the line starting at ``offset`` (a plain line's values are the bytes between
    delimiters); ``None`` if it has not one value a column."""
    line = file.read_at(offset, 1 << 16).split(b"\n", 1)[0].rstrip(b"\r")
    values = line.split(layout.delimiter.encode())
    if len(values) != len(layout.names):
        return None
    return dict(zip(layout.names, (v.decode("utf-8", "replace") for v in values), strict=True))


def _first_month(file: _File, kind: RecordKind, layout: CsvLayout) -> date | None:
    """The month of the first row's day field (a plain line's local time starts with its date)."""
    text = (_line_values(file, layout.data_offset, layout) or {}).get(kind.day_field, "")
    try:
        return date(int(text[:4]), int(text[5:7]), 1)
    except ValueError:
        return None


def _sample_keys(file: _File, layout: CsvLayout, offsets: list[int], source: str) -> list[tuple[str, str]]:
    """The (source, record id) of the lines starting at ``offsets`` (the batch's source where the file has no
    such column)."""
    lines = (_line_values(file, offset, layout) for offset in offsets)
    return [(v.get("source") or source, v["record_id"]) for v in lines if v is not None and "record_id" in v]


def _last_line(file: _File, end: int) -> int:
    """Where the file's last non-empty line starts."""
    start = max(0, end - (1 << 16))
    return start + file.read_at(start, end - start).rstrip(b"\r\n").rfind(b"\n") + 1


def _split(file: _File, start: int, end: int) -> tuple[int, int] | None:
    """A line boundary near the middle of the rows, and how many rows come before it."""
    middle = start + (end - start) // 2
    tail = file.read_at(middle, 1 << 20)
    cut = tail.find(b"\n")
    if cut < 0:
        return None
    split = middle + cut + 1
    rows, offset = 0, start
    while offset < split:
        block = file.read_at(offset, min(8 << 20, split - offset))
        rows += block.count(b"\n")
        offset += len(block)
    return split, rows


def _chunk_reader(file: _File, span: tuple[int, int], pattern):
    """``read(offset)``: the whole lines of ``span`` from ``offset``, up to a chunk's size, and the bytes they take;
    ``None`` for lines that are not all plain (a line longer than a chunk is not plain)."""
    end = span[1]
    chunk_bytes = max(bulk.COPY_CHUNK_BYTES_PER_ROW * 20_000, 4096)

    def read(offset: int) -> tuple[bytes | None, int]:
        data = file.read_at(offset, min(chunk_bytes, end - offset))
        if offset + len(data) < end:
            data = data[: data.rfind(b"\n") + 1]
            if not data:
                return None, 0
        size = len(data)
        data = data.rstrip(b"\r\n") if offset + size >= end else data  # line ends after the last row are not rows
        if data and pattern.fullmatch(bulk._ended(data)) is None:
            return None, size
        return data, size

    return read


async def _checked_chunks(file: _File, span: tuple[int, int], pattern, abort: asyncio.Event, on_lines):
    """The chunks of ``span``, each read and checked plain in a thread (RE2 releases the GIL) while PostgreSQL
    parses the one before; raises ``_NotForThisPath`` at the first that is not (telling the other stream)."""
    read = _chunk_reader(file, span, pattern)
    offset, end = span
    pending = asyncio.ensure_future(asyncio.to_thread(read, offset)) if offset < end else None
    try:
        while pending is not None:
            data, size = await pending
            pending = None
            if data is None or abort.is_set():
                abort.set()
                raise _NotForThisPath
            offset += size
            if offset < end:
                pending = asyncio.ensure_future(asyncio.to_thread(read, offset))
            if data:
                yield data
                await on_lines(data.count(b"\n") + (not data.endswith(b"\n")))
    finally:
        if pending is not None:
            pending.cancel()


async def _stream(connection, table: str, layout: CsvLayout, file: _File, span: tuple[int, int], pattern, abort,
                  on_lines, zone: str) -> None:  # fmt: skip
    """COPY the lines of ``span`` into ``table`` in one COPY, committed at its end (nobody reads the table yet)."""
    schema, _, name = table.rpartition(".")
    try:
        async with connection.transaction():
            await connection.execute(f"SET LOCAL TimeZone = {bulk._literal(zone)}")
            await connection.copy_to_table(
                name, schema_name=schema, source=_checked_chunks(file, span, pattern, abort, on_lines),
                columns=list(layout.names), format="csv", delimiter=layout.delimiter, header=False,
            )  # fmt: skip
    except BaseException:
        abort.set()  # the other stream need not go on
        raise


async def drop_scratch(apg, kind: str, batch_id: int) -> None:
    """Drop the batch's scratch table (unless it became a partition) and its sequences."""
    table = scratch_table(kind, batch_id)
    if await apg.fetchval("SELECT relispartition FROM pg_class WHERE oid = to_regclass($1)", table) is False:
        await apg.execute(f"DROP TABLE {table}")
    await apg.execute(f"DROP SEQUENCE IF EXISTS {table}_a, {table}_b")


async def drop_leftovers(apg) -> list[str]:
    """Drop the scratch tables of batches no longer loading (failed, done, or gone): a crash between the second
    stream's commit and the end of the load leaves one behind."""
    rows = await apg.fetch(
        f"""SELECT s.relname, s.kind, s.batch_id
            FROM (SELECT DISTINCT x.name AS relname, substring(x.name FROM '^{SCRATCH_PREFIX}(.*)_[0-9]+$') AS kind,
                         substring(x.name FROM '_([0-9]+)$')::bigint AS batch_id
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  CROSS JOIN LATERAL (SELECT CASE WHEN c.relkind = 'S' THEN left(c.relname, -2) ELSE c.relname END)
                      x(name)
                  WHERE n.nspname = 'ingest' AND (c.relkind = 'S' OR (c.relkind = 'r' AND NOT c.relispartition))
                    AND c.relname ~ '^{SCRATCH_PREFIX}.*_[0-9]+(_[ab])?$') s
            LEFT JOIN ingest.batch b ON b.id = s.batch_id
            WHERE b.id IS NULL OR b.status IN ('done', 'failed')"""
    )
    for row in rows:
        await drop_scratch(apg, row["kind"], row["batch_id"])
    return [row["relname"] for row in rows]


async def load(
    apg,
    second: SecondConnection,
    kind: RecordKind,
    feed: RowFeed,
    binary: BinaryIO,
    layout: CsvLayout,
    on_progress: Callable[[str, int], Awaitable[Any]] | None,
) -> bool:
    """Load the file as its month's partition (new, or rebuilt with the month's stored rows), as described above;
    ``False``: nothing was stored, and the file must take the usual bulk path. ``True``: the rows are stored, ``feed`` counts them, their sums per (unit, day)
    are made (``aggregation.per_unit_table``; ``feed.summed``), ``touched`` holds their keys, and ``coverage.BROUGHT``
    the keys of the batch's own rows.
    """
    zone = str(feed.tz)
    pattern = bulk.plain_line_pattern(kind, layout, zone)
    file = _File(binary)
    end = file.size()
    if pattern is None or end - layout.data_offset < MIN_BYTES:
        return False
    month = _first_month(file, kind, layout)
    if month is None:
        return False
    split = await asyncio.to_thread(_split, file, layout.data_offset, end)
    if split is None:
        return False
    middle, rows_before = split
    at_most = STORED_SHARE * 2 * rows_before
    stored = await _stored_rows(apg, kind, month, at_most)
    if stored is not None and stored > at_most:
        return False  # a month holding many more rows than the file: the usual path adds the file's rows to it
    if stored:  # a file re-sent, or correcting stored rows (its first, middle or last key stored): the usual path
        offsets = [layout.data_offset, middle, _last_line(file, end)]
        for key_source, record_id in _sample_keys(file, layout, offsets, feed.source):
            if await apg.fetchval(
                f'SELECT EXISTS (SELECT 1 FROM ingest.{kind.table} WHERE record_id = $1 COLLATE "C" '
                f'AND source = $2 COLLATE "C")',
                record_id,
                key_source,
            ):
                return False
    table = scratch_table(kind.name, feed.batch_id)
    async with contextlib.AsyncExitStack() as stack:
        try:  # a pool busy with other loads: the usual path needs no helper
            one, other = [
                await asyncio.wait_for(stack.enter_async_context(second()), HELPER_WAIT_SECONDS) for _ in range(2)
            ]
        except TimeoutError:
            return False
        await _create_scratch(one, kind, table, feed, zone, month, other.get_server_pid(), rows_before + 1)
        await apg.execute("SAVEPOINT new_month")
        try:
            done = await _fill_and_attach(
                apg, (one, other), kind, feed, layout, file, table, (month, stored is not None),
                (layout.data_offset, middle, end), pattern, on_progress,
            )  # fmt: skip
        except BaseException:
            await _give_up(apg, one, kind, feed)
            raise
        if not done:
            await _give_up(apg, one, kind, feed)
            return False
    await apg.execute("RELEASE SAVEPOINT new_month")
    return True


async def _give_up(apg, helper, kind: RecordKind, feed: RowFeed) -> None:
    with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
        await apg.execute("ROLLBACK TO SAVEPOINT new_month")  # releases this transaction's locks on the table
        await apg.execute("RELEASE SAVEPOINT new_month")
    # should the load's transaction still hold a lock on it, the table is left to the failure's clean-up
    with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
        await helper.execute("SET lock_timeout = '5s'")
        await drop_scratch(helper, kind.name, feed.batch_id)
        await helper.execute("RESET lock_timeout")


async def _create_scratch(helper, kind, table, feed, zone, month: date, other_pid, other_first_row) -> None:
    """The table the two halves are COPYed into, committed (autocommit on a helper connection). Its CHECKs (rows
    of the first row's month: a row of another refuses the COPY) spare ATTACH its scan proving as much.

    ``day`` is the local date at the month's UTC offset: a plain line's time is of a year in which the zone's
    offset does not change (``bulk.plain_line_pattern``), and the CHECK on the time itself keeps every row inside
    the month — so the offset is the month's, and a fixed offset is cheaper to apply than the zone's rules
    (0.25 s of a core less per million rows)."""
    literal = bulk._literal
    raw = f"ingest.{kind.table}"
    first = datetime(month.year, month.month, 1, tzinfo=ZoneInfo(zone))
    following = next_month(month)
    after = datetime(following.year, following.month, 1, tzinfo=ZoneInfo(zone))
    offset = int(first.utcoffset().total_seconds())
    await helper.execute(f"CREATE UNLOGGED SEQUENCE {table}_a CACHE 10000")  # one session each: numbers in order
    await helper.execute(f"CREATE UNLOGGED SEQUENCE {table}_b START {int(other_first_row)} CACHE 10000")
    await helper.execute(
        f"CREATE TABLE {table} (LIKE {raw}); ALTER TABLE {table} DROP COLUMN day; "
        f"ALTER TABLE {table} ADD COLUMN day date NOT NULL "
        f"GENERATED ALWAYS AS (({kind.day_field} AT TIME ZONE INTERVAL '{offset} seconds')::date) STORED, "
        f"ALTER COLUMN source SET DEFAULT {literal(feed.source)}, "
        f"ALTER COLUMN batch_id SET DEFAULT {int(feed.batch_id)}, "
        f"ALTER COLUMN row_no SET DEFAULT nextval(CASE WHEN pg_backend_pid() = {int(other_pid)} "
        f"THEN {literal(table + '_b')}::regclass ELSE {literal(table + '_a')}::regclass END), "
        f"ADD CONSTRAINT month_bounds CHECK (day >= '{month.isoformat()}' AND day < '{following.isoformat()}'), "
        f"ADD CONSTRAINT month_times CHECK ({kind.day_field} >= '{first.isoformat()}' "
        f"AND {kind.day_field} < '{after.isoformat()}')"
    )
    if repeats.tracks(kind.name):  # every call's look-back not judged yet (``repeats.judge_month`` judges them)
        await helper.execute(
            f"ALTER TABLE {table} DROP COLUMN repeat_lookback, "
            f"ADD COLUMN repeat_lookback boolean GENERATED ALWAYS AS ({repeats.unjudged()}) STORED"
        )


async def _partitioned(apg, kind: RecordKind, month: date) -> bool:
    return await apg.fetchval("SELECT to_regclass($1) IS NOT NULL", f"ingest.{partition_name(kind, month)}")


async def _stored_rows(apg, kind: RecordKind, month: date, at_most: int) -> int | None:
    """How many rows the month's partition holds, counted up to ``at_most`` + 1 (a larger month is not read
    whole); ``None``: the raw table has no partition for the month."""
    if not await _partitioned(apg, kind, month):
        return None
    partition = f"ingest.{partition_name(kind, month)}"
    return await apg.fetchval(f"SELECT count(*) FROM (SELECT FROM ONLY {partition} LIMIT {int(at_most) + 1}) x")


async def _fill_and_attach(apg, helpers, kind, feed, layout, file, table, months, bounds, pattern, on_progress) -> bool:
    start, middle, end = bounds
    zone = str(feed.tz)
    abort = asyncio.Event()
    lines = 0

    async def count(n: int) -> None:
        nonlocal lines
        lines += n

    reported = time.monotonic()

    async def progress(n: int) -> None:
        nonlocal reported
        await count(n)
        # a progress write is a transaction of its own, which the stream waits for: a few a second are enough
        if on_progress is not None and time.monotonic() - reported >= PROGRESS_SECONDS:
            reported = time.monotonic()
            await on_progress("validating", lines)

    one, other = helpers
    results = await asyncio.gather(
        _stream(one, table, layout, file, (start, middle), pattern, abort, progress, zone),
        _stream(other, table, layout, file, (middle, end), pattern, abort, count, zone),
        return_exceptions=True,
    )  # fmt: skip
    for result in results:
        if isinstance(result, _NotForThisPath | asyncpg.DataError | asyncpg.IntegrityConstraintViolationError):
            return False  # a value PostgreSQL refuses, a NULL where the raw table wants a value: Python reports it
        if isinstance(result, BaseException):
            raise result
    return await _attach_if_clean(apg, helpers, kind, feed, layout, table, months, lines)


async def _helper_transaction(helper, work: Callable[[], Awaitable[Any]]) -> Any:
    """``work`` in a transaction of a helper connection: no JIT, no parallel workers (the three connections keep
    the cores busy already), a lock timeout (a helper waiting for a lock the load's transaction holds would wait
    for ever: the load waits for the helper)."""
    async with helper.transaction():
        await helper.execute(f"SET LOCAL jit = off; {_SERIAL}; SET LOCAL lock_timeout = '60s'")
        return await work()


def _block_ranges(blocks: int, parts: int) -> list[tuple[int, int | None]]:
    """``parts`` ranges of block numbers covering a table of ``blocks`` blocks (the last one open-ended)."""
    bounds = sorted({blocks * i // parts for i in range(parts)})
    return [(low, high) for low, high in zip(bounds, [*bounds[1:], None], strict=True)]


def part_select(kind: str, side: str, table: str, span: tuple[int, int | None], extra=()) -> str:
    """``aggregation.per_unit_select`` over the rows of ``table`` in the blocks of ``span`` (a TID range scan)."""
    low, high = span
    blocks_in = f"r.ctid >= '({int(low)},0)'::tid" + (
        f" AND r.ctid < '({int(high)},0)'::tid" if high is not None else ""
    )
    return aggregation.per_unit_select(kind, side, f"ONLY {table} r WHERE {blocks_in}", extra)


async def _attach_if_clean(
    apg, helpers, kind: RecordKind, feed: RowFeed, layout: CsvLayout, table: str, months: tuple[date, bool], lines: int
) -> bool:
    """Every row of ``table`` is of ``month`` (its CHECK); attach it if the rest holds too.

    The work after the COPY runs on three connections at once. One helper builds the month's unique key index
    (``partitions.key_index_sql``), whose build fails if the file repeats a key; the other looks for keys already
    stored, then builds the raw table's own indexes (ATTACH adopts them instead of building them). The sums —
    the largest part — are made in ranges of the table's blocks: the load's transaction starts on them at once,
    and each helper takes the ranges left when its own work is done, so that all three end together (the
    helpers' sums are sent back and merged with the load's). The same scans count, per day, the rows the checks
    refuse (scope, time order, bounds), and run the consistency checks. Until the helpers are done the load's
    transaction takes no lock on the table but a reader's, which blocks none of theirs."""
    raw = f"ingest.{kind.table}"
    one, other = helpers
    month, was_stored = months
    partition = partition_name(kind, month)
    await apg.execute("SELECT pg_advisory_xact_lock(hashtext($1))", KIND_LOCK + kind.name)
    # the month's partition made (or dropped) since the first look, before the kind's lock was taken
    if await _partitioned(apg, kind, month) != was_stored:
        return False

    other_months = f"(r.day < '{month.isoformat()}' OR r.day >= '{next_month(month).isoformat()}')"
    tracked = repeats.tracks(kind.name)
    zone = ZoneInfo(str(feed.tz))
    following = next_month(month)
    instants = (
        datetime(month.year, month.month, 1, tzinfo=zone),
        datetime(following.year, following.month, 1, tzinfo=zone),
    )

    async def settle():
        judged = ", ALTER COLUMN repeat_lookback DROP EXPRESSION" if tracked else ""
        await one.execute(
            f"ALTER TABLE {table} ALTER COLUMN day DROP EXPRESSION, ALTER COLUMN source DROP DEFAULT, "
            f"ALTER COLUMN batch_id DROP DEFAULT, ALTER COLUMN row_no DROP DEFAULT, DROP CONSTRAINT month_times"
            f"{judged}; DROP SEQUENCE {table}_a, {table}_b"
        )
        if was_stored:  # the month's stored rows as they are (their day: that of their own time zone)
            columns = ", ".join([*kind.field_names, *(name for name, _ in SYSTEM_COLUMNS), *kind.derived_columns])
            await one.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ONLY ingest.{partition}")

    async def judge(helper, part: int):
        return await repeats.judge_month(helper, table, instants, other_months, feed.batch_id, (part, 2))

    async def take_stock():
        # statistics (after DROP EXPRESSION, which drops the column's): the checks' join and the sums (without
        # them, 40,000 groups are assumed and sorted on disk instead of hashing a few hundred)
        await one.execute(f"SET LOCAL default_statistics_target = 10; ANALYZE {table}")
        indexes = await one.fetch(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = $1::regclass",
            raw,
        )
        blocks = await one.fetchval("SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int", table)
        return indexes, blocks

    await _helper_transaction(one, settle)
    moves, moved_here = [], 0
    if tracked and await _helper_transaction(one, lambda: repeats.any_hashed(one, table)):
        # the look-back of the month's calls, before anything is summed: half of the callers on each helper; the
        # stored calls of the months around that move are written by the load's transaction once attached
        for part_moves, part_moved in await asyncio.gather(
            _helper_transaction(one, lambda: judge(one, 0)), _helper_transaction(other, lambda: judge(other, 1))
        ):
            moves, moved_here = moves + part_moves, moved_here + part_moved
    indexes, blocks = await _helper_transaction(one, take_stock)
    sides = list(aggregation.rules_by_kind()[kind.name])
    # the sums' parts (side, first block, block after the last) not yet taken by a connection
    todo = collections.deque((side, *span) for side in sides for span in _block_ranges(blocks, SUM_PARTS))
    fetched: dict[str, list] = {side: [] for side in sides}  # the parts the helpers summed
    # the indexes are built under names of the scratch table's (a stored month's partition still has its own), and
    # given the partition's once the table has become it: (built as, final name)
    scratch = table.rpartition(".")[2]
    names = [(f"{scratch}_key", f"{partition}_key")]
    for number, (name, _) in enumerate(indexes):  # the partition's name, then the raw table's index's
        names.append((f"{scratch}_{number}", f"{partition}_{name}"))

    async def build_key_index() -> bool:
        """The month's unique key index; ``False``: the file repeats a key (the usual path reports it)."""
        await one.execute("SET LOCAL maintenance_work_mem = '256MB'")
        await one.execute("SAVEPOINT key_index")
        try:
            await one.execute(key_index_sql(partition, table, names[0][0]))
        except asyncpg.UniqueViolationError:
            await one.execute("ROLLBACK TO SAVEPOINT key_index")
            todo.clear()  # the file takes the usual path: no sums left to make
            return False
        return True

    async def check_rows():
        # keys stored in other months (one stored in this month: the key index's build finds it, the month's rows
        # being in the table too)
        stored = await other.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {table} s JOIN {raw} r ON {key_match('r', 's')} AND {other_months} "
            f"WHERE s.batch_id = {int(feed.batch_id)})"
        )
        if stored:  # corrections: the usual path replaces the stored versions
            todo.clear()
        else:
            for (_, definition), (own, _) in zip(indexes, names[1:], strict=True):
                # the parent's: CREATE INDEX name ON ONLY parent USING method (...)
                await other.execute(f"CREATE INDEX {own} ON {table} USING {definition.split(' USING ', 1)[1]}")
        return stored

    ok = bulk.typed_checks(kind, layout, set(feed.units_in_scope))
    # counted in the same scans as the sums: per day, the rows and those the checks refuse; the consistency checks
    # (of the batch's rows: a stored month's rows are in the table too, and are summed with them)
    batch = f"r.batch_id = {int(feed.batch_id)}"
    consistency = quality.check_aggregates(kind.name, batch)
    repeat_counts = repeats.sums_counts(batch) if tracked else ()
    summed = (("rows_summed", f"count(*) FILTER (WHERE {batch})"),)  # every side: the batch's keys (coverage)
    counts = (
        *summed,
        ("rows_refused", f"count(*) FILTER (WHERE {batch} AND NOT coalesce({ok}, false))"),
        *consistency,
        *repeat_counts,
    )
    extra = {side: counts if side == sides[0] else summed for side in sides}

    def part_sql(side: str, low: int, high: int | None) -> str:
        return part_select(kind.name, side, table, (low, high), extra[side])

    await apg.execute(_SERIAL)
    for side in sides:
        await apg.execute(f"CREATE TEMP TABLE {_parts(side)} ON COMMIT DROP AS {part_sql(side, 0, 0)} WITH NO DATA")

    async def sum_parts(connection) -> None:
        if todo:  # each part's groups hashed in memory: with a thousand agents a part holds ~28,000 (unit, day)
            # groups of ~25 sums, sorted on disk in 4 MB
            await connection.execute(f"SET LOCAL work_mem = '{SUMS_WORK_MEM}'")
        while todo:
            side, low, high = todo.popleft()
            if connection is apg:
                await apg.execute(f"INSERT INTO {_parts(side)} {part_sql(side, low, high)}")
            else:
                fetched[side] += await connection.fetch(part_sql(side, low, high))

    async def then_sum(helper, work):
        result = await work()
        await sum_parts(helper)
        return result

    results = await asyncio.gather(
        _helper_transaction(one, lambda: then_sum(one, build_key_index)),
        _helper_transaction(other, lambda: then_sum(other, check_rows)),
        sum_parts(apg),
        return_exceptions=True,  # each connection's statement ends before the load's transaction goes on
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    unique, stored = results[0], results[1]
    await apg.execute(aggregation.TOUCHED_DDL)
    for side in sides:
        if fetched[side]:
            await apg.copy_records_to_table(_parts(side), records=fetched[side])
        await apg.execute(aggregation.merged_sums_sql(kind.name, side, _parts(side), extra[side]))
        await apg.execute(f"DROP TABLE {_parts(side)}")
        sums = aggregation.per_unit_table(side)
        await apg.execute(f"INSERT INTO touched (unit_id, day) SELECT unit_id, day FROM {sums}")
    await apg.execute(_SERIAL.replace("= 0", "TO DEFAULT") + "; SET LOCAL work_mem TO DEFAULT")
    sums_table = aggregation.first_sums(kind.name)
    grouped = await apg.fetch(
        f"SELECT day, sum(rows_summed)::bigint, sum(rows_refused)::bigint FROM {sums_table} GROUP BY 1 "
        "HAVING sum(rows_summed) > 0 ORDER BY 1"
    )
    total = sum(n for _, n, _ in grouped)
    totals_row = None
    if consistency or repeat_counts:
        totals = ", ".join(f"sum({name})::bigint AS {name}" for name, _ in (*consistency, *repeat_counts))
        totals_row = await apg.fetchrow(f"SELECT {totals} FROM {sums_table}")
    if total != lines or total == 0 or any(refused for _, _, refused in grouped) or not unique or stored:
        # the usual path runs the checks itself: sums cut short (a repeated key stops them) are not the batch's
        return False
    feed.checks = quality.checks_from(kind.name, totals_row) if consistency else []
    if was_stored:  # its rows are in the table too: the table takes the partition's place
        await apg.execute(f"ALTER TABLE {raw} DETACH PARTITION ingest.{partition}")
        await apg.execute(f"DROP TABLE ingest.{partition}")
    await apg.execute(f"ALTER TABLE {table} RENAME TO {partition}")
    for built_as, final in names:
        await apg.execute(f"ALTER INDEX ingest.{built_as} RENAME TO {final}")
    partition = f"ingest.{partition}"
    await apg.execute(
        f"ALTER TABLE {raw} ATTACH PARTITION {partition} "
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"
    )
    await apg.execute(f"ALTER TABLE {partition} DROP CONSTRAINT month_bounds")
    if tracked:  # the stored calls of the months around whose verdict moved: their keys join ``touched``
        moved_around = await repeats.apply_to_stored(apg, moves)
        feed.repeat_callers = repeats.report_from(totals_row, moved_here + moved_around)
    period_low, period_high = feed.period
    for day, n, _ in grouped:
        feed.days.add(day)
        if (period_low and day < period_low) or (period_high and day > period_high):
            feed.out_of_period += n
    feed.counts.rows_read = feed.counts.rows_valid = feed.counts.rows_new = total
    feed.summed = True
    # the keys of the batch's rows, every side: what its coverage is inferred from (the usual path: ``merge_stage``)
    keys = " UNION ".join(
        f"SELECT unit_id, day FROM {aggregation.per_unit_table(side)} WHERE rows_summed > 0" for side in sides
    )
    await apg.execute(f"CREATE TEMP TABLE {coverage.BROUGHT} ON COMMIT DROP AS {keys}")
    return True


def _parts(side: str) -> str:
    """The temporary table of one side's sums per part of the table's blocks."""
    return f"{aggregation.per_unit_table(side)}_parts"
