"""Coverage: what each applied batch covers, so that an absent measure is told from a zero (contracts §4).

A batch's coverage is one row of ``ingest.batch_coverage`` — its record kind, its days (the declared period, else
the first and last day of the rows it stored) and the canonical fields it supplied — and its units in
``ingest.batch_coverage_unit``, each with a role:

- ``declared``: named by the submitter (``covers=``); covers the unit, its whole subtree and its ancestors;
- ``inferred``: a unit the batch's stored rows are attributed to (work orders: both sides), outside any declared
  unit's subtree; covers the unit itself;
- ``ancestor``: an ancestor of a declared or inferred unit, as the tree stood when the batch was loaded — the
  measures roll up to it, and it is covered like the unit itself (as its values are, rolled up at aggregation).

So a unit U is covered by a batch when the batch names U (any role), or names a proper ancestor of U as
``declared``: one equijoin over U's materialized path (``UNCOVERED_SQL``). Coverage is written in the load's own
transaction, on every load path (``loader.merge_stage``, ``newmonth``, an identical re-send), and
deleted with the batch's rows when it is withdrawn.

"The rows it stored": the new and corrected rows the batch now owns. A duplicate row stays with the batch that
brought it first, and so does its coverage — a re-send that changes nothing covers nothing new, and withdrawing
the first batch leaves no coverage claiming values that left with it.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from hotline.kit.errors import BadRequestError
from services.ingest.mapping import ColumnMapping
from services.ingest.records import RecordKind
from services.ingest.rules import RULES, SIDES, needs_met, rule_for, rules_by_kind

DECLARED, INFERRED, ANCESTOR = "declared", "inferred", "ancestor"


class CoverageHow(enum.StrEnum):
    """How a batch's report names a unit it covers (an ``ancestor`` is not listed: it is implied)."""

    DECLARED = DECLARED
    INFERRED = INFERRED


MAX_DECLARED_UNITS = 1_000
# the (unit, day) keys of the rows the load stored, every side (a temporary table of the load's transaction)
BROUGHT = "coverage_brought"
BROUGHT_DDL = f"CREATE TEMP TABLE {BROUGHT} (unit_id text NOT NULL, day date NOT NULL) ON COMMIT DROP"


def brought_sql(kind: str, table: str) -> str:
    """Keep the (unit, day) keys of ``table``'s rows (alias ``r``) on every side: what the batch stored."""
    parts = [f"SELECT DISTINCT {SIDES[side]} AS unit_id, r.day FROM {table} r" for side in rules_by_kind()[kind]]
    return f"CREATE TEMP TABLE {BROUGHT} ON COMMIT DROP AS " + " UNION ".join(parts)


def supplied_fields(
    kind: RecordKind, *, header: Iterable[str] | None = None, mapping: ColumnMapping | None = None
) -> set[str]:
    """The canonical fields a batch supplies, as far as known before its rows are read: a mapping's mapped fields,
    else a canonical file's header columns; always the kind's required fields (``source`` defaults to the
    batch's). JSON rows add their keys as they are read (``feed.RowFeed``)."""
    names = set(kind.field_names)
    given = set(mapping.spec["fields"]) if mapping is not None else set(header or ())
    return (given & names) | {f.name for f in kind.fields if f.required}


