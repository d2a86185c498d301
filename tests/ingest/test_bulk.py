"""The bulk path (COPY + set-based checks in SQL) accepts, rejects and stores exactly what the Python path does."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import text

from hotline.kit.auth import Principal, Role
from services.ingest import aggregation, batches, bulk, loader
from services.ingest.reader import CsvLayout
from services.ingest.records import KINDS
from tests.ingest.records_support import measures, register_tree, send, to_csv, values

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


ADMIN_PRINCIPAL = Principal("tester", "GD", frozenset({Role.ADMIN}))


def _calls(month: str, n: int, prefix: str) -> str:
    return to_csv(
        [{**BASE, "record_id": f"{prefix}{i}", "started_at": f"{month}-0{1 + i % 9} 09:00:00"} for i in range(n)]
    )


async def _submit(db, content: str, source: str = "bulk") -> dict:
    return await batches.submit(
        db, ADMIN_PRINCIPAL, batches.Submission(kind="call", source=source, filename="calls.csv"),
        binary=io.BytesIO(content.encode()),
    )  # fmt: skip


async def _scalar(db, sql: str, **params):
    async with db.session() as session:
        return (await session.execute(text(sql), params)).scalar()


async def _indexes(db, table: str) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(
            text("SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = to_regclass(:t)"), {"t": table}
        )
        return sorted(re.sub(r"INDEX \S+ ON \S+", "INDEX ON t", r[0]) for r in rows)


async def test_a_month_new_to_the_raw_table_is_built_and_attached_like_any_partition(ingest, db):
    await register_tree(ingest)
    # a month with a partition already (made row by row) and one without: a batch holding both
    assert (await _submit(db, _calls("2025-05", 3, "old")))["counts"]["new"] == 3
    assert await _scalar(db, "SELECT to_regclass('ingest.raw_call_2025m06') IS NULL")
    both = _calls("2025-05", 4, "may") + _calls("2025-06", 5, "june").split("\n", 1)[1]
    report = await _submit(db, both)
    assert report["status"] == "done" and report["counts"]["new"] == 9, report
    # the new month is a partition like the others: same indexes, no leftover constraint, its rows in place
    assert await _indexes(db, "ingest.raw_call_2025m06") == await _indexes(db, "ingest.raw_call_2025m05")
    # the parent's BRIN index and btree on (day, unit) (``ingest_0010``), and the month's own unique key index
    assert await _indexes(db, "ingest.raw_call_2025m06") == [
        "CREATE INDEX ON t USING brin (day, batch_id)",
        "CREATE INDEX ON t USING btree (day, unit_id)",
        'CREATE UNIQUE INDEX ON t USING btree (record_id COLLATE "C", source COLLATE "C")',
    ]
    assert (
        await _scalar(db, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'ingest.raw_call_2025m06'::regclass")
        == 0
    )
    assert await _scalar(db, "SELECT count(*) FROM ONLY ingest.raw_call_2025m06 WHERE record_id LIKE 'june%'") == 5
    assert await _scalar(db, "SELECT count(*) FROM ONLY ingest.raw_call_2025m05") == 7
    june = await measures(ingest, ["GZ-T1-A001"], ["calls.answered"], start="2025-06-01", end="2025-06-30")
    assert values(june)["GZ-T1-A001"]["calls.answered"] == 5


async def test_a_batch_failing_after_its_new_month_was_attached_leaves_nothing(ingest, db, monkeypatch):
    await register_tree(ingest)

    async def failing(apg, kind, summed=False, batch_rows=None):
        raise RuntimeError("the aggregation failed")

    monkeypatch.setattr(aggregation, "recompute", failing)
    with pytest.raises(RuntimeError):
        await _submit(db, _calls("2025-07", 5, "july"))
    # the partition built for the month, its rows, and the bulk path's text and stage tables are all gone
    assert await _scalar(db, "SELECT to_regclass('ingest.raw_call_2025m07') IS NULL")
    assert await _scalar(db, "SELECT count(*) FROM ingest.raw_call") == 0
    assert await _scalar(db, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bulk\\_%'") == 0


async def test_the_tables_of_the_bulk_path_do_not_outlive_the_load(ingest, db):
    await register_tree(ingest)
    assert (await _submit(db, _calls("2025-05", 3, "c")))["status"] == "done"
    assert await _scalar(db, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bulk\\_%'") == 0


async def test_the_bulk_conversion_can_run_whole_in_parallel_workers(ingest, db):
    """Every check of the conversion runs below the Gather (in the workers), none in the leader above it."""
    layout = CsvLayout(names=list(BASE), delimiter=",", data_offset=0)
    async with db.session() as session:
        apg = await batches._driver(session)
        await apg.execute(
            "CREATE UNLOGGED TABLE ingest.bulk_text_plan (row_no integer GENERATED ALWAYS AS IDENTITY, "
            + ", ".join(f"c{i} text" for i in range(len(BASE)))
            + ")"
        )
        await apg.execute("SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0")
        await apg.execute("SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2")
        sql = bulk.convert_sql(KINDS["call"], layout, "ingest.bulk_text_plan", "stage_plan", "Asia/Shanghai", {"U"})
        plan = [r[0].strip() for r in await apg.fetch("EXPLAIN " + sql, "s", "Asia/Shanghai", 1)]
        await apg.execute("DROP TABLE ingest.bulk_text_plan")
    nodes = [line.removeprefix("->").strip().split("  ")[0] for line in plan if "cost=" in line]
    # the subquery of conversions and the checks over it (its scan) both below the Gather: not a Gather feeding a
    # leader that then checks every row alone (what an OFFSET 0 would give)
    assert nodes == ["Gather", "Subquery Scan on x", "Parallel Seq Scan on bulk_text_plan t"], plan


PLAIN_COLUMNS = [*BASE, "answered_at", "caller_hash"]


def _plain_row(i: int) -> dict:
    return {**BASE, "record_id": f"p{i}", "started_at": f"2025-01-{1 + i % 28:02d} 09:{i % 60:02d}:00",
            "answered_at": f"2025-01-{1 + i % 28:02d} 09:{i % 60:02d}:30", "caller_hash": f"h {i}"}  # fmt: skip


def _spy_copies(monkeypatch) -> list:
    copies = []
    real = bulk.copy_text

    async def spy(*args, **kwargs):
        copied = await real(*args, **kwargs)
        copies.append(copied)
        return copied

    monkeypatch.setattr(bulk, "copy_text", spy)
    return copies


async def _both_paths(ingest, db, monkeypatch, content: str) -> dict:
    """Send ``content`` through the bulk path and through Python; both give the same report and stored rows."""
    bulk_report = (await send(ingest, "call", content, source="bulk")).json()
    monkeypatch.setattr(batches, "plain_csv_layout", lambda *a, **k: None)
    python = (await send(ingest, "call", content, source="python")).json()
    assert bulk_report["status"] == python["status"] == "done"
    assert bulk_report["counts"] == python["counts"], (bulk_report["counts"], python["counts"])
    assert bulk_report["problems"] == python["problems"]
    assert bulk_report["quality"] == python["quality"]
    assert await _stored(db, "bulk") == await _stored(db, "python")
    return bulk_report


async def test_a_file_of_plain_lines_is_copied_typed_and_stored_as_python_would(ingest, db, monkeypatch):
    await register_tree(ingest)
    copies = _spy_copies(monkeypatch)
    rows = [_plain_row(i) for i in range(40)]
    rows[3]["queue_seconds"] = rows[3]["talk_seconds"] = rows[3]["answered_at"] = rows[3]["caller_hash"] = ""
    report = await _both_paths(ingest, db, monkeypatch, to_csv(rows, columns=PLAIN_COLUMNS))
    assert report["counts"]["new"] == 40
    assert len(copies) == 1 and copies[0].typed and copies[0].text_rows == 0  # every chunk went typed
    assert not copies[0].text_table_made  # no row needed the text table: it was never made


async def test_plain_lines_failing_their_checks_get_a_text_table_made_for_them(ingest, db, monkeypatch):
    """Every chunk typed, no text table made by the COPY: a typed row that fails its checks is read again into a
    text table made then, and gets the Python path's result."""
    await register_tree(ingest)
    copies = _spy_copies(monkeypatch)
    rows = [_plain_row(i) for i in range(40)]
    rows[7]["unit_id"] = "GZ-NOWHERE"
    rows[9]["answered_at"] = "2025-01-01 08:00:00"  # before started_at
    report = await _both_paths(ingest, db, monkeypatch, to_csv(rows, columns=PLAIN_COLUMNS))
    assert copies[0].typed and copies[0].text_rows == 0 and copies[0].text_table_made
    assert report["counts"]["new"] == 38 and report["counts"]["rejected"] == 2
    async with db.session() as session:
        leftovers = await session.execute(text("SELECT count(*) FROM pg_class WHERE relname LIKE 'bulk_text_%'"))
        assert leftovers.scalar() == 0


