"""Portal load on the whole system, through the gateway and straight at the owning subgraph, side by side.

Run by hand (not part of the test suite):

    .venv/bin/python bench/load_bench.py [--clients 8] [--seconds 10]

It builds a throwaway database on the local PostgreSQL (127.0.0.1:5432, or HOTLINE_BENCH_SERVER_URL),
starts the four services and the gateway on free loopback ports, loads the demo unit tree and
synthetic records for the five demo cities (2025-Q1) through ingest's REST API, publishes a provincial
special evaluation of the cities and runs it, has one city file an appeal (all through the gateway),
and then measures the portal's three main
queries with a bounded number of concurrent clients for a bounded time each:

- ``ranking``: a province's ranking of its cities with dimension subtotals (scoring);
- ``city_result``: one city's result with per-indicator explanations (scoring);
- ``unit_appeals``: a unit's appeals with their records (appeals).

Each query runs once through the gateway and once against the owning subgraph directly; the output
gives requests/s, p50 and p99 latency, and the gateway/direct ratio of p50. A final phase repeats the
ranking load while an ingest batch is loaded and the run is recomputed, and checks that nothing
failed. Every request is counted; any error or non-200 answer is reported and fails the run.
Identical in-flight subgraph requests are deduplicated by the gateway (its default): the figures
include that effect, as a portal would see it. The machine is shared: compare ratios, not seconds.

With ``--trusted`` the portal's queries are the registered operations of docs/portal.md (``Ranking``,
``ResultExplained``, ``UnitAppeals``), sent by hash to a second gateway in trusted-documents mode
(``HOTLINE_GATEWAY_TRUSTED_DOCUMENTS=gateway/persisted-documents.json``), as a production portal sends
them; the setup still goes through the development gateway. ``Ranking`` and ``UnitAppeals`` are also sent,
as text, straight at their subgraph; ``ResultExplained`` joins indicators' catalog, so it has no direct path.
These operations ask for more than the default queries: compare their figures with each other, not with those.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from hotline.cli.database import DEFAULT_SERVER_URL, create_database, drop_database
from hotline.cli.demo import demo_headers, load_demo_units
from hotline.cli.schema_files import MANIFEST, REPO_ROOT, registered_operations
from hotline.cli.stack import SERVICES, Stack, migrate_all
from hotline.kit.auth import mint_token
from hotline.kit.settings import DEVELOPMENT_JWT_SECRET

CITIES = ["GD-GZ", "GD-SZ", "GD-FS", "GD-DG", "GD-ZH"]
SECRET = DEVELOPMENT_JWT_SECRET


def token(unit: str, *roles: str) -> dict[str, str]:
    return {"authorization": f"Bearer {mint_token(secret=SECRET, unit_id=unit, roles=list(roles))}"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def csv_text(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def synthetic_records(city: str, rng: random.Random, orders: int, calls: int) -> tuple[str, str]:
    """Work orders dispatched to the city's departments and calls to its first agent team."""
    code = city.split("-")[1]
    departments = [f"{code}-{d}" for d in ("HOUSING", "TRANSPORT", "WATER", "MARKET", "HRSS", "URBANMGMT")]
    start = datetime(2025, 1, 1, 8, 0)
    order_rows = []
    for n in range(orders):
        received = start + timedelta(minutes=rng.randrange(0, 89 * 24 * 60))
        closed = received + timedelta(hours=rng.uniform(2, 200))
        order_rows.append({
            "record_id": f"{code}-WO-{n}", "unit_id": city, "received_at": f"{received:%Y-%m-%d %H:%M:%S}",
            "channel": rng.choice(["phone", "app", "web"]), "handling_unit_id": rng.choice(departments),
            "dispatched_at": f"{received + timedelta(minutes=30):%Y-%m-%d %H:%M:%S}",
            "due_at": f"{received + timedelta(hours=120):%Y-%m-%d %H:%M:%S}",
            "closed_at": f"{closed:%Y-%m-%d %H:%M:%S}" if rng.random() < 0.95 else "",
        })  # fmt: skip
    call_rows = []
    for n in range(calls):
        started = start + timedelta(seconds=rng.randrange(0, 89 * 24 * 3600))
        answered = rng.random() < 0.9
        call_rows.append({
            "record_id": f"{code}-C-{n}", "unit_id": f"{code}-T1-A00{rng.randint(1, 3)}",
            "started_at": f"{started:%Y-%m-%d %H:%M:%S}", "direction": "inbound",
            "outcome": "answered" if answered else "abandoned", "queue_seconds": str(rng.randint(0, 60)),
            "talk_seconds": str(rng.randint(60, 400)) if answered else "0",
        })  # fmt: skip
    return csv_text(order_rows), csv_text(call_rows)


