"""Exact increments for agents' keys: what a key keeps of its stored rows, as its stored sums minus the replaced rows.

Before a staged batch's rows go in, ``aggregation.sum_stored`` needs, for every affected (unit, day), the sums of the
rows the key keeps once the batch's replaced rows left. Read from the raw table, that is every row of the key however
few the batch changed: 5,000 corrections spread over a month of 3,000,000 calls among 1,034 agents touch ~5,000 keys
holding ~650,000 rows (1.7–2.0 s through the index on ``(day, unit)``). An agent has no units below it
(``directory.ALLOWED_PARENT_KINDS``), so its stored daily row is the sum of its own rows, and what it keeps is that row
minus the sums of the rows the batch deleted (``replaced_ctes``, summed in the statement that deletes them) — in
proportion to the batch.

Exact, not an estimate of a recompute: a key is taken only when its stored values and the value of every replaced row
are whole numbers (counts, whole seconds) — their double-precision sums and differences are exact below 2^53, so the
result is the very number re-summing the kept rows gives, whatever the order. Any other key (a fractional value, a
unit above the agents) is re-read from its rows as before, and so is every key of a batch that moved stored calls'
repeat verdicts (their rows changed without being replaced).
"""

from __future__ import annotations

from services.ingest.rules import SIDES, rules_by_kind

REPLACED = "replaced_sums"
INCREMENTED = "incremented_key"
REST = "unincremented_key"


def _quote(measure: str) -> str:
    return '"' + measure.replace('"', '""') + '"'


def replaced_table(kind: str, side: str) -> str:
    """The temporary table of one side's sums of the rows a batch of ``kind`` deleted (its corrections' stored
    versions)."""
    return f"{REPLACED}_{kind}_{side}"


def replaced_ddl(kind: str) -> list[str]:
    """The statements creating the replaced rows' tables of every side, empty (``replaced_ctes`` fill them; another
    load of the kind earlier in the transaction may have left them)."""
    out = []
    for side, rules in rules_by_kind()[kind].items():
        columns = ", ".join(f"{_quote(r.measure)} double precision" for r in rules)
        out.append(f"DROP TABLE IF EXISTS {replaced_table(kind, side)}")
        out.append(
            f"CREATE TEMP TABLE {replaced_table(kind, side)} "
            f"(unit_id text, day date, integral boolean, {columns}) ON COMMIT DROP"
        )
    return out


def replaced_ctes(kind: str, deleted: str) -> str:
    """CTEs (each starting with a comma) summing the rows of ``deleted`` (a CTE returning deleted raw rows) per side
    and (unit, day) into the replaced tables, with whether every value of those rows is a whole number."""
    out = ""
    for side, rules in rules_by_kind()[kind].items():
        # each row's values computed once (``OFFSET 0`` keeps the subquery apart: merged, every expression would be
        # evaluated for its integral check and again for its sum)
        values = ", ".join(f"({r.expression})::double precision AS v{i}" for i, r in enumerate(rules))
        integral = " AND ".join(f"coalesce(v{i} = trunc(v{i}), true)" for i in range(len(rules)))
        sums = ", ".join(f"sum(v{i})" for i in range(len(rules)))
        columns = ", ".join(_quote(r.measure) for r in rules)
        out += (
            f", replaced_{side} AS (INSERT INTO {replaced_table(kind, side)} (unit_id, day, integral, {columns}) "
            f"SELECT unit_id, day, bool_and({integral}), {sums} "
            f"FROM (SELECT {SIDES[side]} AS unit_id, r.day, {values} FROM {deleted} r OFFSET 0) v GROUP BY 1, 2)"
        )
    return out


def incremented_sql(kind: str, affected: str) -> str:
    """The temporary table of the ``affected`` keys taken by increments: agents' keys whose stored daily values (of
    every side of ``kind``) and replaced rows are whole numbers."""
    sides = rules_by_kind()[kind]
    stored = " AND ".join(
        f"coalesce(d.{_quote(r.measure)} = trunc(d.{_quote(r.measure)}), true)"
        for rules in sides.values()
        for r in rules
    )
    # a hashed subplan, whatever the (absent) statistics of the tables just made: as NOT EXISTS, the plan was a scan
    # of the replaced rows for every key (428 keys: 9 ms; quadratic in the keys). A NULL key would make NOT IN null:
    # that key is then read from its rows, never wrongly incremented
    replaced = " AND ".join(
        f"(k.unit_id, k.day) NOT IN (SELECT x.unit_id, x.day FROM {replaced_table(kind, side)} x WHERE NOT x.integral)"
        for side in sides
    )
    return f"""CREATE TEMP TABLE {INCREMENTED} ON COMMIT DROP AS
SELECT k.unit_id, k.day
FROM {affected} k
JOIN ingest.unit u ON u.id = k.unit_id AND u.kind = 'agent'
LEFT JOIN ingest.daily_measure d ON d.unit_id = k.unit_id AND d.day = k.day
WHERE {stored} AND {replaced}"""


def kept_sums_sql(kind: str, side: str, table: str) -> str:
    """Into ``table``: for each incremented key, its stored daily values of ``side`` minus its replaced rows' sums."""
    columns = [_quote(r.measure) for r in rules_by_kind()[kind][side]]
    kept = ", ".join(f"coalesce(d.{c}, 0) - coalesce(x.{c}, 0) AS {c}" for c in columns)
    replaced = ", ".join(f"sum({c}) AS {c}" for c in columns)
    listed = ", ".join(f"d.{c}" for c in columns)
    # the stored row of each key through the primary key (``OFFSET 0``: a plan that does not hang on the statistics of
    # a table just made — unanalysed, a hash join read the whole daily table: 14 ms of a 5,000-row correction here,
    # a province-year's 1.1 M daily rows there)
    return f"""CREATE TEMP TABLE {table} ON COMMIT DROP AS
SELECT k.unit_id, k.day, {kept}
FROM {INCREMENTED} k
LEFT JOIN LATERAL (
    SELECT {listed} FROM ingest.daily_measure d WHERE d.unit_id = k.unit_id AND d.day = k.day OFFSET 0
) d ON true
LEFT JOIN (SELECT unit_id, day, {replaced} FROM {replaced_table(kind, side)} GROUP BY 1, 2) x
    ON x.unit_id = k.unit_id AND x.day = k.day"""


def rest_sql(affected: str) -> str:
    """The temporary table of the ``affected`` keys not incremented: read from their rows."""
    return (
        f"CREATE TEMP TABLE {REST} ON COMMIT DROP AS SELECT unit_id, day FROM {affected} "
        f"EXCEPT SELECT unit_id, day FROM {INCREMENTED}"
    )
