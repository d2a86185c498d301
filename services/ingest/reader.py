"""Reading uploaded files as a stream of rows: CSV/TSV, NDJSON and XLSX; UTF-8, UTF-8 BOM, GB18030/GBK.

Rows come out one at a time as ``(row_no, {column: value})`` (row numbers are 1-based data rows,
the header not counted), so a file of any size is read in constant memory (XLSX excepted: its
sheet is held by calamine in native memory, its rows reach Python one at a time). Whole-file
problems raise ``FileFormatError`` with a clear message; a row that is short or unreadable is
yielded as a ``BadRow`` for the report.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

FORMATS = ("csv", "tsv", "ndjson", "xlsx")
SNIFF_BYTES = 256 * 1024
csv.field_size_limit(1_000_000)


class FileFormatError(ValueError):
    """The file as a whole cannot be read (empty, truncated, wrong encoding, wrong header)."""


@dataclass(frozen=True, slots=True)
class BadRow:
    row: int
    reason: str
    value: str | None = None


def detect_format(filename: str | None, content_type: str | None, explicit: str | None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise FileFormatError(f"unknown format {explicit!r}; expected one of {', '.join(FORMATS)}")
        return explicit
    suffix = Path(filename or "").suffix.lower().lstrip(".")
    if suffix in ("csv", "tsv", "ndjson", "xlsx"):
        return suffix
    if suffix in ("jsonl", "json"):
        return "ndjson"
    if suffix == "txt":
        return "csv"
    if content_type and "ndjson" in content_type:
        return "ndjson"
    if content_type and "spreadsheetml" in content_type:
        return "xlsx"
    return "csv"


def detect_encoding(head: bytes) -> str:
    """utf-8-sig, utf-8 or gb18030 from the first bytes of the file."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a multibyte character cut at the end is fine
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"cannot decode the file at byte {exc.start}: expected UTF-8, UTF-8 with BOM, or GB18030/GBK"
        ) from None


class _Text(io.TextIOWrapper):
    """A text stream whose decoding errors become ``FileFormatError``."""

    def __next__(self) -> str:
        try:
            return super().__next__()
        except UnicodeDecodeError as exc:
            raise FileFormatError(
                f"the file is not valid {self.encoding} after byte ~{self.buffer.tell()}: {exc.reason}; "
                "expected UTF-8, UTF-8 with BOM, or GB18030/GBK throughout"
            ) from None


def open_text(binary: BinaryIO) -> io.TextIOWrapper:
    head = binary.read(SNIFF_BYTES)
    if not head.strip():
        raise FileFormatError("the file is empty")
    encoding = detect_encoding(head)
    binary.seek(0)
    return _Text(binary, encoding=encoding, newline="")


def read_rows(binary: BinaryIO, fmt: str, delimiter: str | None = None) -> tuple[list[str], Iterator]:
    """The header (column names) and an iterator of ``(row_no, dict)`` or ``BadRow``."""
    if fmt == "xlsx":
        return _xlsx(binary)
    text = open_text(binary)
    if fmt == "ndjson":
        return [], _ndjson(text)
    return _csv(text, "\t" if fmt == "tsv" else delimiter)


def _csv(text: io.TextIOWrapper, delimiter: str | None) -> tuple[list[str], Iterator]:
    first = text.readline()
    if not first.strip():
        raise FileFormatError("the file has no header row")
    if delimiter is None:
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
    header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
    if not any(header):
        raise FileFormatError("the header row is empty")
    seen: set[str] = set()
    names: list[str] = []
    for name in header:
        # repeated names (some exports repeat derived columns): the first one counts
        names.append(name if name not in seen else "")
        seen.add(name)

    def rows() -> Iterator:
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        width = len(names)
        row_no = 0
        try:
            for cells in reader:
                if not cells:
                    continue
                row_no += 1
                if len(cells) != width:
                    yield BadRow(
                        row_no, f"row has {len(cells)} fields, the header has {width} (truncated or misquoted)"
                    )
                    continue
                yield row_no, dict(zip(names, cells, strict=True))
        except csv.Error as exc:
            raise FileFormatError(f"CSV syntax error after data row {row_no}: {exc} (is the file truncated?)") from None

    return [n for n in names if n], rows()


