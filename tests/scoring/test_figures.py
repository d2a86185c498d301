"""Results stored as figures (outcome formats 2 and 3) read back as exactly the engine's results, and revisions
stored before in format 1 (one compact JSON document per unit) or format 2 stay readable and reproducible."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace

from sqlalchemy import select

from services.scoring import repository
from services.scoring.detail import compact_outcome
from services.scoring.engine import canonical_json, compute
from services.scoring.inputs import OUTCOME_FORMAT, engine_input, evaluate
from services.scoring.models import EvaluationRun, ResultRevision, RunRevision, UnitResult
from services.scoring.store import store_revision
from tests.scoring.test_runs import DIFF, ORGANIZER, finished_run
from tests.support import data_of, gql


async def test_figures_read_back_as_the_engines_results_and_format_1_revisions_stay_readable(scoring, drain, db):
    run = await finished_run(scoring, drain)
    async with db.unit_of_work() as session:
        row = await session.get(EvaluationRun, uuid.UUID(run["id"]))
        first = await session.get(RunRevision, (row.id, 1))
        assert first.outcome_format == OUTCOME_FORMAT == 3
        stored = (await session.execute(select(ResultRevision).where(ResultRevision.revision == 1))).scalars().all()
        assert stored and all(r.detail is None and r.figures and r.head for r in stored)
        # A revision in the earliest form: compact JSON per unit, digest over the outcome's canonical JSON, the
        # arithmetic of formats 1 and 2 (scores rounded before they are summed).
        outcome, sha = evaluate(row.scheme_document, first.inputs, outcome_format=1)
        legacy = compute(engine_input(row.scheme_document, first.inputs, legacy=True))
        assert sha == hashlib.sha256(canonical_json(compact_outcome(legacy)).encode()).hexdigest()
        await store_revision(
            session, row, revision=2, inputs=first.inputs, outcome=outcome, sha256=sha, reason="format 1", created_by="t"
        )  # fmt: skip
        # And one in format 2: figures of the same legacy arithmetic.
        outcome, sha = evaluate(row.scheme_document, first.inputs, outcome_format=2)
        await store_revision(
            session, row, revision=3, inputs=first.inputs, outcome=outcome, sha256=sha, reason="format 2", created_by="t"
        )  # fmt: skip
    async with db.session() as session:
        second = await session.get(RunRevision, (row.id, 2))
        third = await session.get(RunRevision, (row.id, 3))
        assert (second.outcome_format, third.outcome_format) == (1, 2)
        assert evaluate(row.scheme_document, second.inputs, outcome_format=1)[1] == second.outcome_sha256
        assert evaluate(row.scheme_document, third.inputs, outcome_format=2)[1] == third.outcome_sha256
        assert evaluate(row.scheme_document, first.inputs)[1] == first.outcome_sha256
        ids = dict((await session.execute(select(UnitResult.unit_id, UnitResult.id))).all())
        found = await repository.details(session, [(i, r) for i in ids.values() for r in (1, 2, 3)])
    exact = {u["unit"]: u for u in compute(engine_input(row.scheme_document, first.inputs))["units"]}
    by_unit = {u["unit"]: u for u in legacy["units"]}
    for unit, result_id in ids.items():
        from_figures, from_json, from_format_2 = found[(result_id, 1)], found[(result_id, 2)], found[(result_id, 3)]
        assert canonical_json(from_figures) == canonical_json(exact[unit])
        assert canonical_json(from_json) == canonical_json(from_format_2) == canonical_json(by_unit[unit])
    # The legacy and exact arithmetic give these results the same totals (their only difference here is the
    # precision of the dimension subtotals), so the diff between revision 1 and 2 shows no change.
    assert {u: r["total"] for u, r in exact.items()} == {u: r["total"] for u, r in by_unit.items()}
    diff = data_of(await gql(scoring, DIFF, {"id": run["id"]}, headers=ORGANIZER))["run"]["diff"]
    assert diff == []
    assert compute(replace(engine_input(row.scheme_document, first.inputs), legacy=True)) == legacy
