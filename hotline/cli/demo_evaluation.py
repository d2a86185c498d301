"""A demo evaluation made through the running system's own API (the gateway), as an organizer would.

广州市 (GD-GZ) evaluates its departments on how they handled the work orders of 2022 — the Boston 311
cases the demo loads as Guangzhou orders: a special evaluation (专项评价) of on-time closure, overall
closure and resolution time. The scheme is published, a run computed and published, so that portal
teams see results, units can appeal, and the province sees the roll-up. Idempotent: a second
``hotline up`` finds the published scheme and the existing run; a database holding an earlier version
of the demo scheme gets this one as a new version (the earlier one archived).

The references are robust (issue 14): with plain best-in-cohort references, 广州市市场监督管理局 — 20
orders, 2.7 h on average — set the resolution-time reference, every other department scored about 1 of
40 points there, and the ranking read 100 against 53–59. Here only a department that closed at least
100 orders may set the resolution-time reference (the others are still scored against it), and on-time
closure is measured against the cohort's 90th percentile rather than its single best value.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from hotline.kit.auth import mint_token

ORGANIZER_UNIT = "GD-GZ"
SCHEME_CODE = "GZ-ORDERS-2022"
PERIOD = "2022"
DEPARTMENTS = ["GZ-URBANMGMT", "GZ-TRANSPORT", "GZ-HOUSING", "GZ-ECOENV", "GZ-WATER", "GZ-MARKET", "GZ-HRSS"]


def demo_scheme() -> dict[str, Any]:
    band = [
        {"code": "excellent", "name_zh": "优秀", "min": 90},
        {"code": "qualified", "name_zh": "合格", "min": 70},
        {"code": "needs_improvement", "name_zh": "待改进", "min": 0},
    ]
    return {
        "code": SCHEME_CODE,
        "name_zh": "广州市承办单位2022年工单办理专项评价",
        "name_en": "Guangzhou departments: handling of 2022 work orders (special evaluation)",
        "kind": "special",
        "cohort": {"units": DEPARTMENTS},
        "period": {"granularity": "year"},
        "na_policy": "rescale",
        "expert_aggregation": "mean",
        "rankings_public": True,
        "appeal": {"window_days": 7, "max_appeals_per_result": 3, "max_indicators_per_appeal": 3},
        "grade_bands": band,
        "items": [
            {
                "indicator": {"code": "on_time_closure_rate", "version": 1},
                "points": 40,
                "rule": {"type": "ratio_to_reference"},
                "reference": {"policy": "percentile", "percentile": 90},
                "min_sample": {"measure": "orders.assigned", "count": 5},
            },
            {
                "indicator": {"code": "overall_closure_rate", "version": 1},
                "points": 20,
                "rule": {"type": "threshold", "target": 95},
                "reference": {"policy": "none"},
            },
            {
                "indicator": {"code": "average_resolution_time", "version": 1},
                "points": 40,
                "rule": {"type": "ratio_to_reference"},
                "reference": {"policy": "best_in_cohort", "min_sample": {"measure": "orders.closed", "count": 100}},
                "min_sample": {"measure": "orders.closed", "count": 5},
            },
        ],
    }


class DemoError(RuntimeError):
    pass


PROBLEMS = "problems { path code message }"


def _explain(problems: list[dict]) -> str:
    """Problems as people read them: ``input.period (invalid_period): '2022-13' is not a year …``."""
    return "; ".join(f"{p['path'] or '-'} ({p['code']}): {p['message']}" for p in problems)


def _gql(client: httpx.Client, query: str, variables: dict | None = None) -> dict:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    body = response.json()
    if body.get("errors"):
        raise DemoError(f"demo evaluation: {body['errors'][0].get('message')}")
    return body["data"]


_PAYLOAD = f"ok {PROBLEMS} scheme {{ id schemeId version code }}"


def _published_scheme(client: httpx.Client) -> dict | None:
    """The latest published version of the demo scheme, with its body."""
    data = _gql(client, "{ schemes(status: PUBLISHED) { id schemeId version code body } }")
    found = [s for s in data["schemes"] if s["code"] == SCHEME_CODE]
    return max(found, key=lambda s: s["version"]) if found else None


def _mutate(client: httpx.Client, mutation: str, variables: dict, name: str, refused: str) -> dict:
    payload = _gql(client, mutation, variables)[name]
    if payload["problems"] or not payload["ok"]:
        raise DemoError(f"{refused}: {_explain(payload['problems'])}")
    return payload["scheme"]


def _publish(client: httpx.Client, scheme: dict) -> dict:
    # The version's own id names scheme and version at once (`<uuid>:<version>`), here as in startRun.
    mutation = f"mutation($id: ID!) {{ publishScheme(schemeId: $id) {{ {_PAYLOAD} }} }}"
    variables = {"id": scheme["id"]}
    return _mutate(client, mutation, variables, "publishScheme", "demo scheme not published")


def _new_version(client: httpx.Client, earlier: dict) -> dict:
    """The demo scheme as a new version of ``earlier`` (a database made before it changed), which is archived."""
    opened = _mutate(client, f"mutation($id: ID!) {{ openSchemeVersion(schemeId: $id) {{ {_PAYLOAD} }} }}",
                     {"id": earlier["schemeId"]}, "openSchemeVersion", "demo scheme version refused")  # fmt: skip
    updated = _mutate(
        client, f"mutation($id: ID!, $b: JSON!) {{ updateSchemeDraft(schemeId: $id, body: $b) {{ {_PAYLOAD} }} }}",
        {"id": opened["schemeId"], "b": demo_scheme()}, "updateSchemeDraft", "demo scheme refused",
    )  # fmt: skip
    published = _publish(client, updated)
    _mutate(client, f"mutation($id: ID!, $v: Int!) {{ archiveScheme(schemeId: $id, version: $v) {{ {_PAYLOAD} }} }}",
            {"id": earlier["schemeId"], "v": earlier["version"]}, "archiveScheme", "earlier demo scheme kept")  # fmt: skip
    return published


def _ensure_scheme(client: httpx.Client) -> dict:
    found = _published_scheme(client)
    if found and found["body"].get("items") == demo_scheme()["items"]:
        return found
    if found:
        return _new_version(client, found)
    created = _mutate(client, f"mutation($b: JSON!) {{ createScheme(body: $b) {{ {_PAYLOAD} }} }}",
                      {"b": demo_scheme()}, "createScheme", "demo scheme refused")  # fmt: skip
    return _publish(client, created)


def seed_demo_evaluation(gateway_url: str, secret: str, timeout: float = 120.0) -> dict[str, Any]:
    """Publish the demo scheme, run it over 2022, publish the run; returns the run's id and status."""
    token = mint_token(secret=secret, unit_id=ORGANIZER_UNIT, roles=["organizer"], subject="hotline-demo-organizer")
    with httpx.Client(base_url=gateway_url, headers={"authorization": f"Bearer {token}"}, timeout=60) as client:
        scheme = _ensure_scheme(client)
        run_input = {"schemeId": scheme["id"], "periodKind": "YEAR", "period": PERIOD}
        started = _gql(
            client,
            f"mutation($i: StartRunInput!) {{ startRun(input: $i) {{ {PROBLEMS} run {{ id status }} }} }}",
            {"i": run_input},
        )["startRun"]
        if started["problems"]:
            raise DemoError(f"demo run refused: {_explain(started['problems'])}")
        run_id = started["run"]["id"]
        deadline = time.monotonic() + timeout
        status = started["run"]["status"]
        while status not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.5)
            status = _gql(client, "query($id: ID!) { run(id: $id) { status } }", {"id": run_id})["run"]["status"]
        if status != "done":
            raise DemoError(f"demo run {run_id} ended {status}")
        published = _gql(
            client,
            f"mutation($id: ID!) {{ publishRun(runId: $id) {{ {PROBLEMS} run {{ id status }} }} }}",
            {"id": run_id},
        )["publishRun"]
        return {"run": run_id, "scheme": scheme["schemeId"], "problems": published["problems"]}
