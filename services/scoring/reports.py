"""Reports of a run (spec 8.1): an XLSX workbook and an HTML report with inline SVG charts, the
problems found (indicators under target, largest drops) and suggested rectification."""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to SVG in memory
import matplotlib.pyplot as plt
from openpyxl import Workbook
from sqlalchemy import select

from services.scoring.explain import explain_indicator
from services.scoring.models import UnitRef

# What to do about a shortfall, by dimension (spec 8.1 asks for rectification measures).
RECTIFICATION = {
    "service_response": (
        "增加高峰时段坐席排班,优化IVR导航,缩短等待时长",
        "add agents at peak hours, simplify the IVR, cut waiting",
    ),
    "accuracy": ("完善知识库并加强派单培训,落实精准派单", "improve the knowledge base and dispatch training"),
    "standardization": ("加强质检抽查与服务规范培训", "step up quality inspection and service-standard training"),
    "efficiency": (
        "压实办理时限,跟踪超期工单,提升回访完成率",
        "enforce deadlines, chase overdue orders, complete callbacks",
    ),
    "satisfaction": ("分析不满意原因,逐件回访整改", "analyse dissatisfaction reasons and follow up each case"),
    "resolution": (
        "加强督办,减少退回重办,提高一次办结率",
        "supervise more closely and reduce orders returned for redo",
    ),
    "innovation": ("总结推广创新做法,加强联动", "share innovative practice and strengthen linkage"),
}
SHORTFALL = 0.8  # an indicator scoring under 80 % of its points is a problem found


@dataclass
class ReportData:
    run_id: str
    document: dict[str, Any]
    period_label: str
    results: list[dict]  # unit result details, in rank order
    cohort: dict
    revision: int
    unit_names: dict[str, str]


async def unit_names(session, unit_ids: Sequence[str]) -> dict[str, str]:
    rows = await session.execute(select(UnitRef.c.id, UnitRef.c.name_zh).where(UnitRef.c.id.in_(list(unit_ids))))
    return dict(rows.all())


def problems_found(data: ReportData) -> list[dict]:
    """Indicators under target (scored under 80 % of their points), worst first, then largest drops."""
    found = []
    for result in data.results:
        for i in result["indicators"]:
            if i["applicable"] and i["score"] < SHORTFALL * i["points"]:
                zh, en = RECTIFICATION.get(i["dimension"], ("针对性整改", "targeted rectification"))
                found.append({
                    "unit": result["unit"], "kind": "under_target", "indicator": i["indicator"], "name_zh": i["name_zh"],
                    "value": i["value"], "score": i["score"], "points": i["points"], "rectification_zh": zh, "rectification_en": en,
                })  # fmt: skip
    found.sort(key=lambda p: (p["score"] / p["points"], p["unit"], p["indicator"]))
    drops = [r for r in data.results if r.get("change") is not None and r["change"] < 0]
    for r in sorted(drops, key=lambda r: (r["change"], r["unit"]))[:10]:
        found.append({"unit": r["unit"], "kind": "largest_drop", "indicator": None, "name_zh": "总分下降", "value": r["change"],
                      "score": r["total"], "points": None, "rectification_zh": "逐项对照失分指标制定整改计划",
                      "rectification_en": "draw up a rectification plan indicator by indicator"})  # fmt: skip
    return found


