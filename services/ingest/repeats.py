"""Repeat callers (重复来电; seed 000: repeat-call rate ≤ 8 %): the 7-day look-back over hashed callers.

A call's repeat flag is the source's ``repeat_caller`` where the source set it. Where it did not and the call has
a ``caller_hash``, ingest judges it (``raw_call.repeat_lookback``): the call is a repeat when it is an inbound call
(not phantom) and the same caller had made an inbound call (not phantom, whatever its outcome) to the **same
hotline body** in the 168 hours before it — an earlier call exactly 168 h before counts, one at the same instant
does not. The hotline body of a call is the nearest unit at or above the call's unit whose kind is a city or
province body (热线工作机构, the kinds ``BODY_KINDS``; ``registration.ALLOWED_PARENT_KINDS`` puts agent teams right
under them): an agent's calls count for its team's city. A call with neither a flag nor a hash is no repeat (not
available). ``calls.repeat`` counts the answered calls flagged either way (``rules.py``).

The verdict depends on the set of stored calls only, never on the order they arrived in. So a batch judges again
every call whose look-back it changes: its own calls with a hash, and the stored calls of the same callers in the
168 hours after each call it adds, replaces (a correction: the old version and the new) or removes (a
withdrawal) — across batches and across months (raw calls are partitioned by month: a call of 2 March looks back
into late February). A stored call whose verdict moves is updated and its (unit, day) joins the keys the batch
recomputes (``touched``), so its measures move with it, in the batch's transaction.

Set-based, no query per call: the stored calls of the days around the changed ones (the month partitions concerned,
and within them each month's BRIN index on ``(day, batch_id)``) are joined by hash to the callers concerned, and
one window over them, per caller and body in time order, gives every verdict. The verdicts that move are kept in
``repeat_judged``; the calls that do not move are not written. (Why no index on the caller: migration
``ingest_0009``.)

The unit tree is read when a call is judged: a unit moved to another city later does not move verdicts made
before (a re-send of the calls concerned does not either, being duplicates; withdrawing and re-sending does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

WINDOW = "interval '168 hours'"
LOOK_BACK = timedelta(hours=168)
BODY_KINDS = ("province_body", "city_body")
CHANGES = "repeat_change"  # calls removed from the stored set: (caller_hash, started_at)
JUDGED = "repeat_judged"  # the verdicts that move
BODIES = "call_body"  # unit → its hotline body

CHANGES_DDL = (
    f"CREATE TEMP TABLE IF NOT EXISTS {CHANGES} (caller_hash text NOT NULL, started_at timestamptz NOT NULL) "
    "ON COMMIT DROP"
)
# the look-back of a call judged by ingest before it is judged: no repeat; none where ingest does not judge it
UNJUDGED = "(CASE WHEN {a}caller_hash IS NOT NULL AND {a}repeat_caller IS NULL THEN false END)"


def unjudged(alias: str = "") -> str:
    """``UNJUDGED`` over the columns of ``alias`` (bare columns without one)."""
    return UNJUDGED.format(a=f"{alias}." if alias else "")


_QUALIFYING = "{a}.direction = 'inbound' AND {a}.outcome <> 'phantom'"
_JUDGED_COLUMNS = (
    ("current", "boolean"), ("batch_id", "bigint"), ("row_no", "integer"), ("source", "text"), ("record_id", "text"),
    ("day", "date"), ("unit_id", "text"), ("previous", "boolean"), ("repeat", "boolean"),
)  # fmt: skip


def tracks(kind: str) -> bool:
    """Whether a record kind has a look-back to keep (calls)."""
    return kind == "call"


def counted_delete(kind: str, delete: str) -> str:
    """``delete`` (a ``DELETE`` of raw rows, alias ``r``, without ``RETURNING``), counted; the removed calls with a
    caller hash are recorded as changes (``CHANGES_DDL`` made beforehand)."""
    if not tracks(kind):
        return f"WITH d AS ({delete} RETURNING 1) SELECT count(*) FROM d"
    return (
        f"WITH d AS ({delete} RETURNING r.caller_hash, r.started_at), "
        f"c AS (INSERT INTO {CHANGES} SELECT caller_hash, started_at FROM d WHERE caller_hash IS NOT NULL) "
        "SELECT count(*) FROM d"
    )


BODIES_SQL = f"""CREATE TEMP TABLE IF NOT EXISTS {BODIES} ON COMMIT DROP AS
SELECT u.id AS unit_id,
       (SELECT p.id FROM unnest(string_to_array(u.path, '/')) WITH ORDINALITY AS p(id, n)
        JOIN ingest.unit a ON a.id = p.id
        WHERE a.kind IN ({", ".join(f"'{k}'" for k in BODY_KINDS)}) ORDER BY p.n DESC LIMIT 1) AS body_id
