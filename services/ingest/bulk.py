"""The bulk path for plain canonical CSV: PostgreSQL parses the file and checks its rows set-based.

A plain file (``reader.plain_csv_layout``: UTF-8, no quote characters, no mapping) is COPYed in chunks of
whole lines. A chunk whose every line is plain (``plain_line_pattern``, checked by RE2 in a thread while the
previous chunk is COPYed) goes straight into the typed stage (``typed_stage_ddl``: ``day`` and ``ok`` are
generated columns); typed rows whose ``ok`` is false are read again from the file and join the text rows
below. Any other chunk is COPYed as text into an unlogged table made inside the load's transaction, one
text column per header column; both take their row numbers from one sequence, in file order. One
``CREATE TABLE … AS`` (run by parallel workers; an ``INSERT`` into the typed stage if there is one) then
converts every text row whose every value is in a *plain form* — a form for
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

import asyncio
import contextlib
import functools
import io
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, BinaryIO

import asyncpg
import re2

from services.ingest.reader import CsvLayout
from services.ingest.records import SQL_TYPES, RecordKind
from services.ingest.validation import FALSE, MAX_TEXT, TIME_ORDER, TRUE

# Python's str.isspace() characters (what str.strip() removes): a value starting or ending with one of them,
# or consisting of them, is left to Python.
_SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_CODES = ", ".join(str(ord(c)) for c in _SPACES)
EDGE_OK = f"ascii({{v}}) NOT IN ({_CODES}) AND ascii(right({{v}}, 1)) NOT IN ({_CODES})"
COPY_CHUNK_BYTES_PER_ROW = 128  # progress is reported about every CHUNK_ROWS rows


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


def warm_up(zone_key: str) -> None:
    """Work a service does once per time zone, before its first load of a plain file of that zone (about 0.2 s of
    a core: the zone's offset changes over 1990–2100, ``offset_change_months``)."""
    _years(zone_key)


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
    insert: bool = False,
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
    head = (
        f"INSERT INTO {stage} ({', '.join(names)}, day, batch_id, row_no, ok)"
        if insert  # into the typed stage (``typed_stage_ddl``): the rows of the chunks that were not all plain
        else f"CREATE UNLOGGED TABLE {stage} ({', '.join(names)}, day, batch_id, row_no, ok) AS"
    )
    return f"""
{head}
SELECT {", ".join(final(n) for n in names)}, x.{kind.day_field}::date, $3::bigint, x.row_no,
       coalesce({ok}, false)
FROM (SELECT clock_timestamp() AS unmerged, t.row_no, {inner}{raw} FROM {text_table} t) x
"""


# Plain forms a line must have, value by value, to be COPYed typed (``plain_line_pattern``): forms PostgreSQL's
# input functions read exactly as validation.py does. Text: printable ASCII without quote, comma or edge space.
_TEXT_CHAR = rb"[!#-+\--~]"
_PLAIN_VALUE = {
    "text": _TEXT_CHAR + rb"+(?: +" + _TEXT_CHAR + rb"+)*",  # its length: checked by ``ok``
    "int": rb"[0-9]{1,9}",
    "float": rb"[0-9]{1,15}",
    "bool": rb"(?:true|false)",
    # YYYY-MM-DD HH:MM:SS, a real day (29 February excepted), of a year (``_years``) in 1990–2100
    "timestamp": rb"(?:{years})-"
    rb"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    rb" (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]",
}


def _years(zone: str) -> bytes:
    """A pattern of the years 1990–2100 in none of whose months the zone's UTC offset changes (a naive time of
    such a year is read the same by Python and PostgreSQL); years with a change are left to the other path."""
    risky = {int(month[:4]) for month in offset_change_months(zone)}
    decades: dict[str, str] = {}
    for year in range(1990, 2101):
        if year not in risky:
            decades[str(year)[:3]] = decades.get(str(year)[:3], "") + str(year)[3]
    return "|".join(f"{decade}[{digits}]" for decade, digits in decades.items()).encode()


def plain_line_pattern(kind: RecordKind, layout: CsvLayout, zone: str):
    """A compiled RE2 pattern a chunk of lines fully matches only if every line is plain: every value of it in the
    plain form of its field (``_PLAIN_VALUE``; enumerations: their exact values; required fields not blank), all its
    lines ending in ``\\n`` or all in ``\\r\\n``. ``None`` if the header is not one PostgreSQL can COPY typed (a column the kind does
    not name, an ``enum_list`` column).

    A plain line's typed COPY gives exactly the values ``validation.py`` gives its text: digits are the same
    number, the exact words the same enumeration value and boolean, an ISO local time the same instant (the
    session's time zone is the source's ``zone``, and no year with a change of its UTC offset is plain), ASCII
    text without edge whitespace the same string.
    """
    import re

    fields = {f.name: f for f in kind.fields}
    parts = []
    for name in layout.names:
        f = fields.get(name)
        if f is None or f.type == "enum_list":
            return None
        if f.type == "enum":
            value = b"(?:" + b"|".join(re.escape(v.encode()) for v in sorted(f.values)) + b")"
        elif f.type == "timestamp":
            years = _years(zone)
            if not years:
                return None
            value = _PLAIN_VALUE[f.type].replace(b"{years}", years)
        else:
            value = _PLAIN_VALUE[f.type]
        parts.append(b"(?:" + value + b")" + (b"" if f.required else b"?"))
    line = re.escape(layout.delimiter.encode()).join(parts)
    return _compile(b"(?:" + line + b"\n)+|(?:" + line + b"\r\n)+")


@functools.lru_cache(maxsize=16)
def _compile(pattern: bytes) -> re2._Regexp:
    """RE2, not ``re``: a linear-time automaton that releases the GIL while it matches. Python's backtracking
    ``re`` took 2.9 s of a core to check a 123 MB file of 1 M calls (more than PostgreSQL's COPY of it); RE2 takes
    0.2 s. The pattern is a plain regular expression (classes, repetition, alternation), so both accept the same
    lines; the memory budget lets the automaton of a wide header stay a DFA."""
    options = re2.Options()
    options.max_mem = 64 << 20
    return re2.compile(pattern, options)


def typed_checks(kind: RecordKind, layout: CsvLayout, units: set[str] | None) -> str:
    """SQL over a typed row of a plain file: true if it passes the checks a plain form does not prove (unit in
    scope, time order, bounds, text length, required columns the file lacks). A plain text is ASCII, so its
    length is its size in bytes (``octet_length``: no character count); a plain number has no sign, so a
    minimum of zero or less holds already. ``units`` ``None``: the units are not checked (``unit_checks``)."""
    checks = []
    present = set(layout.names)
    for f in kind.fields:
        if f.required and f.name not in present and f.name != "source":
            checks.append("false")
        if f.type == "text":
            checks.append(f"({f.name} IS NULL OR octet_length({f.name}) <= {MAX_TEXT})")
        if f.minimum is not None and not (f.type in ("int", "float") and f.minimum <= 0):
            checks.append(f"({f.name} IS NULL OR {f.name} >= {f.minimum!r})")
        if f.maximum is not None:
            checks.append(f"({f.name} IS NULL OR {f.name} <= {f.maximum!r})")
    for later, earlier in TIME_ORDER.get(kind.name, ()):
        checks.append(f"NOT coalesce({later} < {earlier}, false)")
    if units is not None:
        checks.append(unit_checks(kind, units))
    return " AND ".join(checks) or "true"


def unit_checks(kind: RecordKind, units: set[str]) -> str:
    """SQL: the row's units are in scope (``true`` for a kind without units)."""
    checks = [
        f"({unit_field} IS NULL OR {unit_field} = ANY({_array(units)}))"
        for unit_field in ("unit_id", "handling_unit_id")
        if unit_field in kind.field_names
    ]
    return " AND ".join(checks) or "true"


def typed_stage_ddl(
    kind: RecordKind,
    layout: CsvLayout,
    stage: str,
    sequence: str,
    source: str,
    zone: str,
    units: set[str],
    batch_id: int,
) -> str:
    """The stage the plain lines are COPYed into, typed; ``day`` and ``ok`` (the checks a plain form does not
    prove: unit in scope, time order, bounds, times away from the zone's UTC-offset changes) are generated."""
    zone_sql = _literal(zone)
    columns = []
    for f in kind.fields:
        default = f" DEFAULT {_literal(source)}" if f.name == "source" else ""
        columns.append(f"{f.name} {SQL_TYPES[f.type]}{default}")
    # not the units: in a generated column, ``= ANY(array)`` compares with each unit in turn (a planned statement
    # hashes the array) — 50,000 rows among 1,000 units: 2.1 s of COPY instead of 0.4 s. ``unit_checks`` after it.
    ok = typed_checks(kind, layout, None)
    return (
        f"CREATE UNLOGGED TABLE {stage} ({', '.join(columns)}, "
        f"day date GENERATED ALWAYS AS (({kind.day_field} AT TIME ZONE {zone_sql})::date) STORED, "
        f"batch_id bigint DEFAULT {int(batch_id)}, row_no integer DEFAULT nextval({_literal(sequence)}), "
        f"ok boolean GENERATED ALWAYS AS (coalesce({ok}, false)) STORED)"
    )


@dataclass
class CopiedLines:
    """What ``copy_text`` sent where: the typed stage's chunks (file offset, byte length, first row number, rows)."""

    typed: list[tuple[int, int, int, int]] = field(default_factory=list)
    text_rows: int = 0  # counts the chunks COPYed as text (0: every chunk went typed)
    text_table_made: bool = False  # the text table exists (made by the first chunk COPYed as text, or on demand)


async def make_text_table(apg, text_table: str, width: int, sequence: str) -> None:
    """The unlogged table of text rows (``copy_text``): made only when some row needs it — a file whose every chunk
    is plain never does (creating an unlogged table writes and syncs its init fork: ~4 ms of a small batch)."""
    await apg.execute(
        f"CREATE UNLOGGED TABLE {text_table} (row_no integer DEFAULT nextval({_literal(sequence)}), "
        + ", ".join(f"c{i} text" for i in range(width))
        + ")"
    )


def _chunks(binary: BinaryIO, layout: CsvLayout, chunk_bytes: int) -> Iterator[tuple[int, bytes, bool]]:
    """The file's data rows in chunks of whole lines: (file offset, bytes, more to come)."""
    binary.seek(layout.data_offset)
    start = layout.data_offset
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
        yield start, data, bool(chunk)
        start += len(data)
        if not chunk:
            return


def _ended(data: bytes) -> bytes:
    """The chunk with its last line ended like its first (what the chunk pattern expects)."""
    if data.endswith(b"\n"):
        return data
    first = data.find(b"\n")
    return data + (b"\r\n" if first > 0 and data[first - 1 : first] == b"\r" else b"\n")


async def _next_chunk(chunks: Iterator, pattern) -> tuple[int, bytes, bool, bool] | None:
    """The next chunk and whether all its lines are plain: read and checked in a thread (RE2 releases the GIL)
    while the previous chunk is COPYed."""
    item = await asyncio.to_thread(next, chunks, None)
    if item is None:
        return None
    start, data, more = item
    if pattern is None or not data.strip(b"\r\n"):
        return start, data, more, False
    line = _ended(data)
    plain = await asyncio.to_thread(pattern.fullmatch, line) is not None
    return start, line if plain else data, more, plain


async def copy_text(
    apg,
    binary: BinaryIO,
    layout: CsvLayout,
    text_table: str,
    chunk_rows: int,
    on_progress: Callable[[str, int], Awaitable[Any]] | None,
    sequence: str,
    typed: tuple[str, Any, str] | None = None,
) -> CopiedLines:
    """COPY the file's data rows, reporting progress (rows = lines sent) as it goes: a chunk whose every line is
    plain (``typed``: the typed stage, the chunk pattern, the zone) into the typed stage, any other into
    ``text_table``, as text (the table made by the first such chunk: ``CopiedLines.text_table_made``). Both take their row numbers from ``sequence`` in file order.

    An UNLOGGED table of the ``ingest`` schema rather than a temporary one, so that parallel workers can read it
    (``convert_sql``); created inside the load's transaction, it is invisible to everyone else, goes with a
    rollback and is dropped before the commit (``stage_plain_csv``). Python checks the next chunk while
    PostgreSQL COPYs the previous one (two cores).
    """
    width = len(layout.names)
    chunk_bytes = max(chunk_rows * COPY_CHUNK_BYTES_PER_ROW, 4096)
    columns = [f"c{i}" for i in range(width)]
    copied = CopiedLines()
    chunks = _chunks(binary, layout, chunk_bytes)
    pattern = typed[1] if typed is not None else None
    lines = 0
    zone_set = False
    pending = asyncio.ensure_future(_next_chunk(chunks, pattern))
    try:
        while (item := await pending) is not None:
            start, data, more, plain = item
            pending = asyncio.ensure_future(_next_chunk(chunks, pattern))
            if not data.strip(b"\r\n"):
                continue
            # one COPY per chunk: progress can be written between them (in tests on the same connection)
            n = data.rstrip(b"\r\n").count(b"\n") + 1
            if plain:
                if not zone_set:  # naive times are read in the source's zone
                    zone_before = await apg.fetchval("SELECT current_setting('TimeZone')")
                    await apg.execute(f"SET LOCAL TimeZone = {_literal(typed[2])}")
                    zone_set = True
                table, columns_now = typed[0], list(layout.names)
                copied.typed.append((start, len(data), lines + 1, n))
            else:
                if not copied.text_table_made:
                    await make_text_table(apg, text_table, width, sequence)
                    copied.text_table_made = True
                table, columns_now = text_table, columns
                copied.text_rows += 1
            schema, _, name = table.rpartition(".")
            await apg.copy_to_table(
                name,
                schema_name=schema or None,
                source=io.BytesIO(data),
                columns=columns_now,
                format="csv",
                delimiter=layout.delimiter,
                header=False,
            )
            lines += n
            if on_progress is not None and more:
                await on_progress("validating", lines)
    finally:
        if not pending.done():
            with contextlib.suppress(Exception):
                await pending
    if zone_set:  # the transaction's own zone again (a failed COPY: the savepoint's rollback restores it)
        await apg.execute(f"SET LOCAL TimeZone = {_literal(zone_before)}")
    return copied


async def _text_of_typed_rows(
    apg, binary: BinaryIO, layout: CsvLayout, text_table: str, copied: CopiedLines, row_nos: list[int]
) -> None:
    """Put the text of these typed rows (which ``ok`` did not vouch for) into the text table, read again from the
    file, so that they take the Python checks like any other."""
    wanted = sorted(row_nos)
    out = io.BytesIO()
    i = 0
    for start, length, first, count in copied.typed:
        while i < len(wanted) and wanted[i] < first:  # a row of a text chunk: its text is there
            i += 1
        mine = []
        while i < len(wanted) and wanted[i] < first + count:
            mine.append(wanted[i])
            i += 1
        if not mine:
            continue
        binary.seek(start)
        chunk_lines = binary.read(length).split(b"\n")
        for row_no in mine:
            text = chunk_lines[row_no - first].rstrip(b"\r")  # a plain line has no other \r
            out.write(b"%d%s%s\n" % (row_no, layout.delimiter.encode(), text))
    schema, _, name = text_table.rpartition(".")
    out.seek(0)
    await apg.copy_to_table(
        name,
        schema_name=schema,
        source=out,
        columns=["row_no", *(f"c{i}" for i in range(len(layout.names)))],
        format="csv",
        delimiter=layout.delimiter,
        header=False,
    )


async def stage_plain_csv(apg, kind: RecordKind, feed, binary: BinaryIO, layout: CsvLayout, chunk_rows, on_progress):
    """Stage a plain CSV set-based; returns the stage table, or ``None`` if the file must take the Python path.

    ``feed`` ends with the same counts, days and problems the Python path would give it.
    """
    # unlogged tables of the schema like the text table (and dropped by ``loader.load`` before the commit): the
    # unique index on the stage's keys is then built by parallel workers too
    stage = f"ingest.bulk_stage_{kind.name}_{feed.batch_id}"
    text_table = f"ingest.bulk_text_{kind.name}_{feed.batch_id}"
    sequence = f"ingest.bulk_row_{kind.name}_{feed.batch_id}"
    arguments = (feed.source, str(feed.tz), feed.batch_id)
    units = set(feed.units_in_scope)
    pattern = plain_line_pattern(kind, layout, str(feed.tz))
    await apg.execute("SAVEPOINT bulk_csv")
    try:
        await apg.execute(f"CREATE UNLOGGED SEQUENCE {sequence}")
        typed = None
        if pattern is not None:
            await apg.execute(
                typed_stage_ddl(kind, layout, stage, sequence, feed.source, str(feed.tz), units, feed.batch_id)
            )
            typed = (stage, pattern, str(feed.tz))
        copied = await copy_text(apg, binary, layout, text_table, chunk_rows, on_progress, sequence, typed)
        if typed is not None and not copied.typed:  # no chunk was all plain: the text path alone, as a CTAS
            await apg.execute(f"DROP TABLE {stage}")
        elif typed is not None:  # the typed stage takes the converted text rows and the Python-checked ones
            await apg.execute(f"ALTER TABLE {stage} ALTER COLUMN day DROP EXPRESSION, ALTER COLUMN ok DROP EXPRESSION")
            # the typed rows' units, checked in one planned statement (``typed_stage_ddl``)
            await apg.execute(f"UPDATE {stage} SET ok = false WHERE ok AND NOT ({unit_checks(kind, units)})")
        into = bool(copied.typed)
        if not copied.text_table_made and not into:  # a file of no row at all: the conversion reads an empty table
            await make_text_table(apg, text_table, len(layout.names), sequence)
            copied.text_table_made = True
        if copied.text_rows or not into:
            await apg.execute("SAVEPOINT bulk_convert")
            try:
                await apg.execute(
                    convert_sql(kind, layout, text_table, stage, str(feed.tz), units, insert=into), *arguments
                )
            except asyncpg.DataError:  # an impossible date shaped like ISO: check every part before casting
                await apg.execute("ROLLBACK TO SAVEPOINT bulk_convert")
                await apg.execute(
                    convert_sql(kind, layout, text_table, stage, str(feed.tz), units, False, insert=into), *arguments
                )
            await apg.execute("RELEASE SAVEPOINT bulk_convert")
        if into and (not_ok := await apg.fetch(f"SELECT row_no FROM {stage} WHERE NOT ok")):
            if not copied.text_table_made:
                await make_text_table(apg, text_table, len(layout.names), sequence)
                copied.text_table_made = True
            await _text_of_typed_rows(apg, binary, layout, text_table, copied, [r[0] for r in not_ok])
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
    if copied.text_table_made:
        await apg.execute(f"DROP TABLE {text_table}")
    await apg.execute(f"DROP SEQUENCE {sequence} CASCADE")  # and the stage's row_no default
    return stage
