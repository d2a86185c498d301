"""The visibility policy's end-to-end data (issue 15): two published runs of Shenzhen's agents, stored with
scoring's own code on the demo's units, their scheme versions held by indicators as `publishScheme` leaves
them. Team 2's ranking is public (organizer SZ-T2), team 1's is not (organizer SZ-T1). The session fixture
``policy_runs`` (tests/e2e/conftest.py) stores them once for every test that reads them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hotline.kit.db import Database
from services.indicators.models import Scheme, SchemeVersion
from tests.e2e.test_scoring_gateway import store_published_run
from tests.scoring.example import example_scheme

PUBLIC = {"UA": "SZ-T2-A001", "UB": "SZ-T2-A002", "UC": "SZ-T2-A003", "UD": "SZ-T2-A004"}
PRIVATE = {"UA": "SZ-T1-A001", "UB": "SZ-T1-A002", "UC": "SZ-T1-A003", "UD": "SZ-T1-A004"}
ME, PEER = "SZ-T2-A003", "SZ-T2-A001"  # UC (80.95, rank 2) and UA of the hand-computed example
PRIVATE_ME, PRIVATE_PEER = "SZ-T1-A003", "SZ-T1-A001"


async def store_scheme_and_run(stack, *, organizer: str, units: dict[str, str], public: bool) -> dict[str, str]:
    """A published scheme version in indicators (as `publishScheme` leaves it) and its run, published, in scoring."""
    scheme_id = uuid.uuid4()
    document = example_scheme(
        id=str(scheme_id), code=f"E2E-POLICY-{organizer}", organizer=organizer,
        cohort={"units": sorted(units.values())}, rankings_public=public,
    )  # fmt: skip
    database = Database.from_url(stack.database_url)
    async with database.unit_of_work() as session:
        session.add(Scheme(id=scheme_id, code=document["code"], organizer_id=organizer, created_by="e2e"))
        await session.flush()
        session.add(SchemeVersion(
            scheme_id=scheme_id, version=1, status="published", body=document, created_by="e2e",
            published_at=datetime.now(UTC), published_by="e2e",
        ))  # fmt: skip
    await database.dispose()
    run_id = await store_published_run(stack, document, units, organizer=organizer)
    return {"run": run_id, "scheme": f"{scheme_id}:1"}


async def store_policy_runs(stack) -> dict[str, dict[str, str]]:
    return {
        "public": await store_scheme_and_run(stack, organizer="SZ-T2", units=PUBLIC, public=True),
        "private": await store_scheme_and_run(stack, organizer="SZ-T1", units=PRIVATE, public=False),
    }