async def test_non_plain_lines_among_plain_ones_get_the_python_paths_result(ingest, db, monkeypatch):
    """Chunks of a few lines: the chunks holding a VARIANT line go as text, the others typed — and the plain lines
    whose checks fail (unit outside the scope, time order, a month of an offset change, too long) are read again
    and checked by Python: the result is the Python path's, row by row."""
    await register_tree(ingest)
    copies = _spy_copies(monkeypatch)
    monkeypatch.setattr(loader, "CHUNK_ROWS", 5)
    monkeypatch.setattr(bulk, "COPY_CHUNK_BYTES_PER_ROW", 1)  # 4 KB chunks: about 35 lines each
    rows = [_plain_row(i) for i in range(400)]
    plain_but_failing = [{"unit_id": "GZ-NOWHERE"}, {"answered_at": "2025-01-01 08:00:00"},
                         {"started_at": "1990-04-15 01:30:00"}, {"record_id": "x" * 4001}]  # fmt: skip
    for n, variant in enumerate(plain_but_failing):
        rows[5 + 7 * n].update(variant)
    for n, variant in enumerate(v for v in VARIANTS if v.get("started_at") not in IMPOSSIBLE and "record_id" not in v):
        rows[100 + 6 * n].update(variant)
    rows[390] = {**rows[10]}  # an identical repeat of a typed row, and a differing one
    rows[391] = {**rows[11], "talk_seconds": "7"}
    report = await _both_paths(ingest, db, monkeypatch, to_csv(rows, columns=PLAIN_COLUMNS))
    assert copies[0].typed and copies[0].text_rows  # both kinds of chunk were there
    assert report["counts"]["rejected"] > 10 and report["counts"]["repeatedInFile"] == 1