def parse_covers(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """The declared units of ``covers=`` (comma-separated, or a list), de-duplicated in order; ``()`` when absent."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    units = tuple(dict.fromkeys(str(u).strip() for u in items if str(u).strip()))
    if not units:
        raise BadRequestError("covers names no unit: give unit ids separated by commas, or leave it out")
    if len(units) > MAX_DECLARED_UNITS:
        raise BadRequestError(
            f"covers names {len(units)} units; at most {MAX_DECLARED_UNITS} (each covers its subtree)"
        )
    return units


# Written in the load's transaction after its rows: the coverage row, then its units with their roles — the declared
# ones, the units of the stored rows outside every declared subtree, and every ancestor of either (a unit keeps the
# strongest role it has: declared, inferred, then ancestor).
_INSERT_COVERAGE = (
    "INSERT INTO ingest.batch_coverage (batch_id, kind, first_day, last_day, days_declared, units_declared, fields) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7::text[])"
)
_INSERT_UNITS = f"""
WITH declared AS (SELECT u.id, u.path FROM ingest.unit u WHERE u.id = ANY($2::text[])),
own AS (
    SELECT id, path, 0 AS strength FROM declared
    UNION ALL
    SELECT u.id, u.path, 1 FROM (SELECT DISTINCT unit_id FROM {BROUGHT}) b JOIN ingest.unit u ON u.id = b.unit_id
    WHERE NOT EXISTS (SELECT 1 FROM declared d WHERE u.path = d.path OR u.path LIKE d.path || '/%')
),
ranked AS (
    SELECT a.id AS unit_id, min(CASE WHEN a.id = o.id THEN o.strength ELSE 2 END) AS strength
    FROM own o CROSS JOIN LATERAL unnest(string_to_array(o.path, '/')) AS a(id)
    GROUP BY a.id
)
INSERT INTO ingest.batch_coverage_unit (batch_id, unit_id, role)
SELECT $1, unit_id, (ARRAY['{DECLARED}', '{INFERRED}', '{ANCESTOR}'])[strength + 1] FROM ranked
"""


async def record(
    apg,
    batch_id: int,
    kind: str,
    covers: tuple[str, ...],
    period: tuple[date | None, date | None],
    fields: Iterable[str],
    brought: bool = True,
) -> bool:
    """Record a loaded batch's coverage (in the load's transaction); ``brought``: the keys of the rows it stored
    are in ``BROUGHT`` (dropped here). ``False``: it covers nothing — no declared unit and no row stored, or no
    day known (no declared period and no row stored)."""
    if not brought:
        await apg.execute(BROUGHT_DDL)
    low, high = period
    first, last, stored = await apg.fetchrow(f"SELECT min(day), max(day), count(*) > 0 FROM {BROUGHT}")
    first, last = low or first, high or last
    covered = (bool(covers) or stored) and first is not None and last is not None and first <= last
    if covered:
        await apg.execute(
            _INSERT_COVERAGE,
            batch_id,
            kind,
            first,
            last,
            low is not None and high is not None,
            bool(covers),
            sorted(set(fields)),
        )
        await apg.execute(_INSERT_UNITS, batch_id, list(covers))
    await apg.execute(f"DROP TABLE {BROUGHT}")
    return covered


async def withdraw(apg, batch_id: int) -> None:
    """A withdrawn batch covers nothing any more (its units go with it: ON DELETE CASCADE)."""
    await apg.execute("DELETE FROM ingest.batch_coverage WHERE batch_id = $1", batch_id)


# --- what is covered, for ``POST /measures/query``

# For the visible units ($1 ids, $2 paths), the coverage of the requested kinds ($5) overlapping [$3, $4]: a unit is
# covered by the batches naming it (any role) and by those declaring one of its proper ancestors. One statement for
# the whole request, in three steps that never make a row per (unit, batch): (1) each coverage row of a batch in the
# range gives its keys — ``s/<id>`` (the unit itself, any role) and, when declared, ``d/<id>`` (its subtree); (2)
# each requested unit gets the keys that apply to it from the ids of its path (``s/`` its own id, ``d/`` a proper
# ancestor's) that some batch holds, and units with the same keys form a group — a cohort's units mostly share one
# (a province whose files declare it: one group for 3,046 units, where a row per unit and batch was 3.3 million
# rows sorted on disk, 3.4 s); (3) each group's batches through its keys, and their kind, fields and days inside
# the range (``by=total`` needs no days: the range itself, so equal items collapse). ``/`` cannot be in an id (it
# separates a path's ids).
UNCOVERED_SQL = """
WITH c AS (
    SELECT batch_id, kind, fields, greatest(first_day, $3::date) AS first_day, least(last_day, $4::date) AS last_day
    FROM ingest.batch_coverage
    WHERE kind = ANY($5::text[]) AND first_day <= $4::date AND last_day >= $3::date
),
keyed AS (
    SELECT k.key, cu.batch_id
    FROM ingest.batch_coverage_unit cu
    CROSS JOIN LATERAL (VALUES ('s/' || cu.unit_id), (CASE WHEN cu.role = 'declared' THEN 'd/' || cu.unit_id END)) k(key)
    WHERE cu.batch_id IN (SELECT batch_id FROM c) AND k.key IS NOT NULL
),
per_unit AS (
    SELECT q.id, array_agg(DISTINCT k.key ORDER BY k.key) AS keys
    FROM unnest($1::text[], $2::text[]) AS q(id, path)
    CROSS JOIN LATERAL unnest(string_to_array(q.path, '/')) AS a(id)
    JOIN (SELECT DISTINCT key FROM keyed) k ON k.key = CASE WHEN a.id = q.id THEN 's/' ELSE 'd/' END || a.id
    GROUP BY q.id
),
grouped AS (SELECT keys, array_agg(id) AS units FROM per_unit GROUP BY keys),
items AS (
    SELECT g.keys, jsonb_agg(DISTINCT jsonb_build_array(c.kind, c.fields, {days})) AS items
    FROM (SELECT DISTINCT g.keys, kb.batch_id
          FROM grouped g CROSS JOIN LATERAL unnest(g.keys) AS gk(key) JOIN keyed kb ON kb.key = gk.key) g
    JOIN c ON c.batch_id = g.batch_id
    GROUP BY g.keys
)
SELECT g.units, i.items FROM grouped g JOIN items i ON i.keys = g.keys
"""


def spans(low: date, high: date, by: str) -> list[tuple[str, date, date]]:
    """The answer's periods with their first and last day inside [low, high], labelled as in ``rows``."""
    if by == "total":
        return [("total", low, high)]
    if by == "day":
        return [
            ((low + timedelta(n)).isoformat(), low + timedelta(n), low + timedelta(n))
            for n in range((high - low).days + 1)
        ]
    out, cursor = [], low.replace(day=1)
    while cursor <= high:
        following = (cursor + timedelta(days=32)).replace(day=1)
        out.append((cursor.strftime("%Y-%m"), max(cursor, low), min(following - timedelta(1), high)))
        cursor = following
    return out


