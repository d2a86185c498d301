"""The visibility policy's pure rules (hotline/kit/policy.py; docs/security.md, "The visibility policy")."""

from __future__ import annotations

import pytest

from hotline.kit.auth import Principal, Role
from hotline.kit.policy import (
    NotVisibleError,
    Relation,
    grants_unit_field,
    may_read_scheme_version,
    may_take_new_unit_id,
    peers_apply,
    require_unit_field,
    unit_namespaces,
    unit_relation,
)
from hotline.kit.scope import Scope

WATER = Scope("GZ-WATER", "GD/GD-GZ/GZ-WATER")
CITY = Scope("GD-GZ", "GD/GD-GZ")


def person(*roles: Role, unit: str = "GD-GZ") -> Principal:
    return Principal("p", unit, frozenset(roles))


def test_relations_of_units_to_a_caller():
    assert unit_relation(CITY, "GD/GD-GZ/GZ-WATER") is Relation.SUBTREE
    assert unit_relation(WATER, "GD/GD-GZ/GZ-WATER") is Relation.SUBTREE
    assert unit_relation(WATER, "GD/GD-GZ") is Relation.ANCESTOR
    assert unit_relation(WATER, "GD/GD-GZ/GZ-HOUSING") is Relation.NONE
    assert unit_relation(WATER, "GD/GD-GZ/GZ-HOUSING", public_peers={"GZ-HOUSING"}) is Relation.PUBLIC_PEER
    # A unit whose id merely ends like a peer's is no peer; an unknown caller sees nothing.
    assert unit_relation(WATER, "GD/GD-GZ/GZ-HOUSING-X", public_peers={"GZ-HOUSING"}) is Relation.NONE
    assert unit_relation(Scope("X", None), "GD", public_peers={"GD"}) is Relation.PUBLIC_PEER
    assert unit_relation(Scope("X", None), "GD") is Relation.NONE


def test_what_a_peer_shows_of_a_unit():
    for field in ("id", "kind", "nameZh", "nameEn", "active", "validFrom", "validTo", "depth", "results"):
        assert grants_unit_field(Relation.PUBLIC_PEER, field)
        require_unit_field(Relation.PUBLIC_PEER, field)
    for field in ("population", "path", "parent", "ancestors", "children", "descendantCount", "history"):
        assert not grants_unit_field(Relation.PUBLIC_PEER, field) and grants_unit_field(Relation.SUBTREE, field)
        with pytest.raises(NotVisibleError) as refused:
            require_unit_field(Relation.PUBLIC_PEER, field)
        assert refused.value.code == "NOT_VISIBLE"
    assert not grants_unit_field(Relation.NONE, "id")


def test_peer_grants_are_for_people_not_for_services_acting_for_a_unit():
    assert peers_apply(person(Role.UNIT))
    assert not peers_apply(Principal("service:appeals", "GZ-WATER", frozenset({Role.SERVICE}), internal=True))


@pytest.mark.parametrize(
    ("roles", "status", "covers", "in_cohort", "readable"),
    [
        ((Role.ORGANIZER,), "draft", True, False, True),
        ((Role.ADMIN,), "draft", True, False, True),
        ((Role.VIEWER,), "draft", True, False, False),
        ((Role.VIEWER,), "published", True, False, True),
        ((Role.REVIEWER,), "archived", True, False, True),
        ((Role.EXPERT,), "published", True, False, True),
        ((Role.UNIT,), "published", False, True, True),
        ((Role.UNIT,), "archived", False, True, False),
        ((Role.UNIT,), "draft", False, True, False),
        ((Role.ORGANIZER,), "published", False, False, False),
        ((Role.VIEWER,), "published", False, False, False),
    ],
)
def test_who_reads_a_scheme_version(roles, status, covers, in_cohort, readable):
    scope = CITY if covers else Scope("GD-SZ", "GD/GD-SZ")
    assert (
        may_read_scheme_version(
            person(*roles), scope, organizer_path="GD/GD-GZ", status=status, caller_in_cohort=in_cohort
        )
        is readable
    )


def test_unit_id_namespaces():
    assert unit_namespaces("GD-GZ", "GD") == ("GD-GZ-", "GZ-")
    assert unit_namespaces("GZ-TIANHE", "GD-GZ") == ("GZ-TIANHE-",)
    assert unit_namespaces("GD", None) == ("GD-",)
    shenzhen = [("GD-SZ", "GD"), ("SZ-FUTIAN", "GD-SZ")]
    assert may_take_new_unit_id("SZ-NEW", shenzhen) and may_take_new_unit_id("SZ-FUTIAN-X", shenzhen)
    assert may_take_new_unit_id("GD-SZ-NEW", shenzhen)
    for other in ("GZ-HOUSING", "GZ-NOBODY", "GD-GZ-X", "SZX", "NEW", "GD-NEW"):
        assert not may_take_new_unit_id(other, shenzhen), other
