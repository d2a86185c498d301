"""Opaque cursors for keyset pagination (Relay-style connections)."""

from __future__ import annotations

import base64

from hotline.kit.errors import BadRequestError

MAX_PAGE_SIZE = 500


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"invalid cursor {cursor!r}") from exc


def check_page_size(first: int) -> int:
    if first < 1 or first > MAX_PAGE_SIZE:
        raise BadRequestError(f"'first' must be between 1 and {MAX_PAGE_SIZE}, got {first}")
    return first
