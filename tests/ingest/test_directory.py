"""The unit tree planning rules, as pure functions (no database)."""

from __future__ import annotations

from datetime import date

from hotline.kit.scope import Scope
from services.ingest.directory import UnitState, plan_registration
from services.ingest.models import UnitKind
from tests.support import TREE

ROOT = Scope(unit_id="GD", path="GD")


def tree_state(rows=TREE) -> dict[str, UnitState]:
    """Apply rows to an empty tree and return the resulting states."""
    plan = plan_registration(list(rows), {}, scope=Scope("GD", None), may_create_roots=True)
    assert plan.rejected == 0, [o.problems for o in plan.outcomes if o.problems]
    return {s.id: s for s in plan.upserts}


def plan(rows, existing=None, *, scope=ROOT, admin=True):
    return plan_registration(
        rows, existing if existing is not None else tree_state(), scope=scope, may_create_roots=admin
    )


def only_problem(outcome):
    assert outcome.action == "rejected"
    assert len(outcome.problems) == 1, outcome.problems
    return outcome.problems[0]


def test_new_tree_gets_paths_and_parents_first_order():
    states = tree_state()
    assert states["GZ-T1-A001"].path == "GD/GD-GZ/GZ-T1/GZ-T1-A001"
    assert states["GD"].path == "GD"
    assert states["GZ-LUOGANG"].active is False
    assert states["GZ-LUOGANG"].valid_to == date(2014, 2, 11)
    assert states["GD-GZ"].population == 18676605


def test_children_may_come_before_parents_in_the_file():
    rows = list(reversed(TREE))
    result = plan_registration(rows, {}, scope=Scope("GD", None), may_create_roots=True)
    assert result.rejected == 0
    depths = [s.path.count("/") for s in result.upserts]
    assert depths == sorted(depths)


def test_resending_the_same_rows_changes_nothing():
    result = plan(list(TREE))
    assert {o.action for o in result.outcomes} == {"unchanged"}
    assert result.upserts == [] and result.path_changes == {}


def test_update_reports_changed_fields_and_omitted_fields_are_kept():
    result = plan([{"id": "GZ-WATER", "name_en": "Guangzhou Water Authority"}])
    (outcome,) = result.outcomes
    assert outcome.action == "updated"
    assert outcome.changed_fields == ["name_en"]
    (state,) = result.upserts
    assert state.name_zh == "广州市水务局" and state.kind is UnitKind.UNDERTAKING_UNIT


def test_move_rewrites_the_whole_subtree_paths_but_no_ids():
    existing = tree_state()
    # The agent team moves from Guangzhou to Shenzhen; its agent follows.
    result = plan([{"id": "GZ-T1", "parent_id": "GD-SZ"}], existing)
    assert result.outcomes[0].action == "moved"
    assert result.path_changes["GZ-T1-A001"] == ("GD/GD-GZ/GZ-T1/GZ-T1-A001", "GD/GD-SZ/GZ-T1/GZ-T1-A001")
    assert result.upserts[0].path == "GD/GD-SZ/GZ-T1"


def test_unknown_parent_is_rejected_with_row_and_field():
    result = plan([{"id": "GZ-NEW", "parent_id": "GD-XX", "kind": "undertaking_unit", "name_zh": "新单位"}])
    problem = only_problem(result.outcomes[0])
    assert (problem.field, problem.value) == ("parent_id", "GD-XX")
    assert "unknown parent" in problem.message
    assert result.upserts == []


def test_duplicate_id_in_one_file_rejects_the_later_row():
    row = {"id": "GZ-NEW", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "新单位"}
    result = plan([row, dict(row, name_zh="又一个")])
    assert result.outcomes[0].action == "created"
    problem = only_problem(result.outcomes[1])
    assert problem.field == "id" and "row 1" in problem.message


def test_bad_kind_and_bad_fields_are_each_reported():
    result = plan(
        [{"id": "gz-lower", "parent_id": "GD-GZ", "kind": "ministry", "name_zh": "x", "population": "-3",
          "valid_from": "2020-13-01"}]
    )  # fmt: skip
    fields = {p.field for p in result.outcomes[0].problems}
    assert fields == {"id", "kind", "population", "valid_from"}


def test_kind_must_fit_under_its_parent():
    result = plan([{"id": "GZ-A9", "parent_id": "GD-GZ", "kind": "agent", "name_zh": "坐席"}])
    problem = only_problem(result.outcomes[0])
    assert problem.field == "kind" and "under a city_body" in problem.message


