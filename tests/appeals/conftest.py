"""Fixtures of the appeals tests: a fake scoring service answering exactly the shapes of contracts §6
behind ``httpx.MockTransport`` (``test_real_scoring.py`` runs the flow against the real scoring app),
an injectable clock, the unit tree loaded into ingest, and the appeals app."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from hotline.kit.auth import mint_token
from tests.support import TEST_SECRET, TREE, auth, data_of, gql

PUBLISHED_AT = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
LIMITS = {
    "window_days": 7,
    "max_appeals_per_result": 2,
    "max_indicators_per_appeal": 2,
    "escalation_days": 5,
    "decision_days": 10,
}
PATHS = {}
for _row in TREE:
    parent = _row.get("parent_id")
    PATHS[_row["id"]] = f"{PATHS[parent]}/{_row['id']}" if parent else _row["id"]


def _facts(unit: str, maximum: float, *, best: float | None) -> dict:
    """What scoring says an indicator's value can be (contracts §6): its range and the best value observed."""
    return {
        "unit": unit,
        "direction": "higher_better",
        "bounds": {"min": 0.0, "max": maximum},
        "observed": {"best": best, "periods": ["2026-02"] if best is not None else []},
    }


def _result(result_id: str, unit: str, organizer: str, published_at: datetime | None, run: str = "RUN-GZ") -> dict:
    return {
        "id": result_id,
        "unit": unit,
        "run_id": run,
        "revision": 1,
        "organizer": organizer,
        "published_at": published_at.isoformat() if published_at else None,
        "appeal_window_closes_at": (published_at + timedelta(days=7)).isoformat() if published_at else None,
        "scheme": {"id": "S-GZ", "version": 1},
        "appeal_limits": dict(LIMITS),
        "peer_appeals": {"allowed": True, "window_days": 5},
        "total": 80.0,
        "grade": {"code": "qualified", "name_zh": "合格"},
        "rank": 2,
        "final": False,
        "indicators": [
            {
                "indicator": "on_time_closure_rate",
                "name_zh": "按时办结率",
                "points": 10,
                "value": 88.0,
                "score": 6.0,
                "applicable": True,
                "rule": "linear_band",
                **_facts("percent", 100.0, best=96.0),
            },
            {
                "indicator": "answer_rate",
                "name_zh": "接通率",
                "points": 5,
                "value": 90.0,
                "score": 4.0,
                "applicable": True,
                "rule": "ratio_to_reference",
                **_facts("percent", 100.0, best=95.0),
            },
            {
                "indicator": "innovation",
                "name_zh": "创新",
                "points": 5,
                "value": None,
                "score": 3.0,
                "applicable": True,
                "rule": "expert",
                **_facts("points", 5.0, best=None),
            },
        ],
    }


ADJUSTMENT_FIELDS = {"exclude_records": "records", "correct_value": "value", "expert_score": "score"}


def _revision_problems(body: dict) -> list[str]:
    """The request shape of contracts §6 exactly: what real scoring would refuse (or not understand)."""
    problems = [f"missing {name}" for name in ("appeal_id", "reason", "adjustments") if name not in body]
    for number, adj in enumerate(body.get("adjustments", [])):
        kind = adj.get("kind")
        if kind not in ADJUSTMENT_FIELDS:
            problems.append(f"adjustment {number}: unknown kind {kind!r}")
            continue
        allowed = {"kind", "unit", "indicator", ADJUSTMENT_FIELDS[kind]}
        if set(adj) != allowed:
            problems.append(f"adjustment {number}: fields {sorted(adj)}, expected {sorted(allowed)}")
    return problems


