"""End-to-end observability: one request id through the gateway and every subgraph's log; metrics everywhere."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from hotline.cli.stack import SERVICES, Stack
from tests.support import auth, data_of, gql


def _json_lines(stack: Stack, name: str) -> list[dict]:
    path = stack.log_dir / f"{name}.log"
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return lines


async def test_a_request_id_follows_a_request_through_the_gateway_and_every_subgraph(gateway, stack):
    request_id = f"e2e-{uuid.uuid4().hex}"
    # One root field of every subgraph, so that every service takes part in the request.
    query = "query Overview { me { unit { id } } dimensions { code } runs(first: 1) { edges { cursor } } appeals(first: 1) { edges { cursor } } }"
    result = await gql(gateway, query, headers={**auth("GD-GZ", "organizer"), "x-request-id": request_id})
    data_of(result)

    wanted = {"gateway", *(s.name for s in SERVICES)}
    found: dict[str, dict] = {}
    for _ in range(50):  # log lines are flushed as the responses finish
        for name in wanted - found.keys():
            # A service may log other lines with the request id first: its own calls to other
            # services, and the calls other services make to it for this request (the unit
            # directory's snapshot, answered 304); the access line of the GraphQL request is sought.
            lines = [
                line
                for line in _json_lines(stack, name)
                if line.get("request_id") == request_id
                and (name == "gateway" or (line.get("event") == "request" and line.get("path") == "/graphql"))
            ]
            if lines:
                found[name] = lines[0]
        if found.keys() == wanted:
            break
        await asyncio.sleep(0.1)
    assert found.keys() == wanted, f"request id seen only in {sorted(found)}"
    assert found["gateway"]["service"] == "gateway" and found["gateway"]["path"] == "/graphql"
    for spec in SERVICES:
        line = found[spec.name]
        assert line["service"] == spec.name and line["event"] == "request" and line["status"] == 200
        # One access line per request: uvicorn's own access log is replaced by the kit's, not doubled.
        assert not [entry for entry in _json_lines(stack, spec.name) if entry.get("logger") == "uvicorn.access"]


async def test_the_gateway_and_every_subgraph_serve_prometheus_metrics(gateway, stack):
    data_of(await gql(gateway, "query DimensionCodes { dimensions { code } }", headers=auth("GD", "viewer")))
    families = {f.name: f for f in text_string_to_metric_families((await gateway.get("/metrics")).text)}
    counted = [s for s in families["graphql_envelop_request_duration"].samples if s.name.endswith("_count")]
    assert any(s.labels.get("operationName") == "DimensionCodes" and s.value >= 1 for s in counted)

    async with httpx.AsyncClient(timeout=10) as client:
        indicators = await client.get(f"{stack.service_url('indicators')}/metrics")
    samples = [
        s
        for f in text_string_to_metric_families(indicators.text)
        for s in f.samples
        if s.name == "hotline_graphql_operations_total"
    ]
    # The gateway asked the indicators subgraph for the dimensions: that operation was counted there.
    assert any(s.labels["service"] == "indicators" and s.value >= 1 for s in samples)
    # A started service froze what its start-up made out of the garbage collector's sight (tens of thousands of
    # objects: modules, schema, mappers), so that full collections under load walk only what requests made.
    frozen = [
        s for f in text_string_to_metric_families(indicators.text) for s in f.samples
        if s.name == "hotline_gc_frozen_objects"
    ]  # fmt: skip
    assert len(frozen) == 1 and frozen[0].labels["service"] == "indicators" and frozen[0].value > 50_000, frozen
