"""Attacks on the running system: every subgraph reached directly (bypassing the gateway) and the gateway.

What is tried here: forged tokens at each subgraph; an unauthenticated sweep of every root field of every
subgraph (only ``_service`` — the SDL, public by design for composition — may answer); ``_entities``
with sibling units' ids and made-up ids of every entity type; scope through aliases and fragments;
batched (JSON array) operations; oversized bodies. Unit-level counterparts with real appeals and
results: tests/appeals/test_scope.py, tests/scoring/test_publication.py, tests/indicators/test_schemes.py.
"""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from graphql import (
    EnumTypeDefinitionNode,
    InputObjectTypeDefinitionNode,
    ListTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    parse,
)

from hotline.kit.auth import SERVICE_AUDIENCE, mint_service_token
from hotline.kit.settings import DEVELOPMENT_SERVICE_SECRET
from tests.support import TEST_SECRET, auth, data_of, error_codes

SUBGRAPHS = ("ingest", "indicators", "scoring", "appeals")
UNIT = auth("GZ-HOUSING", "unit")
CITY = auth("GD-GZ", "organizer")


async def post(client: httpx.AsyncClient, body, headers=None) -> httpx.Response:
    return await client.post(
        "/graphql", content=json.dumps(body), headers={"content-type": "application/json", **(headers or {})}
    )


def forged_tokens() -> dict[str, str]:
    now = int(time.time())
    base = {"sub": "x", "unit_id": "GD", "roles": ["admin"], "iat": now, "exp": now + 300}

    def b64(v):
        import base64

        return base64.urlsafe_b64encode(json.dumps(v).encode()).rstrip(b"=").decode()

    return {
        "expired": jwt.encode(base | {"exp": now - 60}, TEST_SECRET, algorithm="HS256"),
        "nbf in the future": jwt.encode(base | {"nbf": now + 3600}, TEST_SECRET, algorithm="HS256"),
        "iat in the future": jwt.encode(base | {"iat": now + 3600}, TEST_SECRET, algorithm="HS256"),
        "alg none": f"{b64({'alg': 'none'})}.{b64(base)}.",
        "other secret": jwt.encode(base, "o" * 40, algorithm="HS256"),
        "user token with the service audience": jwt.encode(
            base | {"aud": SERVICE_AUDIENCE, "roles": ["service"]}, TEST_SECRET, algorithm="HS256"
        ),
    }


@pytest.mark.parametrize("name", SUBGRAPHS)
async def test_each_subgraph_refuses_forged_tokens(stack, name):
    async with httpx.AsyncClient(base_url=stack.service_url(name), timeout=30) as client:
        control = (await post(client, {"query": "{ __typename }"}, CITY)).json()
        assert control == {"data": {"__typename": "Query"}}
        root = {
            "ingest": "me { unitId }",
            "indicators": "schemes { id }",
            "scoring": "runs { totalCount }",
            "appeals": "__typename",
        }[name]
        for label, token in forged_tokens().items():
            for query in (
                f"{{ {root} }}",
                '{ _entities(representations: [{__typename: "Unit", id: "GD"}]) { __typename } }',
            ):
                response = await post(client, {"query": query}, {"authorization": f"Bearer {token}"})
                body = response.json()
                if name == "appeals" and query == "{ __typename }":
                    continue
                assert "UNAUTHENTICATED" in error_codes(body), (name, label, query, body)
                assert not any((body.get("data") or {}).values()), (name, label, body)


async def test_the_gateway_refuses_forged_tokens(gateway):
    for label, token in forged_tokens().items():
        body = (await post(gateway, {"query": "{ me { unitId } }"}, {"authorization": f"Bearer {token}"})).json()
        assert error_codes(body) == ["UNAUTHENTICATED"], (label, body)
    service = mint_service_token(secret=DEVELOPMENT_SERVICE_SECRET, service="scoring", unit_id="GD")
    body = (await post(gateway, {"query": "{ me { unitId } }"}, {"authorization": f"Bearer {service}"})).json()
    assert error_codes(body) == ["UNAUTHENTICATED"]


def _root_fields(sdl: str, root: str):
    document = parse(sdl)
    types = {d.name.value: d for d in document.definitions if hasattr(d, "name") and d.name is not None}
    fields = []
    for d in document.definitions:
        if isinstance(d, ObjectTypeDefinitionNode | ObjectTypeExtensionNode) and d.name.value == root:
            fields.extend(d.fields)
    return fields, types


def _named(type_node):
    while isinstance(type_node, NonNullTypeNode | ListTypeNode):
        type_node = type_node.type
    return type_node.name.value


