"""Opaque cursors for keyset pagination (Relay-style connections), and the connections' ``PageInfo``.

One codec for the cursors of every connection of every service (``CursorCodec``): a cursor is the unpadded
base64url of the JSON array ``[<connection>, <field>, ...]``. Decoding checks everything a client could have
changed — the base64, the JSON, the connection's name, the number and the shape of the fields — and any
mismatch is a ``BAD_REQUEST`` saying which connection's cursor was expected: never a 500, never a silent
first page, never another connection's position.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import strawberry

from hotline.kit.errors import BadRequestError

MAX_PAGE_SIZE = 500
# Far longer than any cursor the codec writes (a connection name, a timestamp and a uuid): refused unread.
MAX_CURSOR_LENGTH = 512
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValueError("not a text position")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError("not a position in a sequence")
    return value


def _timestamp(value: Any) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(_text(value))
    if parsed.tzinfo is None:
        raise ValueError("a timestamp without its time zone")
    return parsed


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(_text(value))


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(_text(value))


class CursorCodec:
    """The cursors of one connection: ``encode(*values)`` gives the opaque cursor of a position, ``decode`` gives
    the position back — or raises ``BadRequestError`` for anything this connection did not give."""

    # The kinds of field a position is made of: how each is written into the cursor and read back.
    TEXT: tuple[Callable[[Any], Any], Callable[[Any], Any]] = (str, _text)
    COUNT: tuple[Callable[[Any], Any], Callable[[Any], Any]] = (int, _count)
    TIMESTAMP: tuple[Callable[[Any], Any], Callable[[Any], Any]] = (dt.datetime.isoformat, _timestamp)
    DATE: tuple[Callable[[Any], Any], Callable[[Any], Any]] = (dt.date.isoformat, _date)
    UUID: tuple[Callable[[Any], Any], Callable[[Any], Any]] = (str, _uuid)

    def __init__(
        self,
        connection: str,
        *fields: tuple[Callable[[Any], Any], Callable[[Any], Any]],
        legacy: Callable[[str], tuple[Any, ...]] | None = None,
    ) -> None:
        self.connection = connection
        self.fields = fields
        # Reads a cursor written before this codec (base64url of plain text), for a connection whose clients keep
        # cursors between sessions (an incremental pull): raises ValueError for any text it would not have written.
        self.legacy = legacy

    def encode(self, *values: Any) -> str:
        if len(values) != len(self.fields):
            raise TypeError(f"a `{self.connection}` cursor holds {len(self.fields)} values, not {len(values)}")
        payload = [self.connection, *(write(v) for (write, _), v in zip(self.fields, values, strict=True))]
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[Any, ...]:
        """The position ``cursor`` stands for (one value per field)."""
        try:
            return self._decode(cursor)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError):
            shown = cursor if len(cursor) <= 60 else cursor[:60] + "…"
            raise BadRequestError(
                f"invalid cursor {shown!r}: pass the `cursor` of an edge, or the `endCursor`, that "
                f"`{self.connection}` returned; omit `after` to start",
                argument="after",
            ) from None

    def decode_one(self, cursor: str) -> Any:
        """The position of a cursor of one field."""
        (value,) = self.decode(cursor)
        return value

    def _decode(self, cursor: str) -> tuple[Any, ...]:
        if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("no cursor")
        if not _BASE64URL.fullmatch(cursor):
            raise ValueError("not base64url")
        stripped = cursor.rstrip("=")
        text = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4)).decode("utf-8")
        if self.legacy is not None and not text.startswith("["):
            return self.legacy(text)
        payload = json.loads(text)
        if not isinstance(payload, list) or len(payload) != 1 + len(self.fields) or payload[0] != self.connection:
            raise ValueError("not a cursor of this connection")
        return tuple(read(v) for (_, read), v in zip(self.fields, payload[1:], strict=True))


@strawberry.federation.type(shareable=True, description="Pagination state of a connection.")
class PageInfo:
    """One type for every connection of every subgraph (``@shareable``: each subgraph resolves its own)."""

    has_next_page: bool = strawberry.field(description="Whether more items follow the last edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge, if any.")


def check_page_size(first: int) -> int:
    if first < 1 or first > MAX_PAGE_SIZE:
        raise BadRequestError(f"'first' must be between 1 and {MAX_PAGE_SIZE}, got {first}")
    return first
