"""Who may see and manage which scheme. Pure functions over the caller's scope and unit paths.

- Organizers (role ``organizer`` or ``admin``) manage the schemes organized by a unit in their own
  subtree, and see all their versions, drafts included.
- Any other caller whose subtree holds the scheme's organizer (a viewer, reviewer or expert there, or
  another service acting for it) reads its published and archived versions; never drafts.
- A unit reads the *published* versions of the schemes whose cohort it belongs to (公示, 5.2.3).
The read rule is the visibility policy's (``hotline.kit.policy``, docs/security.md).
- Nobody else sees a scheme: it is reported as not found, never as forbidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hotline.kit.auth import Principal, Role
from hotline.kit.policy import may_read_scheme_version
from hotline.kit.scope import Scope

MANAGER_ROLES = (Role.ORGANIZER, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """A unit as the read model knows it."""

    id: str
    kind: str
    path: str


def is_manager(principal: Principal) -> bool:
    return principal.has_any(*MANAGER_ROLES)


def can_manage(principal: Principal, scope: Scope, organizer_path: str | None) -> bool:
    """An organizer or admin whose subtree holds the scheme's organizer."""
    return organizer_path is not None and is_manager(principal) and scope.covers(organizer_path)


def cohort_includes(cohort: Mapping[str, Any], unit: UnitInfo, under_path: str | None) -> bool:
    """Whether ``unit`` belongs to the cohort; ``under_path`` is the path of ``cohort.under``
    (the organizer when the cohort names none)."""
    if "units" in cohort:
        units = cohort.get("units")
        return isinstance(units, list) and unit.id in units
    if cohort.get("kind") != unit.kind or under_path is None:
        return False
    return unit.path.startswith(under_path + "/")


def can_read_version(
    principal: Principal,
    scope: Scope,
    caller: UnitInfo | None,
    *,
    organizer_path: str | None,
    status: str,
    cohort: Mapping[str, Any],
    under_path: str | None,
) -> bool:
    """The visibility policy's rule for scheme versions (``hotline.kit.policy.may_read_scheme_version``)."""
    in_cohort = caller is not None and cohort_includes(cohort, caller, under_path)
    return may_read_scheme_version(
        principal, scope, organizer_path=organizer_path, status=status, caller_in_cohort=in_cohort
    )
