"""Issue 17 end to end, through the real gateway and the four services: an appeal that is fair to everyone it
touches. 佛山市 (GD-FS) evaluates four departments on their 2025-Q3 work orders with a scheme it publishes
itself (best-in-cohort references, so an upheld correction moves the peers); FS-TRANSPORT appeals with a 9 MiB
PDF (a GraphQL multipart upload), the city's reviewer asks for information and previews the decision, decides
in part accepting another value than the one asked; FS-MARKET — moved from 100 to 87.5 and from first to
second — is told (inbox, signed webhook, its result's explanation) and appeals the consequence; the city
decides it; FS-TRANSPORT escalates, the province answers "rejected" (the first decision stands); the run
becomes final only after every window; the statistics say what happened.

The numbers, by hand (on-time closure rate 50 points and average resolution time 50 points, both ratio to the
cohort's best; ten orders each, received 1–10 July 2025):
  FS-TRANSPORT 8 of 10 on time (80 %), 12 h each → 40 + 4/12 × 50 = 16.6667 → 56.67, rank 4
  FS-MARKET   10 of 10 (100 %), 4 h       → 50 + 50                 = 100,   rank 1 (优秀)
  FS-HOUSING   9 of 10 (90 %),  6 h       → 45 + 4/6 × 50 = 33.3333 → 78.33, rank 2
  FS-WATER    10 of 10 (100 %), 8 h       → 50 + 4/8 × 50 = 25      → 75,    rank 3
FS-TRANSPORT asks for its two late orders to be excluded and its resolution time corrected to 2 h (better than
anything observed: flagged). The city upholds the time only, accepting 3 h: the reference moves 4 → 3 (set by
FS-TRANSPORT): TRANSPORT 40 + 50 = 90 (rank 1); MARKET 50 + 3/4 × 50 = 87.5 (rank 2, 合格); HOUSING 45 + 25 = 70;
WATER 50 + 18.75 = 68.75. FS-MARKET contests it; the city upholds, setting TRANSPORT's value to 4 h, the best
observed: the reference is 4 again (set by FS-MARKET, the first of equals); MARKET is back at 100 (rank 1),
TRANSPORT keeps 90 (rank 2), HOUSING 78.33 and WATER 75 follow.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hotline.kit.settings import to_async_url
from services.appeals.notifications import SIGNATURE_HEADER, verify
from tests.e2e.test_appeals import user
from tests.support import data_of, gql

ORGANIZER = user("GD-FS", "fs-organizer", "organizer")
REVIEWER = user("GD-FS", "fs-reviewer-li", "reviewer")
PROVINCE_REVIEWER = user("GD", "gd-reviewer-zhao", "reviewer")
TRANSPORT = user("FS-TRANSPORT", "transport-clerk", "unit")
MARKET = user("FS-MARKET", "market-clerk", "unit")
SOURCE = "e2e-fs-orders-2025q3"
DEPARTMENTS = {"FS-TRANSPORT": (12, 2), "FS-MARKET": (4, 0), "FS-HOUSING": (6, 1), "FS-WATER": (8, 0)}
HOOK_SECRET = "s3cret-of-fs-market-00001"

SCHEME = {
    "code": "FS-DEPT-ORDERS-2025Q3",
    "name_zh": "佛山市承办单位2025年第三季度工单办理专项评价",
    "name_en": "Foshan departments: work orders of 2025 Q3 (special evaluation)",
    "kind": "special",
    "cohort": {"units": sorted(DEPARTMENTS)},
    "period": {"granularity": "quarter"},
    "appeal": {"window_days": 7, "max_appeals_per_result": 2, "max_indicators_per_appeal": 2, "escalation_days": 5,
               "decision_days": 10, "peer_appeals": True, "peer_window_days": 5},
    "items": [
        {"indicator": {"code": "on_time_closure_rate", "version": 1}, "points": 50,
         "rule": {"type": "ratio_to_reference"}, "reference": {"policy": "best_in_cohort"}},
        {"indicator": {"code": "average_resolution_time", "version": 1}, "points": 50,
         "rule": {"type": "ratio_to_reference"}, "reference": {"policy": "best_in_cohort"}},
    ],
}  # fmt: skip


def work_orders() -> list[dict]:
    rows = []
    for unit, (hours, late) in DEPARTMENTS.items():
        short = unit.split("-")[1][:3]
        for n in range(1, 11):
            received = datetime(2025, 7, n, 10, 0)
            rows.append(
                {"record_id": f"WO-{short}-{n:02}", "unit_id": "GD-FS", "handling_unit_id": unit,
                 "received_at": received.isoformat(sep=" "), "channel": "phone",
                 "dispatched_at": received.isoformat(sep=" "), "due_at": (received + timedelta(days=3)).isoformat(sep=" "),
                 "closed_at": (received + timedelta(hours=hours)).isoformat(sep=" "), "on_time": n <= 10 - late,
                 "status": "closed"}
            )  # fmt: skip
    return rows


class Receiver:
    """A webhook receiver on this machine (development allows http to localhost)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/hooks/appeals"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    async def wait_for(self, event: str, seconds: float = 20.0) -> tuple[dict, dict, bytes]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for headers, body in self.requests:
                if headers.get("x-hotline-event") == event:
                    return headers, json.loads(body), body
            await asyncio.sleep(0.2)
        raise AssertionError(f"no {event} webhook within {seconds} s: {[h for h, _ in self.requests]}")


