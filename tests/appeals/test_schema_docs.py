"""The schema is the documentation portal teams read: every type, field and argument is described."""

from __future__ import annotations

from graphql import GraphQLInputObjectType, GraphQLObjectType

from services.appeals.schema import schema

BUILT_IN = {"String", "Int", "Float", "Boolean", "ID", "DateTime", "JSON"}


def test_every_type_field_and_argument_has_a_description():
    missing = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("_") or name in BUILT_IN or "__" in name or name == "FieldSet":
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                if field_name.startswith("_"):
                    continue
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({a})" for a, arg in getattr(field, "args", {}).items() if not arg.description
                ]
    assert missing == []
    assert "Appeal" in schema._schema.type_map and "UnitResult" in schema._schema.type_map
