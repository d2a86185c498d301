"""End-to-end through the real gateway and the real four services (issue 6): records enter ingest over REST,
the province publishes a small special scheme in indicators, scoring computes and publishes the run from
ingest's measures, then a city files an appeal with evidence against its result, the province's reviewer
upholds part of it, scoring makes a new revision with the expected score change, and the city sees the
decision, its old and new scores and every step — through the gateway only (GraphQL).

The numbers, by hand (scheme below: accuracy 60 points, linear band 50 % → 100 %; time to answer 40 points,
best in cohort / value, lower is better):
  GD-GZ: 10 spot tests, 7 correct, 3 s each → accuracy 70 % → 24; time 3 s vs GD-SZ's 2 s → 26.6667;
         total 50.67 (待改进).
  GD-SZ: 10 spot tests, 9 correct, 2 s each → 48 + 40 = 88.
  Upheld: T-GZ-03 and T-GZ-04 (two wrong answers, 3 s each) were tested during a maintenance window and are
  excluded → 7 of 8 correct = 87.5 % → 45; time (30 − 6) / 8 = 3 s unchanged → total 71.67 (合格).
  Rejected: the time to answer (the city asked for 2 s): its score stays 26.6667.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import pytest

from hotline.kit.auth import mint_token
from tests.support import TEST_SECRET, data_of, gql


def user(unit_id: str, subject: str, role: str) -> dict[str, str]:
    return {"authorization": "Bearer " + mint_token(secret=TEST_SECRET, unit_id=unit_id, roles=[role], subject=subject)}


PROVINCE_ADMIN = user("GD", "gd-admin", "admin")
PROVINCE = user("GD", "gd-organizer", "organizer")
REVIEWER = user("GD", "gd-reviewer", "reviewer")
CITY = user("GD-GZ", "gz-clerk", "unit")
OTHER_CITY = user("GD-SZ", "sz-clerk", "unit")
SOURCE = "e2e-smart-bot"

SCHEME = {
    "code": "GD-SMART-2025Q2",
    "name_zh": "智能客服专项评价（2025年第二季度）",
    "name_en": "Smart-service special evaluation, 2025 Q2",
    "kind": "special",
    "cohort": {"units": ["GD-GZ", "GD-SZ"]},
    "period": {"granularity": "quarter"},
    "appeal": {
        "window_days": 7,
        "max_appeals_per_result": 2,
        "max_indicators_per_appeal": 2,
        "escalation_days": 5,
        "decision_days": 10,
    },
    "items": [
        {
            "indicator": {"code": "smart_answer_accuracy", "version": 1},
            "points": 60,
            "rule": {"type": "linear_band", "floor": 50, "target": 100},
            "reference": {"policy": "target", "value": 100},
        },
        {
            "indicator": {"code": "smart_answer_time", "version": 1},
            "points": 40,
            "rule": {"type": "ratio_to_reference"},
            "reference": {"policy": "best_in_cohort"},
        },
    ],
}


def spot_tests() -> list[dict]:
    rows = []
    for n in range(1, 11):  # GD-GZ: T-GZ-03, T-GZ-04 and T-GZ-10 answered wrongly
        rows.append({"record_id": f"T-GZ-{n:02}", "unit_id": "GD-GZ", "tested_at": f"2025-05-{n + 5:02} 10:00:00",
                     "correct": n not in (3, 4, 10), "response_seconds": 3})  # fmt: skip
    for n in range(1, 11):  # GD-SZ: only T-SZ-07 answered wrongly
        rows.append({"record_id": f"T-SZ-{n:02}", "unit_id": "GD-SZ", "tested_at": f"2025-06-{n + 5:02} 10:00:00",
                     "correct": n != 7, "response_seconds": 2})  # fmt: skip
    return rows


PAYLOAD = "{ ok problems { code message field } appeal { id version status decisionDueAt submittedAt } }"
SCHEME_PAYLOAD = "{ ok problems { path code message } scheme { schemeId version status } }"
RUN_PAYLOAD = "{ problems { path code message } run { id status currentRevision publishedAt appealWindowClosesAt } }"


async def published_run(gateway: httpx.AsyncClient, ingest_http: httpx.AsyncClient) -> dict:
    """Records → ingest (REST), scheme → indicators, run → scoring (GraphQL through the gateway)."""
    ndjson = "\n".join(json.dumps(r) for r in spot_tests()) + "\n"
    response = await ingest_http.post(
        "/batches",
        params={"kind": "smart_test", "source": SOURCE, "format": "ndjson", "filename": "smart-tests.ndjson"},
        content=ndjson.encode(),
        headers={**PROVINCE_ADMIN, "content-type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "done" and report["counts"]["new"] == 20 and report["problems"] == [], report

    create = f"mutation($body: JSON!) {{ createScheme(body: $body) {SCHEME_PAYLOAD} }}"
    created = data_of(await gql(gateway, create, {"body": SCHEME}, headers=PROVINCE))["createScheme"]
    assert created["ok"] and created["problems"] == [], created
    scheme_id = created["scheme"]["schemeId"]
    publish = f"mutation($id: ID!, $v: Int!) {{ publishScheme(schemeId: $id, version: $v) {SCHEME_PAYLOAD} }}"
    done = data_of(await gql(gateway, publish, {"id": scheme_id, "v": 1}, headers=PROVINCE))["publishScheme"]
    assert done["ok"] and done["scheme"]["status"] == "PUBLISHED", done

    start = f"mutation($input: StartRunInput!) {{ startRun(input: $input) {RUN_PAYLOAD} }}"
    run_input = {"schemeId": scheme_id, "schemeVersion": 1, "periodKind": "QUARTER", "period": "2025-Q2"}
    started = data_of(await gql(gateway, start, {"input": run_input}, headers=PROVINCE))["startRun"]
    assert started["problems"] == [], started
    run_id = started["run"]["id"]
    poll = "query($id: ID!) { run(id: $id) { status error currentRevision } }"
    deadline = time.monotonic() + 60
    while True:
        run = data_of(await gql(gateway, poll, {"id": run_id}, headers=PROVINCE))["run"]
        if run["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert (run["status"], run["currentRevision"]) == ("done", 1), run
    publish_run = f"mutation($id: ID!) {{ publishRun(runId: $id) {RUN_PAYLOAD} }}"
    published = data_of(await gql(gateway, publish_run, {"id": run_id}, headers=PROVINCE))["publishRun"]
    assert published["problems"] == [] and published["run"]["publishedAt"], published
    return published["run"]


RESULTS = """query($id: ID!) { run(id: $id) { revisions { revision reason appealId }
  results { edges { node { id unitId total revision grade { code }
    indicators { indicator value score corrected } } } } } }"""


def by_unit(run: dict) -> dict[str, dict]:
    return {e["node"]["unitId"]: e["node"] for e in run["results"]["edges"]}


def scores(result: dict) -> dict[str, tuple[float | None, float | None]]:
    return {i["indicator"]: (i["value"], i["score"]) for i in result["indicators"]}


@pytest.fixture(scope="module")
async def run(stack) -> dict:
    async with (
        httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as gateway,
        httpx.AsyncClient(base_url=stack.service_url("ingest"), timeout=30) as ingest_http,
    ):
        return await published_run(gateway, ingest_http)


async def test_the_run_is_computed_from_ingests_records_and_the_published_scheme(gateway, run):
    results = by_unit(data_of(await gql(gateway, RESULTS, {"id": run["id"]}, headers=PROVINCE))["run"])
    assert {u: r["total"] for u, r in results.items()} == {"GD-GZ": 50.67, "GD-SZ": 88.0}
    assert scores(results["GD-GZ"]) == {"smart_answer_accuracy": (70.0, 24.0), "smart_answer_time": (3.0, 26.6667)}
    assert scores(results["GD-SZ"]) == {"smart_answer_accuracy": (90.0, 48.0), "smart_answer_time": (2.0, 40.0)}


async def step(gateway, name: str, appeal: dict, headers, args: str = "", **variables) -> dict:
    mutation = (
        "mutation($id: ID!, $v: Int!" + "".join(f", ${k}: {t}" for k, (t, _) in variables.items()) + ") { "
        f"{name}(id: $id, expectedVersion: $v{args}) {PAYLOAD} }}"
    )
    values = {"id": appeal["id"], "v": appeal["version"], **{k: v for k, (_, v) in variables.items()}}
    payload = data_of(await gql(gateway, mutation, values, headers=headers))[name]
    assert payload["ok"] and payload["problems"] == [], (name, payload)
    return payload["appeal"]


async def test_an_appeal_from_filing_to_revision_through_the_gateway(gateway, run):
    city_result = by_unit(data_of(await gql(gateway, RESULTS, {"id": run["id"]}, headers=PROVINCE))["run"])["GD-GZ"]
    # The city files against its own result (it sees only its own through scoring).
    filed = data_of(
        await gql(
            gateway,
            """mutation($r: ID!) { fileAppeal(resultId: $r,
        indicators: ["smart_answer_accuracy", "smart_answer_time"], reasonCategory: WRONG_DATA,
        reason: "两次抽测发生在系统维护窗口内，不应计入；获取答案时间按新系统应为2秒",
        evidenceRecords: [{source: "e2e-smart-bot", recordId: "T-GZ-03", note: "维护窗口 05-08 09:30–10:30"}],
        asks: [{indicator: "smart_answer_accuracy", kind: EXCLUDE_RECORDS,
                records: [{source: "e2e-smart-bot", recordId: "T-GZ-03"}, {source: "e2e-smart-bot", recordId: "T-GZ-04"}]},
               {indicator: "smart_answer_time", kind: CORRECT_VALUE, value: 2}], submit: false) """
            + PAYLOAD
            + " }",
            {"r": city_result["id"]},
            headers=CITY,
        )
    )["fileAppeal"]
    assert filed["ok"] and filed["appeal"]["status"] == "DRAFT", filed
    appeal = filed["appeal"]
    pdf = base64.b64encode(b"%PDF-1.4\n% maintenance log 2025-05-08\n%%EOF\n").decode()
    appeal = await step(
        gateway,
        "addEvidenceFile",
        appeal,
        CITY,
        ', filename: "maintenance-log.pdf", contentBase64: $c',
        c=("String!", pdf),
    )
    appeal = await step(gateway, "submitAppeal", appeal, CITY)
    assert appeal["status"] == "SUBMITTED"
    # decision_days comes from the scheme's appeal block (10), through scoring's result, into appeals.
    assert _days_between(appeal["submittedAt"], appeal["decisionDueAt"]) == 10
    appeal = await step(gateway, "takeAppeal", appeal, REVIEWER)
    decided = await step(
        gateway,
        "decideAppeal",
        appeal,
        REVIEWER,
        ", outcome: PARTLY_UPHELD, reason: $reason, upheldIndicators: $up",
        reason=("String!", "T-GZ-03、T-GZ-04 在维护窗口内抽测，予以剔除；获取答案时间无证据，不予调整"),
        up=("[String!]", ["smart_answer_accuracy"]),
    )
    assert decided["status"] == "DECIDED"

    # Scoring made revision 2 for exactly this appeal's decision (level 0), and the scores moved as computed.
    after = data_of(await gql(gateway, RESULTS, {"id": run["id"]}, headers=PROVINCE))["run"]
    assert after["revisions"][-1]["revision"] == 2 and after["revisions"][-1]["appealId"] == f"{appeal['id']}:0"
    results = by_unit(after)
    assert {u: (r["total"], r["revision"]) for u, r in results.items()} == {"GD-GZ": (71.67, 2), "GD-SZ": (88.0, 2)}
    assert scores(results["GD-GZ"]) == {"smart_answer_accuracy": (87.5, 45.0), "smart_answer_time": (3.0, 26.6667)}
    assert results["GD-GZ"]["grade"] == {"code": "qualified"} and results["GD-GZ"]["id"] == city_result["id"]

    # The city sees its decision, the old and new scores, and the whole record — joined across subgraphs:
    # scoring's UnitResult (now and at revision 1) with appeals' UnitResult.appeals and ingest's Unit.
    seen = data_of(
        await gql(
            gateway,
            """query($r: ID!) { unitResult(id: $r) { revision total grade { nameZh } unit { nameZh }
        atRevision(revision: 1) { total grade { nameZh } }
        appeals { status outcome upheldIndicators evidenceFiles { mediaType }
          decisions { level outcome reason totalBefore totalAfter newRevision
                      indicatorChanges { indicator scoreBefore scoreAfter } }
          events { kind actorUnitId } } } }""",
            {"r": city_result["id"]},
            headers=CITY,
        )
    )["unitResult"]
    assert (seen["revision"], seen["total"], seen["grade"]["nameZh"]) == (2, 71.67, "合格")
    assert seen["atRevision"] == {"total": 50.67, "grade": {"nameZh": "待改进"}}
    assert seen["unit"] == {"nameZh": "广州市"}
    [mine] = seen["appeals"]
    assert (mine["status"], mine["outcome"], mine["upheldIndicators"]) == (
        "DECIDED",
        "PARTLY_UPHELD",
        ["smart_answer_accuracy"],
    )
    assert mine["evidenceFiles"] == [{"mediaType": "application/pdf"}]
    [decision] = mine["decisions"]
    assert (decision["level"], decision["totalBefore"], decision["totalAfter"], decision["newRevision"]) == (
        0,
        50.67,
        71.67,
        2,
    )
    assert decision["indicatorChanges"] == [
        {"indicator": "smart_answer_accuracy", "scoreBefore": 24.0, "scoreAfter": 45.0}
    ]
    assert [(e["kind"], e["actorUnitId"]) for e in mine["events"]] == [
        ("filed", "GD-GZ"),
        ("evidence_added", "GD-GZ"),
        ("submitted", "GD-GZ"),
        ("assigned", "GD"),
        ("decided", "GD"),
        ("revision_applied", "GD"),
    ]
    # The same record from the unit's side (ingest's Unit joined with appeals' Unit.appeals).
    unit = data_of(await gql(gateway, '{ unit(id: "GD-GZ") { appeals { id outcome } } }', headers=CITY))["unit"]
    assert unit["appeals"] == [{"id": appeal["id"], "outcome": "PARTLY_UPHELD"}]
    # Another city sees neither the result nor the appeal, through the same paths.
    other = data_of(await gql(gateway, "query($r: ID!) { unitResult(id: $r) { id } }", {"r": city_result["id"]},
                              headers=OTHER_CITY))  # fmt: skip
    assert other == {"unitResult": None}
    assert data_of(await gql(gateway, '{ unit(id: "GD-GZ") { id } }', headers=OTHER_CITY)) == {"unit": None}


def _days_between(start: str, end: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 86400
