"""Direct COPY variants into the month (rolled back): one COPY, three chunks, three chunks under a savepoint; bare COPY."""

import asyncio
import io
import os
import statistics
import sys
import time

sys.path.insert(0, os.getcwd())
from datetime import timedelta
from pathlib import Path

import asyncpg

from bench import steady
from bench.ingest_bench import COLUMNS


def augment(data: bytes, batch_id: int) -> bytes:
    out = []
    for i, line in enumerate(data.split(b"\n"), 1):
        line = line.rstrip(b"\r")
        if not line:
            continue
        day = line.split(b",", 4)[3][:10]
        out.append(b"%s,%s,%d,%d,\n" % (line, day, batch_id, i))
    return b"".join(out)


url, rounds, day = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
steady.COLUMNS[:] = COLUMNS
agents = asyncio.run(steady.add_agents(url, 0))  # the database's agents (none added)
cols = [*COLUMNS, "day", "batch_id", "row_no", "repeat_lookback"]


async def main():
    c = await asyncpg.connect(url)
    await c.execute("CREATE TABLE IF NOT EXISTS public.floor_bare (LIKE ingest.raw_call)")
    res = {}
    for r in range(rounds):
        path = Path(f"/tmp/floor2-{r}.csv")
        steady.write_day_file(path, steady.FEBRUARY + timedelta(day - 1), 50_000, agents, f"g{r}y", 0)
        raw = path.read_bytes()  # noqa: ASYNC240 (a benchmark script, outside the clock)
        body = raw[raw.index(b"\n") + 1 :]
        aug = augment(body, 999999)
        lines = [x for x in aug.split(b"\n") if x]
        thirds = [b"\n".join(lines[i : i + 20000]) + b"\n" for i in range(0, 50000, 20000)]
        thirds = [t for t in thirds if t.strip()]
        for mode in ("bare", "one", "three", "three_sp"):
            tr = c.transaction()
            await tr.start()
            await c.execute("SET LOCAL TimeZone = 'Asia/Shanghai'")
            if mode == "three_sp":
                await c.execute("SAVEPOINT x")
            t = time.perf_counter()
            if mode == "bare":
                await c.copy_to_table(
                    "floor_bare", schema_name="public", source=io.BytesIO(aug), columns=cols, format="csv"
                )
            elif mode == "one":
                await c.copy_to_table(
                    "raw_call_2025m02", schema_name="ingest", source=io.BytesIO(aug), columns=cols, format="csv"
                )
            else:
                for part in thirds:
                    await c.copy_to_table(
                        "raw_call_2025m02", schema_name="ingest", source=io.BytesIO(part), columns=cols, format="csv"
                    )
            res.setdefault(mode, []).append(time.perf_counter() - t)
            await tr.rollback()
        print(r, {k: round(v[-1], 3) for k, v in res.items()}, flush=True)
    print("medians", {k: round(statistics.median(v), 3) for k, v in res.items()})
    await c.execute("DROP TABLE public.floor_bare")
    await c.close()


asyncio.run(main())
