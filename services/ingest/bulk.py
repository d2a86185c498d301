"""The bulk path for plain canonical CSV: PostgreSQL parses the file and checks its rows set-based.

A plain file (``reader.plain_csv_layout``: UTF-8, no quote characters, no mapping) is COPYed as text
into a temporary table, one text column per header column and the row number from an identity column.
One ``INSERT … SELECT`` then converts every row whose every value is in a *plain form* — a form for
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
EDGE_SPACE = f"^[{_SPACES}]|[{_SPACES}]$"
FLOAT_RE = r"^-?[0-9]{1,15}(\.[0-9]{1,15})?$"
INT_RE = r"^-?[0-9]{1,9}$"
TIME_RE = r"^(199[0-9]|20[0-9][0-9]|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[ T]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
COPY_CHUNK_BYTES_PER_ROW = 64  # progress is reported about every CHUNK_ROWS rows


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values: tuple[str, ...] | set[str]) -> str:
    return "(" + ", ".join(_literal(v) for v in sorted(values)) + ")"


@functools.lru_cache(maxsize=64)
def offset_change_days(zone_key: str) -> tuple[date, ...]:
    """Local dates (±1 day) on which the zone's UTC offset changes between 1990 and 2100.

    Naive times on those dates may be ambiguous or skipped; Python and PostgreSQL may resolve them
    differently, so such rows take the Python path.
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
    return tuple(sorted(days))


def _convert(kind: RecordKind, columns: dict[str, str]) -> tuple[list[str], list[str]]:
    """Per field: the SQL value (NULL when blank or not in plain form) and the SQL check that the row may pass."""
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
            checks.append(f"({blank} OR ({v} !~ $4 AND length({v}) <= {MAX_TEXT}))")
            continue
        plain = {
            "text": f"length({v}) <= {MAX_TEXT}",
            "int": f"{v} ~ {_literal(INT_RE)}",
            "float": f"{v} ~ {_literal(FLOAT_RE)}",
            "bool": f"({v} IN {_in(TRUE | FALSE)} OR ({v} ~ '^[A-Za-z]{{1,5}}$' AND lower({v}) IN {_in(TRUE | FALSE)}))",
            "enum": f"({v} IN {_in(f.values)} OR ({v} ~ '^[A-Za-z_]+$' AND lower({v}) IN {_in(f.values)}))",
            "enum_list": "false",
            "timestamp": f"{v} ~ {_literal(TIME_RE)}",
        }[f.type]
        if f.type == "timestamp":
            # a valid calendar date (the pattern allows 31 in every month) away from offset changes
            plain = (
                f"CASE WHEN {plain} THEN substr({v}, 9, 2) <= '28' OR "
                f"substr({v}, 9, 2)::int <= extract(day FROM (left({v}, 7) || '-01')::date + interval '1 month - 1 day') "
                "ELSE false END"
            )
            plain = f"CASE WHEN {plain} THEN left({v}, 10)::date <> ALL($3::date[]) ELSE false END"
        cast = {
            "text": v,
            "int": f"{v}::integer",
            "float": f"{v}::double precision",
            "bool": f"lower({v}) IN {_in(TRUE)}",
            "enum": f"lower({v})",
            "enum_list": "NULL::text[]",
            "timestamp": f"({v}::timestamp AT TIME ZONE $2)",
        }[f.type]
        values.append(f"CASE WHEN {v} <> '' AND {plain} THEN {cast} END")
        bounds = []
        if f.minimum is not None:
            bounds.append(f"{{value}} >= {f.minimum!r}")
        if f.maximum is not None:
            bounds.append(f"{{value}} <= {f.maximum!r}")
        check = f"({{value}} IS NOT NULL AND {v} !~ $4" + "".join(f" AND {b}" for b in bounds) + ")"
        blank_ok = "false" if f.required else "true"
        checks.append(f"CASE WHEN {v} IS NULL OR {v} = '' THEN {blank_ok} ELSE {check} END")
    return values, checks


