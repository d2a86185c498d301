"""No existence oracle (issue 15, point 3), through the real gateway and the services' REST paths.

Shenzhen's organizer sends every mutation and REST write that takes an id twice: once with an id that exists
in Guangzhou (a sibling city: a unit, a scheme, a run, a result, an appeal, a batch), once with an id nobody
holds. The two answers must be the same bytes once the echoed id is replaced. Registration, dry run included,
answers both with one problem, "id not available" (before the fix: "this id is not available in your scope"
for the existing id, `CREATED` for the free one).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from hotline.kit.db import Database
from services.indicators.models import Scheme, SchemeVersion
from tests.e2e.test_scoring_gateway import store_published_run
from tests.scoring.example import example_scheme
from tests.support import auth, data_of, gql

SHENZHEN = auth("GD-SZ", "organizer")
GZ_UNITS = {"UA": "GZ-POWER", "UB": "GZ-YUEXIU", "UC": "GZ-HUANGPU", "UD": "GZ-YUEXIU-BEIJINGLU"}


@pytest.fixture(scope="module")
async def sibling(stack) -> dict[str, str]:
    """Guangzhou's objects: a published scheme, a published run with results, an appeal, a batch."""
    scheme_id = uuid.uuid4()
    document = example_scheme(
        id=str(scheme_id), code="E2E-ORACLE-GZ", organizer="GD-GZ", cohort={"units": sorted(GZ_UNITS.values())}
    )
    database = Database.from_url(stack.database_url)
    async with database.unit_of_work() as session:
        session.add(Scheme(id=scheme_id, code=document["code"], organizer_id="GD-GZ", created_by="e2e"))
        await session.flush()
        session.add(SchemeVersion(
            scheme_id=scheme_id, version=1, status="published", body=document, created_by="e2e",
            published_at=datetime.now(UTC), published_by="e2e",
        ))  # fmt: skip
    await database.dispose()
    run_id = await store_published_run(stack, document, GZ_UNITS, organizer="GD-GZ")
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as gateway:
        query = "query($id: ID!) { run(id: $id) { results { edges { node { id unitId } } } } }"
        edges = data_of(await gql(gateway, query, {"id": run_id}, headers=auth("GD-GZ", "organizer")))["run"]
        result_id = next(e["node"]["id"] for e in edges["results"]["edges"] if e["node"]["unitId"] == "GZ-POWER")
        filed = data_of(await gql(gateway, """mutation($r: ID!) { fileAppeal(resultId: $r, indicators: ["answer_rate"],
            reasonCategory: WRONG_DATA, reason: "接通率统计口径有误") { ok problems { message } appeal { id } } }""",
            {"r": result_id}, headers=auth("GZ-POWER", "unit")))["fileAppeal"]  # fmt: skip
        assert filed["ok"], filed
        submit = """mutation($r: [JSON!]!) { submitRecords(kind: "smart_test", source: "e2e-oracle", records: $r) {
            id status } }"""
        rows = [{"record_id": "oracle-1", "unit_id": "GD-GZ", "tested_at": "2025-03-03T10:00:00", "correct": True}]
        batch = data_of(await gql(gateway, submit, {"r": rows}, headers=auth("GD-GZ", "organizer")))["submitRecords"]
    return {
        "unit": "GZ-HOUSING", "scheme": str(scheme_id), "run": run_id, "result": result_id,
        "appeal": filed["appeal"]["id"], "batch": batch["id"],
    }  # fmt: skip


UNKNOWN = {
    "unit": "GZ-NOBODY-404", "scheme": str(uuid.uuid4()), "run": str(uuid.uuid4()), "result": str(uuid.uuid4()),
    "appeal": str(uuid.uuid4()), "batch": "987654321",
}  # fmt: skip