async def ok_payload(gateway, query: str, variables: dict, headers: dict) -> dict:
    payload = next(iter(data_of(await gql(gateway, query, variables, headers=headers)).values()))
    assert payload["ok"] and payload["problems"] == [], payload
    return payload


async def multipart(gateway, query: str, variables: dict, files: dict[str, tuple[str, bytes]], headers: dict):
    """A GraphQL multipart request (the GraphQL multipart request spec) to the gateway."""
    paths = list(files)
    return await gateway.post(
        "/graphql",
        data={"operations": json.dumps({"query": query, "variables": variables}),
              "map": json.dumps({str(i): [f"variables.{p}"] for i, p in enumerate(paths)})},
        files={str(i): (files[p][0], files[p][1], "application/pdf") for i, p in enumerate(paths)},
        headers=headers,
    )  # fmt: skip


async def published_run(gateway) -> dict:
    """The organizer's own scheme and run, made through the gateway: records, scheme, run, publication."""
    submit = """mutation($source: String!, $rows: [JSON!]!) { submitRecords(kind: "work_order", source: $source,
      records: $rows, timeZone: "Asia/Shanghai") { status counts { new rejected } } }"""
    variables = {"source": SOURCE, "rows": work_orders()}
    batch = data_of(await gql(gateway, submit, variables, headers=ORGANIZER))["submitRecords"]
    assert batch["status"] == "done" and batch["counts"] == {"new": 40, "rejected": 0}, batch
    payload = "{ ok problems { path code message } scheme { schemeId version status } }"
    created = data_of(await gql(gateway, f"mutation($b: JSON!) {{ createScheme(body: $b) {payload} }}", {"b": SCHEME},
                                headers=ORGANIZER))["createScheme"]  # fmt: skip
    assert created["ok"], created
    scheme_id = created["scheme"]["schemeId"]
    published = data_of(await gql(gateway, f"mutation($id: ID!) {{ publishScheme(schemeId: $id, version: 1) {payload} }}",
                                  {"id": scheme_id}, headers=ORGANIZER))["publishScheme"]  # fmt: skip
    assert published["ok"], published
    start = "mutation($i: StartRunInput!) { startRun(input: $i) { problems { path code message } run { id } } }"
    run_input = {"schemeId": scheme_id, "schemeVersion": 1, "periodKind": "QUARTER", "period": "2025-Q3"}
    started = data_of(await gql(gateway, start, {"i": run_input}, headers=ORGANIZER))["startRun"]
    assert started["problems"] == [], started
    run_id = started["run"]["id"]
    deadline = time.monotonic() + 60
    status = None
    while status not in ("done", "failed") and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        run = data_of(await gql(gateway, "query($id: ID!) { run(id: $id) { status error } }", {"id": run_id},
                                headers=ORGANIZER))["run"]  # fmt: skip
        status = run["status"]
    assert status == "done", run
    publish = "mutation($id: ID!) { publishRun(runId: $id) { problems { path code message } run { id publishedAt } } }"
    done = data_of(await gql(gateway, publish, {"id": run_id}, headers=ORGANIZER))["publishRun"]
    assert done["problems"] == [], done
    return done["run"]


