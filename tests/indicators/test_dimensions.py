"""The indicators subgraph serves the seven dimensions seeded by its migration."""

from __future__ import annotations

from tests.support import auth, data_of, error_codes, gql

VIEWER = auth("GZ-HOUSING", "unit")


async def test_seven_dimensions_in_the_standards_order(indicators):
    result = await gql(indicators, "{ dimensions { code position clause nameZh nameEn description } }", headers=VIEWER)
    dimensions = data_of(result)["dimensions"]
    assert [d["code"] for d in dimensions] == [
        "service_response", "accuracy", "standardization", "efficiency",
        "satisfaction", "resolution_quality", "innovation",
    ]  # fmt: skip
    assert [d["clause"] for d in dimensions] == [f"6.{i}" for i in range(1, 8)]
    assert dimensions[0]["nameZh"] == "服务响应" and dimensions[5]["nameZh"] == "问题解决质量"
    assert all(d["description"] for d in dimensions)


async def test_lookup_and_entities(indicators):
    one = data_of(await gql(indicators, '{ dimension(code: "satisfaction") { nameEn } }', headers=VIEWER))
    assert one["dimension"] == {"nameEn": "Satisfaction"}
    assert data_of(await gql(indicators, '{ dimension(code: "nope") { nameEn } }', headers=VIEWER))["dimension"] is None
    entities = await gql(
        indicators,
        '{ _entities(representations: [{__typename: "Dimension", code: "efficiency"}]) { ... on Dimension { nameZh } } }',
        headers=VIEWER,
    )
    assert data_of(entities)["_entities"] == [{"nameZh": "服务效率"}]


async def test_a_token_is_required(indicators):
    result = await gql(indicators, "{ dimensions { code } }")
    assert result["data"] is None and error_codes(result) == ["UNAUTHENTICATED"]
