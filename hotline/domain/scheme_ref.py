"""How every API names a scheme version: the bare scheme id, or its federation key ``"<scheme id>:<version>"``
(``SchemeVersion.id``). One reader for indicators and scoring, so that an id one of them answers is an id
the other takes.

The key's version stands in for a version argument the caller left out; given both, they must agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A scheme id holds no colon or white space; a version is a positive int4 (at most nine digits).
_REF = re.compile(r"(?P<id>[^:\s]+)(?::(?P<version>[1-9][0-9]{0,8}))?")
FORMS = "`<scheme id>` or `<scheme id>:<version>` (the `id` of a SchemeVersion)"


class SchemeRefError(ValueError):
    """A scheme reference that cannot be read (``invalid_id``) or whose two versions disagree
    (``version_conflict``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class SchemeRef:
    """A scheme id and the version the caller named (None: none named)."""

    scheme_id: str
    version: int | None


def parse_scheme_ref(value: str, version: int | None = None, *, version_name: str = "version") -> SchemeRef:
    """``value`` in either form, merged with the separate version argument ``version_name``."""
    match = _REF.fullmatch(value)
    if match is None:
        shown = value if len(value) <= 80 else value[:80] + "…"
        raise SchemeRefError("invalid_id", f"a scheme id is {FORMS}, not {shown!r}")
    keyed = int(match["version"]) if match["version"] else None
    if keyed is not None and version is not None and keyed != version:
        raise SchemeRefError(
            "version_conflict",
            f"the id names version {keyed} but {version_name} is {version}: give the version once, or the same twice",
        )
    return SchemeRef(match["id"], keyed if keyed is not None else version)