def test_values_postgresql_would_read_otherwise_are_not_plain():
    layout = CsvLayout(names=PLAIN_COLUMNS, delimiter=",", data_offset=0)
    pattern = bulk.plain_line_pattern(KINDS["call"], layout, "Asia/Shanghai")

    def line(**changes) -> bytes:
        row = {**_plain_row(1), **changes}
        return (",".join(row[c] for c in PLAIN_COLUMNS) + "\n").encode()

    assert pattern.fullmatch(line()) and pattern.fullmatch(line() * 3)
    assert pattern.fullmatch(line().replace(b"\n", b"\r\n") * 2)
    for changes in [
        {"started_at": "2025-01-02 09:00:00+00:00"}, {"started_at": "2025-01-02T09:00:00"},
        {"started_at": "2025-01-02 09:00"}, {"started_at": "2025-02-30 09:00:00"}, {"started_at": "2024-02-29 09:00:00"},
        {"started_at": "2025-01-02 24:00:00"}, {"started_at": "1989-12-31 23:00:00"}, {"started_at": ""},
        {"started_at": "1991-01-02 09:00:00"},  # a year of offset changes in Shanghai
        {"transferred": "yes"}, {"transferred": "TRUE"}, {"transferred": "t"}, {"transferred": "1"},
        {"queue_seconds": " 5"}, {"queue_seconds": "5 "}, {"queue_seconds": "1e3"}, {"queue_seconds": "12.5"},
        {"queue_seconds": "-4"}, {"queue_seconds": "１２"}, {"outcome": "ANSWERED"}, {"outcome": " answered"},
        {"direction": "Inbound"}, {"unit_id": " GZ-T1-A001"}, {"caller_hash": "h\u2003"}, {"caller_hash": "呼叫者"},
        {"caller_hash": "a\tb"}, {"record_id": ""}, {"unit_id": ""},
    ]:  # fmt: skip
        assert pattern.fullmatch(line(**changes)) is None, changes
    mixed = line() + line().replace(b"\n", b"\r\n")
    assert pattern.fullmatch(mixed) is None  # one COPY reads one kind of line end
    # a column the kind does not name: not COPYed typed at all
    assert (
        bulk.plain_line_pattern(
            KINDS["call"], CsvLayout(names=[*PLAIN_COLUMNS, ""], delimiter=",", data_offset=0), "UTC"
        )
        is None
    )