PROVINCE_SCHEME = {
    "code": "GD-CITIES-2025Q1",
    "name_zh": "广东省12345热线2025年第一季度专项评价",
    "name_en": "Guangdong 12345 hotlines, 2025 Q1 special evaluation",
    "kind": "special",
    "cohort": {"kind": "city_body", "under": "GD"},
    "period": {"granularity": "quarter"},
    "na_policy": "rescale",
    "expert_aggregation": "mean",
    "rankings_public": True,
    "appeal": {"window_days": 7, "max_appeals_per_result": 3, "max_indicators_per_appeal": 3},
    "grade_bands": [
        {"code": "excellent", "name_zh": "优秀", "min": 90},
        {"code": "qualified", "name_zh": "合格", "min": 70},
        {"code": "needs_improvement", "name_zh": "待改进", "min": 0},
    ],
    "items": [
        {"indicator": {"code": "answer_rate", "version": 1}, "points": 30,
         "rule": {"type": "ratio_to_reference"}, "reference": {"policy": "best_in_cohort"}},
        {"indicator": {"code": "average_answer_wait", "version": 1}, "points": 20,
         "rule": {"type": "ratio_to_reference"}, "reference": {"policy": "best_in_cohort"}},
        {"indicator": {"code": "on_time_closure_rate", "version": 1}, "points": 30,
         "rule": {"type": "ratio_to_reference"}, "reference": {"policy": "best_in_cohort"}},
        {"indicator": {"code": "overall_closure_rate", "version": 1}, "points": 20,
         "rule": {"type": "threshold", "target": 95}, "reference": {"policy": "none"}},
    ],
}  # fmt: skip


async def gql(client: httpx.AsyncClient, query: str, variables: dict | None = None, headers=None) -> dict:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"{response.status_code}: {str(body)[:400]}")
    return body["data"]


async def wait_run(client: httpx.AsyncClient, run_id: str, headers, revision: int = 1) -> None:
    query = "query($id: ID!) { run(id: $id) { status currentRevision error } }"
    for _ in range(600):
        run = (await gql(client, query, {"id": run_id}, headers))["run"]
        if run["status"] == "failed":
            raise RuntimeError(f"run failed: {run['error']}")
        if run["status"] == "done" and run["currentRevision"] >= revision:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("run did not finish")