@dataclass
class FakeScoring:
    """Scoring as contracts §6 describes it: scoped by the acting unit, result ids stable across revisions,
    revisions (idempotent by ``appeal_id``) add 1.5 points per adjustment. ``peer_effects`` makes an
    adjustment of an indicator move other units' scores too (a best-in-cohort reference moving): indicator →
    the reference before and after, and each peer's score change on it."""

    results: dict[str, dict] = field(default_factory=dict)
    revisions: list[dict] = field(default_factory=list)
    answered: dict[str, dict] = field(default_factory=dict)  # appeal_id → the revision's answer
    run_revisions: dict[str, int] = field(default_factory=dict)
    settled: list[tuple[str, str, dict]] = field(default_factory=list)
    awaiting: list[dict] = field(default_factory=list)
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    fail_revisions: bool = False
    published_at: datetime = PUBLISHED_AT
    peer_effects: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        at = self.published_at
        for r in (
            _result("R-HOUSING", "GZ-HOUSING", "GD-GZ", at),
            _result("R-WATER", "GZ-WATER", "GD-GZ", at),
            _result("R-SZ", "SZ-HOUSING", "GD-SZ", at, run="RUN-SZ"),
            _result("R-UNPUBLISHED", "GZ-HOUSING", "GD-GZ", None, run="RUN-GZ-2"),
            _result("R-CITY", "GD-GZ", "GD", at, run="RUN-GD"),
        ):
            self.results[r["id"]] = r

    @staticmethod
    def _visible(acting: str, unit: str) -> bool:
        path, mine = PATHS.get(unit, ""), PATHS.get(acting)
        return mine is not None and (path == mine or path.startswith(mine + "/"))

    def handle(self, request: httpx.Request) -> httpx.Response:
        claims = jwt.decode(request.headers["authorization"].split()[1], options={"verify_signature": False})
        acting, path = claims["unit_id"], request.url.path
        assert claims["aud"] == "hotline-internal" and claims["roles"] == ["service"]
        self.calls.append((request.method, path, acting))
        parts = path.strip("/").split("/")
        if request.method == "GET" and parts[0] == "results":
            r = self.results.get(parts[1])
            if r is None or not (self._visible(acting, r["unit"]) or self._visible(acting, r["organizer"])):
                return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": "no such result"}})
            if r["published_at"] is None and not self._visible(acting, r["organizer"]):
                # Unpublished, seen from the unit's side: the facts, not the figures.
                r = {**r, "total": None, "grade": None, "rank": None, "indicators": []}
            return httpx.Response(200, json=r)
        if request.method == "POST" and parts[2] == "revisions":
            return self._revise(parts[1], acting, json.loads(request.content), dry_run=parts[3:] == ["dry-run"])
        if request.method == "POST" and parts[2] == "settled":
            self.settled.append((parts[1], acting, json.loads(request.content)))
            return httpx.Response(
                200, json={"run_id": parts[1], "final": True, "final_at": self.published_at.isoformat()}
            )
        if request.method == "GET" and path == "/runs/awaiting-settlement":
            return httpx.Response(200, json={"runs": self.awaiting})
        return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": path}})

    def _revise(self, run_id: str, acting: str, body: dict, *, dry_run: bool = False) -> httpx.Response:
        if self.fail_revisions:
            return httpx.Response(503, json={"error": {"code": "SERVICE_UNAVAILABLE", "message": "down"}})
        problems = _revision_problems(body)
        if problems:
            error = {"code": "CONFLICT", "message": problems[0], "details": {"problems": problems}}
            return httpx.Response(409, json={"error": error})
        if body["appeal_id"] in self.answered and not dry_run:
            return httpx.Response(200, json=self.answered[body["appeal_id"]])
        results = self.results if not dry_run else json.loads(json.dumps(self.results))
        revision = self.run_revisions.get(run_id, 1) + 1
        changes: dict[str, dict] = {}  # unit → its change, in the shape of a consequence
        references = []

        def change_of(result: dict, adjusted: bool) -> dict:
            if result["unit"] not in changes:
                changes[result["unit"]] = {
                    "result_id": result["id"], "unit": result["unit"], "adjusted": adjusted,
                    "total_before": result["total"], "rank_before": result["rank"],
                    "grade_before": result["grade"]["code"], "indicators": [],
                }  # fmt: skip
            return changes[result["unit"]]

        def move(result: dict, indicator: str, delta: float, adjusted: bool, value: float | None = None) -> None:
            entry = change_of(result, adjusted)
            item = next(i for i in result["indicators"] if i["indicator"] == indicator)
            entry["indicators"].append(
                {"indicator": indicator, "value_before": item["value"], "score_before": item["score"]}
            )
            item["score"] += delta
            if value is not None:
                item["value"] = value
            entry["indicators"][-1].update(value_after=item["value"], score_after=item["score"])
            result["total"] += delta

        for adj in body["adjustments"]:
            result = next(r for r in results.values() if r["unit"] == adj["unit"] and r["run_id"] == run_id)
            move(result, adj["indicator"], 1.5, True, adj.get("value"))
            effect = self.peer_effects.get(adj["indicator"])
            if effect is None:
                continue
            references.append({"indicator": adj["indicator"], "policy": "best_in_cohort", **effect["reference"]})
            for peer, delta in effect["peers"].items():
                peer_result = next(r for r in results.values() if r["unit"] == peer and r["run_id"] == run_id)
                move(peer_result, adj["indicator"], delta, False)
                if "rank" in effect:
                    peer_result["rank"] = effect["rank"].get(peer, peer_result["rank"])
        for unit, entry in changes.items():
            result = next(r for r in results.values() if r["unit"] == unit and r["run_id"] == run_id)
            result["revision"] = revision
            entry.update(total_after=result["total"], rank_after=result["rank"], grade_after=result["grade"]["code"])
        answer = {
            "run_id": run_id,
            "revision": revision,
            "results": [
                {
                    "result_id": c["result_id"], "unit": c["unit"], "total_before": c["total_before"],
                    "total_after": c["total_after"],
                    "indicators": [
                        {"indicator": i["indicator"], "score_before": i["score_before"], "score_after": i["score_after"]}
                        for i in c["indicators"]
                    ],
                }
                for c in changes.values()
            ],
            "references": references,
            "consequences": list(changes.values()),
        }  # fmt: skip
        if dry_run:
            return httpx.Response(200, json={**answer, "dry_run": True})
        self.revisions.append({"run_id": run_id, "acting": acting, **body})
        self.run_revisions[run_id] = revision
        self.answered[body["appeal_id"]] = answer
        return httpx.Response(201, json=answer)