def workbook(data: ReportData) -> bytes:
    """Sheets 结果 Results (one row per unit), 指标 Indicators (one row per unit × indicator), 排名 Ranking."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Results"
    dims = [d["dimension"] for d in (data.results[0]["dimensions"] if data.results else [])]
    sheet.append(["unit", "name", "total", "grade", "rank", "change", *dims])
    for r in data.results:
        scores = {d["dimension"]: d["score"] for d in r["dimensions"]}
        grade = r["grade"]["name_zh"] if r["grade"] else None
        sheet.append(
            [
                r["unit"],
                data.unit_names.get(r["unit"], ""),
                r["total"],
                grade,
                r["rank"],
                r["change"],
                *[scores.get(d) for d in dims],
            ]
        )
    indicators = book.create_sheet("Indicators")
    indicators.append(
        [
            "unit",
            "indicator",
            "name",
            "value",
            "numerator",
            "denominator",
            "reference",
            "reference set by",
            "rule",
            "points",
            "score",
            "applicable",
            "explanation",
        ]
    )
    for r in data.results:
        for i in r["indicators"]:
            indicators.append([
                r["unit"], i["indicator"], i["name_zh"], i["value"], i["numerator"], i["denominator"], i["reference"]["value"],
                i["reference"]["set_by"], i["rule"]["type"], i["points"], i["score"], i["applicable"], explain_indicator(i)["zh"],
            ])  # fmt: skip
    ranking = book.create_sheet("Ranking")
    ranking.append(["rank", "unit", "name", "total", "overlaps"])
    for r in data.results:
        ranking.append(
            [r["rank"], r["unit"], data.unit_names.get(r["unit"], ""), r["total"], ", ".join(r["rank_overlaps"])]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def ranking_chart(data: ReportData) -> str:
    ranked = [r for r in data.results if r["total"] is not None]
    figure, axes = plt.subplots(figsize=(7, max(2, 0.3 * len(ranked) + 1)))
    axes.barh([r["unit"] for r in reversed(ranked)], [r["total"] for r in reversed(ranked)], color="#3b6ea8")
    axes.set_xlabel("total")
    axes.set_title("Ranking")
    return _svg(figure)


def dimension_chart(data: ReportData) -> str:
    shares: dict[str, list[float]] = {}
    for r in data.results:
        for d in r["dimensions"]:
            if d["points"]:
                shares.setdefault(d["dimension"], []).append(100 * d["score"] / d["points"])
    names = sorted(shares)
    figure, axes = plt.subplots(figsize=(7, 3))
    axes.bar(names, [sum(shares[n]) / len(shares[n]) for n in names], color="#6a9f58")
    axes.set_ylabel("% of points (cohort mean)")
    axes.set_title("Dimension profile")
    axes.tick_params(axis="x", labelrotation=30)
    return _svg(figure)


def trend_chart(data: ReportData) -> str | None:
    """Cohort mean per month of each indicator (special evaluations, which carry monthly series)."""
    series: dict[str, dict[str, list[float]]] = {}
    for r in data.results:
        for i in r["indicators"]:
            for month, value in i.get("series", []):
                if value is not None:
                    series.setdefault(i["indicator"], {}).setdefault(month, []).append(value)
    if not series:
        return None
    figure, axes = plt.subplots(figsize=(7, 3))
    for code in sorted(series):
        months = sorted(series[code])
        axes.plot(months, [sum(series[code][m]) / len(series[code][m]) for m in months], marker="o", label=code)
    axes.legend(fontsize="small")
    axes.set_title("Monthly trend")
    return _svg(figure)


def _total(total: float | None) -> str:
    return "" if total is None else f"{total:.2f}"


def html_report(data: ReportData) -> str:
    doc, e = data.document, html.escape
    rows = "".join(
        f"<tr><td>{r['rank'] or '—'}</td><td>{e(r['unit'])}</td><td>{e(data.unit_names.get(r['unit'], ''))}</td>"
        f"<td>{_total(r['total'])}</td><td>{e(r['grade']['name_zh']) if r['grade'] else '—'}</td></tr>"
        for r in data.results
    )
    problems = "".join(
        f"<tr><td>{e(p['unit'])}</td><td>{e(p['name_zh'])}</td><td>{p['value']}</td><td>{p['score']}</td>"
        f"<td>{e(p['rectification_zh'])}<br><small>{e(p['rectification_en'])}</small></td></tr>"
        for p in problems_found(data)
    )
    trend = trend_chart(data)
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{e(doc.get("name_zh", ""))} {e(data.period_label)}</title></head>
<body>
<h1>{e(doc.get("name_zh", ""))} — {e(data.period_label)}</h1>
<p>{e(doc.get("name_en", ""))}; run {e(data.run_id)}, revision {data.revision}; {data.cohort["units"]} units.</p>
<h2>评价结果 Results</h2>
<table id="results"><tr><th>排名</th><th>单位</th><th>名称</th><th>总分</th><th>等级</th></tr>{rows}</table>
<h2>排名 Ranking</h2><div class="chart" id="ranking-chart">{ranking_chart(data)}</div>
<h2>维度分析 Dimension profile</h2><div class="chart" id="dimension-chart">{dimension_chart(data)}</div>
<h2>月度趋势 Monthly trend</h2><div class="chart" id="trend-chart">{trend or "<p>本次为综合评价,无月度序列。This evaluation has no monthly series.</p>"}</div>
<h2>发现的问题与整改建议 Problems found and rectification</h2>
<table id="problems"><tr><th>单位</th><th>问题</th><th>值</th><th>得分</th><th>整改建议</th></tr>{problems}</table>
</body></html>
"""
