"""The API appeals calls (contracts §6), expert scores, explanations with ingest's sources, weights, reports."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import text

from hotline.kit.auth import mint_service_token
from hotline.kit.settings import DEVELOPMENT_SERVICE_SECRET
from tests.scoring.example import example_scheme, indicator
from tests.scoring.test_publication import publish
from tests.scoring.test_runs import ORGANIZER, finished_run, results_by_unit
from tests.support import auth, data_of, gql, problem


def service(unit_id: str) -> dict[str, str]:
    token = mint_service_token(secret=DEVELOPMENT_SERVICE_SECRET, service="appeals", unit_id=unit_id)
    return {"authorization": f"Bearer {token}"}


async def test_appeals_reads_a_result_with_its_window_and_limits(scoring, drain):
    run = await finished_run(scoring, drain)
    result_id = results_by_unit(run)["UB"]["id"]
    # Before publication: the appeals service (acting for the unit) learns it is not published, not the figures;
    # the unit's own users get a 404 like for an unknown result.
    pending = (await scoring.get(f"/results/{result_id}", headers=service("UB"))).json()
    assert (pending["unit"], pending["published_at"], pending["total"], pending["indicators"]) == ("UB", None, None, [])
    assert pending["appeal_limits"]["window_days"] == 7
    assert (await scoring.get(f"/results/{result_id}", headers=auth("UB", "unit"))).status_code == 404
    assert (await scoring.get(f"/results/{result_id}", headers=service("UA"))).status_code == 404
    await publish(scoring, run["id"])
    response = await scoring.get(f"/results/{result_id}", headers=service("UB"))
    body = response.json()
    assert response.status_code == 200, body
    assert (body["unit"], body["organizer"], body["revision"], body["total"], body["final"]) == (
        "UB",
        "GD-GZ",
        1,
        69.33,
        False,
    )
    # Every limit explicit; the example scheme names neither escalation_days nor decision_days (defaults 5, 15).
    assert body["appeal_limits"] == {
        "window_days": 7, "max_appeals_per_result": 3, "max_indicators_per_appeal": 5, "escalation_days": 5,
        "decision_days": 15,
    }  # fmt: skip
    published = datetime.fromisoformat(body["published_at"])
    assert datetime.fromisoformat(body["appeal_window_closes_at"]) == published + timedelta(days=7)
    assert body["grade"] == {"code": "needs_improvement", "name_zh": "待改进"}
    assert [i["indicator"] for i in body["indicators"]][:2] == ["answer_rate", "average_answer_wait"]
    # Acting for another unit: exactly like a missing result.
    assert (await scoring.get(f"/results/{result_id}", headers=service("UA"))).status_code == 404
    assert (await scoring.get("/results/not-a-uuid", headers=service("UB"))).status_code == 404


async def test_an_upheld_appeal_makes_a_new_revision_with_scores_before_and_after(scoring, drain, measures):
    run = await finished_run(scoring, drain)
    await publish(scoring, run["id"])
    measures.contributions[("calls", "C-1")] = [
        {"unit": "UB", "day": "2025-03-10", "measure": "calls.complaints", "value": 1}
    ]
    body = {
        "appeal_id": "appeal-7",
        "reason": "one complaint belonged to another unit; the wait was mis-measured",
        "adjustments": [
            {
                "kind": "exclude_records",
                "unit": "UB",
                "indicator": "complaints",
                "records": [{"source": "calls", "record_id": "C-1"}],
            },
            {"kind": "correct_value", "unit": "UB", "indicator": "average_answer_wait", "value": 12.5},
        ],
    }
    assert (await scoring.post(f"/runs/{run['id']}/revisions", json=body, headers=ORGANIZER)).status_code == 403
    response = await scoring.post(f"/runs/{run['id']}/revisions", json=body, headers=service("GD-GZ"))
    assert response.status_code == 201, response.text
    answer = response.json()
    # The same appeal_id again (a retry): the same revision is answered with 200, no second one is made.
    again = await scoring.post(f"/runs/{run['id']}/revisions", json=body, headers=service("GD-GZ"))
    assert again.status_code == 200 and again.json() == answer
    # The result id is stable across revisions: the disputed result is the revised one.
    assert {r["result_id"] for r in answer["results"] if r["unit"] == "UB"} == {results_by_unit(run)["UB"]["id"]}
    # complaints 3 → 2: 10 − (2 − 1) × 2 = 8 (was 6); wait 20 → 12.5: 10/12.5 × 20 = 16 (was 10).
    # UB: 26.6667 + 16 + 13.3333 + 8 + 13.3333 = 77.3333 → 77.33.
    assert answer["revision"] == 2
    ub = next(r for r in answer["results"] if r["unit"] == "UB")
    assert (ub["total_before"], ub["total_after"]) == (69.33, 77.33)
    assert ub["indicators"] == [
        {"indicator": "average_answer_wait", "score_before": 10.0, "score_after": 16.0},
        {"indicator": "complaints", "score_before": 6.0, "score_after": 8.0},
    ]
    query = "query($id: ID!) { unitResult(id: $id) { revision total atRevision(revision: 1) { total } indicators { indicator corrected } } }"
    seen = data_of(await gql(scoring, query, {"id": ub["result_id"]}, headers=auth("UB", "unit")))["unitResult"]
    assert (seen["revision"], seen["total"], seen["atRevision"]["total"]) == (2, 77.33, 69.33)
    assert {i["indicator"] for i in seen["indicators"] if i["corrected"]} == {"average_answer_wait"}


async def test_bad_adjustments_are_refused_with_every_problem(scoring, drain):
    run = await finished_run(scoring, drain)
    body = {
        "appeal_id": "a",
        "reason": "r",
        "adjustments": [{"kind": "guess", "unit": "SZ-HOUSING", "indicator": "nope"}],
    }
    response = await scoring.post(f"/runs/{run['id']}/revisions", json=body, headers=service("GD-GZ"))
    assert response.status_code == 409
    assert len(response.json()["error"]["details"]["problems"]) == 3
    # Records ingest does not know cannot be excluded; nothing is made, and the same key may be used again.
    unknown = {"kind": "exclude_records", "unit": "UB", "indicator": "complaints",
               "records": [{"source": "calls", "record_id": "C-404"}]}  # fmt: skip
    body = {"appeal_id": "b", "reason": "r", "adjustments": [unknown]}
    response = await scoring.post(f"/runs/{run['id']}/revisions", json=body, headers=service("GD-GZ"))
    assert response.status_code == 409
    assert response.json()["error"]["details"]["problems"] == [
        "adjustment 0: record calls/C-404 is unknown to ingest (or outside the organizer's scope)"
    ]
    query = "query($id: ID!) { run(id: $id) { currentRevision } }"
    assert data_of(await gql(scoring, query, {"id": run["id"]}, headers=ORGANIZER))["run"]["currentRevision"] == 1


async def test_settled_runs_are_final(scoring, drain):
    run = await finished_run(scoring, drain)
    assert (
        await scoring.post(f"/runs/{run['id']}/settled", headers=service("GD-GZ"))
    ).status_code == 409  # unpublished
    await publish(scoring, run["id"])
    summary = {"settled_at": "2026-03-12T00:00:00+00:00", "appeals": {"total": 1, "rejected": 1}}
    settled = await scoring.post(f"/runs/{run['id']}/settled", json=summary, headers=service("GD-GZ"))
    assert settled.status_code == 200 and settled.json()["final"] is True
    again = await scoring.post(f"/runs/{run['id']}/settled", json=summary, headers=service("GD-GZ"))
    assert again.status_code == 200 and again.json()["final"] is True  # idempotent
    final = data_of(
        await gql(scoring, "query($id: ID!) { run(id: $id) { final } }", {"id": run["id"]}, headers=ORGANIZER)
    )
    assert final["run"]["final"] is True
    body = {
        "appeal_id": "late",
        "reason": "r",
        "adjustments": [{"kind": "correct_value", "unit": "UB", "indicator": "complaints", "value": 0}],
    }
    assert (await scoring.post(f"/runs/{run['id']}/revisions", json=body, headers=service("GD-GZ"))).status_code == 409


async def test_runs_awaiting_settlement_are_published_closed_and_not_final(scoring, drain, scoring_app):
    run = await finished_run(scoring, drain)
    await publish(scoring, run["id"])
    listing = await scoring.get("/runs/awaiting-settlement", headers=service("-"))
    assert listing.status_code == 200 and listing.json() == {"runs": []}  # the window is still open
    async with scoring_app.state.database.unit_of_work() as session:
        await session.execute(
            text("UPDATE scoring.evaluation_run SET appeal_window_closes_at = :at WHERE id = :id"),
            {"at": datetime.now(UTC) - timedelta(minutes=1), "id": run["id"]},
        )
    runs = (await scoring.get("/runs/awaiting-settlement", headers=service("-"))).json()["runs"]
    assert [(r["run_id"], r["organizer"]) for r in runs] == [(run["id"], "GD-GZ")]
    assert datetime.fromisoformat(runs[0]["appeal_window_closes_at"]) < datetime.now(UTC)
    assert (await scoring.get("/runs/awaiting-settlement", headers=ORGANIZER)).status_code == 403
    assert (await scoring.post(f"/runs/{run['id']}/settled", headers=service("GD-GZ"))).status_code == 200
    assert (await scoring.get("/runs/awaiting-settlement", headers=service("-"))).json() == {"runs": []}


EXPERT = """
mutation($run: ID!, $unit: String!, $score: Float!, $why: String!) {
  enterExpertScore(runId: $run, unitId: $unit, indicator: "innovation", score: $score, justification: $why) { accepted problems { path code message } } }