UNIT_ROW = '{id: $id, parentId: "GD-SZ", kind: UNDERTAKING_UNIT, nameZh: "深圳市某局"}'
REPORT = "dryRun created updated moved unchanged rejected rows { row unitId action problems { field value message } }"
APPEAL = "ok problems { path code message } appeal { id status }"
SCHEME = "ok problems { path code message } scheme { id status }"
RUN = "problems { path code message } run { id status }"
# Every mutation that takes an id of another's object, as (name, kind of id, document with $id).
MUTATIONS = [
    ("registerUnits dry run", "unit", f"mutation($id: ID!) {{ registerUnits(units: [{UNIT_ROW}], dryRun: true) {{ {REPORT} }} }}"),
    ("registerUnits", "unit", f"mutation($id: ID!) {{ registerUnits(units: [{UNIT_ROW}]) {{ {REPORT} }} }}"),
    ("registerUnits update", "unit", f'mutation($id: ID!) {{ registerUnits(units: [{{id: $id, nameZh: "改名"}}], dryRun: true) {{ {REPORT} }} }}'),
    ("registerUnits parent", "unit", f'mutation($id: ID!) {{ registerUnits(units: [{{id: "SZ-ORACLE-CHILD", parentId: $id, kind: UNDERTAKING_UNIT, nameZh: "子"}}], dryRun: true) {{ {REPORT} }} }}'),
    ("submitRecords unit", "unit", 'mutation($id: JSON!) { submitRecords(kind: "smart_test", source: "e2e-oracle-sz", records: [$id]) { status counts { new rejected } problems { row field reason } } }'),
    ("withdrawBatch", "batch", "mutation($id: ID!) { withdrawBatch(id: $id) { id status } }"),
    ("updateSchemeDraft", "scheme", f'mutation($id: ID!) {{ updateSchemeDraft(schemeId: $id, body: {{name_zh: "改"}}) {{ {SCHEME} }} }}'),
    ("publishScheme", "scheme", f"mutation($id: ID!) {{ publishScheme(schemeId: $id) {{ {SCHEME} }} }}"),
    ("openSchemeVersion", "scheme", f"mutation($id: ID!) {{ openSchemeVersion(schemeId: $id) {{ {SCHEME} }} }}"),
    ("archiveScheme", "scheme", f"mutation($id: ID!) {{ archiveScheme(schemeId: $id) {{ {SCHEME} }} }}"),
    ("startRun", "scheme", f"mutation($id: String!) {{ startRun(input: {{schemeId: $id, periodKind: MONTH, period: \"2025-03\"}}) {{ {RUN} }} }}"),
    ("publishRun", "run", f"mutation($id: ID!) {{ publishRun(runId: $id) {{ {RUN} }} }}"),
    ("recomputeRun", "run", f'mutation($id: ID!) {{ recomputeRun(runId: $id, reason: "再算") {{ {RUN} }} }}'),
    ("enterExpertScores", "run", 'mutation($id: ID!) { enterExpertScores(runId: $id, scores: [{unitId: "SZ-HOUSING", indicator: "answer_rate", score: 5, justification: "x"}]) { accepted revisionQueued problems { path code message } } }'),
    ("enterExpertScores unit", "unit", 'mutation($id: String!) { enterExpertScores(runId: "00000000-0000-0000-0000-000000000000", scores: [{unitId: $id, indicator: "answer_rate", score: 5, justification: "x"}]) { accepted revisionQueued problems { path code message } } }'),
    ("fileAppeal", "result", f'mutation($id: ID!) {{ fileAppeal(resultId: $id, indicators: ["answer_rate"], reasonCategory: WRONG_DATA, reason: "x") {{ {APPEAL} }} }}'),
    ("editAppeal", "appeal", f'mutation($id: ID!) {{ editAppeal(id: $id, expectedVersion: 1, reason: "y") {{ {APPEAL} }} }}'),
    ("submitAppeal", "appeal", f"mutation($id: ID!) {{ submitAppeal(id: $id, expectedVersion: 1) {{ {APPEAL} }} }}"),
    ("takeAppeal", "appeal", f"mutation($id: ID!) {{ takeAppeal(id: $id, expectedVersion: 1) {{ {APPEAL} }} }}"),
    ("requestInformation", "appeal", f'mutation($id: ID!) {{ requestInformation(id: $id, expectedVersion: 1, message: "m") {{ {APPEAL} }} }}'),
    ("giveInformation", "appeal", f'mutation($id: ID!) {{ giveInformation(id: $id, expectedVersion: 1, message: "m") {{ {APPEAL} }} }}'),
    ("decideAppeal", "appeal", f'mutation($id: ID!) {{ decideAppeal(id: $id, expectedVersion: 1, outcome: REJECTED, reason: "r") {{ {APPEAL} }} }}'),
    ("escalateAppeal", "appeal", f'mutation($id: ID!) {{ escalateAppeal(id: $id, expectedVersion: 1, reason: "r") {{ {APPEAL} }} }}'),
    ("withdrawAppeal", "appeal", f"mutation($id: ID!) {{ withdrawAppeal(id: $id, expectedVersion: 1) {{ {APPEAL} }} }}"),
    ("addEvidenceFile", "appeal", f'mutation($id: ID!) {{ addEvidenceFile(id: $id, expectedVersion: 1, filename: "a.txt", contentBase64: "YQ==") {{ {APPEAL} }} }}'),
]  # fmt: skip


