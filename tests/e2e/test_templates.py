"""The built-in templates as a user uses them, one step after another through the gateway, on the demo's
real records: create from the template without a cohort, publish, start a run for a period where the
records lie, and the run finishes; then experts fill in the expert-scored items and a new revision
completes them."""

from __future__ import annotations

import asyncio
import csv
import time
from importlib import resources

import httpx
import pytest

from hotline.cli.demo import demo_headers, demo_units_csv, load_demo_records
from hotline.kit.auth import mint_token
from tests.support import TEST_SECRET, data_of, gql


def user(unit_id: str, role: str, subject: str | None = None) -> dict[str, str]:
    token = mint_token(secret=TEST_SECRET, unit_id=unit_id, roles=[role], subject=subject or f"{unit_id}-{role}")
    return {"authorization": f"Bearer {token}"}


# Per template: who organizes it, the period, and an indicator computed from the demo's records with the
# units that have those records in that period (the others of the cohort have none there).
CITIES_WITH_CALLS = {"GD-GZ", "GD-SZ", "GD-FS", "GD-DG"}  # the bank's agents map onto these cities' agents
PLANS = {
    # The province evaluates its cities on February 1999, the month of the bank's calls.
    "gb12345_provincial": ("GD", "MONTH", "1999-02", "average_answer_wait", CITIES_WITH_CALLS),
    "tax_12366": ("GD", "QUARTER", "1999-Q1", "tax_answer_rate", CITIES_WITH_CALLS),
    # Guangzhou evaluates its eight agents on the quarter of those calls.
    "call_centre_kpi": (
        "GD-GZ", "QUARTER", "1999-Q1", "cc_average_handle_time",
        {f"GZ-T{t}-A00{a}" for t in (1, 2) for a in (1, 2, 3, 4)},
    ),
    # Guangzhou evaluates its undertaking units on the Boston 311 orders of 2024-Q3, which reach seven of them.
    "enterprise_service": (
        "GD-GZ", "QUARTER", "2024-Q3", "es_problem_resolution_rate",
        {"GZ-URBANMGMT", "GZ-TRANSPORT", "GZ-HOUSING", "GZ-ECOENV", "GZ-WATER", "GZ-MARKET", "GZ-HRSS"},
    ),
}  # fmt: skip

CREATE = """mutation($t: String!, $code: String!, $name: String!) {
  createSchemeFromTemplate(templateCode: $t, code: $code, nameZh: $name) {
    ok problems { path code message } scheme { schemeId version body } } }"""
PUBLISH = """mutation($id: ID!, $v: Int!) { publishScheme(schemeId: $id, version: $v) {
  ok problems { path code message } scheme { status } } }"""
START = (
    "mutation($i: StartRunInput!) { startRun(input: $i) { problems { path code message } run { id status cohort } } }"
)
STATUS = "query($id: ID!) { run(id: $id) { status error currentRevision expertScoresNotInRevision } }"
RESULTS = """query($id: ID!) { run(id: $id) { status currentRevision
  revisions { revision reason }
  awaitingExpertScores { indicator points unitIds }
  results(first: 100) { edges { node { unitId total rank applicablePoints applicableShare minApplicableShare
    totalWithheld { reason applicableShare minApplicableShare }
    indicators { indicator applicable naReason value score rule { type } measures { code value }
      experts { expert score justification } explanation { en zh } } } } } } }"""
SHEET = """mutation($run: ID!, $scores: [ExpertScoreInput!]!) { enterExpertScores(runId: $run, scores: $scores) {
  accepted revisionQueued problems { path code message } } }"""


def cohort_of(organizer: str, kind: str) -> list[str]:
    """The active units of ``kind`` below ``organizer`` in the demo's unit file (read here, independently)."""
    rows = {r["id"]: r for r in csv.DictReader(demo_units_csv().decode("utf-8").splitlines())}

    def below(unit: str) -> bool:
        parent = rows[unit]["parent_id"]
        return bool(parent) and (parent == organizer or below(parent))

    return sorted(u for u, r in rows.items() if r["kind"] == kind and r["active"] == "true" and below(u))


