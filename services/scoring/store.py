"""Writing a computed revision: the revision row, each unit's result and its detail for that revision."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.detail import Compactor
from services.scoring.engine import canonical_json
from services.scoring.models import RESULT_CHANGE_SEQ, EvaluationRun, ResultRevision, RunRevision, UnitResult


async def store_revision(
    session: AsyncSession,
    run: EvaluationRun,
    *,
    revision: int,
    inputs: dict[str, Any],
    outcome: dict[str, Any],
    sha256: str,
    reason: str,
    created_by: str,
    appeal_id: str | None = None,
) -> dict[str, uuid.UUID]:
    """Insert revision ``revision`` of ``run`` and point each unit's result at it. Returns unit → result id.

    An ``inputs.Outcome`` of format 2 or 3 is stored as figures (one row per unit: head, extras, figures);
    any other outcome as format 1 (one compact JSON document per unit)."""
    outcome_format = getattr(outcome, "format", 1)
    stored_as_figures = outcome_format in (2, 3)
    session.add(
        RunRevision(
            run_id=run.id,
            revision=revision,
            reason=reason,
            appeal_id=appeal_id,
            created_by=created_by,
            inputs=inputs,
            cohort_summary=outcome.summary()
            if stored_as_figures
            else {"scheme": outcome["scheme"], "cohort": outcome["cohort"]},
            outcome_sha256=sha256,
            outcome_format=outcome_format if stored_as_figures else 1,
        )
    )
    await session.flush()
    # A published run's results change visibly: they take new change numbers for the incremental pull.
    change_seq = RESULT_CHANGE_SEQ.next_value() if run.published_at is not None else None
    if stored_as_figures:
        heads = outcome.figures.heads
        units = [h["unit"] for h in heads]
        headline = heads
    else:
        headline = outcome["units"]
        units = [u["unit"] for u in headline]
    if units:
        # One statement for the cohort: the columns as arrays, unnested by PostgreSQL (not one bind per
        # value); RETURNING gives each unit's stable result id, new or kept from an earlier revision.
        returned = await session.execute(
            text(
                f"""INSERT INTO {UnitResult.__table__.fullname} AS r (id, run_id, unit_id, revision, total, grade, rank)
                SELECT u.id, :run_id, u.unit_id, :revision, u.total, u.grade, u.rank
                FROM unnest(CAST(:ids AS uuid[]), CAST(:unit_ids AS text[]), CAST(:totals AS float8[]),
                            CAST(:grades AS text[]), CAST(:ranks AS integer[])) AS u(id, unit_id, total, grade, rank)
                ON CONFLICT (run_id, unit_id) DO UPDATE SET revision = excluded.revision, total = excluded.total,
                    grade = excluded.grade, rank = excluded.rank, changed_at = excluded.changed_at
                RETURNING r.unit_id, r.id"""
            ),
            {
                "run_id": run.id,
                "revision": revision,
                "ids": [uuid.uuid4() for _ in units],
                "unit_ids": units,
                "totals": [u["total"] for u in headline],
                "grades": [u["grade"]["code"] if u["grade"] else None for u in headline],
                "ranks": [u["rank"] for u in headline],
            },
        )
        ids = {unit: uuid.UUID(str(result_id)) for unit, result_id in returned.all()}
    if change_seq is not None:
        await session.execute(update(UnitResult).where(UnitResult.run_id == run.id).values(change_seq=change_seq))
    if not units:
        ids = dict(
            (await session.execute(select(UnitResult.unit_id, UnitResult.id).where(UnitResult.run_id == run.id))).all()
        )
    if units:
        # Written with COPY: no bind per row and no document of the whole cohort to parse. Format 2: each
        # unit's head and extras as the canonical JSON the digest was taken over, and its figures' bytes;
        # format 1: the compact detail (``detail.Expander`` restores the scheme-derived fields on read).
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        table = ResultRevision.__table__
        if stored_as_figures:
            columns = ["result_id", "revision", "head", "extras", "figures"]
            records = [
                (ids[u], revision, head, extras, blob)
                for u, head, extras, blob in zip(units, outcome.heads, outcome.extras, outcome.blobs, strict=True)
            ]
        else:
            compactor = Compactor()
            columns = ["result_id", "revision", "detail"]
            records = [(ids[u["unit"]], revision, canonical_json(compactor.unit(u))) for u in headline]
        await driver.copy_records_to_table(table.name, schema_name=table.schema, columns=columns, records=records)
    run.current_revision = revision
    await session.flush()
    return ids


def diff_details(before: dict[str, dict], after: dict[str, dict]) -> list[dict]:
    """What changed between two revisions, unit by unit: headline figures and each indicator's value
    and score. Units are compared by id; lists are in unit and indicator order."""
    changes = []
    for unit in sorted(set(before) | set(after)):
        b, a = before.get(unit, {}), after.get(unit, {})
        for field in ("total", "rank"):
            if b.get(field) != a.get(field):
                changes.append(
                    {"unit": unit, "indicator": None, "field": field, "before": b.get(field), "after": a.get(field)}
                )
        grade_b = (b.get("grade") or {}).get("code")
        grade_a = (a.get("grade") or {}).get("code")
        if grade_b != grade_a:
            changes.append({"unit": unit, "indicator": None, "field": "grade", "before": grade_b, "after": grade_a})
        b_ind = {i["indicator"]: i for i in b.get("indicators", [])}
        a_ind = {i["indicator"]: i for i in a.get("indicators", [])}
        for code in sorted(set(b_ind) | set(a_ind)):
            for field in ("value", "score"):
                vb, va = b_ind.get(code, {}).get(field), a_ind.get(code, {}).get(field)
                if vb != va:
                    changes.append({"unit": unit, "indicator": code, "field": field, "before": vb, "after": va})
    return changes
