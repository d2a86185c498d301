"""Make a profile database like the steady bench's: demo units, 1,000 more agents, February 2025 of 3 M calls of days 1-22."""

import asyncio
import sys

sys.path.insert(0, ".")
from bench import ingest_bench, steady
from hotline.cli.database import create_database
from hotline.cli.stack import migrate_all

name = sys.argv[1]
url = asyncio.run(create_database("postgresql://postgres@127.0.0.1:5432/postgres", name))
migrate_all(url)
asyncio.run(ingest_bench.register_units_in_process(url))
agents = asyncio.run(steady.add_agents(url, 1000))
print("agents", len(agents))
days = int(sys.argv[2]) if len(sys.argv) > 2 else 22
callers = int(sys.argv[3]) if len(sys.argv) > 3 else 0
s = asyncio.run(steady.store_month(url, steady.FEBRUARY, days, 3_000_000, callers))
print("stored in", s, url)
