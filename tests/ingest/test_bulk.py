"""The bulk path (COPY + set-based checks in SQL) accepts, rejects and stores exactly what the Python path does."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from services.ingest import batches, loader
from tests.ingest.records_support import register_tree, send, to_csv

BASE = {"record_id": "c1", "unit_id": "GZ-T1-A001", "started_at": "2025-01-02 09:00:00", "direction": "inbound",
        "outcome": "answered", "queue_seconds": "12", "talk_seconds": "100", "transferred": "false"}  # fmt: skip

# each row differs from BASE in one way that one of the two paths could read differently
VARIANTS = [
    {},
    {"outcome": "ANSWERED"},
    {"outcome": "hung up"},
    {"outcome": " answered"},
    {"direction": "Inbound"},
    {"queue_seconds": "-4"},
    {"queue_seconds": "1e3"},
    {"queue_seconds": "nan"},
    {"queue_seconds": "inf"},
    {"queue_seconds": "1_200"},
    {"queue_seconds": "12.50"},
    {"queue_seconds": ".5"},
    {"queue_seconds": "5."},
    {"queue_seconds": "."},
    {"queue_seconds": "１２"},
    {"queue_seconds": " 12"},
    {"queue_seconds": "\u3000"},
    {"talk_seconds": "0012"},
    {"started_at": "2025-01-02T09:00:00"},
    {"started_at": "2025-01-02 09:00"},
    {"started_at": "2025-01-02"},
    {"started_at": "2025/01/02 09:00:00"},
    {"started_at": "2025-01-02 09:00:00+00:00"},
    {"started_at": "2025-02-30 09:00:00"},
    {"started_at": "2024-02-29 09:00:00"},
    {"started_at": "2025-01-31 23:59:59"},
    {"started_at": "2025-01-02 24:00:00"},
    {"started_at": "2025-01-02 09:00:60"},
    {"started_at": "2025-13-02 09:00:00"},
    {"started_at": "1989-12-31 23:00:00"},
    {"started_at": "1990-04-15 01:30:00"},
    {"started_at": "20a5-01-02 09:00:00"},
    {"started_at": "31/02/2025"},
    {"answered_at": "2025-01-02 08:00:00"},
    {"answered_at": "2025-01-02 09:00:10"},
    {"transferred": "TRUE"},
    {"transferred": "是"},
    {"transferred": "on"},
    {"transferred": "Yes"},
    {"unit_id": "GZ-NOWHERE"},
    {"unit_id": ""},
    {"unit_id": " GZ-T1-A001"},
    {"unit_id": "GZ-T1-A001\u00a0"},
    {"record_id": ""},
    {"record_id": "x" * 4001},
    {"caller_hash": "h\u2003"},
    {"caller_hash": "呼叫者"},
    {"record_id": "c1"},  # an identical repeat of row 1
    {"record_id": "c1", "talk_seconds": "7"},  # a differing repeat of row 1
]


# shaped like ISO but impossible: PostgreSQL refuses to cast them, and the bulk path checks every part first
IMPOSSIBLE = ("2025-02-30 09:00:00", "2025-13-02 09:00:00", "20a5-01-02 09:00:00")


def _file(impossible: bool) -> str:
    rows = []
    variants = [v for v in VARIANTS if impossible or v.get("started_at") not in IMPOSSIBLE]
    for n, variant in enumerate(variants):
        rows.append({**BASE, "record_id": f"r{n}", **variant} if "record_id" not in variant else {**BASE, **variant})
    rows[0]["record_id"] = "c1"
    return to_csv(rows, columns=[*BASE, "answered_at", "caller_hash"])


async def _stored(db, source: str) -> list[tuple]:
    async with db.session() as session:
        rows = await session.execute(
            text(
                "SELECT row_no, record_id, unit_id, started_at, day, direction, outcome, queue_seconds, talk_seconds, "
                "answered_at, transferred, caller_hash FROM ingest.raw_call WHERE source = :s ORDER BY row_no"
            ),
            {"s": source},
        )
        return [tuple(r) for r in rows]


@pytest.mark.parametrize("impossible", [False, True])
async def test_the_bulk_path_and_the_python_path_agree_row_by_row(ingest, db, monkeypatch, impossible):
    await register_tree(ingest)
    monkeypatch.setattr(loader, "CHUNK_ROWS", 5)  # the rows left to Python arrive in several chunks
    content = _file(impossible)
    assert '"' not in content  # a plain file: the bulk path takes it
    bulk = (await send(ingest, "call", content, source="bulk")).json()
    monkeypatch.setattr(batches, "plain_csv_layout", lambda *a, **k: None)
    python = (await send(ingest, "call", content, source="python")).json()
    assert bulk["status"] == python["status"] == "done"
    assert bulk["counts"] == python["counts"], (bulk["counts"], python["counts"])
    assert bulk["problems"] == python["problems"]
    assert bulk["quality"] == python["quality"]
    assert bulk["counts"]["rejected"] > 10 and bulk["counts"]["new"] > 10 and bulk["counts"]["repeatedInFile"] == 1
    assert await _stored(db, "bulk") == await _stored(db, "python")


async def test_a_file_postgresql_reads_differently_takes_the_python_path(ingest):
    await register_tree(ingest)
    content = to_csv([BASE, {**BASE, "record_id": "c2"}]) + "\n" + to_csv([{**BASE, "record_id": "c3"}]).split("\n")[1]
    report = (await send(ingest, "call", content + "\n\n")).json()  # a blank line inside, blank lines at the end
    assert report["counts"]["read"] == 3 and report["counts"]["new"] == 3, report