FROM ingest.unit u"""


@dataclass(frozen=True, slots=True)
class Current:
    """The batch's calls not in the raw table (a stage, a month's scratch table): every one is judged."""

    table: str
    previous: str  # their verdict so far (over alias ``c``)
    times: tuple[datetime | None, datetime | None] | None = None  # first and last time of those with a hash, if known
    near_stored: str = "true"  # (over alias ``x``) those whose 168 hours may reach stored calls
    by_ctid: bool = False  # ``JUDGED.ref``: their ctid (a table no other connection changes until it is read)


def judge_sql(current: Current | None, stored_filter: str, days: tuple[date, date], share: str = "true") -> str:
    """The statement filling ``JUDGED`` with every call whose verdict moves.

    ``current``: the batch's calls not in the raw table, all judged; the stored calls matching ``stored_filter``
    (alias ``r``) on the days ``days`` (which hold every stored call concerned) are judged when they fall in the
    168 hours after a change, and read as earlier calls before it. Changes: ``CHANGES`` and the current calls.
    ``share`` (over alias ``{a}``): only the callers it holds (``judge_month`` shares the callers between two
    connections).
    """
    qualifying = _QUALIFYING.format
    changed = f"SELECT caller_hash, started_at FROM {CHANGES} x WHERE {share.format(a='x')}"
    candidates = []
    if current is not None:
        changed += (
            f" UNION ALL SELECT caller_hash, started_at FROM {current.table} x "
            f"WHERE caller_hash IS NOT NULL AND {share.format(a='x')} AND {current.near_stored}"
        )
        candidates.append(
            # the current calls are known by their row (batch, row number): the sort carries no more of them
            f"""SELECT true AS current, c.batch_id, c.row_no, NULL::text AS source, NULL::text AS record_id,
           NULL::date AS day, NULL::text AS unit_id, {current.previous} AS previous, c.caller_hash, b.body_id,
           c.started_at, {qualifying(a="c")} AS qualifying, c.repeat_caller IS NULL AS target,
           {"c.ctid" if current.by_ctid else "NULL::tid"} AS ref
    FROM {current.table} c JOIN {BODIES} b ON b.unit_id = c.unit_id
    WHERE c.caller_hash IS NOT NULL AND {share.format(a="c")}"""
        )
    low, high = days
    candidates.append(
        f"""SELECT false AS current, r.batch_id, r.row_no, r.source, r.record_id, r.day, r.unit_id,
           r.repeat_lookback AS previous, r.caller_hash, b.body_id, r.started_at, {qualifying(a="r")} AS qualifying,
           r.repeat_caller IS NULL AND r.started_at >= s.first_at AS target, NULL::tid AS ref
    FROM span s
    JOIN ingest.raw_call r ON r.caller_hash = s.caller_hash
         AND r.started_at >= s.first_at - {WINDOW} AND r.started_at <= s.last_at
    JOIN {BODIES} b ON b.unit_id = r.unit_id
    WHERE r.caller_hash IS NOT NULL AND r.day BETWEEN '{low.isoformat()}' AND '{high.isoformat()}'
      AND {stored_filter}"""
    )
    union_all = "\n    UNION ALL\n    ".join(candidates)
    return f"""CREATE TEMP TABLE {JUDGED} ON COMMIT DROP AS