async def prepare(stack: Stack, rng: random.Random, orders: int, calls: int) -> dict:
    """Records, the provincial scheme, its run (published) and one city's appeal; returns the ids."""
    admin, province = token("GD", "admin"), token("GD", "organizer")
    # The demo unit tree through POST /units/bulk, as `hotline up` sends it.
    async with httpx.AsyncClient(base_url=stack.service_url("ingest"), headers=demo_headers(SECRET)) as ingest:
        await load_demo_units(ingest)
    async with httpx.AsyncClient(base_url=stack.service_url("ingest"), timeout=300) as ingest:
        for city in CITIES:
            order_csv, call_csv = synthetic_records(city, rng, orders, calls)
            for kind, body in (("work_order", order_csv), ("call", call_csv)):
                response = await ingest.post(
                    "/batches", params={"kind": kind, "source": f"bench-{kind}"}, content=body.encode(), headers=admin
                )
                assert response.status_code == 200 and response.json()["status"] == "done", response.text[:400]
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=120) as gateway:
        payload = "ok problems { message } scheme { schemeId version }"
        created = (await gql(gateway, f"mutation($b: JSON!) {{ createScheme(body: $b) {{ {payload} }} }}",
                             {"b": PROVINCE_SCHEME}, province))["createScheme"]  # fmt: skip
        assert created["ok"] and not created["problems"], created
        scheme = created["scheme"]
        published = await gql(
            gateway, f"mutation($i: ID!) {{ publishScheme(schemeId: $i, version: 1) {{ {payload} }} }}",
            {"i": scheme["schemeId"]}, province,
        )  # fmt: skip
        assert published["publishScheme"]["ok"], published
        run_input = {"schemeId": scheme["schemeId"], "schemeVersion": 1, "periodKind": "QUARTER", "period": "2025-Q1"}
        started = (await gql(gateway, "mutation($i: StartRunInput!) { startRun(input: $i) { problems { path code message } run { id } } }",
                             {"i": run_input}, province))["startRun"]  # fmt: skip
        assert not started["problems"], started
        run_id = started["run"]["id"]
        await wait_run(gateway, run_id, province)
        await gql(
            gateway,
            "mutation($i: ID!) { publishRun(runId: $i) { problems { path code message } } }",
            {"i": run_id},
            province,
        )
        results = (await gql(gateway, "query($i: ID!) { run(id: $i) { results(first: 10) { edges { node { id unitId } } } } }",
                             {"i": run_id}, province))["run"]["results"]["edges"]  # fmt: skip
        city_result = next(e["node"]["id"] for e in results if e["node"]["unitId"] == "GD-GZ")
        filed = (await gql(gateway, """mutation($r: ID!) { fileAppeal(resultId: $r, indicators: ["on_time_closure_rate"],
                 reasonCategory: WRONG_DATA, reason: "Orders closed on time were counted late", submit: true)
                 { ok problems { message } } }""", {"r": city_result}, token("GD-GZ", "unit")))["fileAppeal"]  # fmt: skip
        assert filed["ok"], filed
    return {"run": run_id, "city_result": city_result}


SCENARIOS = {
    "ranking": (
        "scoring",
        token("GD", "viewer"),
        """query($run: ID!) { run(id: $run) { results(first: 10) { edges { node {
           unitId total rank grade { code } dimensions { dimension score points } } } } } }""",
    ),
    "city_result": (
        "scoring",
        token("GD-GZ", "viewer"),
        """query($result: ID!) { unitResult(id: $result) { total rank grade { code }
           indicators { indicator value score points reference { value setBy } explanation { zh en } } } }""",
    ),
    "unit_appeals": (
        "appeals",
        token("GD-GZ", "unit"),
        """{ appeals(first: 20) { edges { node { id status events { kind occurredAt } } } } }""",
    ),
}


# --trusted: each scenario's registered operation (docs/portal.md), its variables from the prepared ids, and
# whether its owning subgraph alone can answer it (ResultExplained's `definition` comes from indicators).
TRUSTED_SCENARIOS = {
    "ranking": ("Ranking", lambda ids: {"runId": ids["run"]}, True),
    "city_result": ("ResultExplained", lambda ids: {"resultId": ids["city_result"]}, False),
    "unit_appeals": ("UnitAppeals", lambda ids: {"unitId": "GD-GZ"}, True),
}


async def load(
    url: str, headers: dict, query: str, variables: dict, clients: int, seconds: float, document_id: str | None = None
) -> dict:
    """``clients`` loops, each sending the query (or, given ``document_id``, its hash) back to back for ``seconds``;
    every answer checked."""
    body = {"documentId": document_id} if document_id else {"query": query}
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = await client.post("/graphql", json={**body, "variables": variables}, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200 or response.json().get("errors"):
                failures.append(f"{response.status_code} {response.text[:200]}")

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        began = time.monotonic()
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "failures": failures,
    }


