"""Portal load on the whole system, through the gateway and straight at the owning subgraph, side by side.

Run by hand (not part of the test suite):

    flock /tmp/hotline-bench.lock .venv/bin/python bench/load_bench.py [--clients 8,50] [--seconds 6] [--rounds 3]
        [--only SCENARIOS] [--cpu] [--profile DIR] [--generator python|autocannon]

It builds a throwaway database on the local PostgreSQL (127.0.0.1:5432, or HOTLINE_BENCH_SERVER_URL),
starts the four services and the gateway on free loopback ports, loads the demo unit tree and
synthetic records for the five demo cities (2025-Q1) through ingest's REST API, publishes a provincial
special evaluation of the cities and runs it, has one city file an appeal (all through the gateway), runs and
publishes Guangzhou's evaluation of its undertaking units, and then measures the portal's four main reads with a
bounded number of concurrent clients for a bounded time each, once for every number of clients in ``--clients``:

- ``ranking``: a province's ranking of its cities with dimension subtotals (scoring);
- ``city_result``: one city's result with per-indicator explanations (scoring);
- ``unit_appeals``: a unit's appeals with their records (appeals);
- ``city_units``: a city's undertaking units with their results (ingest's ``units`` joined with scoring's
  ``Unit.results``).

Side by side, for each: ``{ __typename }`` on the owning subgraph (the no-op the query is compared with), the
query straight at the subgraph (for ``city_units`` each leg alone, then the gateway's plan by hand: ingest's
``units``, then scoring's ``_entities``), a second gateway without response cache, and the stack's gateway with
its response cache (its default: answers with results kept per caller). Printed: requests/s, p50 and p99, the
throughput ratio against the no-op (issue 16's target ≥ 0.5) and the gateway's p50 against the subgraph's (≤ 1.3).
A final phase repeats the ranking load while an ingest batch is loaded and the run is recomputed, and checks
that nothing failed. Every request is counted; any error or non-200 answer is reported and fails the run.
No subgraph request is merged with another: the gateway merges only identical in-flight requests, and each request it
sends carries its own request id (this client sends none; gateway/README.md). The machine is shared: compare ratios
measured side by side, not seconds.
``--rounds N`` measures every scenario N times (each time side by side with its no-op) and the summary gives each
ratio's median; ``--only ranking,unit_appeals`` measures only those scenarios.
``--cpu`` prints, under every path, the CPU milliseconds each part of the system spent per request (each service,
both gateways, this database's PostgreSQL backends and the load generator), so that where the time goes is read off
the same run. ``--generator autocannon`` sends the load with autocannon (bench/autocannon_load.mjs, Node) instead of httpx in this
process: the Python client spends about a millisecond of CPU a request on the same two cores as the system, as much as
a subgraph's `{ __typename }`, which bounds the no-op and crowds the gateway path; autocannon spends about a tenth.
The two give different ratios (measured side by side in docs/performance.md); city_units' direct plan (two dependent
requests) and its gateway comparison are measured with the Python client only. ``--profile DIR`` samples each subgraph with py-spy (``py-spy`` from PyPI in the virtualenv) while it is under
load, into collapsed-stack files.

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
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psutil

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
        departments_run = await evaluate_departments(gateway)
    return {"run": run_id, "city_result": city_result, "departments_run": departments_run}


DEPARTMENT_SCHEME = {
    "code": "GZ-DEPTS-2025Q1",
    "name_zh": "广州市承办单位2025年第一季度专项评价",
    "name_en": "Guangzhou undertaking units, 2025 Q1 special evaluation",
    "kind": "special",
    "cohort": {"kind": "undertaking_unit", "under": "GD-GZ"},
    "period": {"granularity": "quarter"},
    "na_policy": "rescale",
    "expert_aggregation": "mean",
    "rankings_public": True,
    "appeal": {"window_days": 7, "max_appeals_per_result": 3, "max_indicators_per_appeal": 3},
    "items": [
        {"indicator": {"code": "on_time_closure_rate", "version": 1}, "points": 60,
         "rule": {"type": "ratio_to_reference"}, "reference": {"policy": "best_in_cohort"}},
        {"indicator": {"code": "overall_closure_rate", "version": 1}, "points": 40,
         "rule": {"type": "threshold", "target": 95}, "reference": {"policy": "none"}},
    ],
}  # fmt: skip


async def evaluate_departments(gateway: httpx.AsyncClient) -> str:
    """Guangzhou's own evaluation of its undertaking units, run and published: the city's units then have
    published totals to list (the ``city_units`` scenario)."""
    city = token("GD-GZ", "organizer")
    payload = "ok problems { message } scheme { schemeId version }"
    created = (await gql(gateway, f"mutation($b: JSON!) {{ createScheme(body: $b) {{ {payload} }} }}",
                         {"b": DEPARTMENT_SCHEME}, city))["createScheme"]  # fmt: skip
    assert created["ok"] and not created["problems"], created
    scheme_id = created["scheme"]["schemeId"]
    published = await gql(gateway, f"mutation($i: ID!) {{ publishScheme(schemeId: $i, version: 1) {{ {payload} }} }}",
                          {"i": scheme_id}, city)  # fmt: skip
    assert published["publishScheme"]["ok"], published
    run_input = {"schemeId": scheme_id, "schemeVersion": 1, "periodKind": "QUARTER", "period": "2025-Q1"}
    started = (await gql(gateway, "mutation($i: StartRunInput!) { startRun(input: $i) { problems { path code message } run { id } } }",
                         {"i": run_input}, city))["startRun"]  # fmt: skip
    assert not started["problems"], started
    run_id = started["run"]["id"]
    await wait_run(gateway, run_id, city)
    done = await gql(gateway, "mutation($i: ID!) { publishRun(runId: $i) { problems { path code message } } }",
                     {"i": run_id}, city)  # fmt: skip
    assert not done["publishRun"]["problems"], done
    return run_id


CITY_UNITS = """query($city: ID!) { units(under: $city, kind: UNDERTAKING_UNIT, first: 50) { edges { node {
   id nameZh results { runId total rank grade { code } } } } } }"""
CITY_UNITS_INGEST = """query($city: ID!) { units(under: $city, kind: UNDERTAKING_UNIT, first: 50) { edges { node {
   id nameZh } } } }"""
CITY_UNITS_SCORING = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Unit {
   results { runId total rank grade { code } } } } }"""

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
    # A city's units with their published totals: ingest's directory joined with scoring's results. Its direct
    # path is the gateway's own plan sent by hand: ingest's `units`, then scoring's `_entities` for those units.
    "city_units": ("scoring", token("GD-GZ", "viewer"), CITY_UNITS),
}
SCENARIO_VARIABLES = {
    "ranking": lambda ids: {"run": ids["run"]},
    "city_result": lambda ids: {"result": ids["city_result"]},
    "unit_appeals": lambda ids: {},
    "city_units": lambda ids: {"city": "GD-GZ"},
}
NOOP = "{ __typename }"


