"""The visibility policy — one implementation that every service consults (written out in docs/security.md).

A caller sees its own subtree of the unit tree (``hotline.kit.scope``). Beyond it, three relations grant
something, and nothing else does:

- **ancestor**: the bare identity (id, kind, names) of the caller's own ancestors, through ``ancestors``
  (``UnitIdentity``) only.
- **public peer**: a unit whose result stands in a *published* run whose scheme makes its ranking public
  (``rankings_public: true``), when the caller's subtree has a result in that same run. The peer's identity
  (``PEER_UNIT_FIELDS``) and its results in such runs are visible, by every path alike: ``ranking``,
  ``run.results``, ``unitResult(id)``, ``Unit.results``, ``unit(id)`` and the ``Unit`` entity, REST
  ``GET /results/{id}``, reports. Scoring owns runs, so it decides who is a public peer
  (``public_peers`` there, in SQL); every other service asks it (``public_peer_ids``).
- **deciding unit**: the unit that decides an appeal (the run's organizer, or the level above after an
  escalation) sees that appeal; the appeals service applies it, as it alone knows appeals.

Everything else looks nonexistent, never forbidden. Another service acting for a unit (a service token)
gets the subtree only: peer grants are for people reading, never for acting on a peer's data.

Roles decide what a caller may *do*, and for schemes what it may read (``may_read_scheme_version``); they
never widen which units a caller sees.

Registration takes a new id only inside the caller's namespace (``may_take_new_unit_id``), so that an id
outside it is refused with one answer, ``ID_NOT_AVAILABLE``, whether or not some other unit holds it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, MutableMapping

from sqlalchemy import ColumnElement, and_, false, or_

from hotline.kit.auth import Principal, Role
from hotline.kit.errors import ApiError
from hotline.kit.scope import PATH_SEPARATOR, Scope, in_scope

logger = logging.getLogger("hotline.policy")

# The one answer for an id the caller may not take or use: taken by a unit outside its scope, or simply
# outside its namespace. Never "exists", never "forbidden".
ID_NOT_AVAILABLE = "id not available"

# Scoring answers other services which units are the caller's public peers (internal tokens only).
PUBLIC_PEERS_PATH = "/visibility/public-peers"


class Relation(enum.StrEnum):
    """How a unit stands to the caller."""

    SUBTREE = "subtree"
    ANCESTOR = "ancestor"
    PUBLIC_PEER = "public_peer"
    NONE = "none"


# What each relation grants of a ``Unit`` (GraphQL field names). ``None`` = every field.
PEER_UNIT_FIELDS = frozenset({"id", "kind", "nameZh", "nameEn", "active", "validFrom", "validTo", "depth", "results"})
ANCESTOR_UNIT_FIELDS = frozenset({"id", "kind", "nameZh", "nameEn"})
UNIT_GRANTS: dict[Relation, frozenset[str] | None] = {
    Relation.SUBTREE: None,
    Relation.ANCESTOR: ANCESTOR_UNIT_FIELDS,
    Relation.PUBLIC_PEER: PEER_UNIT_FIELDS,
    Relation.NONE: frozenset(),
}


class NotVisibleError(ApiError):
    """A field the policy does not grant for this unit (asked of a public peer beyond its identity)."""

    status_code = 403
    code = "NOT_VISIBLE"


def unit_relation(scope: Scope, path: str, *, public_peers: Iterable[str] = ()) -> Relation:
    """The relation of the unit with materialized ``path`` to the caller."""
    if scope.covers(path):
        return Relation.SUBTREE
    unit_id = path.rsplit(PATH_SEPARATOR, 1)[-1]
    if unit_id in scope.ancestor_ids:
        return Relation.ANCESTOR
    if unit_id in set(public_peers):
        return Relation.PUBLIC_PEER
    return Relation.NONE


def grants_unit_field(relation: Relation, field: str) -> bool:
    granted = UNIT_GRANTS[relation]
    return granted is None or field in granted


def require_unit_field(relation: Relation, field: str) -> None:
    """Raise ``NOT_VISIBLE`` for a field of a unit that the policy does not grant."""
    if not grants_unit_field(relation, field):
        raise NotVisibleError(f"the visibility policy does not show a {relation.value.replace('_', ' ')}'s {field}")


def peers_apply(principal: Principal) -> bool:
    """Whether the caller gets public-peer grants: people reading do; a service acting for a unit does not."""
    return not principal.internal


# --- schemes -------------------------------------------------------------------------------------------------

SCHEME_MANAGER_ROLES = (Role.ORGANIZER, Role.ADMIN)


def may_read_scheme_version(
    principal: Principal, scope: Scope, *, organizer_path: str | None, status: str, caller_in_cohort: bool
) -> bool:
    """Managers (organizer, admin) of a scheme organized in their subtree read every version, drafts included;
    any other caller whose subtree holds the organizer (a viewer, reviewer or expert of the organizing side,
    or a service acting for it) reads its published and archived versions — the runs it sees were scored by
    them; a unit of the cohort reads the published version (公示) and no longer an archived one (its runs then
    show `scheme: null`, their own `schemeCode` and `schemeNameZh` stay). Nobody else sees it."""
    covers_organizer = organizer_path is not None and scope.covers(organizer_path)
    if covers_organizer and principal.has_any(*SCHEME_MANAGER_ROLES):
        return True
    if status == "draft":
        return False
    return covers_organizer or (status == "published" and caller_in_cohort)


def scheme_version_readable(
    principal: Principal,
    scope: Scope,
    *,
    organizer_path: ColumnElement[str],
    status: ColumnElement[str],
    caller_in_cohort: ColumnElement[bool],
) -> ColumnElement[bool]:
    """``may_read_scheme_version`` as a SQL condition, for reads that filter in the database."""
    covers_organizer = in_scope(organizer_path, scope)
    managed = covers_organizer if principal.has_any(*SCHEME_MANAGER_ROLES) else false()
    return or_(managed, and_(status != "draft", covers_organizer), and_(status == "published", caller_in_cohort))


# --- registration ---------------------------------------------------------------------------------------------


def unit_namespaces(unit_id: str, parent_id: str | None) -> tuple[str, ...]:
    """The id prefixes a unit owns: its own id followed by ``-`` (``GZ-TIANHE-…``), and, for a unit whose id is
    its parent's plus one code (``GD-GZ`` under ``GD``), that code followed by ``-`` (``GZ-…``)."""
    prefixes = [unit_id + "-"]
    if parent_id is not None and unit_id.startswith(parent_id + "-"):
        code = unit_id[len(parent_id) + 1 :]
        if code and "-" not in code:
            prefixes.append(code + "-")
    return tuple(prefixes)


