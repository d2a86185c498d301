"""Opaque cursors for keyset pagination (Relay-style connections), and the connections' ``PageInfo``."""

from __future__ import annotations

import base64

import strawberry

from hotline.kit.errors import BadRequestError

MAX_PAGE_SIZE = 500


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"invalid cursor {cursor!r}") from exc


@strawberry.federation.type(shareable=True, description="Pagination state of a connection.")
class PageInfo:
    """One type for every connection of every subgraph (``@shareable``: each subgraph resolves its own)."""

    has_next_page: bool = strawberry.field(description="Whether more items follow the last edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge, if any.")


def check_page_size(first: int) -> int:
    if first < 1 or first > MAX_PAGE_SIZE:
        raise BadRequestError(f"'first' must be between 1 and {MAX_PAGE_SIZE}, got {first}")
    return first
