"""Runs that need more than one period of measures: special schemes (monthly series) and dynamic baselines."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tests.scoring.example import SCHEME_ID, example_scheme
from tests.scoring.test_runs import ORGANIZER, results_by_unit
from tests.support import data_of, gql

START = "mutation($input: StartRunInput!) { startRun(input: $input) { problems { path code message } run { id } } }"
SERIES = """query($id: ID!) { run(id: $id) { status error results { edges { node { unitId
  indicators { indicator value series { month value } trend { direction slope } reference { value policy periods } } } } } } }"""


def rate_item(**reference):
    item = example_scheme()["items"][0]
    return {**item, "min_sample": None, "reference": reference or item["reference"]}


async def test_a_special_run_gives_each_indicator_its_monthly_series_and_trend(scoring, drain, schemes, measures):
    schemes.add(example_scheme(id="special-q", organizer="GD-GZ", kind="special", period={"granularity": "quarter"},
                               items=[rate_item()]))  # fmt: skip
    for month, answered in (("01", 80), ("02", 85), ("03", 90)):
        measures.put("UA", f"2025-{month}-05", {"calls.offered": 100, "calls.answered": answered})
    started = data_of(
        await gql(
            scoring,
            START,
            {"input": {"schemeId": "special-q", "schemeVersion": 1, "periodKind": "QUARTER", "period": "2025-Q1"}},
            headers=ORGANIZER,
        )
    )
    assert started["startRun"]["problems"] == []
    await drain()
    run = data_of(await gql(scoring, SERIES, {"id": started["startRun"]["run"]["id"]}, headers=ORGANIZER))["run"]
    ua = results_by_unit(run)["UA"]["indicators"][0]
    # January 80 %, February 85 %, March: 90 answered plus the example's 900 of 1000 on 10 March = 990/1100 = 90 %.
    assert ua["series"] == [
        {"month": "2025-01", "value": 80.0},
        {"month": "2025-02", "value": 85.0},
        {"month": "2025-03", "value": 90.0},
    ]
    assert ua["trend"] == {"direction": "improving", "slope": 5.0}
    report = (await scoring.get(f"/runs/{started['startRun']['run']['id']}/report.html", headers=ORGANIZER)).text
    assert 'id="trend-chart"><svg' in report  # the monthly trend is charted
    pdf = await scoring.get(f"/runs/{started['startRun']['run']['id']}/report.pdf", headers=ORGANIZER)
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    # The ranking and the monthly trend; one indicator, one dimension: no one-bar dimension profile.
    assert sum(len(page.images) for page in pages) == 2
    text = "".join(page.extract_text() for page in pages)
    assert "无月度序列" not in text and "本方案只有一个维度(service_response),不作维度分析" in text


async def test_a_dynamic_baseline_comes_from_earlier_periods_of_the_same_season(scoring, drain, schemes, measures):
    reference = {"policy": "dynamic_baseline", "lookback_periods": 2, "match": "season", "peak_months": [3, 4, 5]}
    schemes.add(example_scheme(id="baseline", organizer="GD-GZ", items=[rate_item(**reference)]))
    # Peak months in 2024: April 70 %, May 80 % (UA); a normal month, June 2024, 99 % is ignored.
    for day, answered in (("2024-04-03", 70), ("2024-05-03", 80), ("2024-06-03", 99)):
        measures.put("UA", day, {"calls.offered": 100, "calls.answered": answered})
    started = data_of(
        await gql(
            scoring,
            START,
            {"input": {"schemeId": "baseline", "schemeVersion": 1, "periodKind": "MONTH", "period": "2025-03"}},
            headers=ORGANIZER,
        )
    )
    await drain()
    run = data_of(await gql(scoring, SERIES, {"id": started["startRun"]["run"]["id"]}, headers=ORGANIZER))["run"]
    assert run["status"] == "done", run["error"]
    ref = results_by_unit(run)["UA"]["indicators"][0]["reference"]
    # The latest two peak-season months before March 2025 with data: 2024-04 and 2024-05 → (70 + 80) / 2 = 75.
    assert ref == {"value": 75.0, "policy": "dynamic_baseline", "periods": ["2024-04", "2024-05"]}


async def test_the_previous_periods_run_gives_the_change(scoring, drain, measures):
    for unit, answered in (("UA", 950), ("UB", 900), ("UC", 45), ("UD", 450)):
        measures.put(unit, "2025-02-10", {"calls.offered": 1000 if unit != "UC" else 50, "calls.answered": answered})
    february = {"schemeId": SCHEME_ID, "schemeVersion": 1, "periodKind": "MONTH", "period": "2025-02"}
    await gql(scoring, START, {"input": february}, headers=ORGANIZER)
    await drain()
    march = data_of(await gql(scoring, START, {"input": {**february, "period": "2025-03"}}, headers=ORGANIZER))
    await drain()
    query = "query($id: ID!) { run(id: $id) { results { edges { node { unitId total change rankChange } } } } }"
    run = data_of(await gql(scoring, query, {"id": march["startRun"]["run"]["id"]}, headers=ORGANIZER))["run"]
    # February (only calls offered/answered): answer rate UA 95 %, UB 90 %, UD 45 %, UC N/A (50 offered);
    # wait 0 s → full 20; satisfaction N/A (nobody rated); complaints 0 → 10; AHT 0 s → 60 s below the band → 0.
    #   UA (30 + 20 + 10 + 0) = 60 of 80 → 75.00           rank 1
    #   UB (90/95 × 30 = 28.4211 + 30) = 58.4211 of 80 → 73.03   rank 2
    #   UC (20 + 10 + 0) = 30 of 50 → 60.00                rank 3
    #   UD (45/95 × 30 = 14.2105 + 30) = 44.2105 of 80 → 55.26   rank 4
    # March (the hand-computed example): UA 100 (1), UC 80.95 (2), UB 69.33 (3), UD 69.33 (3).
    changes = {u: (r["change"], r["rankChange"]) for u, r in results_by_unit(run).items()}
    assert changes == {"UA": (25.0, 0), "UB": (-3.7, -1), "UC": (20.95, 1), "UD": (14.07, 1)}
    # The report names UB's drop among the problems found.
    report = (await scoring.get(f"/runs/{march['startRun']['run']['id']}/report.html", headers=ORGANIZER)).text
    problems = report[report.index('id="problems"') :]
    assert "总分下降" in problems and "<td>UB</td><td>乙单位</td><td>总分下降</td><td>-3.7</td>" in problems