"""


def expert_scheme():
    scheme = example_scheme(organizer="GD-GZ")
    scheme["items"].append({
        "indicator": indicator("innovation", "reported.items", unit="points", dimension="innovation", method="expert"),
        "points": 10, "rule": {"type": "expert"},
    })  # fmt: skip
    return scheme


async def test_expert_scores_need_the_role_and_a_justification_and_enter_a_new_revision(scoring, drain, schemes):
    schemes.add(expert_scheme())
    run = await finished_run(scoring, drain)
    args = {"run": run["id"], "unit": "UA", "score": 8.0, "why": "建成了网格联动机制"}
    refused = data_of(await gql(scoring, EXPERT, args, headers=ORGANIZER))["enterExpertScore"]
    assert refused == {
        "accepted": False,
        "problems": [problem("", "forbidden", "entering expert scores needs the role expert")],
    }
    blank = data_of(await gql(scoring, EXPERT, {**args, "why": "  "}, headers=auth("GD-GZ", "expert")))[
        "enterExpertScore"
    ]
    assert blank["problems"] == [problem("justification", "required", "a written justification is required")]
    too_high = data_of(await gql(scoring, EXPERT, {**args, "score": 11.0}, headers=auth("GD-GZ", "expert")))
    assert too_high["enterExpertScore"]["problems"] == [
        problem("score", "out_of_range", "the score must be between 0 and 10")
    ]
    elsewhere = data_of(await gql(scoring, EXPERT, {**args, "unit": "SZ-HOUSING"}, headers=auth("GD-GZ", "expert")))
    assert elsewhere["enterExpertScore"]["problems"] == [
        problem("unitId", "not_in_cohort", "SZ-HOUSING is not a unit of this run's cohort in your scope")
    ]
    ok = data_of(await gql(scoring, EXPERT, args, headers=auth("GD-GZ", "expert")))["enterExpertScore"]
    assert ok == {"accepted": True, "problems": []}
    await gql(
        scoring,
        'mutation($id: ID!) { recomputeRun(runId: $id, reason: "expert scores") { problems { path code message } } }',
        {"id": run["id"]},
        headers=ORGANIZER,
    )
    await drain()
    query = "query($id: ID!) { run(id: $id) { results { edges { node { unitId total indicators { indicator score experts { justification } } } } } } }"
    after = results_by_unit(data_of(await gql(scoring, query, {"id": run["id"]}, headers=ORGANIZER))["run"])
    innovation = next(i for i in after["UA"]["indicators"] if i["indicator"] == "innovation")
    assert innovation == {"indicator": "innovation", "score": 8.0, "experts": [{"justification": "建成了网格联动机制"}]}
    # UA: 100 of 100 plus 8 of 10 → 108 / 110 × 110 = 108 (the scheme now totals 110 points).
    assert after["UA"]["total"] == 108.0


async def test_an_indicator_explains_itself_down_to_ingest_batches(scoring, drain, measures):
    measures.sources.append(
        {"unit": "UB", "measure": "calls.answered", "batch_id": "b-42", "source": "acd", "records": 800}
    )
    run = await finished_run(scoring, drain)
    query = """query($id: ID!) { unitResult(id: $id) { measureSources { measure batchId source records }
      indicators { indicator numerator denominator interval measures { code value } rule { type params } explanation { zh en } } } }"""
    result = data_of(await gql(scoring, query, {"id": results_by_unit(run)["UB"]["id"]}, headers=ORGANIZER))[
        "unitResult"
    ]
    assert result["measureSources"] == [
        {"measure": "calls.answered", "batchId": "b-42", "source": "acd", "records": 800}
    ]
    rate = result["indicators"][0]
    assert (rate["numerator"], rate["denominator"]) == (800.0, 1000.0) and rate["interval"][0] < 80 < rate["interval"][
        1
    ]
    assert rate["measures"] == [{"code": "calls.answered", "value": 800.0}, {"code": "calls.offered", "value": 1000.0}]
    assert "set by UA" in rate["explanation"]["en"] and "参照值 90" in rate["explanation"]["zh"]
    band = result["indicators"][2]
    assert band["rule"] == {"type": "linear_band", "params": {"floor": 80.0, "target": 95.0}}


async def test_weight_suggestions_from_a_run_and_from_judgements(scoring, drain):
    run = await finished_run(scoring, drain)
    query = 'query($id: ID!) { suggestedWeights(runId: $id, method: "entropy") { indicators weights problems { path code message } } }'
    entropy = data_of(await gql(scoring, query, {"id": run["id"]}, headers=ORGANIZER))["suggestedWeights"]
    assert entropy["problems"] == [] and len(entropy["weights"]) == 5 and abs(sum(entropy["weights"]) - 1) < 1e-5
    ahp = '{ ahpWeights(indicators: ["a", "b"], judgements: [[1, 3], [0.3333333333, 1]]) { weights consistencyRatio problems { path code message } } }'
    assert data_of(await gql(scoring, ahp, headers=ORGANIZER))["ahpWeights"] == {
        "weights": [0.75, 0.25],
        "consistencyRatio": 0.0,
        "problems": [],
    }
    bad = '{ ahpWeights(indicators: ["a", "b", "c"], judgements: [[1, 9, 0.1111111111], [0.1111111111, 1, 9], [9, 0.1111111111, 1]]) { weights problems { path code message } } }'
    refused = data_of(await gql(scoring, bad, headers=ORGANIZER))["ahpWeights"]
    [inconsistent] = refused["problems"]
    assert refused["weights"] == [] and (inconsistent["path"], inconsistent["code"]) == ("judgements", "inconsistent")
    assert "consistency ratio" in inconsistent["message"]
    # Codes that do not match the matrix, and a matrix that is not reciprocal: both at once.
    mismatched = '{ ahpWeights(indicators: ["a"], judgements: [[1, 2], [2, 1]]) { weights problems { path code } } }'
    assert data_of(await gql(scoring, mismatched, headers=ORGANIZER))["ahpWeights"] == {
        "weights": [],
        "problems": [{"path": "indicators", "code": "size_mismatch"}, {"path": "judgements", "code": "invalid_matrix"}],
    }
    unknown = 'query($id: ID!) { suggestedWeights(runId: $id, method: "magic") { weights problems { path code } } }'
    assert data_of(await gql(scoring, unknown, {"id": run["id"]}, headers=ORGANIZER))["suggestedWeights"] == {
        "weights": [],
        "problems": [{"path": "method", "code": "unknown_method"}],
    }


async def test_the_reports_open_and_say_what_they_should(scoring, drain):
    run = await finished_run(scoring, drain)
    assert (await scoring.get(f"/runs/{run['id']}/report.xlsx", headers=auth("UB", "unit"))).status_code == 404
    response = await scoring.get(f"/runs/{run['id']}/report.xlsx", headers=ORGANIZER)
    assert response.status_code == 200 and "spreadsheetml" in response.headers["content-type"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Results", "Indicators", "Ranking"]
    results = list(book["Results"].iter_rows(values_only=True))
    assert results[0][:6] == ("unit", "name", "total", "grade", "rank", "change")
    assert [r[:5] for r in results[1:]] == [("UA", "甲单位", 100, "优秀", 1), ("UC", "丙单位", 80.95, "合格", 2),
                                            ("UB", "乙单位", 69.33, "待改进", 3), ("UD", "丁单位", 69.33, "待改进", 3)]  # fmt: skip
    assert book["Indicators"].max_row == 1 + 4 * 5
    assert [r[0] for r in book["Ranking"].iter_rows(min_row=2, values_only=True)] == [1, 2, 3, 3]
    html = (await scoring.get(f"/runs/{run['id']}/report.html", headers=ORGANIZER)).text
    for section in ('id="ranking-chart"><svg', 'id="dimension-chart"><svg', "发现的问题与整改建议"):
        assert section in html
    # Problems found: UD's satisfaction (10 of 20 points) and UC's satisfaction (6.6667 of 20) are under target.
    problems = html[html.index('id="problems"') :]
    assert problems.index("UC") < problems.index("UD") and "分析不满意原因" in problems


async def test_the_pdf_report_opens_and_says_what_the_html_report_says(scoring, drain):
    run = await finished_run(scoring, drain)
    path = f"/runs/{run['id']}/report.pdf"
    assert (await scoring.get(path, headers=auth("UB", "unit"))).status_code == 404
    response = await scoring.get(path, headers=ORGANIZER)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    # The sections, in order, with their Chinese titles (the CJK font's text extracts as Unicode).
    sections = ["评价结果 Results", "排名 Ranking", "维度分析 Dimension profile", "月度趋势 Monthly trend",
                "发现的问题与整改建议 Problems found and rectification"]  # fmt: skip
    positions = [text.index(s) for s in sections]
    assert positions == sorted(positions)
    # The results table in rank order, with names, totals and grades (the same as the workbook's).
    results = " ".join(text[positions[0] : positions[1]].split())  # a cell a line: one space between cells
    rows = ["1 UA 甲单位 100.00 优秀", "2 UC 丙单位 80.95 合格", "3 UB 乙单位 69.33 待改进", "3 UD 丁单位 69.33 待改进"]
    assert [results.index(r) for r in rows] == sorted(results.index(r) for r in rows)
    # Two charts (ranking and dimension profile) as images; no monthly series in this evaluation.
    assert sum(len(page.images) for page in reader.pages) == 2
    assert "无月度序列" in text
    # The problems found: UC's satisfaction before UD's, each with its rectification.
    problems = " ".join(text[positions[4] :].split())
    assert problems.index("UC 丙单位 满意率 85 6.667 分析不满意原因") < problems.index(
        "UD 丁单位 满意率 87.5 10 分析不满意原因"
    )
    assert reader.metadata.title == "测试综合评价 2025-03" and run["id"] in reader.metadata.subject
    # Reproducible: the same run gives the same bytes.
    assert (await scoring.get(path, headers=ORGANIZER)).content == response.content


async def test_a_page_of_results_asks_ingest_for_its_sources_once(scoring, drain, measures):
    for unit, records in (("UA", 950), ("UB", 800)):
        measures.sources.append(
            {"unit": unit, "measure": "calls.answered", "batch_id": "b-7", "source": "acd", "records": records}
        )
    run = await finished_run(scoring, drain)
    before = sum(1 for path, _ in measures.calls if path == "/measures/sources")
    query = """query($id: ID!) { run(id: $id) { results { edges { node { unitId
      measureSources { measure records } } } } } }"""
    page = results_by_unit(data_of(await gql(scoring, query, {"id": run["id"]}, headers=ORGANIZER))["run"])
    assert page["UA"]["measureSources"] == [{"measure": "calls.answered", "records": 950}]
    assert page["UB"]["measureSources"] == [{"measure": "calls.answered", "records": 800}]
    assert page["UC"]["measureSources"] == []
    # Four results, one call to ingest: the page's units go together (no call per result).
    assert sum(1 for path, _ in measures.calls if path == "/measures/sources") - before == 1