def test_move_that_creates_a_cycle_is_rejected_and_nothing_moves():
    result = plan([{"id": "GD-GZ", "parent_id": "GZ-HOUSING", "kind": "city_body"}])
    # A city cannot sit under an undertaking unit, and the move would be a cycle; either way, rejected.
    assert result.outcomes[0].action == "rejected"
    cycle = plan([{"id": "GZ-HOUSING", "parent_id": "GZ-SUB"},
                  {"id": "GZ-SUB", "parent_id": "GZ-HOUSING", "kind": "undertaking_unit", "name_zh": "下属"}])  # fmt: skip
    assert [o.action for o in cycle.outcomes] == ["rejected", "rejected"]
    assert all("cycle" in o.problems[0].message for o in cycle.outcomes)
    assert cycle.upserts == [] and cycle.path_changes == {}


def test_rows_under_a_rejected_new_parent_are_rejected_too():
    result = plan(
        [
            {"id": "GZ-NEWDEPT", "parent_id": "GD-NOPE", "kind": "undertaking_unit", "name_zh": "新局"},
            {"id": "GZ-NEWDEPT-SUB", "parent_id": "GZ-NEWDEPT", "kind": "undertaking_unit", "name_zh": "新局下属"},
            {"id": "GZ-FINE", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "好的"},
        ]
    )
    assert [o.action for o in result.outcomes] == ["rejected", "rejected", "created"]
    assert [s.id for s in result.upserts] == ["GZ-FINE"]


def test_parent_outside_scope_looks_exactly_like_an_unknown_parent():
    city = Scope("GD-GZ", "GD/GD-GZ")
    sibling = plan([{"id": "GZ-X", "parent_id": "GD-SZ", "kind": "undertaking_unit", "name_zh": "x"}], scope=city)
    missing = plan([{"id": "GZ-X", "parent_id": "GD-QQ", "kind": "undertaking_unit", "name_zh": "x"}], scope=city)
    assert only_problem(sibling.outcomes[0]).message == "unknown parent 'GD-SZ'"
    assert only_problem(missing.outcomes[0]).message == "unknown parent 'GD-QQ'"


def test_a_city_cannot_change_units_outside_its_subtree():
    city = Scope("GD-GZ", "GD/GD-GZ")
    result = plan([{"id": "SZ-HOUSING", "name_zh": "改名"}], scope=city, admin=False)
    assert only_problem(result.outcomes[0]).field == "id"
    assert result.upserts == []


def test_only_an_admin_creates_a_root():
    # An id inside the organizer's namespace (GD-…), so that the root rule is what refuses it.
    result = plan([{"id": "GD-HN", "kind": "province_body", "name_zh": "湖南省"}], admin=False)
    assert "only an admin" in only_problem(result.outcomes[0]).message


def test_a_foreign_id_and_a_free_id_outside_the_namespace_get_one_answer():
    """The visibility policy: GZ-HOUSING (held by Guangzhou) and GZ-FREE-404 (held by nobody) asked by Shenzhen's
    organizer are refused alike — one problem, "id not available" — with or without the fields a new unit needs."""
    shenzhen = Scope("GD-SZ", "GD/GD-SZ")
    for extra in ({}, {"kind": "undertaking_unit", "name_zh": "住建局", "parent_id": "GD-SZ"}):
        rows = [{"id": "GZ-HOUSING", **extra}, {"id": "GZ-FREE-404", **extra}]
        result = plan(rows, scope=shenzhen, admin=False)
        problems = [only_problem(o) for o in result.outcomes]
        assert [(p.field, p.message) for p in problems] == [("id", "id not available")] * 2
        assert [p.value for p in problems] == ["GZ-HOUSING", "GZ-FREE-404"]
    # Inside its namespace (SZ-… from GD-SZ, GD-SZ-…) a free id is taken.
    rows = [
        {"id": "SZ-NEWDEPT", "kind": "undertaking_unit", "name_zh": "新部门", "parent_id": "GD-SZ"},
        {"id": "GD-SZ-NEWDEPT", "kind": "undertaking_unit", "name_zh": "新部门二", "parent_id": "GD-SZ"},
    ]
    assert [o.action for o in plan(rows, scope=shenzhen, admin=False).outcomes] == ["created", "created"]


def test_validity_must_be_ordered():
    result = plan([{"id": "GZ-WATER", "valid_to": "1999-01-01"}])  # valid_from defaults to 2000-01-01
    assert only_problem(result.outcomes[0]).field == "valid_to"
