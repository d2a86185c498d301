"""The bulk path for plain canonical CSV: PostgreSQL parses the file and checks its rows set-based.

A plain file (``reader.plain_csv_layout``: UTF-8, no quote characters, no mapping) is COPYed as text
into an unlogged table made inside the load's transaction, one text column per header column and the row
number from an identity column. One ``CREATE TABLE … AS`` (run by parallel workers) then converts every
row whose every value is in a *plain form* — a form for
which the SQL conversion provably gives the same value as ``validation.py`` (digits for numbers,
``YYYY-MM-DD HH:MM:SS`` for times away from any UTC-offset change of the zone, exact enumeration
values, the boolean words, text without edge whitespace) and which passes the required, range,
time-order and unit-scope checks — into the typed staging table. Every other row (rejected or merely
unusual) goes back through the very same Python ``RowFeed`` the streaming path uses, so the accepted
rows, the rejected rows and the messages are those of the Python path; SQL only takes the rows Python
would have accepted unchanged. If PostgreSQL cannot read the file as the Python reader would (a short
row, a blank line, a bad byte …) the load rolls back to a savepoint and the caller streams the file
through Python instead.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, BinaryIO

import asyncpg

from services.ingest.reader import CsvLayout
from services.ingest.records import SQL_TYPES, RecordKind
from services.ingest.validation import FALSE, MAX_TEXT, TIME_ORDER, TRUE

# Python's str.isspace() characters (what str.strip() removes): a value starting or ending with one of them,
# or consisting of them, is left to Python.
_SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_CODES = ", ".join(str(ord(c)) for c in _SPACES)
EDGE_OK = f"ascii({{v}}) NOT IN ({_CODES}) AND ascii(right({{v}}, 1)) NOT IN ({_CODES})"
COPY_CHUNK_BYTES_PER_ROW = 64  # progress is reported about every CHUNK_ROWS rows


# the canonical ISO text of a local time, in the layout of the text ``v`` it was read from
_TIME_FORMAT = (
    "CASE WHEN length({v}) = 19 THEN CASE WHEN substr({v}, 11, 1) = 'T' THEN 'YYYY-MM-DD\"T\"HH24:MI:SS' "
    "ELSE 'YYYY-MM-DD HH24:MI:SS' END WHEN substr({v}, 11, 1) = 'T' THEN 'YYYY-MM-DD\"T\"HH24:MI' "
    "ELSE 'YYYY-MM-DD HH24:MI' END"
)


def _array(values: set[str]) -> str:
    """A constant ``text[]`` holding ``values``."""
    items = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in sorted(values))
    return _literal("{" + ",".join(items) + "}") + "::text[]"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values: tuple[str, ...] | set[str]) -> str:
    return "(" + ", ".join(_literal(v) for v in sorted(values)) + ")"


@functools.lru_cache(maxsize=64)
def offset_change_months(zone_key: str) -> frozenset[str]:
    """Local months (``YYYY-MM``) within a day of which the zone's UTC offset changes between 1990 and 2100.

    Naive times near a change may be ambiguous or skipped; Python and PostgreSQL may resolve them
    differently (or know different rules), so rows with such times take the Python path.
    """
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(zone_key)
    days: set[date] = set()
    moment = datetime(1989, 12, 30, tzinfo=UTC)
    previous = moment.astimezone(zone).utcoffset()
    while moment.year <= 2100:
        moment += timedelta(hours=6)
        offset = moment.astimezone(zone).utcoffset()
        if offset != previous:
            local = moment.astimezone(zone).date()
            days.update(local + timedelta(d) for d in (-2, -1, 0, 1))
            previous = offset
    return frozenset(d.strftime("%Y-%m") for d in days)


def _convert(
    kind: RecordKind, columns: dict[str, str], risky_months: frozenset[str], optimistic: bool
) -> tuple[list[str], list[str]]:
    """Per field: the SQL value (NULL when blank or not in plain form) and the SQL check that the row may pass.

    Times are converted to ``timestamp`` (local, naive) here; a time passes only if it reads back as the very
    text it came from (so it was canonical ISO, which Python reads the same). ``optimistic``: times shaped
    like ISO are cast without checking every part first — a statement that fails on an impossible date is
    run again with ``optimistic=False``, which checks each part before casting.
    """
    values: list[str] = []
    checks: list[str] = []
    for f in kind.fields:
        v = columns.get(f.name)
        if v is None:  # the file has no such column: always empty (the source: the batch's)
            values.append("$1::text" if f.name == "source" else f"NULL::{SQL_TYPES[f.type]}")
            checks.append("false" if f.required and f.name != "source" else "true")
            continue
        if f.name == "source":
            blank = f"({v} IS NULL OR {v} = '')"
            values.append(f"CASE WHEN {blank} THEN $1::text WHEN length({v}) <= {MAX_TEXT} THEN {v} END")
            checks.append(f"({blank} OR ({EDGE_OK.format(v=v)} AND length({v}) <= {MAX_TEXT}))")
            continue
        c = f'{v} COLLATE "C"'
        plain = {
            "text": f"length({v}) <= {MAX_TEXT} AND {EDGE_OK.format(v=v)}",
            # digits only: the same integer in Python and PostgreSQL
            "int": f"translate({v}, '0123456789', '') = '' AND length({v}) <= 9",
            # digits with at most one point: the same (correctly rounded) double in Python and PostgreSQL
            "float": f"translate({v}, '0123456789', '') IN ('', '.') AND {v} <> '.' AND length({v}) <= 30",
            "bool": f"({v} IN {_in(TRUE | FALSE)} OR ({v} ~ '^[A-Za-z]{{1,5}}$' AND lower({v}) IN {_in(TRUE | FALSE)}))",
            "enum": f"({v} IN {_in(f.values)} OR ({v} ~ '^[A-Za-z_]+$' AND lower({v}) IN {_in(f.values)}))",
            "enum_list": "false",
            # YYYY-MM-DD HH:MM:SS (or with T), all digits, each part in range, the day in its month
            "timestamp": (
                f"CASE WHEN {v} LIKE '____-__-_____:__:__' AND translate({v}, '0123456789', '') IN ('-- ::', '--T::') "
                f"THEN substr({c}, 1, 4) BETWEEN '1990' AND '2100' AND substr({c}, 6, 2) BETWEEN '01' AND '12' "
                f"AND substr({c}, 9, 2) BETWEEN '01' AND '31' AND substr({c}, 12, 2) <= '23' "
                f"AND substr({c}, 15, 2) <= '59' AND substr({c}, 18, 2) <= '59' ELSE false END"
            ),
        }[f.type]
        if f.type == "timestamp" and optimistic:
            plain = f"{v} LIKE '____-__-__%' AND length({v}) IN (16, 19) AND {c} BETWEEN '1990' AND '2101'"
        elif f.type == "timestamp":
            # a real calendar day, away from the zone's offset changes
            plain = (
                f"CASE WHEN {plain} THEN substr({c}, 9, 2) <= '28' OR "
                f"substr({v}, 9, 2)::int <= extract(day FROM (left({v}, 7) || '-01')::date + interval '1 month - 1 day') "
                "ELSE false END"
            )
        if f.type == "timestamp" and risky_months:
            plain = f"CASE WHEN {plain} THEN left({c}, 7) NOT IN {_in(risky_months)} ELSE false END"
        cast = {
            "text": v,
            "int": f"{v}::integer",
            "float": f"{v}::double precision",
            "bool": f"lower({v}) IN {_in(TRUE)}",
            "enum": f"lower({v})",
            "enum_list": "NULL::text[]",
            "timestamp": f"{v}::timestamp",
        }[f.type]
        values.append(f"CASE WHEN {v} <> '' AND {plain} THEN {cast} END")
        bounds = []
        if f.minimum is not None:
            bounds.append(f"{{value}} >= {f.minimum!r}")
        if f.maximum is not None:
            bounds.append(f"{{value}} <= {f.maximum!r}")
        if f.type == "timestamp":
            bounds.append(f"to_char({{value}}, {_TIME_FORMAT.format(v=v)}) = {v}")
        check = "({value} IS NOT NULL" + "".join(f" AND {b}" for b in bounds) + ")"
        blank_ok = "false" if f.required else "true"
        checks.append(f"CASE WHEN {v} IS NULL OR {v} = '' THEN {blank_ok} ELSE {check} END")
    return values, checks


def convert_sql(
    kind: RecordKind,
    layout: CsvLayout,
    text_table: str,
    stage: str,
    zone: str,
    units: set[str],
    optimistic: bool = True,
) -> str:
    """Create the stage holding every row with its plain-form values and ``ok``; $1 source, $2 zone, $3 batch id;
    ``units``: the unit ids inside the caller's scope.

    A ``CREATE TABLE … AS``, not an ``INSERT … SELECT``: PostgreSQL 15 runs the conversion of a CTAS in parallel
    workers (an INSERT's SELECT never), so with the text in a regular (unlogged) table the checks use every core.
    """
    positions = {name: i for i, name in enumerate(layout.names) if name}
    risky = offset_change_months(zone)
    values, _ = _convert(kind, {name: f"t.c{i}" for name, i in positions.items()}, risky, optimistic)
    _, checks = _convert(kind, {name: f"x.raw_{name}" for name in positions}, risky, optimistic)
    times = {f.name for f in kind.fields if f.type == "timestamp"}

    def final(name: str) -> str:
        return f"(x.{name} AT TIME ZONE $2)" if name in times else f"x.{name}"

    names = kind.field_names
    inner = ", ".join(f"{value} AS {name}" for value, name in zip(values, names, strict=True))
    raw = "".join(f", t.c{i} AS raw_{name}" for name, i in positions.items())
    oks = [check.replace("{value}", f"x.{name}") for check, name in zip(checks, names, strict=True)]
    for later, earlier in TIME_ORDER.get(kind.name, ()):
        oks.append(f"NOT coalesce({final(later)} < {final(earlier)}, false)")
    for unit_field in ("unit_id", "handling_unit_id"):
        if unit_field in names:
            # a constant array: PostgreSQL hashes it once, instead of scanning a parameter array for every row
            oks.append(f"(x.{unit_field} IS NULL OR x.{unit_field} = ANY({_array(units)}))")
    ok = "\n        AND ".join(f"({o})" for o in oks)
    # The subquery must stay a subquery (not be merged into the outer SELECT, which would repeat every conversion
    # for each check that reads it): a volatile function in its select list keeps it apart. (OFFSET 0 would too,
    # but a LIMIT node cannot run in a parallel worker: the checks would all run in the leader.)
    return f"""
CREATE UNLOGGED TABLE {stage} ({", ".join(names)}, day, batch_id, row_no, ok) AS
SELECT {", ".join(final(n) for n in names)}, x.{kind.day_field}::date, $3::bigint, x.row_no,
       coalesce({ok}, false)
FROM (SELECT clock_timestamp() AS unmerged, t.row_no, {inner}{raw} FROM {text_table} t) x
"""


async def copy_text(
    apg,
    binary: BinaryIO,
    layout: CsvLayout,
    text_table: str,
    chunk_rows: int,
    on_progress: Callable[[str, int], Awaitable[Any]] | None,
) -> None:
    """COPY the file's data rows into ``text_table``, reporting progress (rows = lines sent) as it goes.

    An UNLOGGED table of the ``ingest`` schema rather than a temporary one, so that parallel workers can read it
    (``convert_sql``); created inside the load's transaction, it is invisible to everyone else, goes with a
    rollback and is dropped before the commit (``stage_plain_csv``).
    """
    width = len(layout.names)
    await apg.execute(
        f"CREATE UNLOGGED TABLE {text_table} (row_no integer GENERATED ALWAYS AS IDENTITY, "
        + ", ".join(f"c{i} text" for i in range(width))
        + ")"
    )
    chunk_bytes = max(chunk_rows * COPY_CHUNK_BYTES_PER_ROW, 4096)
    binary.seek(layout.data_offset)
    columns = [f"c{i}" for i in range(width)]
    lines = 0
    pending = b""
    while True:
        chunk = binary.read(chunk_bytes)
        data = pending + chunk
        if chunk:  # whole lines only (a line is a row: the file has no quotes); the rest goes with the next COPY
            cut = data.rfind(b"\n") + 1
            body, rest = data[:cut], data[cut:]
            # blank lines after the last row of this chunk wait too: at the end of the file they are not rows
            core = body.rstrip(b"\r\n")
            ends = body[len(core) :]
            end = ends[:2] if ends.startswith(b"\r\n") else ends[:1]
            data, pending = core + end, ends[len(end) :] + rest
        else:  # the end: line ends after the last row are not rows (the Python reader skips blank rows)
            data, pending = data.rstrip(b"\r\n"), b""
        if data.strip(b"\r\n"):
            # one COPY per chunk: progress can be written between them (in tests on the same connection)
            schema, _, table = text_table.rpartition(".")
            await apg.copy_to_table(
                table,
                schema_name=schema or None,
                source=io.BytesIO(data),
                columns=columns,
                format="csv",
                delimiter=layout.delimiter,
                header=False,
            )
            lines += data.count(b"\n")
            if on_progress is not None and chunk:
                await on_progress("validating", lines)
        if not chunk:
            return


async def stage_plain_csv(apg, kind: RecordKind, feed, binary: BinaryIO, layout: CsvLayout, chunk_rows, on_progress):
    """Stage a plain CSV set-based; returns the stage table, or ``None`` if the file must take the Python path.

    ``feed`` ends with the same counts, days and problems the Python path would give it.
    """
    # unlogged tables of the schema like the text table (and dropped by ``loader.load`` before the commit): the
    # unique index on the stage's keys is then built by parallel workers too
    stage = f"ingest.bulk_stage_{kind.name}_{feed.batch_id}"
    text_table = f"ingest.bulk_text_{kind.name}_{feed.batch_id}"
    await apg.execute("SAVEPOINT bulk_csv")
    try:
        await copy_text(apg, binary, layout, text_table, chunk_rows, on_progress)
        arguments = (feed.source, str(feed.tz), feed.batch_id)
        units = set(feed.units_in_scope)
        await apg.execute("SAVEPOINT bulk_convert")
        try:
            await apg.execute(convert_sql(kind, layout, text_table, stage, str(feed.tz), units), *arguments)
        except asyncpg.DataError:  # an impossible date shaped like ISO: check every part before casting
            await apg.execute("ROLLBACK TO SAVEPOINT bulk_convert")
            await apg.execute(convert_sql(kind, layout, text_table, stage, str(feed.tz), units, False), *arguments)
        await apg.execute("RELEASE SAVEPOINT bulk_convert")
    except (asyncpg.PostgresError, asyncpg.InterfaceError):
        await apg.execute("ROLLBACK TO SAVEPOINT bulk_csv")
        await apg.execute("RELEASE SAVEPOINT bulk_csv")
        return None
    await apg.execute("RELEASE SAVEPOINT bulk_csv")
    low, high = feed.period
    total = bad = 0  # the stage has one row per text row: one scan counts both
    days = f"SELECT day, count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok) FROM {stage} GROUP BY day"
    for day, n, not_ok in await apg.fetch(days):
        total += n + not_ok
        bad += not_ok
        if n:
            feed.days.add(day)
            feed.counts.rows_valid += n
            if (low and day < low) or (high and day > high):
                feed.out_of_period += n
    feed.counts.rows_read = total - bad
    if bad:
        # the rows SQL did not vouch for go through the Python checks, streamed in chunks (memory stays flat)
        columns = [(f"c{i}", name) for i, name in enumerate(layout.names) if name]
        names = [*kind.field_names, "day", "batch_id", "row_no"]
        cursor = await apg.cursor(
            f"SELECT * FROM {text_table} WHERE row_no IN (SELECT row_no FROM {stage} WHERE NOT ok) ORDER BY row_no"
        )
        while batch := await cursor.fetch(chunk_rows):
            rows = ((r["row_no"], {name: r[c] if r[c] is not None else "" for c, name in columns}) for r in batch)
            if records := list(feed.tuples(rows)):
                schema, _, table = stage.rpartition(".")
                await apg.copy_records_to_table(table, schema_name=schema, records=records, columns=names)
        await apg.execute("CLOSE ALL")  # the cursor's portal: the stage is altered and indexed next
        await apg.execute(f"DELETE FROM {stage} WHERE NOT ok")
    feed.repeats_unknown = True  # the keys were not tracked row by row: merge_stage finds repeats in SQL
    await apg.execute(f"ALTER TABLE {stage} DROP COLUMN ok")
    await apg.execute(f"DROP TABLE {text_table}")
    return stage
