"""Province-year benchmark (run by hand; a tiny smoke run is in the suite): one province's year, loaded as daily files.

    flock /tmp/hotline-bench.lock .venv/bin/python bench/province_year.py [--scale 1.0] [--days 365] [--cities 21]
        [--repeat 3] [--no-portal] [--seconds 5] [--clients 8] [--out bench/results/province_year_<scale>.json]
        [--charts docs/images] [--server postgresql://postgres@127.0.0.1:5432/postgres]
    .venv/bin/python bench/province_year.py --charts-only RESULT.json [RESULT.json ...] --charts docs/images

At ``--scale 1`` a year of one province (issue 20, point 3): 21 cities, each with its hotline body, 4 districts of
5 sub-district offices, 30 departments, 6 agent teams of 14 agents (3,046 units in all), and 36,000,000 calls,
12,000,000 work orders and 8,000,000 ratings over 365 days of 2025 (weekends lighter; calls and orders spread over
the cities by population). ``--scale`` multiplies the records only, never the units; ``--days`` and ``--cities``
shorten the year and the tree (for the smoke test).

1. A throwaway database built by the migrations; the unit tree registered through ingest's registration code.
2. The year, day by day: each day's three files (calls, work orders, ratings — CSV in the canonical format, made in
   memory by this process) are sent to ingest's real ``POST /batches`` (the ingest FastAPI app in-process over ASGI,
   an admin token, ``covers=GD`` and the day as the declared period, as a province's daily export would). Every
   file's time and the rows of its kind already stored are kept: the growth curve of ingest cost against stored
   size. On the first three and the last three days, a bare ``COPY`` of the same bytes into an unindexed table of
   the same columns runs right before the ingest (side by side): the ratio at the start and at the end of the year.
3. Storage: raw tables (heap, indexes) and daily measures per million records, and the database's total size.
4. Scoring: scoring's real code (``runs.start_run`` / ``queue_recompute`` and the worker's job; the measures fetched
   through ingest's real ``POST /measures/query``) with a 40-indicator scheme over **every unit** of the province
   (an explicit cohort of all 3,046 units): a comprehensive run of the last month and a special run of the year
   (monthly series); beside each, one hand-written SQL query computing the same figures from
   ``ingest.daily_measure`` (the special one also per month). Medians of ``--repeat``; every unit's values are
   checked equal to the SQL's. Further runs (one city's units; month, quarter and year) give the curve of run time
   against units × days.
5. The measures API for one city's year (``POST /measures/query``, in-process ASGI): total, by month, by day, and
   the city's every unit by month; p50 of 20 requests each.
6. Unless ``--no-portal``: the four services and the gateway started on the benchmark's database (``hotline``'s
   ``Stack``), a provincial special evaluation of the 21 cities (2025-Q1) run and published, one city's appeal,
   and the portal queries of ``bench/load_bench.py`` (ranking, city result, unit appeals) through the gateway and
   straight at the subgraph: req/s, p50, p99.
7. Archiving the oldest month. The system has no archive operation of its own (docs/operations.md describes one by
   hand), so this measures exactly that: ``ALTER TABLE … DETACH PARTITION`` of the month's partition of every raw
   table, ``pg_dump -Fc`` of the detached tables, and their ``DROP``.

The figures are printed and written as JSON (``--out``); charts are drawn with matplotlib into ``--charts``.
The machine is shared: compare ratios measured side by side, not seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from hotline.cli.database import DEFAULT_SERVER_URL, create_database, drop_database  # noqa: E402
from hotline.cli.stack import migrate_all  # noqa: E402
from hotline.kit.auth import Principal, Role, mint_token  # noqa: E402
from hotline.kit.settings import DEVELOPMENT_JWT_SECRET  # noqa: E402

YEAR = 2025
FULL = {"call": 36_000_000, "work_order": 12_000_000, "rating": 8_000_000}
SECRET = DEVELOPMENT_JWT_SECRET
ADMIN = Principal(subject="province-year-bench", unit_id="GD", roles=frozenset({Role.ADMIN}))

# The 21 prefecture-level cities of Guangdong: code, Chinese and English name, population in millions (2020 census,
# rounded). The first five are the demo's cities, with the demo's ids (load_bench's portal queries name GD-GZ).
CITIES = [
    ("GZ", "广州市", "Guangzhou", 18.7), ("SZ", "深圳市", "Shenzhen", 17.6), ("FS", "佛山市", "Foshan", 9.5),
    ("DG", "东莞市", "Dongguan", 10.5), ("ZH", "珠海市", "Zhuhai", 2.4), ("ST", "汕头市", "Shantou", 5.5),
    ("SG", "韶关市", "Shaoguan", 2.9), ("ZJ", "湛江市", "Zhanjiang", 7.0), ("ZQ", "肇庆市", "Zhaoqing", 4.1),
    ("JM", "江门市", "Jiangmen", 4.8), ("MM", "茂名市", "Maoming", 6.2), ("HZ", "惠州市", "Huizhou", 6.0),
    ("MZ", "梅州市", "Meizhou", 3.9), ("SW", "汕尾市", "Shanwei", 2.7), ("HY", "河源市", "Heyuan", 2.8),
    ("YJ", "阳江市", "Yangjiang", 2.6), ("QY", "清远市", "Qingyuan", 4.0), ("ZS", "中山市", "Zhongshan", 4.4),
    ("CZ", "潮州市", "Chaozhou", 2.6), ("JY", "揭阳市", "Jieyang", 5.6), ("YF", "云浮市", "Yunfu", 2.4),
]  # fmt: skip
DISTRICTS, SUBDISTRICTS, DEPARTMENTS, TEAMS, AGENTS = 4, 5, 30, 6, 14

# The measures the scheme's 40 indicators use (all made by the three record kinds loaded), and (numerator,
# denominator) index pairs of rates and averages over them.
MEASURES = [
    "calls.offered", "calls.answered", "calls.answered_within_20s", "calls.abandoned", "calls.answer_wait_seconds",
    "calls.handle_seconds", "calls.complaints", "calls.repeat", "orders.received", "orders.dispatched",
    "orders.dispatched_on_time", "orders.assigned", "orders.closed", "orders.closed_on_time", "orders.with_due",
    "orders.returned_for_redo", "surveys.rated", "surveys.satisfied", "surveys.outcome_rated",
    "surveys.outcome_satisfied",
]  # fmt: skip
PAIRS = [(1, 0), (2, 0), (3, 0), (4, 1), (5, 1), (7, 0), (9, 8), (10, 9), (12, 11), (13, 14), (15, 12), (17, 16),
         (19, 18)]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# The unit tree


def unit_tree(cities: int) -> list[dict]:
    rows = [dict(id="GD", parent_id="", kind="province_body", name_zh="广东省", name_en="Guangdong Province",
                 population=126_012_510)]  # fmt: skip
    for code, zh, en, pop in CITIES[:cities]:
        city = f"GD-{code}"
        rows.append(dict(id=city, parent_id="GD", kind="city_body", name_zh=zh, name_en=en, population=int(pop * 1e6)))
        for d in range(1, DISTRICTS + 1):
            district = f"{code}-D{d}"
            rows.append(dict(id=district, parent_id=city, kind="district", name_zh=f"{zh}第{d}区",
                             name_en=f"{en} district {d}", population=int(pop * 1e6 / (DISTRICTS + 2))))  # fmt: skip
            for s in range(1, SUBDISTRICTS + 1):
                rows.append(dict(id=f"{district}-S{s}", parent_id=district, kind="undertaking_unit",
                                 name_zh=f"{zh}第{d}区第{s}街道办事处", name_en=f"{en} district {d} sub-district {s}"))  # fmt: skip
        for n in range(1, DEPARTMENTS + 1):
            rows.append(dict(id=f"{code}-DEPT{n:02d}", parent_id=city, kind="undertaking_unit",
                             name_zh=f"{zh}第{n}职能部门", name_en=f"{en} department {n}"))  # fmt: skip
        for t in range(1, TEAMS + 1):
            team = f"{code}-T{t}"
            rows.append(dict(id=team, parent_id=city, kind="agent_team", name_zh=f"{zh}12345热线坐席{t}组",
                             name_en=f"{en} 12345 agent team {t}"))  # fmt: skip
            for a in range(1, AGENTS + 1):
                rows.append(dict(id=f"{team}-A{a:03d}", parent_id=team, kind="agent", name_zh=f"{zh}坐席{t}-{a}",
                                 name_en=f"{en} agent {t}-{a}"))  # fmt: skip
    for row in rows:
        row.setdefault("population", "")
        row.update(active="true", valid_from="2020-01-01", valid_to="")
    return rows


async def register(url: str, rows: list[dict]) -> int:
    """Through ingest's own registration code (as ``POST /units/bulk`` and the demo loader do)."""
    import csv

    from hotline.kit.db import Database
    from services.ingest.registration import parse_unit_file, register_units

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    parsed = parse_unit_file(out.getvalue().encode(), filename="units.csv", content_type="text/csv")
    database = Database.from_url(url)
    try:
        async with database.unit_of_work() as session:
            report = await register_units(session, ADMIN, parsed)
    finally:
        await database.dispose()
    if report.count("rejected"):
        raise RuntimeError(f"units rejected: {[(o.row, o.problems) for o in report.outcomes if o.problems][:3]}")
    return report.count("created")