SCALARS = {"ID": '"GD-SZ"', "String": '"GD-SZ"', "Int": "1", "Float": "1.5", "Boolean": "true",
           "Date": '"2024-01-01"', "DateTime": '"2024-01-01T00:00:00Z"', "JSON": "{}", "Decimal": '"1"'}  # fmt: skip


def _literal(type_node, types, depth=0) -> str:
    if isinstance(type_node, NonNullTypeNode):
        return _literal(type_node.type, types, depth)
    if isinstance(type_node, ListTypeNode):
        return "[" + _literal(type_node.type, types, depth) + "]"
    name = type_node.name.value
    definition = types.get(name)
    if isinstance(definition, EnumTypeDefinitionNode):
        return definition.values[0].name.value
    if isinstance(definition, InputObjectTypeDefinitionNode) and depth < 4:
        required = [
            f for f in definition.fields or () if isinstance(f.type, NonNullTypeNode) and f.default_value is None
        ]
        return "{" + ", ".join(f"{f.name.value}: {_literal(f.type, types, depth + 1)}" for f in required) + "}"
    return SCALARS.get(name, '"x"')


def _operation(kind: str, field, types) -> str:
    args = [a for a in field.arguments or () if isinstance(a.type, NonNullTypeNode) and a.default_value is None]
    call = field.name.value + (
        "(" + ", ".join(f"{a.name.value}: {_literal(a.type, types)}" for a in args) + ")" if args else ""
    )
    target = types.get(_named(field.type))
    selection = (
        " { __typename }"
        if target is not None
        and not isinstance(target, EnumTypeDefinitionNode)
        and "Scalar" not in type(target).__name__
        else ""
    )
    return f"{kind} {{ {call}{selection} }}"


@pytest.mark.parametrize("name", SUBGRAPHS)
async def test_without_a_token_only_the_sdl_answers(stack, name):
    """``_service { sdl }`` is public by design (the gateway composes from it; it holds no data). Every
    other root field, query or mutation, is tried without a token with plausible arguments."""
    async with httpx.AsyncClient(base_url=stack.service_url(name), timeout=30) as client:
        sdl = data_of((await post(client, {"query": "{ _service { sdl } }"})).json())["_service"]["sdl"]
        assert "type Query" in sdl
        tried, refused = [], []
        for kind, root in (("query", "Query"), ("mutation", "Mutation")):
            fields, types = _root_fields(sdl, root)
            for field in fields:
                if field.name.value in ("_service", "_entities"):
                    continue
                operation = _operation(kind, field, types)
                response = await post(client, {"query": operation})
                assert response.status_code < 500, (operation, response.text)
                body = response.json()
                tried.append(operation)
                leaked = (body.get("data") or {}).get(field.name.value)
                assert leaked in (None, [], {}), (operation, body)
                if "UNAUTHENTICATED" in error_codes(body):
                    refused.append(operation)
        # Most operations reach the resolver and are refused there (the rest fail validation first).
        assert len(refused) >= len(tried) * 0.7, sorted(set(tried) - set(refused))
        # _entities without a token: refused too.
        body = (
            await post(
                client, {"query": '{ _entities(representations: [{__typename: "Unit", id: "GD"}]) { __typename } }'}
            )
        ).json()
        assert "UNAUTHENTICATED" in error_codes(body), body


ENTITY_FIELDS = {
    "ingest": "... on Unit { id nameZh path }",
    "indicators": "... on Unit { id schemes { id } } ... on SchemeVersion { id body }",
    "scoring": "... on Unit { id results { id total } } ... on UnitResult { id total } ... on EvaluationRun { id }",
    "appeals": "... on Unit { id } ... on UnitResult { id } ... on Appeal { id reason }",
}


