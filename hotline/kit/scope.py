"""Scope: a caller sees exactly its own subtree of the unit tree, plus the identity of its ancestors.

Units carry a materialized path of ancestor ids joined by ``/`` (``GD/GD-GZ/GZ-HOUSING``). A row is
in scope iff its unit's path equals the caller's path or starts with it followed by ``/`` — a
prefix match that a ``text_pattern_ops`` b-tree index answers without any extension.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, bindparam, false, or_

PATH_SEPARATOR = "/"
# Unit ids are codes such as GD, GD-GZ, GZ-HOUSING: no path separator and no LIKE wildcards.
UNIT_ID_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Scope:
    """The part of the unit tree a caller may see. ``path`` is None when the caller's unit is unknown."""

    unit_id: str
    path: str | None

    @property
    def ancestor_ids(self) -> list[str]:
        """Ids of the caller's proper ancestors, root first (visible as bare identity only)."""
        if self.path is None:
            return []
        return self.path.split(PATH_SEPARATOR)[:-1]

    def covers(self, path: str) -> bool:
        """Whether a unit with materialized ``path`` is inside this scope."""
        if self.path is None:
            return False
        return path == self.path or path.startswith(self.path + PATH_SEPARATOR)


def in_scope(path_column: ColumnElement[str], scope: Scope) -> ColumnElement[bool]:
    """SQL condition: the row's unit path is inside the caller's subtree."""
    if scope.path is None:
        return false()
    return or_(path_column == scope.path, path_column.like(scope.path + PATH_SEPARATOR + "%"))


# The caller's scope as bound parameters: a query written once with ``in_caller_scope`` is built, keyed and compiled
# once per process (SQLAlchemy keeps its compiled form) and executed with ``scope_params(scope)`` — where building
# the same query with ``in_scope`` for every request costs more than running it.
SCOPE_PATH_PARAM = "scope_path"
SCOPE_PREFIX_PARAM = "scope_prefix"


def in_caller_scope(path_column: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL condition of ``in_scope`` with the caller's scope left as parameters (values: ``scope_params``). An
    unknown unit's parameters are NULL, so the condition holds for no row, as ``in_scope``'s ``false()``."""
    return or_(
        path_column == bindparam(SCOPE_PATH_PARAM, type_=String),
        path_column.like(bindparam(SCOPE_PREFIX_PARAM, type_=String)),
    )


def scope_params(scope: Scope) -> dict[str, str | None]:
    """The values of ``in_caller_scope``'s parameters for ``scope``."""
    if scope.path is None:
        return {SCOPE_PATH_PARAM: None, SCOPE_PREFIX_PARAM: None}
    return {SCOPE_PATH_PARAM: scope.path, SCOPE_PREFIX_PARAM: scope.path + PATH_SEPARATOR + "%"}
