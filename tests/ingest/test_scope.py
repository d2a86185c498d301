"""A caller sees exactly its own subtree (plus its ancestors' bare identity), on every read path.

Each entry point is tried by a province, a city and an undertaking-unit token with ids from a
sibling subtree; the answer must be the same as for an id that does not exist at all.
"""

from __future__ import annotations

import pytest

from tests.support import TREE, auth, data_of, error_codes, gql

PROVINCE = auth("GD", "organizer")
CITY = auth("GD-GZ", "organizer")
UNIT = auth("GZ-HOUSING", "unit")
SIBLING_CITY = auth("GD-SZ", "viewer")

ENTITIES = """query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Unit { id nameZh } } }"""


@pytest.fixture
async def tree(ingest):
    response = await ingest.post("/units/bulk", json=TREE, headers=auth("GD", "admin"))
    assert response.json()["counts"]["created"] == len(TREE)
    return ingest


async def visible_ids(client, headers) -> set[str]:
    result = await gql(
        client, "{ units(includeInactive: true, first: 500) { edges { node { id } } } }", headers=headers
    )
    return {e["node"]["id"] for e in data_of(result)["units"]["edges"]}


async def test_each_caller_lists_exactly_its_subtree(tree):
    everyone = {row["id"] for row in TREE}
    assert await visible_ids(tree, PROVINCE) == everyone
    assert await visible_ids(tree, CITY) == {i for i in everyone if i.startswith("GZ-") or i == "GD-GZ"}
    assert await visible_ids(tree, UNIT) == {"GZ-HOUSING"}
    assert await visible_ids(tree, SIBLING_CITY) == {"GD-SZ", "SZ-HOUSING", "SZ-T1"}


@pytest.mark.parametrize(
    ("headers", "foreign", "own"),
    [(CITY, "SZ-HOUSING", "GZ-HOUSING"), (UNIT, "GZ-WATER", "GZ-HOUSING"), (SIBLING_CITY, "GZ-HOUSING", "SZ-T1")],
    ids=["city", "undertaking-unit", "sibling-city"],
)
async def test_foreign_ids_look_exactly_like_missing_ids(tree, headers, foreign, own):
    queries = {
        "unit": ('query($id: ID!) { unit(id: $id) { id } }', lambda d: d["unit"]),
        "units-under": (
            "query($id: ID!) { units(under: $id) { totalCount edges { node { id } } } }",
            lambda d: d["units"],
        ),
        "entities": (ENTITIES.replace("$reps: [_Any!]!", "$id: _Any!").replace("$reps", '[{__typename: "Unit", id: $id}]'),
                     lambda d: d["_entities"]),
    }  # fmt: skip
    for name, (query, pick) in queries.items():
        as_foreign = await gql(tree, query, {"id": foreign}, headers=headers)
        as_missing = await gql(tree, query, {"id": "GD-NOWHERE"}, headers=headers)
        as_own = await gql(tree, query, {"id": own}, headers=headers)
        assert pick(data_of(as_foreign)) == pick(data_of(as_missing)), name
        assert pick(data_of(as_own)) != pick(data_of(as_missing)), name  # the query does find what is visible


async def test_entities_batch_returns_only_the_visible_ones(tree):
    reps = [{"__typename": "Unit", "id": i} for i in ("GZ-HOUSING", "SZ-HOUSING", "GD", "GD-GZ", "GZ-T1-A001")]
    result = data_of(await gql(tree, ENTITIES, {"reps": reps}, headers=CITY))["_entities"]
    assert [e and e["id"] for e in result] == ["GZ-HOUSING", None, None, "GD-GZ", "GZ-T1-A001"]
    as_unit = data_of(await gql(tree, ENTITIES, {"reps": reps}, headers=UNIT))["_entities"]
    assert [e and e["id"] for e in as_unit] == ["GZ-HOUSING", None, None, None, None]


