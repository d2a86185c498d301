"""Appeals' schema holds its own and the extended entities; that every type, field and argument is
described is checked for every subgraph in tests/platform/test_schema_docs.py."""

from __future__ import annotations

from services.appeals.schema import schema


def test_the_subgraph_owns_appeal_and_extends_unit_result():
    assert "Appeal" in schema._schema.type_map and "UnitResult" in schema._schema.type_map
