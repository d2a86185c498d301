"""Data quality (spec 5.2.7): completeness, precision, consistency and relevance.

For a batch (computed when it is loaded, stored with it) and for a unit's subtree over a period
(computed on request). The arithmetic is in pure functions; the SQL only counts.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hotline.kit.scope import Scope


def _linked(table: str, alias: str, column: str, days: tuple[int, int]) -> str:
    """SQL: the record ``r.<column>`` names is stored in ``ingest.<table>``. The id is compared in the "C" collation of
    the raw tables' key indexes (migration ingest_0007), so that each month is an index probe, not a scan of every
    stored record per row (equality is the same in any deterministic collation). The months of ``days`` around the
    row's own day (where a linked record mostly is: a rating's order of the weeks before) are probed first — the
    condition on ``day`` prunes the other months at run time — and every month only when those do not hold it: the
    same answer, ~2 probes a row instead of one per stored month (a year's ratings: 12 by December)."""
    low, high = days
    probe = f'SELECT 1 FROM ingest.{table} {alias} WHERE {alias}.record_id = r.{column} COLLATE "C"'
    return f"(EXISTS ({probe} AND {alias}.day BETWEEN r.day - {-low} AND r.day + {high}) OR EXISTS ({probe}))"


# Cross-record checks: (kind, description, condition that the row is checked, SQL that it passes).
CONSISTENCY_CHECKS: dict[str, list[tuple[str, str, str]]] = {
    "call": [
        (
            "the call's linked work order exists",
            "r.work_order_id IS NOT NULL",
            _linked("raw_work_order", "w", "work_order_id", (-1, 1)),  # the order the call opened: that day
        )
    ],
    "rating": [
        (
            "the rated work order exists",
            "r.work_order_id IS NOT NULL",
            _linked("raw_work_order", "w", "work_order_id", (-31, 0)),
        ),
        (
            "the rated call exists",
            "r.call_id IS NOT NULL",
            _linked("raw_call", "c", "call_id", (-31, 0)),
        ),
    ],
    "inspection": [
        (
            "the inspected call or order exists",
            "r.subject_id IS NOT NULL",
            f"CASE WHEN r.subject = 'call' THEN {_linked('raw_call', 'c', 'subject_id', (-31, 0))}"
            f" ELSE {_linked('raw_work_order', 'w', 'subject_id', (-31, 0))} END",
        )
    ],
    "callback": [
        (
            "the called-back work order exists",
            "r.work_order_id IS NOT NULL",
            _linked("raw_work_order", "w", "work_order_id", (-31, 0)),
        )
    ],
    "work_order": [
        (
            "a closed order has a due time or an on-time verdict",
            "r.closed_at IS NOT NULL",
            "(r.due_at IS NOT NULL OR r.on_time IS NOT NULL)",
        )
    ],
}


def share(part: int, whole: int | None) -> float | None:
    return None if not whole else round(part / whole, 4)


def days_without(period: tuple[date | None, date | None], days_with_data: set[date]) -> list[date]:
    """Days of a declared period on which no record counts."""
    low, high = period
    if low is None or high is None or high < low:
        return []
    return [low + timedelta(n) for n in range((high - low).days + 1) if low + timedelta(n) not in days_with_data]


def assemble(
    *,
    rows_read: int,
    rows_valid: int,
    rows_rejected: int,
    expected_rows: int | None,
    period: tuple[date | None, date | None],
    days_with_data: set[date],
    checks: list[dict[str, Any]],
    time_order_violations: int,
    out_of_period: int,
    out_of_scope: int,
    rows_skipped: int = 0,
) -> dict[str, Any]:
    """The four dimensions of spec 5.2.7 from plain counts (rows a mapping skipped are received, and neither valid
    nor rejected: precision is over the rows checked)."""
    missing = days_without(period, days_with_data)
    failed = sum(c["failed"] for c in checks)
    checked = sum(c["checked"] for c in checks)
    return {
        "completeness": {
            "expectedRows": expected_rows,
            "rowsReceived": rows_read,
            "receivedShare": share(rows_read, expected_rows),
            "daysWithoutData": [d.isoformat() for d in missing],
        },
        "precision": {
            "rowsValid": rows_valid,
            "rowsRejected": rows_rejected,
            "validShare": share(rows_valid, rows_read - rows_skipped),
        },
        "consistency": {
            "checks": checks,
            "timeOrderViolations": time_order_violations,
            "consistentShare": share(checked - failed, checked),
        },
        "relevance": {
            "outOfPeriod": out_of_period,
            "outOfScope": out_of_scope,
            "relevantShare": share(rows_valid - out_of_period, rows_valid + out_of_scope),
        },
    }


def check_aggregates(kind: str, where: str = "true") -> list[tuple[str, str]]:
    """(name, SQL aggregate over alias ``r``) counting, per consistency check of ``kind``, the rows matching
    ``where`` it applies to and those failing it — to add to a scan made anyway (``checks_from`` reads them)."""
    out = []
    for i, (_, applies, passes) in enumerate(CONSISTENCY_CHECKS.get(kind, [])):
        out += [
            (f"check_{i}_checked", f"count(*) FILTER (WHERE {where} AND {applies})"),
            (f"check_{i}_failed", f"count(*) FILTER (WHERE {where} AND {applies} AND NOT ({passes}))"),
        ]
    return out


def checks_from(kind: str, row) -> list[dict[str, Any]]:
    """The consistency checks' results from a row holding ``check_aggregates``' values by name."""
    return [
        {"kind": kind, "check": description, "checked": row[f"check_{i}_checked"], "failed": row[f"check_{i}_failed"]}
        for i, (description, _, _) in enumerate(CONSISTENCY_CHECKS.get(kind, []))
    ]


async def run_checks(apg, kind: str, where: str, *args, rows: str | None = None) -> list[dict[str, Any]]:
    """The consistency checks of the kind's raw rows matching ``where`` (``rows``: another FROM clause, alias ``r``)."""
    aggregates = check_aggregates(kind)
    if not aggregates:
        return []
    columns = ", ".join(f"{aggregate} AS {name}" for name, aggregate in aggregates)
    row = await apg.fetchrow(f"SELECT {columns} FROM {rows or f'ingest.raw_{kind} r'} WHERE {where}", *args)
    return checks_from(kind, row)


async def batch_quality(apg, kind, feed, batch_rows: str | None = None) -> dict[str, Any]:
    """The batch's quality report; ``batch_rows``: the rows it stored, as a FROM clause over its stage (alias ``r``,
    ``loader.batch_rows``), read instead of the raw table."""
    counts = feed.counts
    checks = feed.checks
    if checks is None and batch_rows is not None:
        # the stage holds the batch's stored rows, and only them: no read of the month's pages (a daily file's
        # 50,000 calls: 0.02 s from the raw table, through its BRIN index)
        checks = await run_checks(apg, kind.name, "true", rows=batch_rows)
    elif checks is None:
        # the batch's rows lie on the days of its valid rows: only those days' partitions and index ranges are read
        # (by batch alone, every row of each month the batch touched was read: 0.3 s for a daily file into a month of
        # 800,000 calls, growing with the month)
        checks = await run_checks(
            apg, kind.name, "r.day = ANY($2::date[]) AND r.batch_id = $1", feed.batch_id, sorted(feed.days)
        )
    return assemble(
        rows_read=counts.rows_read,
        rows_valid=counts.rows_valid,
        rows_rejected=counts.rows_rejected,
        expected_rows=feed.expected_rows,
        period=feed.period,
        days_with_data=feed.days,
        checks=checks,
        time_order_violations=sum(
            1 for p in counts.problems if p.reason.endswith(tuple(f"before {f}" for f in ("started_at", "received_at")))
        ),
        out_of_period=feed.out_of_period,
        out_of_scope=counts.rejected_out_of_scope,
        rows_skipped=counts.rows_skipped,
    )


async def unit_quality(apg, scope: Scope, unit_path: str, period: tuple[date, date]) -> dict[str, Any]:
    """Quality of everything stored for a unit's subtree over a period."""
    from services.ingest.records import KINDS

    low, high = period
    under = (
        "r.unit_id IN (SELECT id FROM ingest.unit WHERE path = $1 OR path LIKE $1 || '/%') AND r.day BETWEEN $2 AND $3"
    )
    checks: list[dict[str, Any]] = []
    records: dict[str, int] = {}
    batch_ids: set[int] = set()
    for kind in KINDS:
        rows = await apg.fetch(
            f"SELECT r.batch_id, count(*) FROM ingest.raw_{kind} r WHERE {under} GROUP BY 1", unit_path, low, high
        )
        records[kind] = sum(r[1] for r in rows)
        batch_ids.update(r[0] for r in rows)
        checks += await run_checks(apg, kind, under, unit_path, low, high)
    days = {
        r["day"]
        for r in await apg.fetch(
            "SELECT d.day FROM ingest.daily_measure d JOIN ingest.unit u ON u.id = d.unit_id "
            "WHERE u.path = $1 AND d.day BETWEEN $2 AND $3",
            unit_path,
            low,
            high,
        )
    }
    # precision and scope relevance: the batches that brought the subtree's records for the period
    batch = await apg.fetchrow(
        "SELECT coalesce(sum(rows_read), 0) AS read, coalesce(sum(rows_valid), 0) AS valid, "
        "coalesce(sum(rows_rejected), 0) AS rejected, coalesce(sum((quality->'relevance'->>'outOfScope')::int), 0) AS oos, "
        "coalesce(sum(rows_skipped), 0) AS skipped "
        "FROM ingest.batch WHERE id = ANY($1::bigint[])",
        list(batch_ids),
    )
    report = assemble(
        rows_read=batch["read"],
        rows_valid=batch["valid"],
        rows_rejected=batch["rejected"],
        expected_rows=None,
        period=period,
        days_with_data=days,
        checks=checks,
        time_order_violations=0,
        out_of_period=0,
        out_of_scope=batch["oos"],
        rows_skipped=batch["skipped"],
    )
    report["recordsByKind"] = records
    return report
