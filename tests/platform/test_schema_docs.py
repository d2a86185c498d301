"""The schema is the documentation portal teams read: in every subgraph, every type, field and argument
and enum value carries a description."""

from __future__ import annotations

import importlib

import pytest
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

from hotline.cli.stack import SERVICES

# Scalars of GraphQL and Strawberry, and the federation machinery (its names start with `_` or `link__`).
BUILT_IN = {"String", "Int", "Float", "Boolean", "ID", "Date", "DateTime", "JSON", "FieldSet", "Query", "Mutation"}


ROOTS = {"Query", "Mutation"}


def undocumented(schema) -> list[str]:
    missing = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("_") or (name in BUILT_IN and name not in ROOTS) or "__" in name:
            continue
        if not graphql_type.description and name not in ROOTS:  # merged roots (ingest) have none of their own
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
        if isinstance(graphql_type, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in graphql_type.values.items() if not value.description]
    return missing


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_every_type_field_argument_and_enum_value_is_described(service):
    schema = importlib.import_module(f"services.{service}.schema").schema
    assert undocumented(schema) == []


def test_the_check_reaches_the_arguments_of_queries_and_mutations():
    """Root fields' arguments are where a portal team starts reading; the check must not skip them."""
    import strawberry

    @strawberry.type(description="Queries.")
    class Query:
        @strawberry.field(description="Echo.")
        def echo(self, text: str) -> str:
            return text

    assert undocumented(strawberry.Schema(query=Query)) == ["Query.echo(text)"]


def test_a_domain_enum_reaches_the_schema_only_with_every_value_described():
    import enum

    from hotline.kit.graphql import described_enum

    class Colour(enum.StrEnum):
        RED = "red"
        GREEN = "green"

    with pytest.raises(ValueError, match=r"missing \['GREEN'\], unknown \['BLUE'\]"):
        described_enum(Colour, name="Colour", description="A colour.", values={"RED": "Red.", "BLUE": "Blue."})