RESULTS = """query($id: ID!) { run(id: $id) { currentRevision final results { edges { node { id unitId total rank
  grade { code } indicators { indicator value score explanation { en } } } } } } }"""


async def results_of(gateway, run_id: str) -> dict[str, dict]:
    run = data_of(await gql(gateway, RESULTS, {"id": run_id}, headers=ORGANIZER))["run"]
    return {e["node"]["unitId"]: e["node"] for e in run["results"]["edges"]}


def headline(results: dict[str, dict]) -> dict[str, tuple]:
    return {u: (r["total"], r["rank"], r["grade"]["code"]) for u, r in results.items()}


APPEAL = """id version status revision currentRevision decisionDueAt submittedAt informationWaitedHours
  asks { indicator value flags { code } } evidenceFiles { filename sizeBytes sha256 downloadPath }
  decisions { level outcome firstDecisionStands decidedAt newRevision totalBefore totalAfter
              acceptedValues { indicator asked accepted differs } consequences { unitId totalBefore totalAfter } }"""
PAYLOAD = "{ ok problems { code message field } warnings { code } appeal { " + APPEAL + " } }"


def action(name: str, args: str = "", types: str = "") -> str:
    return f"mutation($id: ID!, $v: Int!{types}) {{ {name}(id: $id, expectedVersion: $v{args}) {PAYLOAD} }}"


async def step(gateway, name, appeal, headers, args="", types="", **variables) -> dict:
    payload = await ok_payload(gateway, action(name, args, types), {"id": appeal["id"], "v": appeal["version"],
                                                                   **variables}, headers)  # fmt: skip
    return payload["appeal"]


async def time_passes(database_url: str, run_id: str, days: int) -> None:
    """Every deadline of the run — its appeal window, decisions' escalation times, the consequences' windows —
    moves ``days`` into the past, as if that much time had gone by (the services' own clocks cannot be moved)."""
    shift = f"interval '{days} days'"
    engine = create_async_engine(to_async_url(database_url))
    async with engine.begin() as connection:
        for statement in (
            f"UPDATE scoring.evaluation_run SET published_at = published_at - {shift}, "
            f"appeal_window_closes_at = appeal_window_closes_at - {shift} WHERE id = CAST(:run AS uuid)",
            f"UPDATE appeals.run_settlement SET window_closes_at = window_closes_at - {shift} WHERE run_id = :run",
            f"UPDATE appeals.appeal SET published_at = published_at - {shift}, window_closes_at = window_closes_at - "
            f"{shift}, decided_at = decided_at - {shift} WHERE run_id = :run",
            f"UPDATE appeals.peer_consequence SET appealable_until = appealable_until - {shift} WHERE run_id = :run",
        ):
            await connection.execute(text(statement), {"run": run_id})
    await engine.dispose()


STATS = """query($run: ID) { appealStatistics(runId: $run) { side total decided escalationsDecided
  escalationsRejected byStatus { key count } overturnByIndicator { key decided overturned }
  overturnByReviewer { key decided overturned } reversedOnEscalationByReviewer { key decided overturned }
  meanHoursToDecision meanHoursWaitingForInformation } }"""