async def under_load_with_work(
    stack: Stack, ids: dict, clients: int, seconds: float, rng: random.Random, trusted: Stack | None = None
) -> dict:
    """The ranking under load while an ingest batch loads and the run is recomputed (by hash, with ``trusted``)."""
    _service, headers, query = SCENARIOS["ranking"]
    portal_url, variables, document_id = stack.gateway_url, {"run": ids["run"]}, None
    if trusted:
        operation, variables_of, _direct = TRUSTED_SCENARIOS["ranking"]
        portal_url, variables, document_id = trusted.gateway_url, variables_of(ids), registered_operations()[operation]
    province = token("GD", "organizer")

    async def ingest_batch() -> str:
        _, calls = synthetic_records("GD-SZ", rng, 1, 20_000)
        calls = calls.replace("SZ-C-", "SZ-LOAD-C-")
        async with httpx.AsyncClient(base_url=stack.service_url("ingest"), timeout=300) as ingest:
            response = await ingest.post(
                "/batches", params={"kind": "call", "source": "bench-under-load"}, content=calls.encode(),
                headers=token("GD", "admin"),
            )  # fmt: skip
            return response.json()["status"]

    async def recompute() -> str:
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=120) as gateway:
            queued = await gql(gateway, 'mutation($i: ID!) { recomputeRun(runId: $i, reason: "bench: under load") '
                               "{ problems { path code message } } }", {"i": ids["run"]}, province)  # fmt: skip
            assert not queued["recomputeRun"]["problems"], queued
            await wait_run(gateway, ids["run"], province, revision=2)
            return "done"

    portal, batch_status, run_status = await asyncio.gather(
        load(portal_url, headers, query, variables, clients, seconds, document_id), ingest_batch(), recompute()
    )
    return {"portal": portal, "ingest_batch": batch_status, "recompute": run_status}


def start_trusted_gateway(stack: Stack) -> Stack:
    """A second gateway over the same services, in trusted-documents mode with the committed manifest."""
    trusted = Stack(
        database_url=stack.database_url, log_dir=stack.log_dir / "trusted", jwt_secret=SECRET, env="development",
        ports=stack.ports, gateway_port=free_port(),
    )  # fmt: skip
    os.environ["HOTLINE_GATEWAY_TRUSTED_DOCUMENTS"] = str(REPO_ROOT / MANIFEST)
    try:
        trusted.start_gateway()
    finally:
        del os.environ["HOTLINE_GATEWAY_TRUSTED_DOCUMENTS"]
    trusted.wait_ready("gateway", f"{trusted.gateway_url}/healthz", timeout=90.0)
    return trusted


async def measure_trusted(
    stack: Stack, trusted: Stack, scenario: str, service: str, headers: dict, ids: dict, args: argparse.Namespace
) -> bool:
    """One scenario's registered operation by hash through the trusted gateway and, where its subgraph alone can
    answer it, as text straight at the subgraph; True if anything failed."""
    operation, variables_of, direct = TRUSTED_SCENARIOS[scenario]
    document_id = registered_operations()[operation]
    text = json.loads((REPO_ROOT / MANIFEST).read_text())[document_id]
    paths = [("trusted", trusted.gateway_url, document_id)] + ([("direct", stack.service_url(service), None)] * direct)
    figures, failed = {}, False
    for path, base, by_hash in paths:
        f = figures[path] = await load(base, headers, text, variables_of(ids), args.clients, args.seconds, by_hash)
        print(f"{scenario:<14}{path:<10}{f['requests']:>9}{f['rps']:>9.1f}{f['p50_ms']:>9.1f}{f['p99_ms']:>9.1f}")
        if f["failures"]:
            failed = True
            print(f"  {len(f['failures'])} failures, first: {f['failures'][0]}")
    if direct:
        ratio = figures["trusted"]["p50_ms"] / figures["direct"]["p50_ms"]
        throughput = figures["trusted"]["rps"] / figures["direct"]["rps"]
        print(f"{'':<14}{operation} by hash: p50 ×{ratio:.2f}, throughput ×{throughput:.2f} of the subgraph's own")
    else:
        print(f"{'':<14}{operation} by hash (it joins indicators' catalog: no direct path)")
    return failed


