"""Writing a computed revision: the revision row, each unit's result and its detail for that revision."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
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
    """Insert revision ``revision`` of ``run`` and point each unit's result at it. Returns unit → result id."""
    session.add(
        RunRevision(
            run_id=run.id,
            revision=revision,
            reason=reason,
            appeal_id=appeal_id,
            created_by=created_by,
            inputs=inputs,
            cohort_summary={"scheme": outcome["scheme"], "cohort": outcome["cohort"]},
            outcome_sha256=sha256,
        )
    )
    await session.flush()
    # A published run's results change visibly: they take new change numbers for the incremental pull.
    change_seq = RESULT_CHANGE_SEQ.next_value() if run.published_at is not None else None
    rows = [
        {
            "id": uuid.uuid4(),
            "run_id": run.id,
            "unit_id": u["unit"],
            "revision": revision,
            "total": u["total"],
            "grade": u["grade"]["code"] if u["grade"] else None,
            "rank": u["rank"],
        }
        for u in outcome["units"]
    ]
    if rows:
        statement = insert(UnitResult).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["run_id", "unit_id"],
            set_={
                "revision": statement.excluded.revision,
                "total": statement.excluded.total,
                "grade": statement.excluded.grade,
                "rank": statement.excluded.rank,
                "changed_at": statement.excluded.changed_at,
            },
        )
        await session.execute(statement)
    if change_seq is not None:
        await session.execute(update(UnitResult).where(UnitResult.run_id == run.id).values(change_seq=change_seq))
    ids = dict(
        (await session.execute(select(UnitResult.unit_id, UnitResult.id).where(UnitResult.run_id == run.id))).all()
    )
    if outcome["units"]:
        # One JSON document for all units, unpacked by PostgreSQL: one parse instead of one bind per row.
        # Each unit is stored compact (``detail.Expander`` restores the scheme-derived fields on read),
        # in the canonical JSON the digest was taken over (``inputs.evaluate``), serialised only once.
        unit_json = getattr(outcome, "unit_json", None)
        if unit_json is None or len(unit_json) != len(outcome["units"]):
            compactor = Compactor()
            unit_json = [canonical_json(compactor.unit(u)) for u in outcome["units"]]
        payload = (
            "["
            + ",".join(
                f'{{"result_id":"{ids[u["unit"]]}","detail":{text_}}}'
                for u, text_ in zip(outcome["units"], unit_json, strict=True)
            )
            + "]"
        )
        await session.execute(
            text(
                f"INSERT INTO {ResultRevision.__table__.fullname} (result_id, revision, detail) "
                "SELECT (e->>'result_id')::uuid, :revision, e->'detail' FROM json_array_elements(CAST(:payload AS json)) e"
            ),
            {"revision": revision, "payload": payload},
        )
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
