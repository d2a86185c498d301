"""The measures API (docs/contracts.md §4): bulk values, their sources, and per-record contributions.

All three answer for many units in one SQL statement per record kind (never per unit), and filter by
the caller's scope: a unit outside it is reported exactly like an unknown one. The values come with what no
batch covered (``uncovered``, from ``coverage.py``: one more statement), so that an absent value is not read as 0.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import numpy as np

from hotline.domain.measures import Aggregation, measure_catalog
from hotline.kit.errors import BadRequestError
from hotline.kit.scope import Scope
from services.ingest import coverage
from services.ingest.aggregation import quote
from services.ingest.rules import SIDES, rule_for, rules_by_kind

MAX_UNITS = 20_000
MAX_DAYS = 3 * 366


def check_request(units: list[str], measures: list[str], low: date, high: date, by: str = "total") -> None:
    catalog = measure_catalog()
    unknown = [m for m in measures if m not in catalog]
    if unknown:
        raise BadRequestError(f"unknown measures: {', '.join(unknown)}", unknown=unknown)
    if not measures:
        raise BadRequestError("name at least one measure")
    if by not in ("total", "month", "day"):
        raise BadRequestError("by must be total, month or day")
    if high < low:
        raise BadRequestError("`to` is before `from`")
    if (high - low).days >= MAX_DAYS:
        raise BadRequestError(f"at most {MAX_DAYS} days per request")
    if len(units) > MAX_UNITS:
        raise BadRequestError(f"at most {MAX_UNITS} units per request")


async def visible_units(apg, scope: Scope, units: list[str]) -> dict[str, tuple[str, int | None]]:
    """``{id: (path, population)}`` of the requested units inside the caller's subtree."""
    if scope.path is None:
        return {}
    rows = await apg.fetch(
        "SELECT id, path, population FROM ingest.unit WHERE id = ANY($1::text[]) AND (path = $2 OR path LIKE $3)",
        units,
        scope.path,
        scope.path + "/%",
    )
    return {r["id"]: (r["path"], r["population"]) for r in rows}


def periods(low: date, high: date, by: str) -> list[str]:
    if by == "total":
        return [""]  # labelled "total" in the answer
    if by == "day":
        return [(low + timedelta(n)).isoformat() for n in range((high - low).days + 1)]
    out, cursor = [], low.replace(day=1)
    while cursor <= high:
        out.append(cursor.strftime("%Y-%m"))
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return out


async def query_columns(
    apg, scope: Scope, units: list[str], measures: list[str], low: date, high: date, by: str
) -> tuple[dict, list[str], list[str], list[list[float]]]:
    """The answer of ``query`` as columns: the answer without ``rows``, then each row's unit, its period
    and its values (``measures`` order). ``uncovered`` is computed for the same visible units as the values."""
    check_request(units, measures, low, high, by)
    catalog = measure_catalog()
    visible = await visible_units(apg, scope, list(dict.fromkeys(units)))
    flows = [m for m in measures if catalog[m].aggregation is Aggregation.SUM]
    sums = "".join(f", sum(d.{quote(m)})" for m in flows)
    found: dict[tuple[str, str], list[float]] = {}
    days_with_data: dict[str, int] = defaultdict(int)
    if visible:
        if by == "total":  # one group per unit: no period column to group by
            select, group = "d.unit_id, '' AS period", "1"
        else:
            period_sql = {"month": "to_char(d.day, 'YYYY-MM')", "day": "to_char(d.day, 'YYYY-MM-DD')"}[by]
            select, group = f"d.unit_id, {period_sql} AS period", "1, 2"
        rows = await apg.fetch(
            f"SELECT {select}, count(*) AS days{sums} FROM ingest.daily_measure d "
            f"WHERE d.unit_id = ANY($1::text[]) AND d.day BETWEEN $2 AND $3 GROUP BY {group}",
            list(visible),
            low,
            high,
        )
        for row in rows:
            found[(row[0], row[1])] = [float(v) for v in list(row)[3:]]
            days_with_data[row[0]] += row[2]
    row_units: list[str] = []
    row_periods: list[str] = []
    values: list[list[float]] = []
    zeros = [0.0] * len(flows)
    latest = [catalog[m].aggregation is Aggregation.LATEST for m in measures]
    for unit in (u for u in dict.fromkeys(units) if u in visible):
        population = visible[unit][1] or 0  # an int in JSON, as the directory has it
        for period in periods(low, high, by):
            flow_values = found.get((unit, period), zeros)
            if any(latest):
                flow_iter = iter(flow_values)
                row = [population if is_latest else next(flow_iter) for is_latest in latest]
            else:
                row = flow_values
            row_units.append(unit)
            row_periods.append(period or "total")
            values.append(row)
    in_order = {u: visible[u] for u in dict.fromkeys(units) if u in visible}
    head = {
        "from": low.isoformat(),
        "to": high.isoformat(),
        "by": by,
        "measures": measures,
        "days_with_data": {u: days_with_data.get(u, 0) for u in in_order},
        "missing": [u for u in dict.fromkeys(units) if u not in visible],
        "uncovered": await coverage.uncovered_of(apg, in_order, measures, low, high, by),
    }
    return head, row_units, row_periods, values