async def until(gateway: httpx.AsyncClient, run_id: str, headers, done, seconds: float = 90) -> dict:
    """Poll the run until ``done(run)`` holds (or fail after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        run = data_of(await gql(gateway, STATUS, {"id": run_id}, headers=headers))["run"]
        if done(run):
            return run
        assert run["status"] != "failed" and time.monotonic() < deadline, run
        await asyncio.sleep(0.3)


@pytest.fixture(scope="module")
async def demo_records(stack) -> None:
    """The demo's records, loaded as `hotline up` loads them (ingest's REST API, shipped mappings)."""
    headers = demo_headers(TEST_SECRET)
    async with httpx.AsyncClient(base_url=stack.service_url("ingest"), headers=headers, timeout=300) as ingest:
        loaded = await load_demo_records(ingest)
    assert all(counts["valid"] > 0 for counts in loaded.values()), loaded


@pytest.fixture(scope="module")
async def runs(stack, demo_records) -> dict[str, dict]:
    """Each template: created with no cohort, published, run for its period — every step through the gateway."""
    found = {}
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as gateway:
        for template, (organizer, kind, period, _, _) in PLANS.items():
            headers = user(organizer, "organizer")
            variables = {"t": template, "code": f"E2E-{template}", "name": f"{template} 演示评价"}
            created = data_of(await gql(gateway, CREATE, variables, headers=headers))["createSchemeFromTemplate"]
            assert created["ok"] and created["problems"] == [], (template, created)
            scheme = created["scheme"]
            published = data_of(
                await gql(gateway, PUBLISH, {"id": scheme["schemeId"], "v": scheme["version"]}, headers=headers)
            )["publishScheme"]
            assert published["ok"] and published["problems"] == [], (template, published)
            run_input = {"schemeId": scheme["schemeId"], "schemeVersion": scheme["version"], "periodKind": kind,
                         "period": period}  # fmt: skip
            started = data_of(await gql(gateway, START, {"i": run_input}, headers=headers))["startRun"]
            assert started["problems"] == [], (template, started)
            run_id = started["run"]["id"]
            await until(gateway, run_id, headers, lambda r: r["status"] in ("done", "failed"))
            detail = data_of(await gql(gateway, RESULTS, {"id": run_id}, headers=headers))["run"]
            found[template] = {"id": run_id, "body": scheme["body"], "started": started["run"], **detail}
    return found


def results(run: dict) -> dict[str, dict]:
    return {e["node"]["unitId"]: e["node"] for e in run["results"]["edges"]}


def indicator(result: dict, code: str) -> dict:
    return next(i for i in result["indicators"] if i["indicator"] == code)


@pytest.mark.parametrize("template", sorted(PLANS))
async def test_a_template_created_without_a_cohort_runs_to_the_end_on_the_demo_records(runs, template):
    organizer, _, _, measured, with_records = PLANS[template]
    run = runs[template]
    kind = run["body"]["cohort"]["kind"]
    assert run["body"]["cohort"] == {"kind": kind, "under": organizer}  # the default, stated in the scheme
    assert (run["status"], run["currentRevision"]) == ("done", 1), run
    cohort = cohort_of(organizer, kind)
    assert run["started"]["cohort"] == cohort and sorted(results(run)) == cohort
    # The records reach exactly the units that have them: their indicator has a value, the others' has none.
    computed = {u for u, r in results(run).items() if indicator(r, measured)["applicable"]}
    assert computed == with_records, (template, computed)
    # A unit with records has a total and a rank unless too little of the scheme applies to it (then the total
    # is withheld and says why); a unit never has a total on less than the scheme's minimum share.
    for unit, result in results(run).items():
        withheld = result["totalWithheld"]
        assert (result["total"] is None) == (result["rank"] is None) == (withheld is not None), (unit, result)
        if result["applicableShare"] < result["minApplicableShare"]:
            assert withheld["reason"] in ("below_min_applicable_share", "no_applicable_data", "nothing_applicable")
        elif unit in with_records:
            assert result["total"] is not None, (template, unit, result["applicableShare"])
        if unit not in with_records:  # no record at all: absent, not zero — never a total, never a rank
            assert result["total"] is None and withheld["reason"] == "nothing_applicable", (template, unit, result)
            assert all(not i["applicable"] and i["naReason"] in ("no_data", "no_expert_score")
                       for i in result["indicators"]), (template, unit)  # fmt: skip
    # Expert-scored items are not applicable yet, awaiting expert scores, and the run lists them.
    experts = sorted(i["indicator"]["code"] for i in run["body"]["items"] if i["rule"]["type"] == "expert")
    assert experts, template
    assert sorted((a["indicator"], a["unitIds"]) for a in run["awaitingExpertScores"]) == [(e, cohort) for e in experts]
    for result in results(run).values():
        for code in experts:
            row = indicator(result, code)
            assert (row["applicable"], row["naReason"], row["score"]) == (False, "no_expert_score", None)
            assert "awaiting expert scores" in row["explanation"]["en"] and "待专家评分" in row["explanation"]["zh"]


async def test_the_agents_run_counts_the_bank_calls_each_agent_answered(runs):
    # GZ-T1-A001 stands for the bank's agent ANAT: its answered calls are the file's ANAT rows that an agent took.
    data = resources.files("services.ingest").joinpath("demo/data/bank_calls_1999-02_every8th.tsv")
    rows = csv.DictReader(data.read_text("utf-8").splitlines(), delimiter="\t")
    answered = sum(1 for r in rows if r["server"] == "ANAT" and r["outcome"] == "AGENT")
    row = indicator(results(runs["call_centre_kpi"])["GZ-T1-A001"], "cc_average_handle_time")
    assert {m["code"]: m["value"] for m in row["measures"]}["calls.answered"] == answered > 0


async def test_experts_complete_the_awaiting_items_in_a_new_revision(gateway, runs):
    run = runs["call_centre_kpi"]
    organizer = user("GD-GZ", "organizer")
    agents = cohort_of("GD-GZ", "agent")
    points = {a["indicator"]: a["points"] for a in run["awaitingExpertScores"]}
    assert points == {"cc_personalised_service": 5.0, "cc_problem_solving": 10.0}

    def sheet(expert: int, bad: bool = False) -> list[dict]:
        # Expert n gives agent i (0-based) n + i/2 points on problem solving and n on personalised service.
        return [
            {"unitId": agent, "indicator": code, "justification": f"专家{expert}:现场旁听与录音抽查",
             "score": (expert + i / 2 if code == "cc_problem_solving" else expert) + (99 if bad and i == 3 else 0)}
            for i, agent in enumerate(agents)
            for code in sorted(points)
        ]  # fmt: skip

    # A sheet with one score above the points is refused whole; a unit cannot enter scores at all.
    expert_1 = user("GD-GZ", "expert", "expert-1")
    refused = data_of(await gql(gateway, SHEET, {"run": run["id"], "scores": sheet(1, bad=True)}, headers=expert_1))
    assert refused["enterExpertScores"]["accepted"] == 0
    assert refused["enterExpertScores"]["problems"] == [
        {"path": "scores[6].score", "code": "out_of_range",
         "message": "GZ-T1-A004, cc_personalised_service: the score must be between 0 and 5"},
        {"path": "scores[7].score", "code": "out_of_range",
         "message": "GZ-T1-A004, cc_problem_solving: the score must be between 0 and 10"},
    ]  # fmt: skip
    as_unit = data_of(await gql(gateway, SHEET, {"run": run["id"], "scores": sheet(1)}, headers=user("GZ-T1", "unit")))
    assert as_unit["enterExpertScores"] == {
        "accepted": 0, "revisionQueued": False, "problems": [{"path": "runId", "code": "not_found", "message": "run not found"}]
    }  # fmt: skip

    # Three experts each enter their sheet: 3 × 8 agents × 2 items = 48 scores.
    for n in (1, 2, 3):
        entered = data_of(
            await gql(
                gateway, SHEET, {"run": run["id"], "scores": sheet(n)}, headers=user("GD-GZ", "expert", f"expert-{n}")
            )
        )["enterExpertScores"]
        assert (entered["accepted"], entered["problems"]) == (16, []), entered

    def settled(r: dict) -> bool:
        return r["status"] == "done" and r["currentRevision"] >= 2 and r["expertScoresNotInRevision"] == 0

    await until(gateway, run["id"], organizer, settled)
    after = data_of(await gql(gateway, RESULTS, {"id": run["id"]}, headers=organizer))["run"]
    # One revision per sheet at most (fewer when a sheet found one waiting), never one per score.
    assert 2 <= after["currentRevision"] <= 4, after["revisions"]
    assert all(r["reason"].startswith("expert scores entered") for r in after["revisions"][1:])
    assert after["awaitingExpertScores"] == []
    first = results(run)
    for i, agent in enumerate(agents):
        result = results(after)[agent]
        solving = indicator(result, "cc_problem_solving")
        # The template's panel takes the mean: (1 + 2 + 3)/3 + i/2.
        assert (solving["applicable"], solving["naReason"], solving["score"]) == (True, None, 2 + i / 2)
        assert sorted(e["expert"] for e in solving["experts"]) == ["expert-1", "expert-2", "expert-3"]
        assert all(e["justification"].endswith("现场旁听与录音抽查") for e in solving["experts"])
        assert indicator(result, "cc_personalised_service")["score"] == 2.0
        assert result["applicablePoints"] == first[agent]["applicablePoints"] + 15  # both items now count
