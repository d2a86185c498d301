"""The direct path of a plain daily file: its lines COPYed once, straight into their month's partition.

The staged path (``loader.merge_stage``) writes every file twice: COPY into a stage, then ``INSERT … SELECT`` into
the month partition and its three indexes — so a daily file costs at least three bare COPYs (issue 20: measured
0.13–0.17× a bare COPY). A plain file whose rows are all new keys (the everyday case: a new day of calls) needs
none of the stage's work — no duplicate, no correction, no repeat in the file, no row to reject — so it is COPYed
typed, as the bulk path's typed stage would be (``bulk.typed_stage_ddl``: the same plain lines, the same session
time zone, so the same values), but into the month partition itself, under a savepoint, with the columns the raw
table adds written by Python beside each line (the day: the local date its time's text begins with; the batch;
the row number). The load falls back to the staged path — the savepoint rolled back, nothing of the attempt left,
the file read again from its start — whenever the file is not such a file:

- a chunk not every line of which is plain (``bulk.plain_line_pattern``), a month without a partition yet, rows of
  two months (the partition's bounds refuse the COPY), a call to judge by its caller's look-back (``repeats``:
  a caller hash without the source's flag);
- a key range that meets a stored month's (the first and last key of its unique index, ``partitions.month_ranges``,
  read before any row goes in): a key may be stored there — corrections, re-sends and a key moved to another month
  are found so before any COPY;
- a key twice in the file: the month's unique key index refuses the COPY;
- a row failing the checks a plain form does not prove (``bulk.typed_checks``: units in scope, bounds, time order),
  counted by one read of the rows just copied (a unit out of scope is seen in Python before its chunk's COPY).

So every file the direct path stores is one whose staged load would have stored every row as new, and each of the
staged path's answers for other files (duplicates, corrections, repeats, rejected rows with their messages) is the
staged path's own. The first line already tells most files the direct path would give back (a stored key, a call to
judge): they go to the staged path before any COPY. What the stage gave the steps after it, one read of the rows just
copied gives (a bitmap scan of the pages the COPY filled): per side, the sums per (unit, day) — the touched keys' own
sums when the file's days held no row before, else each key's rows are read back whole (``aggregation.key_sums``, as
for a withdrawal) — the rows failing the checks, the repeat-flag counts and the quality report's consistency checks;
the (unit, day) keys go to ``touched`` and to the coverage.

Measured (docs/performance.md, "Steady state, fifth round"): a COPY into the month costs 2–3× the same COPY into an
unindexed table — its three indexes entered row by row — so the direct path saves the stage's write and reads, not
the indexes: a 50,000-call daily file 16–22 % quicker than the staged path, still ~0.2× a bare COPY of the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

import asyncpg

from services.ingest import aggregation, bulk, coverage, quality, repeats
from services.ingest.partitions import KIND_LOCK, month_ranges, partition_name, summarize_brin
from services.ingest.reader import CsvLayout
from services.ingest.records import RecordKind
from services.ingest.rules import rules_by_kind
from services.ingest.validation import MAX_TEXT

# the direct path is tried (tests compare it with the staged path by turning it off)
ENABLED = True

ADDED = ("day", "batch_id", "row_no")  # the columns written beside each line (``_augment``)
_PLAIN_TEXT = re.compile(bulk._PLAIN_VALUE["text"])  # a value a plain line may hold as text


@dataclass
class Lines:
    """What ``_augment`` found in the lines it wrote."""

    days: set[bytes] = field(default_factory=set)
    low: bytes | None = None  # the least and greatest record id (bytewise: ``COLLATE "C"``)
    high: bytes | None = None
    rows: int = 0
    to_judge: bool = False  # a call with a caller hash and no flag of the source's
    out_of_scope: bool = False  # a unit not among those in the caller's scope
    days_stored: bool = False  # a day of the file held rows already (``_copy``)


def _augment(
    data: bytes,
    first_row: int,
    batch_id: int,
    layout: CsvLayout,
    kind: RecordKind,
    found: Lines,
    feed_source: str,
    units: frozenset[bytes],
) -> bytes:
    """The chunk's plain lines (each ending in ``\\n`` or ``\\r\\n``) with ``,day,batch,row`` added to each (and
    the batch's source first, if the file has no source column); ``units``: those in the caller's scope (a row of
    another is the staged path's to reject, found here before its COPY rather than by the checks after it)."""
    delimiter = layout.delimiter.encode()
    names = layout.names
    day_at = names.index(kind.day_field)
    key_at = names.index("record_id")
    hash_at = names.index("caller_hash") if repeats.tracks(kind.name) and "caller_hash" in names else None
    flag_at = names.index("repeat_caller") if hash_at is not None and "repeat_caller" in names else None
    unit_at = [names.index(u) for u in ("unit_id", "handling_unit_id") if u in names]
    # the batch's source, when the file has no such column (``eligible``), then the added columns
    head = b"" if "source" in names else delimiter + feed_source.encode()
    tail = head + delimiter + b"%s" + delimiter + b"%d" + delimiter + b"%d\n"
    out = []
    days = found.days
    keys = []
    row = first_row
    for line in data.split(b"\n"):
        if not line:
            continue
        if line[-1:] == b"\r":
            line = line[:-1]
        values = line.split(delimiter)
        day = values[day_at][:10]  # a plain time: YYYY-MM-DD HH:MM:SS, local
        days.add(day)
        keys.append(values[key_at])
        if hash_at is not None and values[hash_at] and (flag_at is None or not values[flag_at]):
            found.to_judge = True
        for at in unit_at:
            if values[at] and values[at] not in units:
                found.out_of_scope = True
        out.append(line + tail % (day, batch_id, row))
        row += 1
    if keys:
        low, high = min(keys), max(keys)
        found.low = low if found.low is None else min(found.low, low)
        found.high = high if found.high is None else max(found.high, high)
    found.rows += row - first_row
    return b"".join(out)


@dataclass
class Stored:
    """A file the direct path stored: its partition and the FROM clause of its rows (alias ``r``)."""

    partition: str
    days: list[date]
    rows: str  # a FROM clause of the batch's rows as stored (a subquery without alias)
    sides: list[str]
    days_stored: bool  # a day of the file held rows before it (of other batches)


def eligible(kind: RecordKind, layout: CsvLayout, source: str) -> bool:
    """The header allows the direct path: canonical columns only (the typed COPY's), the day's time and the record
    id among them; without a source column, the batch's source is written beside each line (as the typed stage's
    default gives it), so it must read back as itself in a plain CSV value."""
    names = set(layout.names)
    return (
        "" not in names
        and "record_id" in names
        and kind.day_field in names
        and set(kind.derived_columns) <= {"repeat_lookback"}
        and ("source" in names or (_PLAIN_TEXT.fullmatch(source.encode()) is not None and len(source) <= MAX_TEXT))
    )


async def copy_plain(
    apg, kind: RecordKind, feed, binary: BinaryIO, layout: CsvLayout, chunk_rows: int, on_progress
) -> Stored | None:
    """COPY a plain file straight into its month's partition (see the module); ``None`` (nothing stored, the
    savepoint rolled back, ``feed`` untouched, ``binary`` at its start) when the staged path must take it."""
    if not ENABLED or not eligible(kind, layout, feed.source):
        return None
    zone = str(feed.tz)
    pattern = bulk.plain_line_pattern(kind, layout, zone)
    if pattern is None:
        return None
    # The first line tells most files the direct path would give back: corrections and re-sends begin with a stored
    # key (probed in every month's key index, one statement), a file of calls to judge (``repeats``: a caller hash
    # without the source's flag) with such a call — to the staged path at once, without the direct path's other work
    # (~20 ms of a 500-row correction's ~200 ms when they got as far as the key ranges)
    first = _first_key(binary, layout, feed.source, repeats.tracks(kind.name))
    key_stored = (
        f"SELECT EXISTS (SELECT FROM ingest.{kind.table} r "
        'WHERE r.record_id = $1 COLLATE "C" AND r.source = $2 COLLATE "C")'
    )
    if first is None or await apg.fetchval(key_stored, first[1], first[0]):
        binary.seek(0)
        return None
    await apg.execute("SAVEPOINT direct_copy")
    try:
        stored = await _copy(apg, kind, feed, binary, layout, chunk_rows, on_progress, pattern, zone)
    except (asyncpg.PostgresError, asyncpg.InterfaceError):
        stored = None
    if stored is None:
        await apg.execute("ROLLBACK TO SAVEPOINT direct_copy")
        await apg.execute("RELEASE SAVEPOINT direct_copy")
        binary.seek(0)
        return None
    await apg.execute("RELEASE SAVEPOINT direct_copy")
    return stored


def _first_key(binary: BinaryIO, layout: CsvLayout, source: str, judged: bool) -> tuple[str, str] | None:
    """(source, record id) of the file's first data line, as its plain form reads (``None``: not one, or ``judged``
    and a call the look-back judges)."""
    binary.seek(layout.data_offset)
    line = binary.readline(1 << 16).rstrip(b"\r\n")
    values = line.split(layout.delimiter.encode())
    if len(values) != len(layout.names):
        return None
    row = dict(zip(layout.names, values, strict=True))
    if judged and row.get("caller_hash") and not row.get("repeat_caller"):
        return None
    try:
        return (row["source"].decode() if "source" in row else source), row["record_id"].decode()
    except UnicodeDecodeError:
        return None


async def _copy(apg, kind: RecordKind, feed, binary, layout, chunk_rows, on_progress, pattern, zone) -> Stored | None:
    found = Lines()
    columns = [*layout.names, *([] if "source" in layout.names else ["source"]), *ADDED]
    chunks = bulk._chunks(binary, layout, max(chunk_rows * bulk.COPY_CHUNK_BYTES_PER_ROW, 4096))
    partition = None
    copied = 0
    checked: set[bytes] = set()
    units = frozenset(u.encode() for u in feed.units_in_scope)
    ranges: list[tuple[bytes, bytes]] = []
    zone_before = await apg.fetchval("SELECT current_setting('TimeZone')")
    await apg.execute(f"SET LOCAL TimeZone = {bulk._literal(zone)}")  # naive times are read in the source's zone

    async def next_chunk(first_row: int):
        item = await bulk._next_chunk(chunks, pattern)
        if item is None:
            return None
        _, data, more, plain = item
        if not data.strip(b"\r\n"):
            return b"", more, True, 0
        if not plain:
            return None, more, False, 0
        before = found.rows
        data = await asyncio.to_thread(
            _augment, data, first_row, feed.batch_id, layout, kind, found, feed.source, units
        )
        return data, more, True, found.rows - before

    pending = asyncio.ensure_future(next_chunk(1))
    try:
        while (item := await pending) is not None:
            data, more, plain, n = item
            if not plain or found.to_judge or found.out_of_scope:
                return None
            if not data:
                if not more:
                    break
                pending = asyncio.ensure_future(next_chunk(found.rows + 1))
                continue
            if partition is None:  # the month of the first line: a file of two months is refused by its bounds
                day = date.fromisoformat(min(found.days).decode())
                partition = f"ingest.{partition_name(kind, day.replace(day=1))}"
                if await apg.fetchval("SELECT to_regclass($1) IS NULL", partition):
                    return None  # a month new to the raw table: built whole by the staged path (``insert_into_raw``)
                # from the first row stored to the commit, the kind's writers are serialised (as ``merge_stage``
                # does): no other load adds or replaces a key, or re-sums a key's measures, meanwhile. (Its first
                # chunk read and checked, a load of the direct path holds the lock while it reads the rest: reading
                # is storing here.)
                await apg.execute("SELECT pg_advisory_xact_lock(hashtext($1))", KIND_LOCK + kind.name)
                # every stored month's range of record ids: a file whose keys stay clear of them holds no stored key
                # (the month's unique index then refuses only a key repeated in the file); one whose keys meet one —
                # corrections, re-sends, a key moved to another month — is the staged path's, found before any COPY
                ranges = [(first.encode(), last.encode()) for _, first, last, _ in await month_ranges(apg, kind)]
            if any(first <= found.high and last >= found.low for first, last in ranges):
                return None
            if new_days := found.days - checked:  # before their first rows go in: did these days hold rows?
                checked.update(new_days)
                held = f"SELECT EXISTS (SELECT FROM ONLY {partition} r WHERE r.day = ANY($1::date[]))"
                if await apg.fetchval(held, [date.fromisoformat(d.decode()) for d in new_days]):
                    found.days_stored = True
            copied += n
            pending = asyncio.ensure_future(next_chunk(found.rows + 1))
            await apg.copy_to_table(
                partition.partition(".")[2],
                schema_name="ingest",
                source=io.BytesIO(data),
                columns=columns,
                format="csv",
                delimiter=layout.delimiter,
                header=False,
            )
            if on_progress is not None and more:
                await on_progress("validating", copied)
            if not more:
                break
    finally:
        if not pending.done():
            with contextlib.suppress(Exception):
                await pending
    if partition is None or found.to_judge or found.out_of_scope:
        return None
    await apg.execute(f"SET LOCAL TimeZone = {bulk._literal(zone_before)}")
    days = sorted(date.fromisoformat(d.decode()) for d in found.days)
    listed = ",".join(d.isoformat() for d in days)
    rows = (
        f"(SELECT * FROM ONLY {partition} WHERE batch_id = {int(feed.batch_id)} AND day = ANY('{{{listed}}}'::date[]))"
    )
    # one read of the rows just copied (through the month's indexes, never the whole month, whatever its statistics
    # say: they were made before this day's rows were there): per side, the sums per (unit, day) — the keys' own
    # sums when their days held no other row — and, on the first side, the rows failing the checks and the calls'
    # repeat-flag counts
    checks = bulk.typed_checks(kind, layout, set(feed.units_in_scope))
    extra = [("rows_here", "count(*)"), ("rows_bad", f"count(*) FILTER (WHERE NOT coalesce({checks}, false))")]
    flags = []
    if repeats.tracks(kind.name):
        flags = [(f"flag_{i}", f"count(*) FILTER (WHERE {c})") for i, (_, c) in enumerate(repeats.STAGE_COUNTS)]
    consistency = quality.check_aggregates(kind.name)
    extra += flags + consistency
    # the rows' pages read once, in order (a bitmap scan: the file's rows lie together, the pages its COPY filled),
    # not by an index scan in (day, unit) order; hashed by key in memory (estimated at one row: sorted and spilled)
    await apg.execute(
        "SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off; SET LOCAL enable_sort = off; "
        "SET LOCAL work_mem = '64MB'"
    )
    sides = list(rules_by_kind()[kind.name])
    for n, side in enumerate(sides):
        select = aggregation.per_unit_select(kind.name, side, f"{rows} r", tuple(extra) if n == 0 else ())
        await apg.execute(f"CREATE TEMP TABLE {aggregation.per_unit_table(side)} ON COMMIT DROP AS {select}")
    await apg.execute(
        "SET LOCAL enable_seqscan TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT; SET LOCAL enable_sort TO DEFAULT; "
        "SET LOCAL work_mem TO DEFAULT"
    )
    totals = ", ".join(f"sum({name})::bigint AS {name}" for name, _ in extra)
    per_day = await apg.fetch(f"SELECT day, {totals} FROM {aggregation.per_unit_table(sides[0])} GROUP BY 1")
    if sum(r[2] for r in per_day) or sum(r[1] for r in per_day) != found.rows:
        return None  # a row the checks refuse: the staged path rejects it with its message
    counts = feed.counts
    low, high = feed.period
    for r in per_day:
        feed.days.add(r[0])
        counts.rows_valid += r[1]
        if (low and r[0] < low) or (high and r[0] > high):
            feed.out_of_period += r[1]
    counts.rows_read = counts.rows_new = found.rows
    if repeats.tracks(kind.name):
        totals = {name: sum(r[f"flag_{i}"] for r in per_day) for i, (name, _) in enumerate(repeats.STAGE_COUNTS)}
        feed.repeat_callers = repeats.report(totals, 0, 0)  # no call to judge: nothing moved
    # the consistency checks of the batch's rows (``quality.batch_quality`` takes them as a month built whole's)
    feed.checks = quality.checks_from(kind.name, {name: sum(r[name] for r in per_day) for name, _ in consistency})
    return Stored(partition, days, rows, sides, found.days_stored)


async def settle(apg, kind: RecordKind, stored: Stored) -> None:
    """After ``copy_plain``: the BRIN's new ranges summarized, the keys of the rows stored kept for the coverage
    (``coverage.BROUGHT``) and for the sums (``touched``), as ``merge_stage`` keeps them from the stage; the sums
    of the touched keys made ready for ``aggregation.recompute(own_sums=True)`` — the batch's own when its days held
    no other row before, else every row of the keys read back (the batch's among them)."""
    await summarize_brin(apg, stored.partition)
    await apg.execute(aggregation.TOUCHED_DDL)
    parts = " UNION ".join(f"SELECT unit_id, day FROM {aggregation.per_unit_table(side)}" for side in stored.sides)
    await apg.execute(f"CREATE TEMP TABLE {coverage.BROUGHT} ON COMMIT DROP AS {parts}")
    await apg.execute(f"INSERT INTO touched (unit_id, day) SELECT unit_id, day FROM {coverage.BROUGHT}")
    await aggregation.affected(apg)
    if stored.days_stored:  # other rows of those days: each key's rows read whole (``recompute`` as for a withdrawal)
        await apg.execute(f"DROP TABLE {', '.join(aggregation.per_unit_table(side) for side in stored.sides)}")
        await aggregation.key_sums(apg, kind.name)