def convert_sql(kind: RecordKind, layout: CsvLayout, text_table: str, stage: str) -> str:
    """INSERT into the stage every row with its plain-form values and ``ok``; $1 source, $2 zone, $3 risky days,
    $4 edge-space pattern, $5 batch id, $6 units in scope."""
    positions = {name: i for i, name in enumerate(layout.names) if name}
    values, _ = _convert(kind, {name: f"t.c{i}" for name, i in positions.items()})
    _, checks = _convert(kind, {name: f"x.raw_{name}" for name in positions})
    names = kind.field_names
    inner = ", ".join(f"{value} AS {name}" for value, name in zip(values, names, strict=True))
    raw = "".join(f", t.c{i} AS raw_{name}" for name, i in positions.items())
    oks = [check.replace("{value}", f"x.{name}") for check, name in zip(checks, names, strict=True)]
    for later, earlier in TIME_ORDER.get(kind.name, ()):
        oks.append(f"NOT coalesce(x.{later} < x.{earlier}, false)")
    for unit_field in ("unit_id", "handling_unit_id"):
        if unit_field in names:
            oks.append(f"(x.{unit_field} IS NULL OR x.{unit_field} = ANY($6::text[]))")
    ok = "\n        AND ".join(f"({o})" for o in oks)
    return f"""
INSERT INTO {stage} ({", ".join(names)}, day, batch_id, row_no, ok)
SELECT {", ".join(f"x.{n}" for n in names)}, (x.{kind.day_field} AT TIME ZONE $2)::date, $5::bigint, x.row_no,
       coalesce({ok}, false)
FROM (SELECT t.row_no, {inner}{raw} FROM {text_table} t OFFSET 0) x  -- OFFSET 0: each conversion runs once
"""


async def copy_text(
    apg,
    binary: BinaryIO,
    layout: CsvLayout,
    text_table: str,
    chunk_rows: int,
    on_progress: Callable[[str, int], Awaitable[Any]] | None,
) -> None:
    """COPY the file's data rows into ``text_table``, reporting progress (rows = lines sent) as it goes."""
    width = len(layout.names)
    await apg.execute(
        f"CREATE TEMP TABLE {text_table} (row_no integer GENERATED ALWAYS AS IDENTITY, "
        + ", ".join(f"c{i} text" for i in range(width))
        + ") ON COMMIT DROP"
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
            data, pending = data[:cut], data[cut:]
        else:  # the end: line ends after the last row are not rows (the Python reader skips blank rows)
            data, pending = data.rstrip(b"\r\n"), b""
        if data.strip(b"\r\n"):
            # one COPY per chunk: progress can be written between them (in tests on the same connection)
            await apg.copy_to_table(
                text_table,
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
    from services.ingest.loader import _take

    stage = f"stage_{kind.name}_{feed.batch_id}"
    text_table = f"text_{kind.name}_{feed.batch_id}"
    await apg.execute("SAVEPOINT bulk_csv")
    try:
        await copy_text(apg, binary, layout, text_table, chunk_rows, on_progress)
        await apg.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT * FROM ingest.{kind.table} WITH NO DATA")
        await apg.execute(f"ALTER TABLE {stage} ADD COLUMN ok boolean NOT NULL DEFAULT true")
        await apg.execute(
            convert_sql(kind, layout, text_table, stage),
            feed.source,
            str(feed.tz),
            list(offset_change_days(str(feed.tz))),
            EDGE_SPACE,
            feed.batch_id,
            sorted(feed.units_in_scope),
        )
    except (asyncpg.PostgresError, asyncpg.InterfaceError):
        await apg.execute("ROLLBACK TO SAVEPOINT bulk_csv")
        await apg.execute("RELEASE SAVEPOINT bulk_csv")
        return None
    await apg.execute("RELEASE SAVEPOINT bulk_csv")
    total = await apg.fetchval(f"SELECT count(*) FROM {text_table}")
    low, high = feed.period
    for day, n in await apg.fetch(f"SELECT day, count(*) FROM {stage} WHERE ok GROUP BY day"):
        feed.days.add(day)
        feed.counts.rows_valid += n
        if (low and day < low) or (high and day > high):
            feed.out_of_period += n
    bad = await apg.fetch(
        f"SELECT * FROM {text_table} WHERE row_no IN (SELECT row_no FROM {stage} WHERE NOT ok) ORDER BY row_no"
    )
    feed.counts.rows_read = total - len(bad)
    if bad:
        await apg.execute(f"DELETE FROM {stage} WHERE NOT ok")
        columns = [(f"c{i}", name) for i, name in enumerate(layout.names) if name]
        rows = ((r["row_no"], {name: r[c] if r[c] is not None else "" for c, name in columns}) for r in bad)
        iterator = feed.tuples(rows)
        names = [*kind.field_names, "day", "batch_id", "row_no"]
        while chunk := _take(iterator, chunk_rows):
            await apg.copy_records_to_table(stage, records=chunk, columns=names)
    feed.repeats_unknown = True  # the keys were not tracked row by row: merge_stage finds repeats in SQL
    await apg.execute(f"ALTER TABLE {stage} DROP COLUMN ok")
    await apg.execute(f"DROP TABLE {text_table}")
    return stage
