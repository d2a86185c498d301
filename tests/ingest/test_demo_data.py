"""The demo's real data files load through the batch path with the shipped mappings, once."""

from __future__ import annotations

import csv
from importlib import resources

from sqlalchemy import text

from hotline.kit.db import Database
from tests.demo_data import load_demo_records, load_demo_units

DATA = resources.files("services.ingest").joinpath("demo/data")


def _bank_rows() -> list[dict]:
    with DATA.joinpath("bank_calls_1999-02_every8th.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


async def test_demo_records_load_with_the_shipped_mappings_and_a_reload_changes_nothing(fresh_database):
    url = await fresh_database("hotline_demo_records")
    await load_demo_units(url)
    first = await load_demo_records(url)
    bank = first["bank_calls_1999-02_every8th.tsv"]
    rows = _bank_rows()
    assert bank["read"] == len(rows) == 4168
    assert bank["valid"] == 4167  # one call has a negative IVR time (vru_time -52) in the source itself
    boston = first["boston311_closed_cases_2500.csv"]
    assert boston["read"] == 2500 and boston["valid"] == 2500
    board = first["gov_message_board_ids_times.csv"]
    assert board["read"] == 2816 and board["valid"] == 2816  # incl. the reply time without a clock time
    second = await load_demo_records(url)
    for name, counts in second.items():
        assert counts["new"] == 0 and counts["corrected"] == 0
        assert counts["duplicate"] == first[name]["valid"] - first[name]["repeatedInFile"], name
    database = Database.from_url(url)
    try:
        async with database.session() as session:
            problems = (await session.execute(text(
                "SELECT b.filename, p.row_no, p.field, p.value, p.reason FROM ingest.batch_problem p "
                "JOIN ingest.batch b ON b.id = p.batch_id ORDER BY 1, 2 LIMIT 40"))).all()  # fmt: skip
            answered = await session.scalar(text(
                "SELECT sum(\"calls.answered\") FROM ingest.daily_measure WHERE unit_id = 'GD'"))  # fmt: skip
            stored_answered = await session.scalar(
                text("SELECT count(*) FROM ingest.raw_call WHERE outcome = 'answered'")
            )
            on_time = await session.scalar(text(
                "SELECT sum(\"orders.closed_on_time\") FROM ingest.daily_measure WHERE unit_id = 'GD-GZ'"))  # fmt: skip
            stored_on_time = await session.scalar(text(
                "SELECT count(*) FROM ingest.raw_work_order WHERE source = 'boston-311' AND "
                "coalesce(on_time, closed_at <= due_at)"))  # fmt: skip
    finally:
        await database.dispose()
    assert problems == [
        ("bank_calls_1999-02_every8th.tsv", 642, "ivr_seconds", "-52", "must be ≥ 0"),
        ("bank_calls_1999-02_every8th.tsv", 642, "ivr_seconds", "-52", "must be ≥ 0"),  # and once more on reload
    ]
    assert answered == stored_answered > 3000
    assert on_time == stored_on_time > 2000
