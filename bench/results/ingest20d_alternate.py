"""Old and new code alternated on one database (issue 20, fifth round): daily files of 50,000 new calls, each a new
day of a February holding 3,000,000 calls of days 1-8 (``bench/steady.py``'s SQL), each ingested by the benchmark's
own child (``bench/ingest_bench.py --child``) of the old tree or the new one in turn, a bare COPY of the same file
right before it.

    python bench/results/ingest20d_alternate.py URL OLD_TREE NEW_TREE FIRST_DAY LAST_DAY [CALLERS]
"""

import asyncio
import statistics
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import ingest_bench, steady  # noqa: E402

url, old, new, first, last = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
callers = int(sys.argv[6]) if len(sys.argv) > 6 else 0  # hashed callers of the files (0: none)
steady.COLUMNS[:] = ingest_bench.COLUMNS
agents = asyncio.run(steady.add_agents(url, 0))
results: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
for n, day_no in enumerate(range(first, last + 1)):
    tree = ("old", "new")[(n + n // 2) % 2]  # old new new old old new new old …
    path = Path(f"/tmp/ingest20d/alt-{day_no}.csv")
    steady.write_day_file(path, steady.FEBRUARY + timedelta(day_no - 1), 50_000, agents, f"a{n}", callers)
    copy_s = asyncio.run(ingest_bench.copy_baseline(url, path))
    where = old if tree == "old" else new
    out = subprocess.run(
        [sys.executable, "bench/ingest_bench.py", "--child", url, str(path)],
        capture_output=True, text=True, check=True, cwd=where,
    ).stdout  # fmt: skip
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    ingest_s = float(line.split()[1])
    results[tree].append((copy_s, ingest_s))
    print(f"day {day_no:2d} {tree}: COPY {copy_s:.3f} s, ingest {ingest_s:.3f} s, ratio {copy_s / ingest_s:.2f}; "
          f"{line.split(' ', 4)[4]}", flush=True)  # fmt: skip
for tree, pairs in results.items():
    ingest = [i for _, i in pairs]
    ratios = [c / i for c, i in pairs]
    print(f"{tree}: ingest median {statistics.median(ingest):.3f} s (range {min(ingest):.3f}-{max(ingest):.3f}), "
          f"ratio median {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f}), n={len(pairs)}")  # fmt: skip
