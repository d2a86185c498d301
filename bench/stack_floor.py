"""The least the decided stack can spend on the portal's reads: what bounds issue 16's throughput ratio.

Run by hand (not part of the test suite):

    flock /tmp/hotline-bench.lock .venv/bin/python -m bench.stack_floor [--rounds 3] [--seconds 5] [--clients 8]
        [--generator autocannon|python] [--noop-ms 0.6,0.9,1.2]

Issue 16 asks a portal read to answer at ≥ 0.5× the throughput of ``{ __typename }`` on the same subgraph. A
subgraph is one Python process, so the ratio is the CPU of the no-op over the CPU of the read: the read may cost
at most twice an empty request. This benchmark measures what the read *must* cost on the stack the project decided
(FastAPI, Strawberry on graphql-core, SQLAlchemy async over asyncpg, uvicorn), with nothing of ours in the way: a
bare app (``bench/floor_app.py``) with no authentication, no middleware, no scope rule, one Core statement per
request through the pool in autocommit, Strawberry's parser and validation caches, every field a plain attribute, answering answers of the same shape and size
as the load benchmark's (``bench/load_bench.py``): the ranking (5 results with 2 dimension subtotals each, ~1.2 KB)
and a city's 50 units (ids and names, ~1.1 KB).

It prints, for each read, side by side in one run with autocannon's load (every answer checked), the bare app's
CPU per request for the read and for ``{ __typename }``; their difference is the *read's own floor*: what any
implementation on this stack spends to run the statement, execute the answer's fields and send them. A service
whose no-op costs N ms can then reach at most N / (N + floor) of its no-op's throughput, however lean its read:
the bound printed for the no-op costs given by ``--noop-ms`` (the project's services' own no-op, measured by
``bench/load_bench.py --cpu``; default: the range measured in docs/performance.md).

Beside them, the same read through a bare Hive Gateway over the bare app (``bench/floor_gateway.mjs``: the gateway
runtime with the supergraph composed as the stack's gateway composes it, no plugin, no merging of identical requests):
its p50 against the read's straight at the app (issue 16's ≤ ×1.3), and its own CPU per request. ``--generator
python`` sends the load with the load benchmark's Python client instead of autocannon.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid

import httpx
import psutil

from bench import load_bench
from bench.load_bench import free_port
from hotline.cli.database import DEFAULT_SERVER_URL, create_database, drop_database
from hotline.cli.schema_files import REPO_ROOT

READS = {
    "ranking": (
        """query($run: ID!) { run(id: $run) { results(first: 10) { edges { node {
           unitId total rank grade { code } dimensions { dimension score points } } } } } }""",
        lambda run: {"run": run},
    ),
    "city_units": (
        """query($city: ID!) { units(under: $city, first: 50) { edges { node { id nameZh } } } }""",
        lambda _run: {"city": "GD-GZ"},
    ),
}
NOOP = "{ __typename }"
# --generator: autocannon (Node, ~0.2 ms of CPU a request) or python (the load benchmark's httpx client, ~1 ms a
# request on the same two cores: it holds the no-op back, so the throughput ratio then says more about the client).
GENERATOR = "autocannon"


def send_load(url: str, query: str, variables: dict, clients: int, seconds: float) -> dict:
    """``clients`` connections sending the query back to back for ``seconds`` (``--generator``), every answer checked."""
    if GENERATOR == "python":
        base = url.removesuffix("/graphql")
        return asyncio.run(
            load_bench.load_steps([(base, lambda _d: {"query": query, "variables": variables})], {}, clients, seconds)
        )
    options = {
        "url": url, "headers": {}, "body": json.dumps({"query": query, "variables": variables}),
        "clients": clients, "seconds": max(1, round(seconds)),
    }  # fmt: skip
    node = shutil.which("node") or "node"
    out = subprocess.run(
        [node, str(REPO_ROOT / "bench" / "autocannon_load.mjs"), json.dumps(options)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def measure(server: psutil.Process, url: str, query: str, variables: dict, clients: int, seconds: float) -> dict:
    before = cpu_seconds(server)
    figures = send_load(url, query, variables, clients, seconds)
    if figures["failures"]:
        raise RuntimeError(f"failed answers: {figures['failures']}")
    figures["server_ms"] = (cpu_seconds(server) - before) * 1000 / max(1, figures["requests"])
    return figures


def main(args: argparse.Namespace) -> None:
    server_url = os.environ.get("HOTLINE_BENCH_SERVER_URL", DEFAULT_SERVER_URL)
    name = f"hotline_floor_{uuid.uuid4().hex[:8]}"
    database_url = asyncio.run(create_database(server_url, name))
    port = free_port()
    env = {**os.environ, "FLOOR_DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT)}
    children: list[subprocess.Popen] = []
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--timeout-keep-alive", "65", "--log-level", "warning"],
        cwd=REPO_ROOT, env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    children.append(process)
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        for _ in range(300):
            try:
                if httpx.post(url, json={"query": NOOP}, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("the bare app did not start")
        server = psutil.Process(process.pid)
        gateway_port = free_port()
        gateway_process = subprocess.Popen(
            [shutil.which("node") or "node", str(REPO_ROOT / "bench" / "floor_gateway.mjs"), str(gateway_port), url],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        children.append(gateway_process)
        if gateway_process.stdout.readline().strip() != "ready":
            raise RuntimeError("the bare gateway did not start")
        gateway = psutil.Process(gateway_process.pid)
        gateway_url = f"http://127.0.0.1:{gateway_port}/graphql"
        run = "00000000-0000-0000-0000-000000000001"
        # Warm every path once (statement caches, schema, the pool, the gateway's plans).
        for query, variables in READS.values():
            send_load(url, query, variables(run), 2, 1)
            send_load(gateway_url, query, variables(run), 2, 1)
        print(
            f"bare app and bare gateway on the decided stack, {args.clients} clients, {args.seconds:.0f} s each, "
            f"{GENERATOR}'s load; CPU in ms a request of the app (the gateway's in the last column)\n"
        )
        print(f"{'read':<12}{'round':>6}{'no-op/s':>9}{'read/s':>8}{'ratio':>7}{'no-op':>7}{'read':>7}{'floor':>7}"
              f"{'p50 direct':>12}{'p50 gateway':>13}{'×':>6}{'gateway':>9}")  # fmt: skip
        floors: dict[str, list[float]] = {r: [] for r in READS}
        ratios: dict[str, list[float]] = {r: [] for r in READS}
        p50s: dict[str, list[float]] = {r: [] for r in READS}
        for round_no in range(1, args.rounds + 1):
            for read, (query, variables) in READS.items():
                noop = measure(server, url, NOOP, {}, args.clients, args.seconds)
                answer = measure(server, url, query, variables(run), args.clients, args.seconds)
                through = measure(gateway, gateway_url, query, variables(run), args.clients, args.seconds)
                floor = answer["server_ms"] - noop["server_ms"]
                floors[read].append(floor)
                ratios[read].append(answer["rps"] / noop["rps"])
                p50s[read].append(through["p50_ms"] / answer["p50_ms"])
                print(f"{read:<12}{round_no:>6}{noop['rps']:>9.0f}{answer['rps']:>8.0f}{ratios[read][-1]:>7.2f}"
                      f"{noop['server_ms']:>7.2f}{answer['server_ms']:>7.2f}{floor:>7.2f}"
                      f"{answer['p50_ms']:>12.1f}{through['p50_ms']:>13.1f}{p50s[read][-1]:>6.2f}"
                      f"{through['server_ms']:>9.2f}")  # fmt: skip
        print("\nmedians; the throughput ratio a service whose no-op costs N ms can reach at most, N / (N + floor):")
        for read in READS:
            floor = statistics.median(floors[read])
            bounds = "  ".join(f"N={n:.2f}: {n / (n + floor):.2f}" for n in args.noop_ms)
            print(f"{read:<12} bare ratio {statistics.median(ratios[read]):.2f} (target ≥ 0.50), floor {floor:.2f} ms"
                  f"   {bounds};  bare gateway p50 ×{statistics.median(p50s[read]):.2f} (target ≤ ×1.30)")  # fmt: skip
    finally:
        for child in children:
            child.terminate()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:  # the gateway runtime waits for its own disposal on SIGTERM
                child.kill()
                child.wait()
        asyncio.run(drop_database(server_url, name))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each read beside its own no-op")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument(
        "--noop-ms", type=lambda v: [float(x) for x in v.split(",")], default=[0.6, 0.9, 1.2],
        help="no-op costs (ms of a service's CPU a request) to give the bound for (comma-separated)",
    )  # fmt: skip
    parser.add_argument(
        "--generator", choices=["autocannon", "python"], default="autocannon",
        help="who sends the load: autocannon (the default) or the load benchmark's Python client",
    )  # fmt: skip
    arguments = parser.parse_args()
    GENERATOR = arguments.generator
    main(arguments)