async def test_an_appeal_fair_to_everyone_it_touches_through_the_gateway(stack, gateway):
    run = await published_run(gateway)
    before = await results_of(gateway, run["id"])
    assert headline(before) == {
        "FS-HOUSING": (78.33, 2, "qualified"), "FS-MARKET": (100.0, 1, "excellent"),
        "FS-TRANSPORT": (56.67, 4, "needs_improvement"), "FS-WATER": (75.0, 3, "qualified"),
    }  # fmt: skip
    receiver = Receiver()
    register = "mutation($u: String!, $s: String!) { registerAppealWebhook(url: $u, secret: $s) { problems { code } } }"
    hook = data_of(await gql(gateway, register, {"u": receiver.url, "s": HOOK_SECRET}, headers=MARKET))
    assert hook["registerAppealWebhook"]["problems"] == []

    # 1. FS-TRANSPORT files a draft with a 9 MiB PDF, sent as a GraphQL multipart upload through the gateway.
    file_appeal = (
        "mutation($r: ID!, $asks: [AppealAskInput!]) { fileAppeal(resultId: $r, "
        'indicators: ["on_time_closure_rate", "average_resolution_time"], reasonCategory: WRONG_DATA, '
        'reason: "两张工单因系统时钟偏差误判超期；办理用时应自派单起算，约2小时", asks: $asks) ' + PAYLOAD + " }"
    )
    asks = [
        {"indicator": "on_time_closure_rate", "kind": "EXCLUDE_RECORDS",
         "records": [{"source": SOURCE, "recordId": "WO-TRA-09"}, {"source": SOURCE, "recordId": "WO-TRA-10"}]},
        {"indicator": "average_resolution_time", "kind": "CORRECT_VALUE", "value": 2},
    ]  # fmt: skip
    appeal = (await ok_payload(gateway, file_appeal, {"r": before["FS-TRANSPORT"]["id"], "asks": asks}, TRANSPORT))[
        "appeal"
    ]
    assert appeal["status"] == "DRAFT"
    # The value asked for is better than anything observed in the cohort (4 h): flagged for the reviewer.
    assert {a["indicator"]: [f["code"] for f in a["flags"]] for a in appeal["asks"]} == {
        "on_time_closure_rate": [], "average_resolution_time": ["BETTER_THAN_OBSERVED"],
    }  # fmt: skip
    pdf = b"%PDF-1.4\n% dispatch log, 2025 Q3\n" + bytes(range(256)) * (9 * 4096) + b"\n%%EOF\n"
    assert 9 * 1024 * 1024 < len(pdf) < 10 * 1024 * 1024
    upload = (
        "mutation($id: ID!, $v: Int!, $f: Upload!) { addEvidenceFile(id: $id, expectedVersion: $v, file: $f) "
        + PAYLOAD
        + " }"
    )
    response = await multipart(gateway, upload, {"id": appeal["id"], "v": appeal["version"], "f": None},
                               {"f": ("dispatch-log.pdf", pdf)}, TRANSPORT)  # fmt: skip
    assert response.status_code == 200, response.text[:500]
    added = data_of(response.json())["addEvidenceFile"]
    assert added["ok"], added
    appeal = added["appeal"]
    [file] = appeal["evidenceFiles"]
    assert (file["sizeBytes"], file["sha256"]) == (len(pdf), hashlib.sha256(pdf).hexdigest())
    # The limits the README states, through the real gateway: a file of exactly 10 MiB is taken, one byte more is
    # refused as FILE_TOO_LARGE, a multipart body above 11 MiB answers 413 PAYLOAD_TOO_LARGE before it is read.
    for size, expected in ((10 * 1024 * 1024, None), (10 * 1024 * 1024 + 1, "FILE_TOO_LARGE"), (12 * 1024 * 1024, 413)):
        content = b"%PDF-1.4\n" + bytes([size % 251]) * (size - 9)
        response = await multipart(gateway, upload, {"id": appeal["id"], "v": appeal["version"], "f": None},
                                   {"f": (f"{size}.pdf", content)}, TRANSPORT)  # fmt: skip
        if expected == 413:
            assert response.status_code == 413, response.text[:300]
            assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
            continue
        payload = data_of(response.json())["addEvidenceFile"]
        assert [p["code"] for p in payload["problems"]] == ([expected] if expected else []), payload
        appeal = payload["appeal"] if payload["ok"] else appeal
    assert [f["sizeBytes"] for f in appeal["evidenceFiles"]] == [len(pdf), 10 * 1024 * 1024]
    # A draft is the filer's alone: the city cannot download its evidence yet, through the gateway or otherwise.
    assert (await gateway.get(file["downloadPath"], headers=REVIEWER)).status_code == 404
    downloaded = await gateway.get(file["downloadPath"], headers=TRANSPORT)
    assert downloaded.status_code == 200 and downloaded.content == pdf
    assert downloaded.headers["content-type"] == "application/pdf"
    # Its validators come through the gateway, and a client holding the file is answered 304 through it too.
    assert downloaded.headers["etag"] == f'"{file["sha256"]}"'
    held = await gateway.get(file["downloadPath"], headers={**TRANSPORT, "if-none-match": downloaded.headers["etag"]})
    assert held.status_code == 304 and held.content == b""
    refused = await gateway.get(file["downloadPath"], headers={**REVIEWER, "if-none-match": downloaded.headers["etag"]})
    assert refused.status_code == 404  # the draft's file is still not the city's, tag or no tag
    appeal = await step(gateway, "submitAppeal", appeal, TRANSPORT)

    # 2. The city's reviewer takes it and asks for information; the unit answers with a file.
    assert (await gateway.get(file["downloadPath"], headers=REVIEWER)).content == pdf
    appeal = await step(gateway, "takeAppeal", appeal, REVIEWER)
    appeal = await step(gateway, "requestInformation", appeal, REVIEWER, ", message: $m, replyDays: 3", ", $m: String!",
                        m=("请提供派单系统的时间记录"))  # fmt: skip
    give = action("giveInformation", ", message: $m, files: $files", ", $m: String!, $files: [Upload!]")
    response = await multipart(gateway, give, {"id": appeal["id"], "v": appeal["version"], "m": "派单记录见附件",
                                               "files": [None]}, {"files.0": ("dispatch-times.pdf",
                                               b"%PDF-1.4\n% dispatch times\n%%EOF\n")}, TRANSPORT)  # fmt: skip
    given = data_of(response.json())["giveInformation"]
    assert given["ok"], given
    appeal = given["appeal"]
    assert appeal["status"] == "IN_REVIEW" and len(appeal["evidenceFiles"]) == 3

    # 3. Before deciding, the reviewer sees whom the decision would move, and by how much (nothing is stored).
    preview = """query($id: ID!) { appealDecisionPreview(id: $id, outcome: PARTLY_UPHELD,
      upheldIndicators: ["average_resolution_time"], acceptedValues: [{indicator: "average_resolution_time", value: 3}]) {
      problems { code } warnings { code } revision appellant { totalBefore totalAfter rankAfter }
      otherUnits { unitId totalBefore totalAfter rankBefore rankAfter gradeBefore gradeAfter }
      referenceMoves { indicator before after setByBefore setByAfter } } }"""
    seen = data_of(await gql(gateway, preview, {"id": appeal["id"]}, headers=REVIEWER))["appealDecisionPreview"]
    assert seen["problems"] == [] and [w["code"] for w in seen["warnings"]] == ["BETTER_THAN_OBSERVED", "VALUE_DIFFERS"]
    assert seen["appellant"] == {"totalBefore": 56.67, "totalAfter": 90.0, "rankAfter": 1}
    assert {u["unitId"]: (u["totalBefore"], u["totalAfter"], u["rankBefore"], u["rankAfter"], u["gradeAfter"])
            for u in seen["otherUnits"]} == {
        "FS-HOUSING": (78.33, 70.0, 2, 3, "qualified"), "FS-MARKET": (100.0, 87.5, 1, 2, "qualified"),
        "FS-WATER": (75.0, 68.75, 3, 4, "needs_improvement"),
    }  # fmt: skip
    assert seen["referenceMoves"] == [{"indicator": "average_resolution_time", "before": 4.0, "after": 3.0,
                                       "setByBefore": "FS-MARKET", "setByAfter": "FS-TRANSPORT"}]  # fmt: skip
    assert headline(await results_of(gateway, run["id"])) == headline(before)  # the preview stored nothing

    # 4. A partial decision accepting 3 h, not the 2 h asked: the peers move, and are told.
    decide = action("decideAppeal", ", outcome: PARTLY_UPHELD, reason: $reason, upheldIndicators: $up, acceptedValues: $acc",
                    ", $reason: String!, $up: [String!], $acc: [AppealAcceptedValueInput!]")  # fmt: skip
    reason = "派单起算的用时有据，但2小时无依据；按3小时认定。超期工单证据不足，不予剔除"
    decided = await ok_payload(gateway, decide, {"id": appeal["id"], "v": appeal["version"], "reason": reason,
                                                 "up": ["average_resolution_time"],
                                                 "acc": [{"indicator": "average_resolution_time", "value": 3}]},
                               REVIEWER)  # fmt: skip
    appeal = decided["appeal"]
    [first] = appeal["decisions"]
    assert (first["newRevision"], first["totalBefore"], first["totalAfter"]) == (2, 56.67, 90.0)
    assert first["acceptedValues"] == [{"indicator": "average_resolution_time", "asked": 2.0, "accepted": 3.0,
                                        "differs": True}]  # fmt: skip
    assert {c["unitId"] for c in first["consequences"]} == {"FS-HOUSING", "FS-MARKET", "FS-WATER"}
    after = await results_of(gateway, run["id"])
    assert headline(after) == {
        "FS-HOUSING": (70.0, 3, "qualified"), "FS-MARKET": (87.5, 2, "qualified"),
        "FS-TRANSPORT": (90.0, 1, "excellent"), "FS-WATER": (68.75, 4, "needs_improvement"),
    }  # fmt: skip

    # 5. FS-MARKET is told: its inbox, a signed webhook with the figures, the cause and the acting person, and
    #    the explanation of its own result.
    inbox = data_of(await gql(gateway, """{ appealInbox { kind appealId consequence { id resultId totalBefore totalAfter
      rankBefore rankAfter appealable appealableIndicators appealableUntil explanation { en } } } }""",
                              headers=MARKET))["appealInbox"]  # fmt: skip
    [entry] = inbox
    consequence = entry["consequence"]
    assert (entry["kind"], entry["appealId"]) == ("peer_result_changed", appeal["id"])
    assert (consequence["totalBefore"], consequence["totalAfter"], consequence["rankBefore"],
            consequence["rankAfter"]) == (100.0, 87.5, 1, 2)  # fmt: skip
    assert consequence["appealable"] and consequence["appealableIndicators"] == ["average_resolution_time"]
    headers, body, raw = await receiver.wait_for("peer_result_changed")
    assert verify(HOOK_SECRET, headers[SIGNATURE_HEADER], raw, now=int(time.time()))
    assert (body["unit"], body["appeal_id"], body["actor"], body["actor_unit"]) == (
        "FS-MARKET", appeal["id"], "fs-reviewer-li", "GD-FS",
    )  # fmt: skip
    assert (body["data"]["total_before"], body["data"]["total_after"]) == (100.0, 87.5)
    assert body["data"]["references"][0]["set_by_after"] == "FS-TRANSPORT"
    assert body["data"]["cause"] == {"appeal_id": appeal["id"], "level": 0, "indicators": ["average_resolution_time"]}
    mine = data_of(await gql(gateway, "query($id: ID!) { unitResult(id: $id) { indicators { indicator explanation { en } } } }",
                             {"id": after["FS-MARKET"]["id"]}, headers=MARKET))["unitResult"]  # fmt: skip
    resolution = next(i for i in mine["indicators"] if i["indicator"] == "average_resolution_time")
    assert (
        f"Revision 2 (the decision on appeal {appeal['id']}:0) moved the reference from 4 to 3 (set by FS-TRANSPORT)"
        in (resolution["explanation"]["en"])
    )
    # FS-MARKET cannot read the appeal that moved it, nor FS-TRANSPORT its peers' consequences.
    assert data_of(await gql(gateway, "query($id: ID!) { appeal(id: $id) { id } }", {"id": appeal["id"]},
                             headers=MARKET))["appeal"] is None  # fmt: skip
    assert data_of(await gql(gateway, "{ appealConsequences { totalCount } }", headers=TRANSPORT)) == {
        "appealConsequences": {"totalCount": 0}
    }

    # 6. FS-MARKET appeals the consequence; the city upholds it, setting TRANSPORT's value to the best observed.
    contest = (
        'mutation($r: ID!, $c: ID!) { fileAppeal(resultId: $r, consequenceId: $c, indicators: ["average_resolution_time"], '
        'reasonCategory: RULE_MISAPPLIED, reason: "3小时优于本市有记录以来的任何部门，不应作为参照值", '
        'asks: [{indicator: "average_resolution_time", kind: CONTEST_CONSEQUENCE, value: 4}], submit: true) '
        + PAYLOAD
        + " }"
    )
    contested = (await ok_payload(gateway, contest, {"r": after["FS-MARKET"]["id"], "c": consequence["id"]}, MARKET))[
        "appeal"
    ]
    contested = await step(gateway, "takeAppeal", contested, REVIEWER)
    upheld = action("decideAppeal", ", outcome: UPHELD, reason: $reason", ", $reason: String!")
    contested = (await ok_payload(gateway, upheld, {"id": contested["id"], "v": contested["version"],
                                                   "reason": "以观测到的最优值4小时认定"}, REVIEWER))["appeal"]  # fmt: skip
    assert contested["decisions"][0]["newRevision"] == 3
    restored = await results_of(gateway, run["id"])
    assert headline(restored) == {
        "FS-HOUSING": (78.33, 3, "qualified"), "FS-MARKET": (100.0, 1, "excellent"),
        "FS-TRANSPORT": (90.0, 2, "excellent"), "FS-WATER": (75.0, 4, "qualified"),
    }  # fmt: skip
    # FS-TRANSPORT's corrected value moved on another unit's appeal: it is told in turn.
    told = data_of(
        await gql(gateway, "{ appealInbox { kind consequence { rankBefore rankAfter } } }", headers=TRANSPORT)
    )
    assert {"kind": "peer_result_changed", "consequence": {"rankBefore": 1, "rankAfter": 2}} in told["appealInbox"]

    # 7. FS-TRANSPORT escalates its first decision; the province answers "rejected": the first decision stands.
    appeal = await step(gateway, "escalateAppeal", appeal, TRANSPORT, ', reason: "超期工单应予剔除"')
    appeal = await step(gateway, "takeAppeal", appeal, PROVINCE_REVIEWER)
    rejected = action("decideAppeal", ", outcome: REJECTED, reason: $reason", ", $reason: String!")
    appeal = (await ok_payload(gateway, rejected, {"id": appeal["id"], "v": appeal["version"],
                                                  "reason": "原决定并无不当，维持"}, PROVINCE_REVIEWER))["appeal"]  # fmt: skip
    second = appeal["decisions"][1]
    assert (second["outcome"], second["firstDecisionStands"], second["newRevision"]) == ("REJECTED", True, None)
    assert appeal["currentRevision"] == 3 and appeal["revision"] == 1
    # The disputed result itself, joined from scoring through the federation (scoped by scoring).
    joined = "query($id: ID!) { appeal(id: $id) { result { revision total } } }"
    assert data_of(await gql(gateway, joined, {"id": appeal["id"]}, headers=TRANSPORT))["appeal"]["result"] == {
        "revision": 3, "total": 90.0,
    }  # fmt: skip
    own = "query($id: ID!) { appeal(id: $id) { consequenceId consequence { unitId totalBefore totalAfter } } }"
    assert data_of(await gql(gateway, own, {"id": contested["id"]}, headers=MARKET))["appeal"] == {
        "consequenceId": consequence["id"],
        "consequence": {"unitId": "FS-MARKET", "totalBefore": 100.0, "totalAfter": 87.5},
    }

    # 8. Final only after every window: the run's, the decisions' escalation times, the consequences' own.
    final = "query($id: ID!) { run(id: $id) { final } }"
    await asyncio.sleep(2.5)  # two sweeps of the appeals worker
    assert data_of(await gql(gateway, final, {"id": run["id"]}, headers=ORGANIZER))["run"]["final"] is False
    await time_passes(stack.database_url, run["id"], days=6)  # the run's window (7 days) is still open
    await asyncio.sleep(2.5)
    assert data_of(await gql(gateway, final, {"id": run["id"]}, headers=ORGANIZER))["run"]["final"] is False
    await time_passes(stack.database_url, run["id"], days=2)
    deadline = time.monotonic() + 20
    while not data_of(await gql(gateway, final, {"id": run["id"]}, headers=ORGANIZER))["run"]["final"]:
        assert time.monotonic() < deadline, "the run did not become final after every window had closed"
        await asyncio.sleep(0.5)

    # 9. The statistics: two appeals, both decided; one escalation, rejected; overturns are real changes only.
    stats = data_of(await gql(gateway, STATS, {"run": run["id"]}, headers=ORGANIZER))["appealStatistics"]
    assert (stats["side"], stats["total"], stats["decided"], stats["escalationsDecided"], stats["escalationsRejected"]) == (
        "ORGANIZER", 2, 2, 1, 1,
    )  # fmt: skip
    assert stats["byStatus"] == [{"key": "DECIDED", "count": 2}]
    assert stats["overturnByIndicator"] == [
        {"key": "average_resolution_time", "decided": 2, "overturned": 2},
        {"key": "on_time_closure_rate", "decided": 1, "overturned": 0},
    ]
    assert stats["overturnByReviewer"] == [
        {"key": "fs-reviewer-li", "decided": 2, "overturned": 2},
        {"key": "gd-reviewer-zhao", "decided": 1, "overturned": 0},
    ]
    assert stats["reversedOnEscalationByReviewer"] == [{"key": "fs-reviewer-li", "decided": 1, "overturned": 0}]
    # Time to decision leaves out the wait for information: each appeal's hours less the hours it waited.
    mine = "query($id: ID!) { appeal(id: $id) { submittedAt informationWaitedHours decisions { decidedAt } } }"
    hours = []
    for appeal_id, headers in ((appeal["id"], TRANSPORT), (contested["id"], MARKET)):
        a = data_of(await gql(gateway, mine, {"id": appeal_id}, headers=headers))["appeal"]
        elapsed = datetime.fromisoformat(a["decisions"][0]["decidedAt"]) - datetime.fromisoformat(a["submittedAt"])
        hours.append(elapsed.total_seconds() / 3600 - a["informationWaitedHours"])
    assert stats["meanHoursToDecision"] == pytest.approx(sum(hours) / 2, abs=0.01)
    assert stats["meanHoursWaitingForInformation"] > 0
    # A unit's statistics are its own.
    own = data_of(await gql(gateway, STATS, {"run": run["id"]}, headers=MARKET))["appealStatistics"]
    assert (own["side"], own["total"], own["overturnByIndicator"]) == (
        "APPELLANT", 1, [{"key": "average_resolution_time", "decided": 1, "overturned": 1}],
    )  # fmt: skip
