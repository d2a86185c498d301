"""Record of the fourth round's alternated corrections (docs/performance.md): write ``N`` corrections of day ``DAY`` of
February 2025 with ``bench/steady.py``'s own ``write_corrections``.

    .venv/bin/python bench/results/ingest20c_write_corrections.py URL OUT N SEED DAY
"""

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import ingest_bench, steady

steady.COLUMNS[:] = ingest_bench.COLUMNS
url, out, n, seed, day_no = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
day = steady.FEBRUARY + timedelta(day_no - 1)
asyncio.run(steady.write_corrections(url, Path(out), steady.FEBRUARY, n, seed, day))