def variables(name: str, value: str) -> dict:
    if name == "submitRecords unit":
        return {
            "id": {"record_id": "oracle-sz-1", "unit_id": value, "tested_at": "2025-03-03T10:00:00", "correct": True}
        }
    return {"id": value}


def same_bytes(first: bytes, second: bytes, ids: tuple[str, str]) -> tuple[str, str]:
    """The two answers with their echoed ids replaced by one placeholder."""
    return first.decode().replace(ids[0], "<ID>"), second.decode().replace(ids[1], "<ID>")


@pytest.mark.parametrize(("name", "kind", "document"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
async def test_a_siblings_id_and_an_unknown_id_answer_alike(gateway, sibling, name, kind, document):
    answers = []
    for value in (sibling[kind], UNKNOWN[kind]):
        response = await gateway.post("/graphql", json={"query": document, "variables": variables(name, value)},
                                      headers=SHENZHEN)  # fmt: skip
        answers.append((response.status_code, response.content))
    assert answers[0][0] == answers[1][0]
    # A real answer of the operation: not refused before it ran (a document that does not validate would
    # answer both ids alike and prove nothing), and no internal error.
    for _status, body in answers:
        codes = {e.get("extensions", {}).get("code") for e in json.loads(body).get("errors", [])}
        assert not codes & {"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT", "INTERNAL_SERVER_ERROR"}, (name, body)
    foreign, unknown = same_bytes(answers[0][1], answers[1][1], (sibling[kind], UNKNOWN[kind]))
    assert foreign == unknown, (name, foreign, unknown)


async def test_registration_answers_id_not_available_for_both(gateway, sibling):
    """Issue 15: "this id is not available in your scope" for GZ-HOUSING, `CREATED` for a free id."""
    for dry in ("true", "false"):
        document = f"mutation($id: ID!) {{ registerUnits(units: [{UNIT_ROW}], dryRun: {dry}) {{ {REPORT} }} }}"
        for value in (sibling["unit"], UNKNOWN["unit"]):
            report = data_of(await gql(gateway, document, {"id": value}, headers=SHENZHEN))["registerUnits"]
            assert report["rejected"] == 1 and report["created"] == 0
            assert report["rows"][0]["problems"] == [{"field": "id", "value": value, "message": "id not available"}]


def unit_file(unit_id: str) -> bytes:
    return f"id,parent_id,kind,name_zh\n{unit_id},GD-SZ,undertaking_unit,深圳市某局\n".encode()


async def test_rest_writes_answer_a_siblings_id_as_an_unknown_one(stack, sibling):
    async with (
        httpx.AsyncClient(base_url=stack.service_url("ingest"), timeout=30) as ingest,
        httpx.AsyncClient(base_url=stack.service_url("appeals"), timeout=30) as appeals,
        httpx.AsyncClient(base_url=stack.service_url("scoring"), timeout=30) as scoring,
    ):
        calls = {
            "POST /units/bulk?dry_run=true": ("unit", lambda v: ingest.post(
                "/units/bulk", params={"dry_run": "true"}, files={"file": ("u.csv", unit_file(v), "text/csv")},
                headers=SHENZHEN)),
            "POST /units/bulk": ("unit", lambda v: ingest.post(
                "/units/bulk", files={"file": ("u.csv", unit_file(v), "text/csv")}, headers=SHENZHEN)),
            "POST /batches/{id}/withdraw": ("batch", lambda v: ingest.post(f"/batches/{v}/withdraw", headers=SHENZHEN)),
            "POST /{appeal}/evidence": ("appeal", lambda v: appeals.post(
                f"/{v}/evidence", data={"expected_version": "1"}, files={"file": ("a.txt", b"evidence", "text/plain")},
                headers=SHENZHEN)),
            "GET /results/{id}": ("result", lambda v: scoring.get(f"/results/{v}", headers=SHENZHEN)),
            "GET /runs/{id}/report.html": ("run", lambda v: scoring.get(f"/runs/{v}/report.html", headers=SHENZHEN)),
        }  # fmt: skip
        for name, (kind, call) in calls.items():
            first, second = await call(sibling[kind]), await call(UNKNOWN[kind])
            assert first.status_code == second.status_code, (name, first.text, second.text)
            foreign, unknown = same_bytes(first.content, second.content, (sibling[kind], UNKNOWN[kind]))
            assert foreign == unknown, (name, foreign, unknown)
            if name.startswith("POST /units/bulk"):
                rows = json.loads(foreign)["rows"]
                assert rows[0]["action"] == "rejected"
                assert rows[0]["problems"] == [{"field": "id", "value": "<ID>", "message": "id not available"}]