async def main(args: argparse.Namespace) -> None:
    server = os.environ.get("HOTLINE_BENCH_SERVER_URL", DEFAULT_SERVER_URL)
    name = f"hotline_loadbench_{uuid.uuid4().hex[:8]}"
    url = await create_database(server, name)
    log_dir = Path(tempfile.mkdtemp(prefix="hotline-loadbench-"))
    # The gateway's per-client rate limit would turn a load test into a test of the limiter.
    os.environ.setdefault("HOTLINE_GATEWAY_RATE_LIMIT", "0")
    stack = Stack(
        database_url=url, log_dir=log_dir, jwt_secret=SECRET, env="development",
        ports={s.name: free_port() for s in SERVICES}, gateway_port=free_port(),
    )  # fmt: skip
    rng = random.Random(7)
    trusted = None
    try:
        await asyncio.to_thread(migrate_all, url)
        await asyncio.to_thread(stack.start)
        ids = await prepare(stack, rng, args.orders, args.calls)
        print(f"{len(CITIES)} cities × ({args.orders} orders + {args.calls} calls), run {ids['run']} published")
        print(f"{args.clients} concurrent clients, {args.seconds:.0f} s per measurement\n")
        print(f"{'query':<14}{'path':<10}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
        failed = False
        trusted = await asyncio.to_thread(start_trusted_gateway, stack) if args.trusted else None
        for scenario, (service, headers, query) in SCENARIOS.items():
            if trusted:
                failed |= await measure_trusted(stack, trusted, scenario, service, headers, ids, args)
                continue
            variables = {"ranking": {"run": ids["run"]}, "city_result": {"result": ids["city_result"]}}.get(
                scenario, {}
            )
            figures = {}
            for path, base in (("gateway", stack.gateway_url), ("direct", stack.service_url(service))):
                figures[path] = await load(base, headers, query, variables, args.clients, args.seconds)
                f = figures[path]
                print(
                    f"{scenario:<14}{path:<10}{f['requests']:>9}{f['rps']:>9.1f}{f['p50_ms']:>9.1f}{f['p99_ms']:>9.1f}"
                )
                if f["failures"]:
                    failed = True
                    print(f"  {len(f['failures'])} failures, first: {f['failures'][0]}")
            ratio = figures["gateway"]["p50_ms"] / figures["direct"]["p50_ms"]
            print(
                f"{'':<14}gateway overhead: p50 ×{ratio:.2f}, throughput ×{figures['gateway']['rps'] / figures['direct']['rps']:.2f}"
            )
        work = await under_load_with_work(stack, ids, args.clients, args.seconds, rng, trusted)
        p = work["portal"]
        print(f"\nranking under load while ingesting 20,000 calls and recomputing the run: {p['requests']} requests, "
              f"{p['rps']:.1f} req/s, p50 {p['p50_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms, failures {len(p['failures'])}; "
              f"ingest batch {work['ingest_batch']}, recompute {work['recompute']}")  # fmt: skip
        if p["failures"] or work["ingest_batch"] != "done" or work["recompute"] != "done":
            failed = True
        print("\nRESULT:", "FAILURES — see above" if failed else "every request answered, every job finished")
    finally:
        if trusted:
            await asyncio.to_thread(trusted.stop)
        await asyncio.to_thread(stack.stop)
        await drop_database(server, name)
        shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (bounded)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each measurement")
    parser.add_argument("--orders", type=int, default=2000, help="synthetic work orders per city")
    parser.add_argument("--calls", type=int, default=5000, help="synthetic calls per city")
    parser.add_argument(
        "--trusted", action="store_true", help="the portal's registered operations by hash, trusted-documents mode"
    )
    asyncio.run(main(parser.parse_args()))