def direct_steps(stack: Stack, scenario: str, variables: dict) -> list[tuple[str, Callable[[dict], dict]]]:
    """The requests a client sends straight at the subgraphs for one answer: (subgraph URL, body from the data of
    the previous step)."""
    service, _headers, query = SCENARIOS[scenario]
    if scenario != "city_units":
        return [(stack.service_url(service), lambda _data: {"query": query, "variables": variables})]

    def representations(data: dict) -> dict:
        units = [{"__typename": "Unit", "id": e["node"]["id"]} for e in data["units"]["edges"]]
        return {"query": CITY_UNITS_SCORING, "variables": {"r": units}}

    return [
        (stack.service_url("ingest"), lambda _data: {"query": CITY_UNITS_INGEST, "variables": variables}),
        (stack.service_url("scoring"), representations),
    ]


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
    return await load_steps([(url, lambda _data: {**body, "variables": variables})], headers, clients, seconds)


async def load_steps(
    steps: list[tuple[str, Callable[[dict], dict]]], headers: dict, clients: int, seconds: float
) -> dict:
    """``clients`` loops, each sending the steps' requests one after the other (a step's body made from the data of
    the one before), back to back for ``seconds``; one latency per round of steps, every answer checked. With
    ``--generator autocannon`` a single step is sent by autocannon instead (``load_autocannon``)."""
    if GENERATOR == "autocannon":
        if len(steps) != 1:
            raise ValueError("autocannon sends one request at a time: a plan of several steps needs --generator python")
        return await load_autocannon(steps[0], headers, clients, seconds)
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + seconds

    async def client_loop(http: dict[str, httpx.AsyncClient]) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            data: dict = {}
            for base, make_body in steps:
                try:
                    response = await http[base].post("/graphql", json=make_body(data), headers=headers)
                except httpx.TransportError as exc:  # a dropped connection is a failure to report, not a crash
                    failures.append(f"{type(exc).__name__} from {base}: {exc}")
                    break
                answer = response.json() if response.status_code == 200 else {}
                if response.status_code != 200 or answer.get("errors"):
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    break
                data = answer["data"]
            latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    http = {base: httpx.AsyncClient(base_url=base, timeout=60, limits=limits) for base, _ in steps}
    try:
        began = time.monotonic()
        await asyncio.gather(*(client_loop(http) for _ in range(clients)))
        elapsed = time.monotonic() - began
    finally:
        for client in http.values():
            await client.aclose()
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "failures": failures,
    }