class Clock:
    """The server's clock in tests: starts a day after publication; ``advance`` moves it."""

    def __init__(self) -> None:
        self.now = PUBLISHED_AT + timedelta(days=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def scoring() -> FakeScoring:
    return FakeScoring()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver():
    """A webhook receiver: answers each request with the next status of ``statuses`` (then 200; 0 refuses
    the connection)."""

    class Receiver:
        def __init__(self) -> None:
            self.requests: list[httpx.Request] = []
            self.statuses: list[int] = []

        def handle(self, request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            status = self.statuses.pop(0) if self.statuses else 200
            if status == 0:  # 0: the receiver cannot be reached
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(status)

    return Receiver()


@pytest.fixture
async def appeals_app(db, settings, service_transports, ingest, scoring, clock, receiver):
    from services.appeals.app import create_app

    response = await ingest.post("/units/bulk", json=TREE, headers=auth("GD", "admin"))
    assert response.status_code == 200, response.text
    transports = {**service_transports, "scoring": httpx.MockTransport(scoring.handle)}
    app = create_app(
        settings=settings,
        database=db,
        service_transports=transports,
        clock=clock,
        webhook_transport=httpx.MockTransport(receiver.handle),
        worker=False,
        webhook_wait_initial=0,
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def appeals(appeals_app):
    transport = httpx.ASGITransport(app=appeals_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://appeals") as client:
        yield client


UNIT = auth("GZ-HOUSING", "unit")
OTHER_UNIT = auth("GZ-WATER", "unit")


def as_user(unit_id: str, subject: str, *roles: str) -> dict[str, str]:
    token = mint_token(secret=TEST_SECRET, unit_id=unit_id, roles=list(roles), subject=subject)
    return {"authorization": f"Bearer {token}"}


REVIEWER = as_user("GD-GZ", "reviewer-li", "reviewer")
REVIEWER_2 = as_user("GD-GZ", "reviewer-wang", "reviewer")
PARENT_REVIEWER = auth("GD", "reviewer")
ORGANIZER = auth("GD-GZ", "organizer")

APPEAL_FIELDS = """
    id version status resultId runId unitId organizerId decidingUnitId escalatedTo indicators reasonCategory reason
    asks { indicator kind value records { source recordId } } evidenceRecords { source recordId note }
    windowClosesAt submittedAt assignedTo informationDueAt decisionDueAt decidedAt outcome upheldIndicators
    scoreTotalAtFiling
    decisions { level outcome reason upheldIndicators decidedBy late newRevision totalBefore totalAfter
                indicatorChanges { indicator scoreBefore scoreAfter } }
    events { kind actorSubject actorUnitId occurredAt data }
"""
PAYLOAD = "{ ok problems { code message field path } appeal { " + APPEAL_FIELDS + " } }"


async def call(client, mutation: str, variables: dict[str, Any], headers) -> dict:
    """Run a mutation whose payload is an ``AppealPayload``; returns the payload."""
    result = await gql(client, mutation, variables, headers=headers)
    data = data_of(result)
    return next(iter(data.values()))


FILE = (
    "mutation($r: ID!, $i: [String!]!, $asks: [AppealAskInput!], $ev: [AppealRecordRefInput!], $submit: Boolean!) {"
    ' fileAppeal(resultId: $r, indicators: $i, reasonCategory: WRONG_DATA, reason: "work orders wrongly counted",'
    " asks: $asks, evidenceRecords: $ev, submit: $submit) " + PAYLOAD + " }"
)
DEFAULT_ASKS = [
    {
        "indicator": "on_time_closure_rate",
        "kind": "EXCLUDE_RECORDS",
        "records": [{"source": "gz-orders", "recordId": "WO-1001"}, {"source": "gz-orders", "recordId": "WO-1002"}],
    },
    {"indicator": "answer_rate", "kind": "CORRECT_VALUE", "value": 95.0},
]


async def file_appeal(client, *, result="R-HOUSING", headers=UNIT, submit=True, indicators=None, asks=None):
    variables = {
        "r": result,
        "i": indicators or ["on_time_closure_rate", "answer_rate"],
        "asks": DEFAULT_ASKS if asks is None else asks,
        "ev": [{"source": "gz-orders", "recordId": "WO-1001", "note": "closed on time, clock skew"}],
        "submit": submit,
    }
    return await call(client, FILE, variables, headers)


def action(name: str, extra_args: str = "", extra_vars: str = "") -> str:
    return (
        f"mutation($id: ID!, $v: Int!{extra_vars}) {{ {name}(id: $id, expectedVersion: $v{extra_args}) "
        + PAYLOAD
        + " }"
    )


TAKE = action("takeAppeal")
SUBMIT = action("submitAppeal")
WITHDRAW = action("withdrawAppeal", ', reason: "settled with the organizer"')
DECIDE = action(
    "decideAppeal",
    ", outcome: $o, reason: $reason, upheldIndicators: $up",
    ", $o: AppealOutcome!, $reason: String!, $up: [String!]",
)
ESCALATE = action("escalateAppeal", ', reason: "the organizer ignored our evidence"')
REQUEST_INFO = action("requestInformation", ", message: $m, replyDays: 3", ", $m: String!")
GIVE_INFO = action(
    "giveInformation", ", message: $m, evidenceRecords: $ev", ", $m: String!, $ev: [AppealRecordRefInput!]"
)


def problem_codes(payload: dict) -> list[str]:
    return [p["code"] for p in payload["problems"]]