# The compact answer (contracts §4), for callers that send ``Accept: COLUMNS_MEDIA_TYPE`` (scoring): a
# 4-byte little-endian length, that many bytes of a UTF-8 JSON header — the JSON answer without ``rows``,
# plus ``units`` and ``periods`` (one per row) — then every row's values as little-endian float64,
# row after row, in ``measures`` order.
COLUMNS_MEDIA_TYPE = "application/vnd.hotline.measures-columns"


def encode_columns(head: dict, row_units: list[str], row_periods: list[str], values: list[list[float]]) -> bytes:
    header = json.dumps({**head, "units": row_units, "periods": row_periods}, separators=(",", ":")).encode()
    matrix = np.asarray(values, dtype="<f8").reshape(len(row_units), len(head["measures"]))
    return len(header).to_bytes(4, "little") + header + matrix.tobytes()


async def sources(apg, scope: Scope, units: list[str], measures: list[str], low: date, high: date) -> dict:
    """The batches and record counts behind each (unit, measure) over a range."""
    check_request(units, measures, low, high)
    visible = await visible_units(apg, scope, list(dict.fromkeys(units)))
    out: list[dict[str, Any]] = []
    for measure in measures:
        rule = rule_for(measure)
        if rule is None or not visible:  # `latest` measures come from the directory, not from records
            continue
        rows = await apg.fetch(
            f"""SELECT q.id AS unit, r.batch_id, r.source, count(*) AS records
                FROM ingest.raw_{rule.kind} r
                JOIN ingest.unit ru ON ru.id = {SIDES[rule.side]}
                JOIN ingest.unit q ON q.id = ANY($1::text[]) AND (ru.path = q.path OR ru.path LIKE q.path || '/%')
                WHERE r.day BETWEEN $2 AND $3 AND ({rule.expression}) <> 0
                GROUP BY 1, 2, 3 ORDER BY 1, 2""",
            list(visible),
            low,
            high,
        )
        out += [
            {
                "unit": r["unit"],
                "measure": measure,
                "batch_id": r["batch_id"],
                "source": r["source"],
                "records": r["records"],
            }
            for r in rows
        ]
    return {"sources": out, "missing": [u for u in dict.fromkeys(units) if u not in visible]}


async def contribution(apg, scope: Scope, records: list[dict[str, str]]) -> dict:
    """Each record's contribution to every measure of every unit it rolls up to (inside the caller's scope)."""
    if len(records) > 100_000:
        raise BadRequestError("at most 100,000 records per request")
    keys = [(str(r.get("source", "")), str(r.get("record_id", ""))) for r in records]
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    if scope.path is None or not keys:
        return {"contributions": [], "not_found": [{"source": s, "record_id": i} for s, i in keys]}
    for kind, sides in rules_by_kind().items():
        for side, rules in sides.items():
            columns = ", ".join(f"({r.expression})::double precision" for r in rules)
            rows = await apg.fetch(
                f"""SELECT r.source, r.record_id, a.unit_id, r.day, {columns}
                    FROM ingest.raw_{kind} r
                    JOIN ingest.unit u ON u.id = {SIDES[side]}
                    JOIN ingest.unit owner ON owner.id = r.unit_id AND (owner.path = $3 OR owner.path LIKE $4)
                    CROSS JOIN LATERAL unnest(string_to_array(u.path, '/')) AS a(unit_id)
                    JOIN ingest.unit au ON au.id = a.unit_id AND (au.path = $3 OR au.path LIKE $4)
                    WHERE (r.source COLLATE "C", r.record_id COLLATE "C") IN (SELECT * FROM unnest($1::text[], $2::text[]))
                    ORDER BY r.source, r.record_id, u.path, a.unit_id""",
                [k[0] for k in keys],
                [k[1] for k in keys],
                scope.path,
                scope.path + "/%",
            )
            for row in rows:
                seen.add((row[0], row[1]))
                for rule, value in zip(rules, list(row)[4:], strict=True):
                    if value:
                        out.append(
                            {
                                "source": row[0],
                                "record_id": row[1],
                                "kind": kind,
                                "unit": row[2],
                                "day": row[3].isoformat(),
                                "measure": rule.measure,
                                "value": float(value),
                            }
                        )
    return {
        "contributions": out,
        "not_found": [{"source": s, "record_id": i} for s, i in dict.fromkeys(keys) if (s, i) not in seen],
    }