async def load_autocannon(
    step: tuple[str, Callable[[dict], dict]], headers: dict, clients: int, seconds: float
) -> dict:
    """One request sent back to back over ``clients`` connections by autocannon (bench/autocannon_load.mjs, Node),
    every answer checked there as here; its own CPU time comes back as ``generator_cpu_ms``."""
    base, make_body = step
    options = {
        "url": f"{base}/graphql", "headers": headers, "body": json.dumps(make_body({})), "clients": clients,
        "seconds": max(1, round(seconds)),
    }  # fmt: skip
    node = shutil.which("node") or "node"
    process = await asyncio.create_subprocess_exec(
        node, str(REPO_ROOT / "bench" / "autocannon_load.mjs"), json.dumps(options),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"autocannon failed ({process.returncode}): {err.decode()[-2000:]}")
    figures = json.loads(out.decode().strip().splitlines()[-1])
    figures["generator_cpu_ms"] = figures.pop("cpu_ms")
    return figures


# --generator: who sends the load. "python" (httpx, in this process: about a millisecond of CPU a request, on the
# same two cores as the system under test) or "autocannon" (Node: a tenth of that, closer to remote clients).
GENERATOR = "python"
PROFILE_DIR: Path | None = None
CPU_METER: CpuMeter | None = None


