"""Demo start-up time (run by hand, not in the test suite): `hotline up` from launch until it prints that it is
ready ("Press Ctrl-C to stop."), on a fresh database and free ports, then stopped with SIGINT.

    .venv/bin/python bench/demo_startup_bench.py [--runs 3] [--checkout DIR] [--server postgresql://…/postgres]

``--checkout`` times another checkout of the project (e.g. an earlier commit unpacked with ``git archive``,
its ``gateway/node_modules`` linked in) with this virtualenv's Python, so two versions can be timed side by side.
It goes through nothing but the command a user runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = "Press Ctrl-C to stop."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_once(checkout: Path, server: str) -> float:
    from hotline.cli.database import create_database, drop_database

    name = f"hotline_demotime_{uuid.uuid4().hex[:8]}"
    url = asyncio.run(create_database(server, name))
    env = dict(os.environ, PYTHONPATH=str(checkout), HOTLINE_DATABASE_URL=url,
               HOTLINE_STATE_DIR=tempfile.mkdtemp(prefix="hotline-demotime-"),
               **{f"HOTLINE_{n}_PORT": str(free_port()) for n in ("GATEWAY", "INGEST", "INDICATORS", "SCORING", "APPEALS")})  # fmt: skip
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli.main", "up"], cwd=checkout, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    printed, ready = [], None
    try:
        for line in process.stdout:
            printed.append(line)
            if READY in line:
                ready = time.perf_counter() - began
                break
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        asyncio.run(drop_database(server, name))
    if ready is None:
        raise SystemExit("`hotline up` did not get ready:\n" + "".join(printed))
    return ready


def main() -> None:
    from hotline.cli.database import DEFAULT_SERVER_URL

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--server", default=DEFAULT_SERVER_URL)
    args = parser.parse_args()
    times = [time_once(args.checkout.resolve(), args.server) for _ in range(args.runs)]
    print(f"hotline up ({args.checkout}): ready in {', '.join(f'{t:.1f}' for t in times)} s; "
          f"median {statistics.median(times):.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
