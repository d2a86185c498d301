"""A smoke run of the province-year benchmark (bench/province_year.py) at a tiny size: one city, two days.

It proves the benchmark works end to end — its generated daily files are accepted whole by ingest's
``POST /batches``, every scoring run's values equal the hand-written SQL's, the storage, measures-API and
archive figures are taken — not any figure of it (those come from the runs by hand in docs/performance.md).

It takes 25–50 s on the shared 2-core machine (mostly PostgreSQL under the other sessions' load), more than the
suite's budget for one test, so it runs only with ``HOTLINE_BENCH_SMOKE=1``:

    HOTLINE_BENCH_SMOKE=1 .venv/bin/pytest tests/bench -q
"""

from __future__ import annotations

import json
import os

import pytest

from bench import province_year


@pytest.mark.skipif(not os.environ.get("HOTLINE_BENCH_SMOKE"), reason="25–50 s: set HOTLINE_BENCH_SMOKE=1 to run it")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_province_year_smoke_run(server_url, tmp_path):
    out = tmp_path / "figures.json"
    result = province_year.main(
        ["--cities", "1", "--days", "2", "--scale", "0.0002", "--no-portal", "--no-curve", "--repeat", "1", "--api-repeats", "2",
         "--server", server_url, "--out", str(out), "--charts", str(tmp_path)]
    )  # fmt: skip
    assert json.loads(out.read_text())["units"] == result["units"] == 146  # province + one city's tree
    load = result["load"]
    # every day's three files loaded whole: the stored counts are the scaled year's, day by day
    assert load["stored"] == {"call": 7_200, "work_order": 2_400, "rating": 1_600}
    assert [(f["day"], f["kind"]) for f in load["files"]] == [
        (d, k) for d in (0, 1) for k in ("call", "work_order", "rating")
    ]
    assert all(f["ingest_s"] > 0 and f["copy_s"] > 0 for f in load["files"])  # both days are paired with a COPY
    assert set(load["pairs"]) == {f"{k}.{p}" for k in ("call", "work_order", "rating") for p in ("start", "end")}
    # the runs: every configuration ran, each unit's every indicator checked against the SQL
    assert [r["label"] for r in result["runs"]][:2] == [
        "comprehensive monthly, every unit",
        "special annual, every unit",
    ]
    for run in result["runs"]:
        assert run["values_checked"] >= run["units"] * 40
        assert run["run_s"] > 0 and run["sql_s"] > 0
    storage = result["storage"]
    assert storage["raw"]["call"]["records"] == 7_200 and storage["raw"]["call"]["heap_bytes"] > 0
    assert storage["daily_measure"]["rows"] > 0 and storage["database_bytes"] > 0
    assert [m["rows"] for m in result["measures_api"]] == [1, 1, 2, 145]
    archive = result["archive"]
    assert archive["rows"] == 11_200 and archive["dump_bytes"] > 0  # January: both days of the three kinds
    assert {p.name for p in tmp_path.glob("*.png")} == {"province_year_ingest.png", "province_year_runs.png"}