class CpuMeter:
    """With ``--cpu``: the CPU time each part of the system spends per request while a path is under load — every
    service, both gateways, this database's PostgreSQL backends and the load generator itself (psutil), so that
    where a request's cost goes is read off the same run as its throughput."""

    def __init__(self, database: str, processes: dict[str, int]) -> None:
        self.database = database
        self.processes = {name: psutil.Process(pid) for name, pid in processes.items()}
        self.processes["load generator"] = psutil.Process()

    def _backends(self) -> list[psutil.Process]:
        # A backend's title names its database: "postgres: 15/main: postgres <database> 127.0.0.1(port) idle".
        return [
            p for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] == "postgres" and self.database in " ".join(p.info["cmdline"] or ())
        ]  # fmt: skip

    @staticmethod
    def _seconds(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
            total = times.user + times.system
            if process.pid != os.getpid():
                total += sum(c.cpu_times().user + c.cpu_times().system for c in process.children(recursive=True))
            return total
        except psutil.NoSuchProcess:
            return 0.0

    def snapshot(self) -> dict[str, float]:
        taken = {name: self._seconds(process) for name, process in self.processes.items()}
        taken["postgres"] = sum(self._seconds(p) for p in self._backends())
        return taken

    @staticmethod
    def line(before: dict[str, float], after: dict[str, float], requests: int) -> str:
        parts = {k: (after[k] - before.get(k, 0.0)) * 1000 / max(1, requests) for k in after}
        shown = ", ".join(f"{k} {v:.2f}" for k, v in parts.items() if v >= 0.05)
        return f"  cpu ms a request: {shown}"


async def profile(stack: Stack, service: str, label: str, seconds: float) -> None:
    """With ``--profile DIR``: py-spy samples the service's process while it is under load (``DIR/<label>.txt``,
    collapsed stacks: one line per stack and its count of samples); otherwise nothing."""
    if PROFILE_DIR is None:
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    process = await asyncio.create_subprocess_exec(
        spy, "record", "--pid", str(stack.processes[service].pid), "--duration", str(max(1, int(seconds) - 1)),
        "--rate", "200", "--format", "raw", "--idle", "--output", str(PROFILE_DIR / f"{label}.txt"), "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await process.wait()


async def metered(run: Awaitable[dict]) -> dict:
    """``run``'s figures, with the CPU each part spent per request (``--cpu``) under ``cpu``."""
    before = CPU_METER.snapshot() if CPU_METER else None
    figures = await run
    if CPU_METER and before is not None:
        figures["cpu"] = CpuMeter.line(before, CPU_METER.snapshot(), figures["requests"])
        if "generator_cpu_ms" in figures:
            figures["cpu"] += f", autocannon {figures['generator_cpu_ms'] / max(1, figures['requests']):.2f}"
    return figures


def print_figures(scenario: str, path: str, f: dict) -> bool:
    print(f"{scenario:<14}{path:<18}{f['requests']:>9}{f['rps']:>9.1f}{f['p50_ms']:>9.1f}{f['p99_ms']:>9.1f}")
    if "cpu" in f:
        print(f["cpu"])
    if f["failures"]:
        print(f"  {len(f['failures'])} failures, first: {f['failures'][0]}")
    return bool(f["failures"])


async def measure(
    stack: Stack, uncached: Stack, scenario: str, ids: dict, clients: int, seconds: float
) -> tuple[dict, bool]:
    """One scenario, side by side: ``{ __typename }`` on each subgraph it uses, the subgraph alone with the
    scenario's request (for ``city_units`` each leg of the plan alone), the plan straight at the subgraphs, and
    the gateway."""
    service, headers, query = SCENARIOS[scenario]
    variables = SCENARIO_VARIABLES[scenario](ids)
    steps = direct_steps(stack, scenario, variables)
    figures: dict = {"services": []}
    failed = False
    if scenario == "city_units":
        # Each leg alone, the scoring leg with the units the ingest leg answers.
        async with httpx.AsyncClient(base_url=stack.service_url("ingest"), timeout=60) as ingest:
            units = await gql(ingest, CITY_UNITS_INGEST, variables, headers)
        legs = [("ingest", steps[0]), ("scoring", (steps[1][0], lambda _d, units=units: steps[1][1](units)))]
    else:
        legs = [(service, steps[0])]
    for leg_service, step in legs:
        figures["services"].append(leg_service)
        noop = (stack.service_url(leg_service), lambda _data: {"query": NOOP})
        for path, leg in ((f"noop:{leg_service}", noop), (f"direct:{leg_service}", step)):
            profiling = asyncio.create_task(
                profile(stack, leg_service, f"{scenario}-{path.replace(':', '-')}-{clients}", seconds)
            )
            figures[path] = await metered(load_steps([leg], headers, clients, seconds))
            await profiling
            failed |= print_figures(scenario, path, figures[path])
    if len(steps) > 1 and GENERATOR != "python":
        # The plan's requests depend on each other (the second's representations come from the first's answer):
        # the gateway is compared with it under the Python generator only.
        print(f"{scenario:<14}(the plan and the gateway: with --generator python only)")
        return figures, failed
    if len(steps) > 1:
        figures["direct"] = await metered(load_steps(steps, headers, clients, seconds))
        failed |= print_figures(scenario, "direct:plan", figures["direct"])
    else:
        figures["direct"] = figures[f"direct:{service}"]
    figures["gateway"] = await metered(load(uncached.gateway_url, headers, query, variables, clients, seconds))
    failed |= print_figures(scenario, "gateway", figures["gateway"])
    figures["cached"] = await metered(load(stack.gateway_url, headers, query, variables, clients, seconds))
    failed |= print_figures(scenario, "gateway:cache", figures["cached"])
    return figures, failed


def ratios(figures: dict) -> dict:
    """One round's ratios: each subgraph's throughput for the query against its no-op, and the gateway's p50 (without
    and with its response cache) against the direct path's."""
    throughput = {s: figures[f"direct:{s}"]["rps"] / figures[f"noop:{s}"]["rps"] for s in figures["services"]}
    if "gateway" not in figures:  # a plan of several steps under autocannon: no gateway comparison
        return {"throughput": throughput, "gateway": None, "cached": None}
    direct = figures["direct"]["p50_ms"]
    return {
        "throughput": throughput,
        "gateway": figures["gateway"]["p50_ms"] / direct,
        "cached": figures["cached"]["p50_ms"] / direct,
    }


def median_ratios(rounds: list[dict]) -> dict:
    return {
        "throughput": {s: statistics.median(r["throughput"][s] for r in rounds) for s in rounds[0]["throughput"]},
        "gateway": None if rounds[0]["gateway"] is None else statistics.median(r["gateway"] for r in rounds),
        "cached": None if rounds[0]["cached"] is None else statistics.median(r["cached"] for r in rounds),
    }


def ratio_line(r: dict) -> str:
    line = "  ".join(f"throughput ×{v:.2f} of {{ __typename }} on {s}" for s, v in r["throughput"].items())
    if r["gateway"] is None:
        return line + "; gateway: not compared"
    return line + f"; gateway p50 ×{r['gateway']:.2f} of direct (with its response cache ×{r['cached']:.2f})"


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


def start_second_gateway(stack: Stack, name: str, environment: dict[str, str]) -> Stack:
    """Another gateway over the same services, started with ``environment`` added to the usual one."""
    second = Stack(
        database_url=stack.database_url, log_dir=stack.log_dir / name, jwt_secret=SECRET, env="development",
        ports=stack.ports, gateway_port=free_port(),
    )  # fmt: skip
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)
    try:
        second.start_gateway()
    finally:
        for key, value in saved.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value
    second.wait_ready("gateway", f"{second.gateway_url}/healthz", timeout=90.0)
    return second


def start_trusted_gateway(stack: Stack) -> Stack:
    """A second gateway over the same services, in trusted-documents mode with the committed manifest."""
    return start_second_gateway(stack, "trusted", {"HOTLINE_GATEWAY_TRUSTED_DOCUMENTS": str(REPO_ROOT / MANIFEST)})


async def measure_trusted(
    stack: Stack,
    trusted: Stack,
    scenario: str,
    service: str,
    headers: dict,
    ids: dict,
    args: argparse.Namespace,
    clients: int,
) -> bool:
    """One scenario's registered operation by hash through the trusted gateway and, where its subgraph alone can
    answer it, as text straight at the subgraph; True if anything failed."""
    operation, variables_of, direct = TRUSTED_SCENARIOS[scenario]
    document_id = registered_operations()[operation]
    text = json.loads((REPO_ROOT / MANIFEST).read_text())[document_id]
    paths = [("trusted", trusted.gateway_url, document_id)] + ([("direct", stack.service_url(service), None)] * direct)
    figures, failed = {}, False
    for path, base, by_hash in paths:
        f = figures[path] = await load(base, headers, text, variables_of(ids), clients, args.seconds, by_hash)
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
    trusted = uncached = None
    try:
        await asyncio.to_thread(migrate_all, url)
        await asyncio.to_thread(stack.start)
        ids = await prepare(stack, rng, args.orders, args.calls)
        print(f"{len(CITIES)} cities × ({args.orders} orders + {args.calls} calls), run {ids['run']} published")
        print(f"{args.seconds:.0f} s per measurement\n")
        failed = False
        trusted = await asyncio.to_thread(start_trusted_gateway, stack) if args.trusted else None
        # The stack's gateway keeps answers with results per caller (its default); this one keeps none, so the
        # gateway's own cost is measured too.
        uncached = await asyncio.to_thread(
            start_second_gateway, stack, "uncached", {"HOTLINE_GATEWAY_RESPONSE_CACHE_TTL_MS": "0"}
        )
        if args.cpu:
            global CPU_METER
            processes = {name: p.pid for name, p in stack.processes.items()}
            processes["gateway (cache)"] = processes.pop("gateway")
            processes["gateway"] = uncached.processes["gateway"].pid
            CPU_METER = CpuMeter(name, processes)
        summary: list[str] = []
        scenarios = {name: SCENARIOS[name] for name in args.only} if args.only else SCENARIOS
        for clients in args.clients:
            print(f"{clients} concurrent clients")
            print(f"{'query':<14}{'path':<18}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
            for scenario, (service, headers, _query) in scenarios.items():
                if trusted:
                    if scenario in TRUSTED_SCENARIOS:
                        failed |= await measure_trusted(stack, trusted, scenario, service, headers, ids, args, clients)
                    continue
                rounds = []
                for _round in range(args.rounds):
                    figures, scenario_failed = await measure(stack, uncached, scenario, ids, clients, args.seconds)
                    failed |= scenario_failed
                    rounds.append(ratios(figures))
                    print(f"{'':<14}{clients:>3} clients  {scenario:<14}{ratio_line(rounds[-1])}\n")
                line = f"{clients:>3} clients  {scenario:<14}{ratio_line(median_ratios(rounds))}"
                if args.rounds > 1:
                    line += f"  (median of {args.rounds} rounds)"
                summary.append(line)
        if summary:
            print("ratios (targets: throughput ≥ ×0.50 of { __typename } on the same subgraph; gateway p50 ≤ ×1.30)")
            print("\n".join(summary))
        work = await under_load_with_work(stack, ids, args.clients[0], args.seconds, rng, trusted)
        p = work["portal"]
        print(f"\nranking under load while ingesting 20,000 calls and recomputing the run: {p['requests']} requests, "
              f"{p['rps']:.1f} req/s, p50 {p['p50_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms, failures {len(p['failures'])}; "
              f"ingest batch {work['ingest_batch']}, recompute {work['recompute']}")  # fmt: skip
        if p["failures"] or work["ingest_batch"] != "done" or work["recompute"] != "done":
            failed = True
        print("\nRESULT:", "FAILURES — see above" if failed else "every request answered, every job finished")
    finally:
        for second in (trusted, uncached):
            if second:
                await asyncio.to_thread(second.stop)
        await asyncio.to_thread(stack.stop)
        await drop_database(server, name)
        shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients", type=lambda v: [int(n) for n in v.split(",")], default=[8, 50],
        help="concurrent clients, one measurement round per number (comma-separated; default 8,50)",
    )  # fmt: skip
    parser.add_argument("--seconds", type=float, default=6.0, help="duration of each measurement")
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="measure each scenario this many times, side by side each time; the summary gives the median ratios",
    )  # fmt: skip
    parser.add_argument(
        "--only", type=lambda v: v.split(","), default=None,
        help=f"only these scenarios (comma-separated, of: {', '.join(SCENARIOS)})",
    )  # fmt: skip
    parser.add_argument("--orders", type=int, default=2000, help="synthetic work orders per city")
    parser.add_argument("--calls", type=int, default=5000, help="synthetic calls per city")
    parser.add_argument(
        "--trusted", action="store_true", help="the portal's registered operations by hash, trusted-documents mode"
    )
    parser.add_argument(
        "--cpu", action="store_true",
        help="print each part's CPU milliseconds per request under every path (services, gateways, PostgreSQL, "
        "the load generator)",
    )  # fmt: skip
    parser.add_argument(
        "--generator", choices=["python", "autocannon"], default="python",
        help="who sends the load: python (httpx in this process, the default) or autocannon (Node, about a tenth "
        "of the CPU a request; a plan of several requests, city_units' direct path, is then left out)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=Path, default=None,
        help="sample each subgraph with py-spy while it is under load (collapsed stacks and flame graphs into DIR)",
    )  # fmt: skip
    arguments = parser.parse_args()
    GENERATOR = arguments.generator
    if arguments.profile:
        arguments.profile.mkdir(parents=True, exist_ok=True)
        PROFILE_DIR = arguments.profile
    asyncio.run(main(arguments))
