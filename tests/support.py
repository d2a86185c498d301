"""Helpers shared by the tests: tokens, GraphQL calls, unit rows."""

from __future__ import annotations

from typing import Any

import httpx

from hotline.kit.auth import mint_token
from hotline.kit.settings import DEVELOPMENT_JWT_SECRET

TEST_SECRET = DEVELOPMENT_JWT_SECRET


def token(unit_id: str, *roles: str, secret: str = TEST_SECRET, ttl_seconds: int = 3600) -> str:
    return mint_token(secret=secret, unit_id=unit_id, roles=list(roles) or ["viewer"], ttl_seconds=ttl_seconds)


def auth(unit_id: str, *roles: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token(unit_id, *roles)}"}


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, *, headers=None, path="/graphql"
) -> dict[str, Any]:
    response = await client.post(path, json={"query": query, "variables": variables or {}}, headers=headers or {})
    assert response.status_code in (200, 401), response.text
    return response.json()


def data_of(result: dict[str, Any]) -> dict[str, Any]:
    assert not result.get("errors"), result["errors"]
    return result["data"]


def problem(path: str, code: str, message: str) -> dict[str, str]:
    """A problem as the payloads of indicators and scoring list it."""
    return {"path": path, "code": code, "message": message}


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors") or []]


# A small tree used by most tests: two cities under one province, with units and agents.
TREE = [
    {"id": "GD", "kind": "province_body", "name_zh": "广东省", "name_en": "Guangdong", "population": "126012510"},
    {"id": "GD-GZ", "parent_id": "GD", "kind": "city_body", "name_zh": "广州市", "population": "18676605"},
    {"id": "GD-SZ", "parent_id": "GD", "kind": "city_body", "name_zh": "深圳市", "population": "17560061"},
    {"id": "GZ-TIANHE", "parent_id": "GD-GZ", "kind": "district", "name_zh": "天河区", "population": "2241826"},
    {"id": "GZ-HOUSING", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "广州市住房和城乡建设局"},
    {"id": "GZ-WATER", "parent_id": "GD-GZ", "kind": "undertaking_unit", "name_zh": "广州市水务局"},
    {"id": "GZ-T1", "parent_id": "GD-GZ", "kind": "agent_team", "name_zh": "广州12345坐席一组"},
    {"id": "GZ-T1-A001", "parent_id": "GZ-T1", "kind": "agent", "name_zh": "坐席 张敏"},
    {"id": "SZ-HOUSING", "parent_id": "GD-SZ", "kind": "undertaking_unit", "name_zh": "深圳市住房和建设局"},
    {"id": "SZ-T1", "parent_id": "GD-SZ", "kind": "agent_team", "name_zh": "深圳12345坐席一组"},
    {
        "id": "GZ-LUOGANG",
        "parent_id": "GD-GZ",
        "kind": "district",
        "name_zh": "萝岗区",
        "active": "false",
        "valid_from": "2005-04-28",
        "valid_to": "2014-02-11",
    },
]
