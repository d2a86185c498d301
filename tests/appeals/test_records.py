"""The record: append-only in the database itself, readable by the appellant and the organizer; and the
version check at the SQL level, with two real connections racing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hotline.kit.db import Database
from hotline.kit.errors import ConflictError
from services.appeals import repository
from services.appeals.models import Appeal
from tests.appeals.conftest import REVIEWER, TAKE, UNIT, auth, call, file_appeal
from tests.support import data_of, gql

EVENTS = "query($id: ID!) { appeal(id: $id) { events { id kind actorUnitId data } } }"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE appeals.appeal_event SET kind = 'withdrawn'",
        "UPDATE appeals.appeal_event SET data = '{}'::jsonb WHERE kind = 'filed'",
        "DELETE FROM appeals.appeal_event",
        "TRUNCATE appeals.appeal_event CASCADE",
    ],
)
async def test_the_event_log_refuses_update_delete_and_truncate(appeals, db, statement):
    appeal = (await file_appeal(appeals))["appeal"]
    async with db.session() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text(statement))
        await session.rollback()
    # Nothing changed: the record reads as before.
    events = data_of(await gql(appeals, EVENTS, {"id": appeal["id"]}, headers=UNIT))["appeal"]["events"]
    assert [e["kind"] for e in events] == ["filed", "submitted"]


async def test_appellant_and_organizer_read_the_same_record(appeals):
    appeal = (await file_appeal(appeals))["appeal"]
    await call(appeals, TAKE, {"id": appeal["id"], "v": appeal["version"]}, REVIEWER)
    seen = [
        data_of(await gql(appeals, EVENTS, {"id": appeal["id"]}, headers=h))["appeal"]["events"]
        for h in (UNIT, auth("GD-GZ", "organizer"), auth("GD", "viewer"))
    ]
    assert seen[0] == seen[1] == seen[2]
    assert [(e["kind"], e["actorUnitId"]) for e in seen[0]] == [
        ("filed", "GZ-HOUSING"),
        ("submitted", "GZ-HOUSING"),
        ("assigned", "GD-GZ"),
    ]
    assert seen[0][0]["data"]["result_id"] == "R-HOUSING"


async def test_a_racing_update_on_a_second_connection_gets_conflict(engine, database_url):
    """Two transactions update the same appeal from the same version: the second waits for the first
    (row lock), then finds the version moved and raises CONFLICT instead of overwriting it."""
    appeal_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO appeals.appeal (id, result_id, result_ids, run_id, revision, unit_id, organizer_id, deciding_unit_id,"
                " status, reason_category, reason, indicators, published_at, window_closes_at, escalation_days,"
                " decision_days, score_at_filing, filed_by, filed_at, updated_at) VALUES (:id, 'R', '{R}', 'RUN-RACE', 1,"
                " 'U', 'O', 'O', 'in_review', 'other', 'r', '{a}', :now, :now, 1, 1, '{}', 's', :now, :now)"
            ),
            {"id": appeal_id, "now": now},
        )
    try:
        async with engine.connect() as first, engine.connect() as second:
            db1, db2 = Database(first), Database(second)
            async with db1.session() as s1, db2.session() as s2:
                a1 = await s1.get(Appeal, appeal_id)
                a2 = await s2.get(Appeal, appeal_id)
                await repository.save(s1, a1, 1, now, status="decided", outcome="upheld")  # holds the row lock
                racing = asyncio.create_task(repository.save(s2, a2, 1, now, status="decided", outcome="rejected"))
                await asyncio.sleep(0.3)
                assert not racing.done()  # blocked behind the first transaction
                await s1.commit()
                with pytest.raises(ConflictError) as raised:
                    await racing
                assert raised.value.details["current_version"] == 2
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT outcome, version FROM appeals.appeal WHERE id = :id"), {"id": appeal_id}
                )
            ).one()
        assert tuple(row) == ("upheld", 2)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM appeals.appeal WHERE id = :id"), {"id": appeal_id})