WITH changed AS ({changed}),
span AS (  -- per caller: the calls a change may move lie in [first_at, last_at]; their look-back reaches back 168 h
    SELECT caller_hash, min(started_at) AS first_at, max(started_at) + {WINDOW} AS last_at FROM changed GROUP BY 1
),
candidate AS (
    {union_all}
),
judged AS (  -- the caller's latest earlier call to the body (at least a microsecond before) within 168 hours
    SELECT current, batch_id, row_no, source, record_id, day, unit_id, previous, target, ref,
           qualifying AND coalesce(max(started_at) FILTER (WHERE qualifying) OVER (
               PARTITION BY caller_hash COLLATE "C", body_id ORDER BY started_at
               RANGE BETWEEN UNBOUNDED PRECEDING AND interval '1 microsecond' PRECEDING
           ) >= started_at - {WINDOW}, false) AS repeat
    FROM candidate
)
SELECT current, batch_id, row_no, source, record_id, day, unit_id, previous, repeat, ref
FROM judged WHERE target AND repeat IS DISTINCT FROM previous"""


async def judge(apg, current: Current | None = None, stored_filter: str = "true", share: str = "true") -> bool:
    """Fill ``JUDGED`` (see ``judge_sql``) on ``apg``; ``False`` when nothing changed that has a caller hash."""
    await apg.execute(CHANGES_DDL)
    times = [t for t in await apg.fetchrow(f"SELECT min(started_at), max(started_at) FROM {CHANGES}") if t]
    if current is not None:
        current_times = current.times or await apg.fetchrow(
            f"SELECT min(started_at), max(started_at) FROM {current.table} WHERE caller_hash IS NOT NULL"
        )
        times += [t for t in current_times if t]
    await apg.execute(f"DROP TABLE IF EXISTS {JUDGED}")
    if not times:
        return False
    # the days holding every stored call concerned: local days, whatever the zone (two days' slack each side)
    days = ((min(times) - LOOK_BACK).date() - timedelta(2), (max(times) + LOOK_BACK).date() + timedelta(2))
    await apg.execute(BODIES_SQL)
    await apg.execute(f"ANALYZE {BODIES}")  # a few rows: without statistics the join would hash the calls instead
    # the window sorts the callers' calls: in memory rather than in many spilled runs (one statement). The stored
    # calls of the days are read by a bitmap scan of those days, each page once: they are many (a daily file's days
    # around it: ~900,000 calls at 100,000 a day), but a month's statistics made before its latest days were loaded
    # (a month built whole is analysed with its first file; autovacuum may be off) estimate a few thousand rows and
    # a month of one day, so the plan was either an index scan in (day, unit) order, a heap page per row (a
    # 110,000-call file on its ninth day: 2.6 s against 1.0–1.3 s, on the same database), or a sequential scan of
    # every month the days touch, growing with the month (`EXPLAIN` in the province-year's database: the whole of
    # February's 2.95 M and March's 1.03 M calls for a look-back of 21 days; docs/performance.md)
    await apg.execute("SET LOCAL work_mem = '128MB'; SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off")
    await apg.execute(judge_sql(current, stored_filter, days, share))
    await apg.execute(
        "SET LOCAL work_mem TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT; SET LOCAL enable_seqscan TO DEFAULT"
    )
    await apg.execute(f"ANALYZE {JUDGED}")  # joined with the calls next: its size decides the plan
    return True


async def apply_to_stored(apg, moves: list | None = None) -> int:
    """Write the moved verdicts of stored calls (``JUDGED``'s, or ``moves``: its rows, from another connection) to
    the raw table; their (unit, day) join ``touched``. Returns how many moved."""
    if moves is not None:
        await apg.execute(f"DROP TABLE IF EXISTS {JUDGED}")
        columns = ", ".join(f"{name} {sql_type}" for name, sql_type in _JUDGED_COLUMNS)
        await apg.execute(f"CREATE TEMP TABLE {JUDGED} ({columns}) ON COMMIT DROP")
        if moves:
            await apg.copy_records_to_table(JUDGED, records=moves, columns=[n for n, _ in _JUDGED_COLUMNS])
    elif await apg.fetchval("SELECT to_regclass($1) IS NULL", JUDGED):
        return 0
    return await apg.fetchval(
        f"""WITH moved AS (
                UPDATE ingest.raw_call r SET repeat_lookback = j.repeat FROM {JUDGED} j
                WHERE NOT j.current AND r.record_id = j.record_id COLLATE "C" AND r.source = j.source COLLATE "C"
                  AND r.day = j.day
                RETURNING r.unit_id, r.day),
            keyed AS (INSERT INTO touched (unit_id, day) SELECT DISTINCT unit_id, day FROM moved)
            SELECT count(*) FROM moved"""
    )


async def stored_moves(apg) -> list:
    """The moved verdicts of stored calls in ``JUDGED``, as rows (for ``apply_to_stored`` on another connection)."""
    columns = ", ".join(name for name, _ in _JUDGED_COLUMNS)
    return [tuple(r) for r in await apg.fetch(f"SELECT {columns} FROM {JUDGED} WHERE NOT current")]


def stage_join(stage_alias: str) -> tuple[str, str]:
    """(join, value): how a stage's rows take their verdict into the raw table — the moved ones from ``JUDGED``
    (keyed by row number: the stage holds one batch's rows), every other one unjudged."""
    join = f" LEFT JOIN {JUDGED} j ON j.current AND j.row_no = {stage_alias}.row_no"
    return join, f"coalesce(j.repeat, {unjudged(stage_alias)})"


STAGE_COUNTS = (
    ("sourceFlag", "repeat_caller IS NOT NULL"),
    ("computed", "repeat_caller IS NULL AND caller_hash IS NOT NULL"),
    ("noCallerHash", "repeat_caller IS NULL AND caller_hash IS NULL"),
)


def report(counts: dict[str, int], computed_repeats: int, other_calls_changed: int) -> dict[str, int]:
    """The batch report's ``repeatCallers``: how the calls this batch stored got their flag."""
    return {
        "sourceFlag": counts["sourceFlag"],
        "computed": counts["computed"],
        "computedRepeats": computed_repeats,
        "noCallerHash": counts["noCallerHash"],
        "otherCallsChanged": other_calls_changed,
    }


async def judge_stage(apg, stage: str) -> tuple[dict[str, int], bool]:
    """Judge a stage's calls (the batch's new and corrected calls, not yet stored; the replaced ones already gone)
    and the stored calls around them; the stored ones that move are written. Returns the batch's report, and
    whether ``JUDGED`` holds the stage's verdicts (``stage_join``)."""
    counted = ", ".join(f"count(*) FILTER (WHERE {condition})" for _, condition in STAGE_COUNTS)
    times = (
        "min(started_at) FILTER (WHERE caller_hash IS NOT NULL), max(started_at) FILTER (WHERE caller_hash IS NOT NULL)"
    )
    row = await apg.fetchrow(f"SELECT {counted}, {times} FROM {stage}")
    counts = {name: row[i] for i, (name, _) in enumerate(STAGE_COUNTS)}
    if not await judge(apg, Current(stage, unjudged("c"), times=(row[-2], row[-1]))):
        return report(counts, 0, 0), False
    repeats = await apg.fetchval(f"SELECT count(*) FROM {JUDGED} WHERE current AND repeat")
    return report(counts, repeats, await apply_to_stored(apg)), True


def sums_counts(batch: str) -> tuple[tuple[str, str], ...]:
    """(name, aggregate over alias ``r``) counting the batch's calls (rows matching ``batch``) for its report, to add
    to a scan made anyway (``newmonth``'s sums; ``report_from`` reads them)."""
    return tuple(
        (f"repeat_{i}", f"count(*) FILTER (WHERE {batch} AND {condition})")
        for i, (_, condition) in enumerate((*STAGE_COUNTS, ("computedRepeats", "r.repeat_lookback")))
    )


def report_from(row, other_calls_changed: int) -> dict[str, int]:
    """The batch report's ``repeatCallers`` from a row holding ``sums_counts``' totals by name."""
    counts = {name: row[f"repeat_{i}"] for i, (name, _) in enumerate(STAGE_COUNTS)}
    return report(counts, row[f"repeat_{len(STAGE_COUNTS)}"], other_calls_changed)


async def any_hashed(helper, table: str) -> bool:
    """Whether ``table`` holds a call with a caller hash. Without one (a source that sends none) ``judge_month`` has
    nothing to judge — no change, so no stored call moves either — and is not run: one scan of the table, stopped at
    the first hashed call, on one connection, instead of the bodies' table and the judging statement on both
    (0.3 s of each helper for a million calls)."""
    return await helper.fetchval(f"SELECT EXISTS (SELECT FROM {table} WHERE caller_hash IS NOT NULL)")


async def judge_month(
    helper, table: str, month: tuple[datetime, datetime], other_months: str, batch_id: int, part=(0, 1)
) -> tuple[list, int]:
    """Judge every call of a month's scratch table (``newmonth``: the file's calls, and the month's stored calls
    copied there; ``month``: the month's first instant and the next month's, in the file's zone) and the stored
    calls of the other months (``other_months``, over alias ``r``: the partitions not copied); write the scratch
    table's moved verdicts. ``part`` (i, n): only the callers of the i-th of n shares (one per connection). Returns
    the stored calls' moved verdicts (for ``apply_to_stored`` by the load's transaction) and how many of the
    month's stored calls moved."""
    first, after = month
    index, parts = part

    share = f"(hashtext({{a}}.caller_hash) & 2147483647) % {int(parts)} = {int(index)}" if parts > 1 else "true"
    # only the calls of the month's first and last 168 hours reach the other months (two days' slack: a stored
    # call's month is that of its own zone)
    reach = LOOK_BACK + timedelta(days=2)
    edges = f"(x.started_at < '{(first + reach).isoformat()}' OR x.started_at >= '{(after - reach).isoformat()}')"
    current = Current(table, "c.repeat_lookback", times=month, near_stored=edges, by_ctid=True)
    if not await judge(helper, current, stored_filter=other_months, share=share):
        return [], 0
    moved_here = 0
    for verdict in (True, False):  # the moved rows only, fetched by their ctid (the other connection's rows are
        # other callers')
        moved_here += await helper.fetchval(
            f"""WITH m AS (UPDATE {table} SET repeat_lookback = {verdict}
                           WHERE ctid = ANY(ARRAY(SELECT ref FROM {JUDGED} WHERE current AND repeat = {verdict}))
                           RETURNING batch_id)
                SELECT count(*) FILTER (WHERE batch_id <> {int(batch_id)}) FROM m"""
        )
    return await stored_moves(helper), moved_here