# ---------------------------------------------------------------------------------------------------------------
# The daily files

DATES = [f"{date(YEAR, 1, 1) + timedelta(d):%Y-%m-%d} " for d in range(400)]
CLOCK = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


def ts(second: int) -> str:
    """Local time ``second`` seconds after the year's start, as the canonical format's naive timestamp."""
    return DATES[second // 86400] + CLOCK[second % 86400]


def day_counts(total: int, days: int) -> list[int]:
    """``total`` records over the days: weekends at 70 %, a mild seasonal swing; exact by largest remainder."""
    weights = []
    for d in range(days):
        weekday = (date(YEAR, 1, 1) + timedelta(d)).weekday()
        weights.append((0.7 if weekday >= 5 else 1.0) * (1 + 0.1 * math.sin(2 * math.pi * d / 365)))
    shares = [total * w / sum(weights) for w in weights]
    counts = [int(s) for s in shares]
    for d in sorted(range(days), key=lambda d: counts[d] - shares[d])[: total - sum(counts)]:
        counts[d] += 1
    return counts


class Model:
    """Who the records are for: agents and departments drawn by their city's population, times of day by the
    hotline's hours (busy 9–12 and 14–18, quiet at night)."""

    def __init__(self, cities: int, scale: float, seed: int = 2025) -> None:
        self.rng = random.Random(seed)
        chosen = CITIES[:cities]
        weight = sum(c[3] for c in chosen)
        self.agents: list[str] = []
        self.handlers: list[tuple[str, str]] = []  # (city body, handling unit)
        for code, _, _, pop in chosen:
            share = max(1, round(2000 * pop / weight))
            agents = [f"{code}-T{t}-A{a:03d}" for t in range(1, TEAMS + 1) for a in range(1, AGENTS + 1)]
            handlers = [f"{code}-DEPT{n:02d}" for n in range(1, DEPARTMENTS + 1)]
            handlers += [f"{code}-D{d}-S{s}" for d in range(1, DISTRICTS + 1) for s in range(1, SUBDISTRICTS + 1)]
            self.agents += [agents[i % len(agents)] for i in range(share)]
            self.handlers += [(f"GD-{code}", handlers[i % len(handlers)]) for i in range(share)]
        hour_weight = [0.2] * 7 + [1, 2, 3, 3, 3, 1.5, 2, 3, 3, 3, 2.5, 1.5, 1, 1, 0.6, 0.4, 0.3]
        seconds = []
        for _ in range(20_000):
            hour = self.rng.choices(range(24), hour_weight)[0]
            seconds.append(hour * 3600 + self.rng.randrange(3600))
        self.seconds = seconds
        self.callers = max(1000, int(10_000_000 * scale))  # distinct hashed callers over the year
        self.orders_per_day = max(1, int(FULL["work_order"] * scale / 365 * 0.9))
        self.order_links = True

    def second(self) -> int:
        return self.seconds[int(self.rng.random() * len(self.seconds))]


CALL_HEADER = ("record_id,unit_id,started_at,direction,outcome,ivr_seconds,queue_seconds,ring_seconds,talk_seconds,"
               "handle_seconds,answered_at,ended_at,transferred,resolved_first_contact,complaint,caller_hash")  # fmt: skip
ORDER_HEADER = ("record_id,unit_id,received_at,channel,category,handled_directly,handling_unit_id,dispatched_at,"
                "first_contact_at,due_at,replied_at,closed_at,returned_for_redo,supervised,status")  # fmt: skip
RATING_HEADER = "record_id,unit_id,rated_at,target,rating,reasons,verified,followed_up,work_order_id"
HEADERS = {"call": CALL_HEADER, "work_order": ORDER_HEADER, "rating": RATING_HEADER}
CHANNEL_CHOICES = ["phone"] * 12 + ["app", "mini_program", "web", "sms", "provincial_platform", "message_board"]
CATEGORIES = ["housing", "transport", "water", "market", "labour", "urban_management", "environment", "power"]
REASONS = ("repeated_unhandled", "result_unexpected", "result_mismatch", "too_slow", "attitude")


def calls_file(model: Model, day: int, n: int) -> bytes:
    rng, base, agents, callers = model.rng, day * 86400, model.agents, model.callers
    lines = [CALL_HEADER]
    for i in range(n):
        start = base + model.second()
        unit = agents[int(rng.random() * len(agents))]
        ivr = 5 + int(rng.random() * 55)
        r = rng.random()
        caller = f"h{int(rng.random() * callers)}"
        if r < 0.80:
            queue, ring, talk = int(rng.random() * 90), 1 + int(rng.random() * 7), 20 + int(rng.random() * 580)
            answered = start + ivr + queue + ring
            fcr = "true" if rng.random() < 0.85 else "false"
            lines.append(f"c{day:03d}-{i:06d},{unit},{ts(start)},inbound,answered,{ivr},{queue},{ring},{talk},"
                         f"{talk + 30},{ts(answered)},{ts(answered + talk + 30)},"
                         f"{'true' if rng.random() < 0.05 else 'false'},{fcr},"
                         f"{'true' if rng.random() < 0.005 else 'false'},{caller}")  # fmt: skip
        elif r < 0.94:
            queue = 5 + int(rng.random() * 120)
            lines.append(f"c{day:03d}-{i:06d},{unit},{ts(start)},inbound,abandoned,{ivr},{queue},,,,,"
                         f"{ts(start + ivr + queue)},false,,false,{caller}")  # fmt: skip
        else:
            lines.append(f"c{day:03d}-{i:06d},{unit},{ts(start)},inbound,ivr_resolved,{ivr},,,,,,"
                         f"{ts(start + ivr)},false,,false,{caller}")  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def orders_file(model: Model, day: int, n: int) -> bytes:
    rng, base, handlers = model.rng, day * 86400, model.handlers
    lines = [ORDER_HEADER]
    for i in range(n):
        received = base + model.second()
        city, handler = handlers[int(rng.random() * len(handlers))]
        channel = CHANNEL_CHOICES[int(rng.random() * len(CHANNEL_CHOICES))]
        category = CATEGORIES[int(rng.random() * len(CATEGORIES))]
        due = received + 5 * 86400
        if rng.random() < 0.12:  # handled directly by the hotline body
            closed = received + 600 + int(rng.random() * 3000)
            lines.append(f"o{day:03d}-{i:06d},{city},{ts(received)},{channel},{category},true,,,,{ts(due)},"
                         f"{ts(closed)},{ts(closed)},0,false,closed")  # fmt: skip
            continue
        dispatched = received + 600 + int(rng.random() * (3 if rng.random() < 0.9 else 12) * 3600)
        contact = dispatched + 1800 + int(rng.random() * 40 * 3600)
        if rng.random() < 0.93:
            closed = dispatched + 3600 + int(rng.random() * 7 * 86400)
            redo = 1 if rng.random() < 0.04 else 0
            lines.append(f"o{day:03d}-{i:06d},{city},{ts(received)},{channel},{category},false,{handler},"
                         f"{ts(dispatched)},{ts(contact)},{ts(due)},{ts(closed - 1800)},{ts(closed)},{redo},"
                         f"{'true' if rng.random() < 0.03 else 'false'},closed")  # fmt: skip
        else:
            lines.append(f"o{day:03d}-{i:06d},{city},{ts(received)},{channel},{category},false,{handler},"
                         f"{ts(dispatched)},{ts(contact)},{ts(due)},,,0,false,dispatched")  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def ratings_file(model: Model, day: int, n: int) -> bytes:
    rng, base, agents, handlers = model.rng, day * 86400, model.agents, model.handlers
    lines = [RATING_HEADER]
    for i in range(n):
        rated = base + model.second()
        r = rng.random()
        rating = 5 if r < 0.55 else 4 if r < 0.80 else 3 if r < 0.88 else 2 if r < 0.94 else 1
        reasons = REASONS[int(rng.random() * len(REASONS))] if rating <= 2 else ""
        checked = ("true" if rng.random() < 0.8 else "false") if rating <= 2 else ""
        if rng.random() < 0.5:
            unit = agents[int(rng.random() * len(agents))]
            lines.append(f"r{day:03d}-{i:06d},{unit},{ts(rated)},service,{rating},{reasons},{checked},{checked},")
        else:
            unit = handlers[int(rng.random() * len(handlers))][1]
            # the rated order: one received in the week before (``--no-order-links``: none named)
            rated_order = max(0, day - 1 - int(rng.random() * 7))
            order = f"o{rated_order:03d}-{int(rng.random() * model.orders_per_day):06d}" if model.order_links else ""
            lines.append(
                f"r{day:03d}-{i:06d},{unit},{ts(rated)},outcome,{rating},{reasons},{checked},{checked},{order}"
            )
    return ("\n".join(lines) + "\n").encode()


MAKERS = {"call": calls_file, "work_order": orders_file, "rating": ratings_file}


# ---------------------------------------------------------------------------------------------------------------
# Loading the year


def copy_table_sql(kind: str, table: str) -> str:
    from services.ingest.records import KINDS, SQL_TYPES

    record = KINDS[kind]
    types = {name: record.field(name).type for name in HEADERS[kind].split(",")}
    # a list in CSV (``a;b``) is text to COPY; ingest parses it into text[]
    columns = [f"{name} {'text' if t == 'enum_list' else SQL_TYPES[t]}" for name, t in types.items()]
    return f"CREATE TABLE public.{table} ({', '.join(columns)})"


async def bare_copy(conn: asyncpg.Connection, kind: str, body: bytes) -> float:
    """PostgreSQL's own COPY of the file into an unindexed table of the same columns (dropped after)."""
    await conn.execute(copy_table_sql(kind, "copy_baseline"))
    began = time.perf_counter()
    await conn.copy_to_table("copy_baseline", source=io.BytesIO(body), format="csv", header=True)
    elapsed = time.perf_counter() - began
    await conn.execute("DROP TABLE public.copy_baseline")
    return elapsed


async def load_year(
    args, url: str, client: httpx.AsyncClient, conn: asyncpg.Connection, resume_at: int | None = None, stored=None
) -> dict:
    """The year's daily files; with ``resume_at`` (a resumed run) only three more days from that day on, each paired
    with a COPY: the end-of-load figures of a run stopped before its last days."""
    model = Model(args.cities, args.scale)
    model.order_links = not args.no_order_links
    totals = {k: round(v * args.scale) for k, v in FULL.items()}
    counts = {k: day_counts(totals[k], args.days) for k in FULL}
    headers = {"authorization": f"Bearer {mint_token(secret=SECRET, unit_id='GD', roles=['admin'])}"}
    paired_days = set(range(min(3, args.days))) | set(range(max(0, args.days - 3), args.days))
    days = range(args.days)
    if resume_at is not None:
        days = paired_days = range(resume_at, min(resume_at + 3, 365))
        counts = {k: day_counts(totals[k], args.days) + [counts[k][-1]] * 365 for k in FULL}
    stored = dict(stored or dict.fromkeys(FULL, 0))
    files, pairs = [], []
    generate_s = 0.0
    began = time.perf_counter()
    for day in days:
        iso = (date(YEAR, 1, 1) + timedelta(day)).isoformat()
        for kind in FULL:
            t = time.perf_counter()
            body = MAKERS[kind](model, day, counts[kind][day])
            generate_s += time.perf_counter() - t
            copy_s = await bare_copy(conn, kind, body) if day in paired_days else None
            params = {"kind": kind, "source": f"gd-{kind}", "filename": f"{kind}-{iso}.csv", "covers": "GD",
                      "period_from": iso, "period_to": iso}  # fmt: skip
            t = time.perf_counter()
            response = await client.post("/batches", params=params, content=body, headers=headers)
            ingest_s = time.perf_counter() - t
            report = response.json()
            if response.status_code != 200 or report.get("status") != "done":
                raise RuntimeError(f"{kind} {iso}: {response.status_code} {str(report)[:600]}")
            c = report["counts"]
            if c.get("new") != counts[kind][day] or c.get("rejected"):
                raise RuntimeError(f"{kind} {iso}: expected {counts[kind][day]} new rows, got {c}")
            row = {"day": day, "kind": kind, "rows": counts[kind][day], "bytes": len(body), "stored_before": stored[kind],
                   "stored_all_before": sum(stored.values()),
                "orders_stored": stored["work_order"], "ingest_s": round(ingest_s, 4)}  # fmt: skip
            if copy_s is not None:
                row["copy_s"] = round(copy_s, 4)
                row["phases"] = report.get("timingsSeconds")  # ingest's own split of the paired files
                pairs.append(row)
            files.append(row)
            stored[kind] += counts[kind][day]
        if day % 30 == 29:  # the files so far, should the run be stopped before the year is loaded
            save(args, {"partial": f"{day + 1} days loaded", "load": {"files": files, "stored": stored}})
        if day % 10 == 9 or day == args.days - 1:
            last = [f for f in files if f["day"] == day]
            print(f"  day {day + 1:3d}/{args.days}: stored {sum(stored.values()):>11,}; this day "
                  + ", ".join(f"{f['kind']} {f['rows']:,} in {f['ingest_s']:.2f} s" for f in last)
                  + f"; elapsed {time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
    total_s = time.perf_counter() - began
    summary = {}
    for kind in FULL:
        ends = range(args.days - 3, args.days) if resume_at is None else paired_days
        for label, span in (("start", range(0, 3) if resume_at is None else ()), ("end", ends)):
            chosen = [p for p in pairs if p["kind"] == kind and p["day"] in span]
            if chosen:
                ratios = [p["copy_s"] / p["ingest_s"] for p in chosen]
                summary[f"{kind}.{label}"] = {
                    "days": [p["day"] + 1 for p in chosen], "rows": statistics.median(p["rows"] for p in chosen),
                    "stored_before": statistics.median(p["stored_all_before"] for p in chosen),
                    "copy_s": statistics.median(p["copy_s"] for p in chosen),
                    "ingest_s": statistics.median(p["ingest_s"] for p in chosen),
                    "ratio": statistics.median(ratios), "ratios": [round(r, 3) for r in ratios],
                }  # fmt: skip
    ingest_only = sum(f["ingest_s"] for f in files)
    return {"totals": totals, "files": files, "pairs": summary, "wall_s": total_s, "generate_s": generate_s,
            "ingest_s": ingest_only, "stored": stored}  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Storage


async def storage(conn: asyncpg.Connection, name: str, stored: dict[str, int]) -> dict:
    out: dict = {"raw": {}}
    for kind in FULL:
        row = await conn.fetchrow(
            "SELECT coalesce(sum(pg_table_size(c.oid)), 0) AS heap, coalesce(sum(pg_indexes_size(c.oid)), 0) AS idx, "
            "count(*) AS partitions FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = $1::regclass",
            f"ingest.raw_{kind}",
        )
        out["raw"][kind] = {"records": stored[kind], "heap_bytes": row["heap"], "index_bytes": row["idx"],
                            "partitions": row["partitions"]}  # fmt: skip
    dm = await conn.fetchrow(
        "SELECT pg_table_size('ingest.daily_measure') AS heap, pg_indexes_size('ingest.daily_measure') AS idx, "
        "(SELECT count(*) FROM ingest.daily_measure) AS rows_"
    )
    out["daily_measure"] = {"rows": dm["rows_"], "heap_bytes": dm["heap"], "index_bytes": dm["idx"]}
    out["ingest_schema_bytes"] = await conn.fetchval(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'ingest' AND c.relkind IN ('r', 'm')"
    )
    out["database_bytes"] = await conn.fetchval("SELECT pg_database_size($1)", name)
    records = sum(stored.values()) or 1
    raw_heap = sum(r["heap_bytes"] for r in out["raw"].values())
    raw_idx = sum(r["index_bytes"] for r in out["raw"].values())
    out["per_million_records"] = {
        "raw_heap_mb": raw_heap / records,
        "raw_index_mb": raw_idx / records,
        "daily_measure_mb": (dm["heap"] + dm["idx"]) / records,
        "database_mb": out["database_bytes"] / records,
    }  # fmt: skip  (bytes per record = MB per million records)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Scoring: runs over every unit vs hand-written SQL


def indicator(i: int) -> dict:
    num, den = PAIRS[i % len(PAIRS)]
    rule = [
        ({"type": "ratio_to_reference"}, "higher_better"),
        ({"type": "ratio_to_reference"}, "lower_better"),
        ({"type": "threshold", "target": 50}, "higher_better"),
        ({"type": "linear_band", "floor": 10, "target": 90}, "higher_better"),
        ({"type": "target_band", "low": 40, "high": 60, "tolerance": 30}, "target_band"),
    ][i % 5]
    return {
        "indicator": {"code": f"ind_{i:02d}", "version": 1, "name_zh": f"指标{i}", "name_en": f"Indicator {i}",
                      "clause": "6", "dimension": ["service_response", "efficiency", "satisfaction", "resolution"][i % 4],
                      "unit": "percent", "direction": rule[1], "formula": f"{MEASURES[num]} / {MEASURES[den]} * 100",
                      "method": "system"},
        "points": 2.5, "rule": rule[0], "reference": {"policy": "best_in_cohort"},
    }  # fmt: skip


def scheme(scheme_id: str, kind: str, granularity: str, units: list[str], indicators: int = 40) -> dict:
    return {
        "id": scheme_id, "version": 1, "code": scheme_id.upper(), "name_zh": "省级年度基准", "name_en": scheme_id,
        "kind": kind, "status": "published", "organizer": "GD", "cohort": {"units": units},
        "period": {"granularity": granularity}, "na_policy": "rescale", "expert_aggregation": "mean",
        "rankings_public": False, "appeal": {"window_days": 7},
        "grade_bands": [{"code": "excellent", "name_zh": "优秀", "min": 90}, {"code": "qualified", "name_zh": "合格", "min": 70},
                        {"code": "needs_improvement", "name_zh": "待改进", "min": 0}],
        "items": [indicator(i) for i in range(indicators)],
    }  # fmt: skip


def hand_written_sql(indicators: int, monthly: bool) -> str:
    """Every indicator value per unit over [$2, $3] (and per unit and month when ``monthly``), for the units $1."""
    from services.ingest.aggregation import quote

    cols = [quote(m) for m in MEASURES]
    exprs = []
    for i in range(indicators):
        num, den = PAIRS[i % len(PAIRS)]
        exprs.append(f"sum({cols[num]})::float8 / nullif(sum({cols[den]}), 0) * 100 AS ind_{i:02d}")
    month = "to_char(day, 'YYYY-MM')"
    group = f"GROUPING SETS ((unit_id), (unit_id, {month}))" if monthly else "unit_id"
    return (
        f"SELECT unit_id, {month if monthly else 'NULL::text'} AS month, {', '.join(exprs)} "
        f"FROM ingest.daily_measure WHERE unit_id = ANY($1::text[]) AND day BETWEEN $2 AND $3 GROUP BY {group}"
    )


class _Phases(logging.Handler):
    """The worker's own split of each job: fetched / computed / stored seconds."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.splits: list[tuple[float, float, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("run %s: %d units fetched"):
            self.splits.append(tuple(record.args[2:5]))


async def scoring_runs(args, url: str, ingest_app, conn: asyncpg.Connection, unit_rows: list[dict]) -> list[dict]:
    from hotline.kit.db import Database
    from hotline.kit.scope import Scope
    from hotline.kit.services import ServiceClients
    from hotline.kit.settings import Settings
    from services.scoring import runs, worker
    from services.scoring.inputs import evaluate
    from services.scoring.models import EvaluationRun, RunRevision

    phases = _Phases()
    worker_log = logging.getLogger("hotline.scoring.worker")
    saved = worker_log.level, worker_log.propagate
    worker_log.addHandler(phases)
    worker_log.setLevel(logging.INFO)
    worker_log.propagate = False
    # scoring's copy of the directory (DirectorySync fills it from ingest's snapshot in the running system)
    await conn.execute(
        "INSERT INTO scoring.unit_ref (id, parent_id, path, kind, name_zh, name_en, active, valid_from) "
        "SELECT id, parent_id, path, kind, name_zh, name_en, active, valid_from FROM ingest.unit ON CONFLICT DO NOTHING"
    )
    every = [r["id"] for r in unit_rows]
    city = [r["id"] for r in unit_rows if r["id"] == "GD-GZ" or r["id"].startswith("GZ-")]
    last = date(YEAR, 1, 1) + timedelta(args.days - 1)
    month = f"{last:%Y-%m}"
    quarter = f"{last.year}-Q{(last.month - 1) // 3 + 1}"
    configs = [  # (label, cohort label, units, kind, period kind, period value)
        ("comprehensive monthly, every unit", "province", every, "comprehensive", "month", month),
        ("special annual, every unit", "province", every, "special", "year", str(YEAR)),
        ("comprehensive quarterly, every unit", "province", every, "comprehensive", "quarter", quarter),
        ("comprehensive annual, every unit", "province", every, "comprehensive", "year", str(YEAR)),
        ("comprehensive monthly, one city's units", "city", city, "comprehensive", "month", month),
        ("comprehensive annual, one city's units", "city", city, "comprehensive", "year", str(YEAR)),
    ]
    if args.no_curve:  # the two runs of the issue only
        configs = configs[:2]
    documents = {f"bench-{i}": scheme(f"bench-{i}", c[3], c[4], c[2], args.indicators) for i, c in enumerate(configs)}

    async def serve_scheme(request: httpx.Request) -> httpx.Response:
        scheme_id = request.url.path.split("/")[2]
        return httpx.Response(200, json=documents[scheme_id])

    settings = Settings(env="test", database_url=url, jwt_secret=SECRET)
    services = ServiceClients(settings, caller="scoring", transports={
        "ingest": httpx.ASGITransport(app=ingest_app), "indicators": httpx.MockTransport(serve_scheme)})  # fmt: skip
    database = Database.from_settings(settings)
    principal = Principal(subject="bench", unit_id="GD", roles=frozenset({Role.ORGANIZER}))
    out = []
    try:
        for i, (label, cohort, units, kind, period_kind, period_value) in enumerate(configs):
            from services.scoring.periods import parse_period

            period = parse_period(period_kind, period_value)
            monthly = kind == "special"
            sql = hand_written_sql(args.indicators, monthly)
            sql_args = (units, period.start, period.end)
            await conn.fetch(sql, *sql_args)  # warm the cache for both sides alike
            sql_times, run_times = [], []
            phases.splits.clear()
            run = None
            for attempt in range(args.repeat):
                t = time.perf_counter()
                rows = await conn.fetch(sql, *sql_args)
                sql_times.append(time.perf_counter() - t)
                t = time.perf_counter()
                async with database.unit_of_work() as session:
                    if run is None:
                        started = await runs.start_run(session, services, principal, Scope("GD", "GD"),
                                                       scheme_id=f"bench-{i}", version=1, period_kind=period_kind,
                                                       period_value=period_value)  # fmt: skip
                        assert not started.problems, started.problems
                        run = started.run
                    else:
                        run = await runs.organizer_run(session, Scope("GD", "GD"), str(run.id))
                        assert not await runs.queue_recompute(session, principal, run, f"bench repeat {attempt}")
                assert await worker.process_next(database, services)
                run_times.append(time.perf_counter() - t)
            async with database.session() as session:
                stored = await session.get(RunRevision, (run.id, args.repeat))
                inputs, digest = stored.inputs, stored.outcome_sha256
                status = (await session.get(EvaluationRun, run.id)).status
            assert status == "done", status
            t = time.perf_counter()
            outcome, again = evaluate(documents[f"bench-{i}"], inputs)
            engine_s = time.perf_counter() - t
            assert again == digest, "the stored digest does not reproduce"
            checked = check_values(outcome, rows, monthly)
            fetch_s, compute_s, store_s = (statistics.median(x) for x in zip(*phases.splits, strict=True))
            days = (period.end - period.start).days + 1
            result = {
                "label": label, "cohort": cohort, "units": len(units), "days": days, "kind": kind,
                "period": period_value, "sql_s": statistics.median(sql_times), "run_s": statistics.median(run_times),
                "sql_all": [round(x, 3) for x in sql_times], "run_all": [round(x, 3) for x in run_times],
                "fetch_s": fetch_s, "compute_s": compute_s, "store_s": store_s, "engine_s": engine_s,
                "values_checked": checked,
            }  # fmt: skip
            result["ratio"] = result["run_s"] / result["sql_s"]
            out.append(result)
            print(f"  {label:<42} {len(units):>5} units × {days:>3} days: SQL {result['sql_s']:.3f} s, run "
                  f"{result['run_s']:.3f} s (fetch {fetch_s:.2f} / compute {compute_s:.2f} / store {store_s:.2f}), "
                  f"run/SQL {result['ratio']:.2f}×; {checked:,} values equal", flush=True)  # fmt: skip
    finally:
        await services.aclose()
        await database.dispose()
        worker_log.removeHandler(phases)
        worker_log.setLevel(saved[0])
        worker_log.propagate = saved[1]
    return out


def check_values(outcome: dict, rows, monthly: bool) -> int:
    """Every unit's every indicator value (and monthly series value) equals the SQL's; returns how many."""
    totals = {r["unit_id"]: r for r in rows if r["month"] is None}
    months = {(r["unit_id"], r["month"]): r for r in rows if r["month"] is not None}
    checked = 0

    def same(mine, theirs) -> bool:
        if theirs is None:
            return mine is None
        return mine is not None and abs(mine - round(theirs, 4)) < 1e-3

    for unit in outcome["units"]:
        expected = totals.get(unit["unit"])  # a unit with no daily measure in the period has no SQL row
        for item in unit["indicators"]:
            code = item["indicator"]
            theirs = expected[code] if expected else None
            assert same(item["value"], theirs), ("the run and the SQL disagree", unit["unit"], item)
            checked += 1
            for label, value in item.get("series") or ():
                if monthly:
                    theirs = months.get((unit["unit"], label))
                    assert same(value, theirs[code] if theirs else None), ("monthly series", unit["unit"], label, item)
                    checked += 1
    return checked


# ---------------------------------------------------------------------------------------------------------------
# The measures API for a city's year


async def measures_api(args, client: httpx.AsyncClient, unit_rows: list[dict]) -> list[dict]:
    headers = {"authorization": f"Bearer {mint_token(secret=SECRET, unit_id='GD-GZ', roles=['viewer'])}"}
    city_units = [r["id"] for r in unit_rows if r["id"] == "GD-GZ" or r["id"].startswith("GZ-")]
    last = date(YEAR, 1, 1) + timedelta(args.days - 1)
    cases = [("the city, the year's total", ["GD-GZ"], "total"), ("the city, by month", ["GD-GZ"], "month"),
             ("the city, by day", ["GD-GZ"], "day"), (f"the city's {len(city_units)} units, by month", city_units, "month")]  # fmt: skip
    out = []
    for label, units, by in cases:
        body = {"units": units, "measures": MEASURES, "from": f"{YEAR}-01-01", "to": last.isoformat(), "by": by}
        times = []
        for attempt in range(args.api_repeats + 1):
            t = time.perf_counter()
            response = await client.post("/measures/query", json=body, headers=headers)
            elapsed = time.perf_counter() - t
            assert response.status_code == 200, response.text[:400]
            if attempt:  # the first warms the cache
                times.append(elapsed)
        answer = response.json()
        times.sort()
        result = {"label": label, "units": len(units), "by": by, "rows": len(answer["rows"]),
                  "bytes": len(response.content), "p50_ms": statistics.median(times) * 1000,
                  "p90_ms": times[int(len(times) * 0.9)] * 1000}  # fmt: skip
        out.append(result)
        print(f"  {label:<34} {result['rows']:>5} rows, {result['bytes'] / 1e3:8.1f} kB: p50 {result['p50_ms']:7.1f} ms,"
              f" p90 {result['p90_ms']:7.1f} ms", flush=True)  # fmt: skip
    return out


# ---------------------------------------------------------------------------------------------------------------
# The portal queries of bench/load_bench.py on the province-year's database


async def portal(args, url: str) -> dict:
    from bench import load_bench as lb
    from hotline.cli.stack import SERVICES, Stack

    os.environ.setdefault("HOTLINE_GATEWAY_RATE_LIMIT", "0")
    log_dir = Path(tempfile.mkdtemp(prefix="hotline-provinceyear-"))
    stack = Stack(database_url=url, log_dir=log_dir, jwt_secret=SECRET, env="development",
                  ports={s.name: lb.free_port() for s in SERVICES}, gateway_port=lb.free_port())  # fmt: skip
    out: dict = {"clients": args.clients, "seconds": args.seconds, "queries": []}
    try:
        t = time.perf_counter()
        await asyncio.to_thread(stack.start)
        out["stack_start_s"] = time.perf_counter() - t
        province = lb.token("GD", "organizer")
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=600) as gateway:
            payload = "ok problems { message } scheme { schemeId version }"
            created = (await lb.gql(gateway, f"mutation($b: JSON!) {{ createScheme(body: $b) {{ {payload} }} }}",
                                    {"b": lb.PROVINCE_SCHEME}, province))["createScheme"]  # fmt: skip
            assert created["ok"], created
            sid = created["scheme"]["schemeId"]
            published = await lb.gql(gateway, f"mutation($i: ID!) {{ publishScheme(schemeId: $i, version: 1) {{ {payload} }} }}",
                                      {"i": sid}, province)  # fmt: skip
            assert published["publishScheme"]["ok"], published
            t = time.perf_counter()
            run_input = {"schemeId": sid, "schemeVersion": 1, "periodKind": "QUARTER", "period": f"{YEAR}-Q1"}
            started = (await lb.gql(gateway, "mutation($i: StartRunInput!) { startRun(input: $i) { problems { path code message } run { id } } }",
                                    {"i": run_input}, province))["startRun"]  # fmt: skip
            assert not started["problems"], started
            run_id = started["run"]["id"]
            await lb.wait_run(gateway, run_id, province)
            out["city_run_s"] = time.perf_counter() - t
            await lb.gql(gateway, "mutation($i: ID!) { publishRun(runId: $i) { problems { path code message } } }",
                         {"i": run_id}, province)  # fmt: skip
            results = (await lb.gql(gateway, "query($i: ID!) { run(id: $i) { results(first: 30) { edges { node { id unitId } } } } }",
                                    {"i": run_id}, province))["run"]["results"]["edges"]  # fmt: skip
            city_result = next(e["node"]["id"] for e in results if e["node"]["unitId"] == "GD-GZ")
            filed = (await lb.gql(gateway, """mutation($r: ID!) { fileAppeal(resultId: $r, indicators: ["on_time_closure_rate"],
                     reasonCategory: WRONG_DATA, reason: "Orders closed on time were counted late", submit: true)
                     { ok problems { message } } }""", {"r": city_result}, lb.token("GD-GZ", "unit")))["fileAppeal"]  # fmt: skip
            assert filed["ok"], filed
        ids = {"run": run_id, "city_result": city_result}
        for scenario, (_service, headers, query) in lb.SCENARIOS.items():
            # load_bench's own variables and direct path (a scenario joining two subgraphs: the gateway's plan sent
            # straight at them, step by step)
            variables = lb.SCENARIO_VARIABLES[scenario](ids)
            for path in ("gateway", "direct"):
                if path == "gateway":
                    f = await lb.load(stack.gateway_url, headers, query, variables, args.clients, args.seconds)
                else:
                    steps = lb.direct_steps(stack, scenario, variables)
                    f = await lb.load_steps(steps, headers, args.clients, args.seconds)
                out["queries"].append({"query": scenario, "path": path, "requests": f["requests"], "rps": f["rps"],
                                       "p50_ms": f["p50_ms"], "p99_ms": f["p99_ms"], "failures": len(f["failures"])})  # fmt: skip
                print(f"  {scenario:<14}{path:<10}{f['requests']:>7} requests {f['rps']:7.1f} req/s  p50 {f['p50_ms']:7.1f} ms"
                      f"  p99 {f['p99_ms']:7.1f} ms  failures {len(f['failures'])}", flush=True)  # fmt: skip
                if f["failures"]:
                    print(f"    first failure: {f['failures'][0]}")
    finally:
        await asyncio.to_thread(stack.stop)
        shutil.rmtree(log_dir, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Archiving the oldest month


async def archive_oldest_month(conn: asyncpg.Connection, url: str) -> dict:
    """DETACH PARTITION of the oldest month of every raw table, pg_dump of the detached tables, DROP (the system has
    no archive operation: this is the procedure of docs/operations.md, timed)."""
    month = f"{YEAR}m01"
    parts = [r["relname"] for r in await conn.fetch(
        "SELECT c.relname, p.relname AS parent FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
        "WHERE n.nspname = 'ingest' AND p.relname LIKE 'raw\\_%' AND c.relname LIKE '%\\_' || $1 ORDER BY 1", month)]  # fmt: skip
    rows = 0
    for part in parts:
        rows += await conn.fetchval(f"SELECT count(*) FROM ingest.{part}")
    t = time.perf_counter()
    for part in parts:
        parent = part.rsplit("_", 1)[0]
        await conn.execute(f"ALTER TABLE ingest.{parent} DETACH PARTITION ingest.{part}")
    detach_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "archive.dump"
        t = time.perf_counter()
        command = ["pg_dump", "--format=custom", f"--file={target}", *(f"--table=ingest.{p}" for p in parts), url]
        await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True)
        dump_s = time.perf_counter() - t
        dump_bytes = target.stat().st_size
    t = time.perf_counter()
    for part in parts:
        await conn.execute(f"DROP TABLE ingest.{part}")
    drop_s = time.perf_counter() - t
    out = {"month": f"{YEAR}-01", "partitions": parts, "rows": rows, "detach_s": detach_s, "pg_dump_s": dump_s,
           "dump_bytes": dump_bytes, "drop_s": drop_s}  # fmt: skip
    print(f"  {len(parts)} partitions of {YEAR}-01, {rows:,} rows: DETACH {detach_s:.2f} s, pg_dump -Fc {dump_s:.1f} s "
          f"({dump_bytes / 1e6:.0f} MB), DROP {drop_s:.2f} s", flush=True)  # fmt: skip
    return out


# ---------------------------------------------------------------------------------------------------------------
# Charts


def draw_charts(results: list[dict], folder: Path) -> list[Path]:
    """Ingest cost against stored size; run time against units × days (one colour per result file)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    kind_colour = {"call": "tab:blue", "work_order": "tab:green", "rating": "tab:red"}
    scale_marker = ["o", "^", "s", "D"]
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    for n, result in enumerate(results):
        tag = f"scale {result['args']['scale']:g}"
        for kind in FULL:
            files = [f for f in result["load"]["files"] if f["kind"] == kind]
            if not files:
                continue
            x = [f["stored_before"] / 1e6 for f in files]
            links = " (naming no order)" if result["args"].get("no_order_links") else " (naming their order)"
            style = {"s": 8, "marker": scale_marker[n % 4], "color": kind_colour[kind], "alpha": 0.6,
                     "label": f"{tag}: {kind}{links if kind == 'rating' else ''}"}  # fmt: skip
            left.scatter(x, [f["ingest_s"] for f in files], **style)
            right.scatter(x, [f["ingest_s"] / f["rows"] * 1e4 for f in files], **style)
            copies = [f for f in files if "copy_s" in f]
            right.scatter([f["stored_before"] / 1e6 for f in copies], [f["copy_s"] / f["rows"] * 1e4 for f in copies],
                          s=40, marker="x", color=kind_colour[kind])  # fmt: skip
    left.set(xlabel="records of the file's kind already stored (millions)", ylabel="ingest of one daily file (s)",
             title="Daily-file ingest cost against stored size")  # fmt: skip
    right.set(xlabel="records of the file's kind already stored (millions)", ylabel="seconds per 10,000 rows",
              yscale="log", title="Per 10,000 rows (× : bare COPY of the same file)")  # fmt: skip
    left.legend(fontsize=7, markerscale=2)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.set_xscale("symlog", linthresh=0.01)  # the scales' stored sizes differ tenfold; linear below 10,000
        ax.set_xlim(left=0)
    path = folder / "province_year_ingest.png"
    fig.savefig(path, dpi=110)
    made.append(path)

    if not any(r.get("runs") for r in results):
        return made
    fig = Figure(figsize=(7.5, 5), layout="constrained")
    ax = fig.subplots()
    for n, result in enumerate(results):
        if not result.get("runs"):
            continue
        tag = f"scale {result['args']['scale']:g}"
        points = result["runs"]
        x = [r["units"] * r["days"] for r in points]
        ax.scatter(x, [r["run_s"] for r in points], marker="o", color=colours[n % 4], label=f"{tag}: scoring run")
        ax.scatter(x, [r["sql_s"] for r in points], marker="x", color=colours[n % 4], label=f"{tag}: hand-written SQL")
        for r, xx in zip(points, x, strict=True):
            ax.annotate(f"{r['kind'][:4]}. {r['period']}, {r['units']} u", (xx, r["run_s"]), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="units × days evaluated", ylabel="seconds (median)",
           title="Scoring run time against units × days")  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    path = folder / "province_year_runs.png"
    fig.savefig(path, dpi=110)
    made.append(path)
    return made


# ---------------------------------------------------------------------------------------------------------------


LINKED = "rating"  # ratings naming their order (the default); "rating/no links" with --no-order-links


def fit_ingest(results: list[dict]) -> dict[str, tuple[float, float, float]]:
    """Per kind, least squares over every daily file of the given runs: seconds = a + b·rows + c·x, where x is the
    rows of that kind already stored (the merge's joins read the whole raw table, issue 20) — for ratings that name
    their work order, the file's rows × the work orders already stored (ingest's check that a rated order exists
    scans every stored order for each rating that names one). Ratings of ``--no-order-links`` runs are fitted apart
    (``rating/no links``, x = ratings stored)."""
    import numpy as np

    samples: dict[str, tuple[list, list]] = {}
    for result in results:
        orders = 0
        links = not result["args"].get("no_order_links")
        for f in result["load"]["files"]:
            key = f["kind"] if f["kind"] != "rating" or links else "rating/no links"
            if f["kind"] == "work_order":
                orders = f.get("orders_stored", orders) + f["rows"]
            x = f["rows"] * f.get("orders_stored", orders) if key == LINKED else f["stored_before"]
            design, seconds = samples.setdefault(key, ([], []))
            design.append([1.0, 0.0 if key == LINKED else f["rows"], x])  # linked ratings: rows are in x
            seconds.append(f["ingest_s"])
    fits = {}
    for key, (design, seconds) in samples.items():
        matrix = np.array(design)
        used = [i for i in range(3) if matrix[:, i].any()]  # a column of zeros: that term is not fitted (0)
        coef, *_ = np.linalg.lstsq(matrix[:, used], np.array(seconds), rcond=None)
        full = [0.0, 0.0, 0.0]
        for i, v in zip(used, coef, strict=True):
            full[i] = float(v)
        fits[key] = tuple(full)
    return fits


def project_year(fits: dict, scale: float = 1.0, days: int = 365) -> dict:
    """Each fitted kind's year of daily files at ``scale`` by the model, and its last day's file."""
    out = {}
    counts = {kind: day_counts(round(FULL[kind] * scale), days) for kind in FULL}
    for key, (a, b, c) in fits.items():
        kind = key.split("/")[0]
        stored = orders = 0
        total = 0.0
        for day, n in enumerate(counts[kind]):
            orders += counts["work_order"][day]
            seconds = a + b * n + c * (n * orders if key == LINKED else stored)
            total += seconds
            stored += n
        out[key] = {"total_s": total, "last_day_s": seconds, "last_day_rows": counts[kind][-1]}
    return out


def print_projection(results: list[dict]) -> dict:
    fits = fit_ingest(results)
    print("ingest model (least squares over every daily file): seconds = a + b·rows + c·x")
    for key, (a, b, c) in fits.items():
        x, unit = ("rows × work orders stored", 1e12) if key == LINKED else ("rows of the kind stored", 1e6)
        print(f"  {key:<16} a {a:.3f} s, b {b * 1e6:.1f} s per million rows of the file, c {c * unit:.3f} s per "
              f"{'10^12' if unit == 1e12 else 'million'} ({x})")  # fmt: skip
    projection = project_year(fits)
    print("projected full-scale year of daily files (scale 1, 365 days):")
    for key, p in projection.items():
        print(f"  {key:<16} {p['total_s'] / 3600:6.2f} h; the last day's file ({p['last_day_rows']:,} rows) "
              f"{p['last_day_s']:.1f} s")  # fmt: skip
    return {"fits": fits, "projection": projection}


def report(result: dict) -> None:
    load, st = result["load"], result["storage"]
    print("\n=== summary ===")
    print(f"scale {result['args']['scale']:g}: {result['units']:,} units, {args_days(result)} days, "
          + ", ".join(f"{k} {v:,}" for k, v in load["stored"].items())
          + f"; load wall {load.get('wall_s', 0):.0f} s (ingest {load.get('ingest_s', 0):.0f} s)")  # fmt: skip
    print("daily file: ingest vs bare COPY (median of the days):")
    for key, p in load["pairs"].items():
        print(f"  {key:<18} days {p['days']}: {p['rows']:>9,.0f} rows, {p['stored_before'] / 1e6:7.2f} M stored: "
              f"COPY {p['copy_s']:.3f} s, ingest {p['ingest_s']:.3f} s, ratio {p['ratio']:.3f} {p['ratios']}")  # fmt: skip
    per = st["per_million_records"]
    print(f"storage per million records: raw heap {per['raw_heap_mb']:.0f} MB, raw indexes {per['raw_index_mb']:.0f} MB, "
          f"daily measures {per['daily_measure_mb']:.1f} MB; database {st['database_bytes'] / 1e9:.2f} GB "
          f"({per['database_mb']:.0f} MB per million records)")  # fmt: skip


def save(args, result: dict) -> None:
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        plain = {**result, "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
        args.out.write_text(json.dumps(plain, indent=1, default=str))


def args_days(result: dict) -> int:
    return result["args"]["days"]


async def run(args) -> dict:
    from hotline.kit.settings import Settings
    from services.ingest.app import create_app as create_ingest

    for quiet in ("httpx", "hotline.app", "hotline.ingest", "uvicorn"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    if args.resume:  # a database a stopped run left behind (killed with its load under way): the later phases
        name = args.resume
        url = args.server.rsplit("/", 1)[0] + "/" + name
        previous = json.loads(args.out.read_text()) if args.out and args.out.exists() else {}
    else:
        name = f"hotline_provyear_{uuid.uuid4().hex[:8]}"
        url = await create_database(args.server, name)
    result: dict = {
        "args": vars(args),
        "database": name,
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    began = time.perf_counter()
    try:
        rows = unit_tree(args.cities)
        if args.resume:
            result["units"] = len(rows)
        else:
            await asyncio.to_thread(migrate_all, url)
            result["units"] = await register(url, rows)
        print(f"database {name}: {result['units']:,} units registered", flush=True)
        conn = await asyncpg.connect(url)
        ingest_app = create_ingest(settings=Settings(env="test", database_url=url, jwt_secret=SECRET))
        try:
            async with ingest_app.router.lifespan_context(ingest_app):
                transport = httpx.ASGITransport(app=ingest_app)
                async with httpx.AsyncClient(transport=transport, base_url="http://ingest", timeout=3600) as client:
                    print("loading the year as daily files through POST /batches ...", flush=True)
                    if args.resume:  # the load's files saved so far; the stored rows as the database holds them
                        result["load"] = previous.get("load", {"files": []})
                        result["load"]["stopped_after"] = previous.get("partial")
                        result["load"]["stored"] = {
                            k: await conn.fetchval(f"SELECT count(*) FROM ingest.raw_{k}") for k in FULL
                        }
                        last_day = await conn.fetchval(f"SELECT max(day) - date '{YEAR}-01-01' FROM ingest.raw_call")
                        print(f"resumed: {result['load']['stored']} stored, last day {last_day + 1}", flush=True)
                        more = await load_year(args, url, client, conn, last_day + 1, result["load"]["stored"])
                        result["load"]["files"] += more["files"]
                        result["load"]["pairs"] = more["pairs"]
                        result["load"]["stored"] = more["stored"]
                        # the runs and the measures API read up to the last whole month loaded
                        through = date(YEAR, 1, 1) + timedelta(last_day + 3)
                        args.days = (through.replace(day=1) - date(YEAR, 1, 1)).days
                        print(f"the later phases read up to {date(YEAR, 1, 1) + timedelta(args.days - 1)}", flush=True)
                    else:
                        result["load"] = await load_year(args, url, client, conn)
                    await conn.execute("ANALYZE")
                    result["storage"] = await storage(conn, name, result["load"]["stored"])
                    save(args, result)  # a phase's figures kept even if a later one fails
                    report(result)
                    print("scoring runs over every unit vs hand-written SQL (medians):", flush=True)
                    result["runs"] = await scoring_runs(args, url, ingest_app, conn, rows)
                    save(args, result)  # a phase's figures kept even if a later one fails
                    print("measures API for one city's year (in-process ASGI):", flush=True)
                    result["measures_api"] = await measures_api(args, client, rows)
                    save(args, result)  # a phase's figures kept even if a later one fails
            if not args.no_portal:
                print("portal queries (bench/load_bench.py's) through the gateway and direct:", flush=True)
                result["portal"] = await portal(args, url)
                save(args, result)  # a phase's figures kept even if a later one fails
            print("archiving the oldest month (DETACH PARTITION + pg_dump + DROP):", flush=True)
            result["archive"] = await archive_oldest_month(conn, url)
            save(args, result)  # a phase's figures kept even if a later one fails
        finally:
            await conn.close()
    finally:
        if args.keep:
            print(f"database {name} kept (--keep): drop it by hand when done", flush=True)
        else:
            await drop_database(args.server, name)
    result["total_s"] = time.perf_counter() - began
    print(f"total {result['total_s']:.0f} s", flush=True)
    return result


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the year's records (units stay)")
    parser.add_argument("--days", type=int, default=365, help="days of 2025 loaded (a shorter year: smoke runs)")
    parser.add_argument("--cities", type=int, default=21, help="cities of the province (≤ 21)")
    parser.add_argument("--indicators", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3, help="repeats of each run and SQL (medians)")
    parser.add_argument("--no-curve", action="store_true", help="only the two headline runs (no run-time curve)")
    parser.add_argument(
        "--no-order-links",
        action="store_true",
        help="ratings name no work order (ingest's check that the rated order exists scans every stored order per "
        "rating: see docs/performance.md)",
    )
    parser.add_argument("--no-portal", action="store_true", help="skip the stack and the portal queries")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each portal measurement")
    parser.add_argument("--api-repeats", type=int, default=20, help="requests per measures-API case (p50)")
    parser.add_argument("--out", type=Path, help="the figures as JSON")
    parser.add_argument("--charts", type=Path, help="draw the charts into this folder")
    parser.add_argument("--resume", help="the later phases on the database NAME a stopped run left (its --out)")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end (to profile on it)")
    parser.add_argument("--charts-only", nargs="+", type=Path, help="draw charts from result JSON files, run nothing")
    parser.add_argument("--server", default=DEFAULT_SERVER_URL)
    args = parser.parse_args(argv)
    if args.charts_only:
        results = [json.loads(p.read_text()) for p in args.charts_only]
        print_projection(results)
        for path in draw_charts(results, args.charts or Path("docs/images")):
            print(f"chart: {path}")
        return None
    if not 1 <= args.cities <= len(CITIES) or not 1 <= args.days <= 365 or args.scale <= 0:
        parser.error("--cities 1–21, --days 1–365 and a positive --scale")
    result = asyncio.run(run(args))
    result["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, default=str))
        print(f"figures: {args.out}")
    if args.charts:
        for path in draw_charts([result], args.charts):
            print(f"chart: {path}")
    return result


if __name__ == "__main__":
    main()