async def test_nested_fields_stay_inside_scope(tree):
    query = """{ me { unit { id parent { id } ancestors { id kind nameZh }
                 descendantCount children { totalCount edges { node { id } } } } } }"""
    unit = data_of(await gql(tree, query, headers=UNIT))["me"]["unit"]
    # The unit's parent (the city) is outside its subtree: no Unit, only the ancestors' bare identity.
    assert unit["parent"] is None
    assert unit["ancestors"] == [
        {"id": "GD", "kind": "PROVINCE_BODY", "nameZh": "广东省"},
        {"id": "GD-GZ", "kind": "CITY_BODY", "nameZh": "广州市"},
    ]
    assert unit["descendantCount"] == 0 and unit["children"]["totalCount"] == 0
    city = data_of(await gql(tree, query, headers=CITY))["me"]["unit"]
    assert city["parent"] is None
    assert city["descendantCount"] == 5  # inactive Luogang not counted by default
    assert {e["node"]["id"] for e in city["children"]["edges"]} == {"GZ-TIANHE", "GZ-HOUSING", "GZ-WATER", "GZ-T1"}
    province = data_of(await gql(tree, query, headers=PROVINCE))["me"]["unit"]
    assert province["descendantCount"] == 9 and province["children"]["totalCount"] == 2


async def test_ancestors_expose_identity_only(tree):
    # UnitIdentity has no population, path or children: those stay private to the ancestor's own subtree.
    result = await gql(tree, "{ me { unit { ancestors { id population } } } }", headers=UNIT)
    assert error_codes(result) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_pagination_walks_the_subtree_in_tree_order(tree):
    seen, after = [], None
    while True:
        page = data_of(
            await gql(
                tree,
                "query($after: String) { units(first: 3, after: $after) "
                "{ totalCount pageInfo { hasNextPage endCursor } edges { node { id path } } } }",
                {"after": after},
                headers=CITY,
            )
        )["units"]
        seen += ["/".join(e["node"]["path"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen) and len(seen) == page["totalCount"] == 6
    assert all(p.startswith("GD/GD-GZ") for p in seen)


async def test_kind_filter_and_history_view(tree):
    districts = (
        "query($on: Date) { units(kind: DISTRICT, activeOn: $on, includeInactive: true) { edges { node { id } } } }"
    )
    now = data_of(await gql(tree, districts, {"on": "2024-01-01"}, headers=PROVINCE))
    then = data_of(await gql(tree, districts, {"on": "2010-01-01"}, headers=PROVINCE))
    # Luogang district was merged away in 2014: it is in the 2010 view only.
    assert [e["node"]["id"] for e in now["units"]["edges"]] == ["GZ-TIANHE"]
    assert [e["node"]["id"] for e in then["units"]["edges"]] == ["GZ-LUOGANG", "GZ-TIANHE"]


async def test_me_reports_the_token(tree):
    me = data_of(await gql(tree, "{ me { subject unitId roles unit { id kind } } }", headers=UNIT))["me"]
    assert me["unitId"] == "GZ-HOUSING" and me["roles"] == ["UNIT"]
    assert me["unit"] == {"id": "GZ-HOUSING", "kind": "UNDERTAKING_UNIT"}


async def test_unauthenticated_and_bad_tokens(tree):
    from tests.support import token

    for headers in ({}, {"authorization": "Bearer nonsense"},
                    {"authorization": f"Bearer {token('GD', 'admin', secret='x' * 40)}"},
                    {"authorization": f"Bearer {token('GD', 'admin', ttl_seconds=-10)}"}):  # fmt: skip
        result = await gql(tree, '{ unit(id: "GD") { id } }', headers=headers)
        assert result["data"] is None and error_codes(result) == ["UNAUTHENTICATED"], headers
        entities = await gql(tree, ENTITIES, {"reps": [{"__typename": "Unit", "id": "GD"}]}, headers=headers)
        assert error_codes(entities) == ["UNAUTHENTICATED"], headers
    # The gateway may fetch the schema without a token.
    assert "type Unit" in data_of(await gql(tree, "{ _service { sdl } }"))["_service"]["sdl"]
