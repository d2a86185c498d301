"""The plain-line check of the bulk path (``bulk.plain_line_pattern``), run in a helper process.

Python's regular expressions hold the GIL while they match: in a thread, checking the next chunk would stall the
event loop that streams the current chunk's COPY. In a process of its own (spawned, importing only this module)
the check runs on the second core while PostgreSQL COPYs on the first.
"""

from __future__ import annotations

import functools
import re
from concurrent.futures import ProcessPoolExecutor

_executor: ProcessPoolExecutor | None = None


@functools.lru_cache(maxsize=16)
def _compiled(pattern: bytes) -> re.Pattern[bytes]:
    return re.compile(pattern)


def all_plain(pattern: bytes, data: bytes) -> bool:
    """Every line of ``data`` (whole lines, the last one ended) is plain."""
    return _compiled(pattern).fullmatch(data) is not None


def executor() -> ProcessPoolExecutor:
    """One helper process for the life of this process, started on first use."""
    global _executor
    if _executor is None:
        import multiprocessing

        _executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _executor