def may_take_new_unit_id(unit_id: str, subtree: Iterable[tuple[str, str | None]]) -> bool:
    """Whether a caller whose subtree holds the units ``(id, parent_id)`` may register the new id ``unit_id``:
    it must begin with a namespace of one of them. Decided without looking at who else holds the id."""
    return any(unit_id.startswith(prefix) for uid, parent in subtree for prefix in unit_namespaces(uid, parent))


# --- public peers, for services other than scoring ----------------------------------------------------------


async def public_peer_ids(context) -> frozenset[str]:
    """The caller's public peers (unit ids), asked of scoring once per request and cached in the request's
    context. Fails closed: when scoring cannot answer, no peer is granted (logged)."""
    cache: MutableMapping = context.cache
    if "public_peers" in cache:
        return cache["public_peers"]
    principal: Principal = context.principal
    peers: frozenset[str] = frozenset()
    if peers_apply(principal) and context.services is not None:
        from hotline.kit.services import ServiceUnavailableError

        try:
            response = await context.services.request(
                "scoring", "GET", PUBLIC_PEERS_PATH, acting_for=principal.unit_id, attempts=1
            )
            if response.status_code == 200:
                peers = frozenset(str(u) for u in response.json()["units"])
            else:
                logger.warning("public peers: scoring answered %s; no peer granted", response.status_code)
        except ServiceUnavailableError:
            logger.warning("public peers: scoring unreachable; no peer granted")
    cache["public_peers"] = peers
    return peers