@functools.lru_cache(maxsize=1024)
def covered_by(kind: str, fields: frozenset[str]) -> frozenset[str]:
    """The measures a batch of ``kind`` supplying ``fields`` covers: those of its kind whose needs it meets."""
    return frozenset(r.measure for r in RULES if r.kind == kind and needs_met(r.measure, fields))


def uncovered(
    measures: list[str],
    units: Mapping[str, int | None],
    periods: list[tuple[str, date, date]],
    groups: Iterable[tuple[Iterable[str], Iterable[tuple[str, Iterable[str], date, date]]]],
) -> dict[str, dict[str, list[str]]]:
    """``{unit: {period: [measures no batch covered there, sorted]}}`` for ``units`` (id → population), leaving out
    units and periods with every measure covered. ``groups``: (units, their coverage) — the coverage a list of
    (kind, fields, first day, last day); a unit in no group has none. ``unit.population`` is covered when the
    directory holds a population; a measure no rule makes, never."""
    wanted = sorted(set(measures))
    flows = [m for m in wanted if rule_for(m) is not None]
    others = [m for m in wanted if rule_for(m) is None and m != "unit.population"]
    population = "unit.population" in wanted
    coverage_of: dict[str, tuple] = {}
    for members, items in groups:
        ranges = tuple((covered_by(kind, frozenset(fields)), first, last) for kind, fields, first, last in items)
        coverage_of.update(dict.fromkeys(members, ranges))
    answers: dict[tuple, dict[str, list[str]]] = {}  # units with the same coverage share one answer
    out: dict[str, dict[str, list[str]]] = {}
    for unit, people in units.items():
        key = (coverage_of.get(unit, ()), population and people is None)
        if key not in answers:
            answers[key] = _uncovered_periods(flows, key[0], periods, others, key[1])
        if answers[key]:
            out[unit] = answers[key]
    return out


def _uncovered_periods(flows, ranges, periods, others, no_population) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for label, first, last in periods:
        covered: set[str] = set()
        for measures, low, high in ranges:
            if low <= last and high >= first:
                covered |= measures
        missing = [m for m in flows if m not in covered] + others
        if no_population:
            missing.append("unit.population")
        if missing:
            out[label] = sorted(missing)
    return out


async def uncovered_of(
    apg, visible: Mapping[str, tuple[str, int | None]], measures: list[str], low: date, high: date, by: str
) -> dict[str, dict[str, list[str]]]:
    """The ``uncovered`` part of the answer for the visible units (id → (path, population)), in one statement."""
    kinds = sorted({rule.kind for m in measures if (rule := rule_for(m)) is not None})
    groups: list = []
    if visible and kinds:
        days = "$3::date, $4::date" if by == "total" else "c.first_day, c.last_day"
        rows = await apg.fetch(
            UNCOVERED_SQL.format(days=days), list(visible), [path for path, _ in visible.values()], low, high, kinds
        )
        for members, items in rows:
            items = json.loads(items) if isinstance(items, str) else items  # (decoded already by SQLAlchemy's codec)
            parsed = [(k, f, date.fromisoformat(a), date.fromisoformat(b)) for k, f, a, b in items]
            groups.append((members, parsed))
    units = {unit: population for unit, (_, population) in visible.items()}
    return uncovered(measures, units, spans(low, high, by), groups)


def kinds_measures(kind: str) -> list[str]:
    """The measures of a record kind, in rule order."""
    return [r.measure for r in RULES if r.kind == kind]


def not_covered(kind: str, fields: Iterable[str]) -> list[str]:
    """The measures of ``kind`` a batch supplying ``fields`` cannot cover (a field they need is missing)."""
    covered = covered_by(kind, frozenset(fields))
    return [m for m in kinds_measures(kind) if m not in covered]