@pytest.mark.parametrize("name", SUBGRAPHS)
async def test_entities_straight_to_a_subgraph_stay_in_scope(stack, name):
    reps = [{"__typename": "Unit", "id": uid} for uid in ("GZ-WATER", "GD-GZ", "GD-SZ", "SZ-HOUSING", "GD")]
    made_up = {
        "indicators": [{"__typename": "SchemeVersion", "id": "00000000-0000-4000-8000-000000000000:1"}],
        "scoring": [{"__typename": "UnitResult", "id": "00000000-0000-4000-8000-000000000000"},
                    {"__typename": "EvaluationRun", "id": "00000000-0000-4000-8000-000000000000"}],
        "appeals": [{"__typename": "Appeal", "id": "00000000-0000-4000-8000-000000000000"}],
    }.get(name, [])  # fmt: skip
    query = "query($r: [_Any!]!) { _entities(representations: $r) { __typename " + ENTITY_FIELDS[name] + " } }"
    async with httpx.AsyncClient(base_url=stack.service_url(name), timeout=30) as client:
        own = (
            await post(client, {"query": query, "variables": {"r": [{"__typename": "Unit", "id": "GZ-HOUSING"}]}}, UNIT)
        ).json()
        assert own["data"]["_entities"][0] is not None, own  # the control: the caller's own unit resolves
        body = (await post(client, {"query": query, "variables": {"r": reps + made_up}}, UNIT)).json()
        for rep, entity in zip(reps + made_up, body["data"]["_entities"], strict=True):
            # Ingest and indicators answer null for a unit outside the caller's subtree; scoring and appeals
            # hold only a stub for ingest's Unit and must return nothing of their own data for it.
            if entity is None:
                continue
            assert rep["__typename"] == "Unit", (rep, entity)
            extra = {k: v for k, v in entity.items() if k not in ("__typename", "id")}
            assert all(v in (None, []) for v in extra.values()), (name, rep, entity)


async def test_scope_holds_through_aliases_and_fragments(gateway):
    query = """
      fragment U on Unit { id nameZh children { totalCount } }
      query {
        mine: unit(id: "GD-GZ") { ...U }
        sibling: unit(id: "GD-SZ") { ...U }
        parent: unit(id: "GD") { id }
        viaInline: unit(id: "SZ-HOUSING") { ... on Unit { id nameZh } }
        a1: units(under: "GD-SZ") { totalCount edges { node { id } } }
        a2: units(under: "GD") { totalCount }
        me { unit { parent { id } ancestors { id } } }
      }"""
    data = data_of((await post(gateway, {"query": query}, CITY)).json())
    assert data["mine"]["id"] == "GD-GZ"  # the control
    assert data["sibling"] is None and data["parent"] is None and data["viaInline"] is None
    assert data["a1"] == {"totalCount": 0, "edges": []} and data["a2"] == {"totalCount": 0}
    # Ancestors' bare identities are visible by design (the path to the root); no more than that.
    assert data["me"]["unit"]["parent"] is None


@pytest.mark.parametrize("name", SUBGRAPHS)
async def test_batched_operations_are_not_executed_by_subgraphs(stack, name):
    async with httpx.AsyncClient(base_url=stack.service_url(name), timeout=30) as client:
        response = await post(client, [{"query": "{ __typename }"}] * 50, CITY)
        # Strawberry answers 400 to a JSON array: nothing of the batch is executed.
        assert response.status_code in (400, 415, 422), response.text
        assert not response.text.lstrip().startswith("["), response.text


async def test_batched_operations_are_not_executed_by_the_gateway(gateway):
    response = await post(gateway, [{"query": "{ me { unitId } }"}] * 50, CITY)
    assert response.status_code >= 400 or "errors" in response.json(), response.text
    assert not isinstance(response.json(), list)


@pytest.mark.parametrize("name", [*SUBGRAPHS, "gateway"])
async def test_multi_megabyte_bodies_are_refused_with_413(stack, name):
    url = stack.gateway_url if name == "gateway" else stack.service_url(name)
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * (3 * 1024 * 1024)}})
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post("/graphql", content=body, headers={"content-type": "application/json", **CITY})
        assert response.status_code == 413, response.text[:300]

        async def chunks():
            yield b'{"query": "{ __typename }", "variables": {"pad": "'
            for _ in range(48):
                yield b"x" * 65536
            yield b'"}}'

        if name != "gateway":  # the gateway refuses bodies without a length outright (411: gateway tests)
            response = await client.post(
                "/graphql", content=chunks(), headers={"content-type": "application/json", **CITY}
            )
            assert response.status_code == 413, response.text[:300]


async def test_introspection_needs_a_token_at_the_gateway(gateway, stack):
    query = "{ __schema { queryType { name } types { name } } }"
    assert error_codes((await post(gateway, {"query": query})).json()) == ["UNAUTHENTICATED"]
    assert data_of((await post(gateway, {"query": query}, CITY)).json())["__schema"]["queryType"]["name"] == "Query"
    # A subgraph answers introspection without a token: the same schema its public SDL already shows
    # (composition needs it; NetworkPolicies keep the subgraphs away from clients), never data.
    async with httpx.AsyncClient(base_url=stack.service_url("ingest"), timeout=30) as client:
        body = (await post(client, {"query": query})).json()
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"