def _ndjson(text: io.TextIOWrapper) -> Iterator:
    row_no = 0
    for line in text:
        if not line.strip():
            continue
        row_no += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRow(row_no, f"not valid JSON: {exc.msg} (truncated line?)", line[:200].strip())
            continue
        if not isinstance(value, dict):
            yield BadRow(row_no, "each line must be a JSON object")
            continue
        yield row_no, value


def _cell(value: Any) -> Any:
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _xlsx(binary: BinaryIO) -> tuple[list[str], Iterator]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(binary)
        sheet = workbook.get_sheet_by_index(0)
        rows = iter(sheet.iter_rows())  # Python objects one row at a time (the sheet itself is held by calamine)
    except Exception as exc:  # calamine raises its own error types for corrupt/truncated workbooks
        raise FileFormatError(f"cannot read the XLSX workbook (truncated or not an .xlsx file?): {exc}") from None
    try:
        header = [str(h).strip() for h in next(rows)]
    except StopIteration:
        raise FileFormatError("the workbook's first sheet is empty") from None

    def gen() -> Iterator:
        for row_no, cells in enumerate(rows, start=1):
            if all(c in ("", None) for c in cells):
                continue
            yield row_no, {h: _cell(c) for h, c in zip(header, cells, strict=False) if h}

    return [h for h in header if h], gen()


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """Where the data rows of a plain CSV/TSV file start and how its header reads (for ``COPY`` in the database)."""

    names: list[str]  # per column, "" for a repeated or empty name (the first one counts), as ``_csv`` does
    delimiter: str
    data_offset: int  # byte offset of the first data row


def plain_csv_layout(binary: BinaryIO, fmt: str, delimiter: str | None = None) -> CsvLayout | None:
    """The layout of a CSV/TSV whose header PostgreSQL's COPY reads exactly as ``_csv`` does, else ``None``.

    Only files without any quote character, in UTF-8 (with or without BOM), whose header ends in ``\\n``
    and without a ``\\.`` line (COPY's end-of-data marker) qualify: in such a file every row is one line and
    every field is the bytes between delimiters, whichever parser reads it. Anything else (quotes, other
    encodings, blank or short rows, bad bytes) is left to the Python reader, which gives the exact messages.
    This looks at the header; the data part is checked by the path that takes the file (``plain_data``, or a
    check that proves as much of every line, ``bulk.plain_line_pattern``). Leaves the file positioned at its
    start.
    """
    if fmt not in ("csv", "tsv"):
        return None
    try:
        binary.seek(0)
        head = binary.read(SNIFF_BYTES)
        binary.seek(0)
        if not head.strip() or detect_encoding(head) not in ("utf-8", "utf-8-sig"):
            return None
        end = head.find(b"\n")
        if end < 0:
            return None
        first = head[: end + 1]
        if b"\r" in first[:-2] or b'"' in first:
            return None
        bom = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
        line = first[bom:].decode("utf-8")
    except (OSError, UnicodeDecodeError, FileFormatError, ValueError):
        binary.seek(0)
        return None
    if fmt == "tsv":
        delimiter = "\t"
    elif delimiter is None:
        delimiter = "\t" if line.count("\t") > line.count(",") else ","
    if len(delimiter) != 1 or delimiter in '\r\n\\"':
        return None
    header = [h.strip() for h in next(csv.reader([line], delimiter=delimiter))]
    seen: set[str] = set()
    names: list[str] = []
    for name in header:
        names.append(name if name not in seen else "")
        seen.add(name)
    binary.seek(0)
    return CsvLayout(names, delimiter, end + 1)


def plain_data(binary: BinaryIO, offset: int) -> bool:
    """The data part from ``offset`` holds no quote anywhere and no line that is COPY's end marker. Leaves the file
    positioned at its start."""
    tail = b"\n"
    binary.seek(offset)
    while chunk := binary.read(1 << 22):
        window = tail + chunk
        if b'"' in chunk or b"\n\\." in window or b"\r\\." in window:
            binary.seek(0)
            return False
        tail = chunk[-2:]
    binary.seek(0)
    return True
