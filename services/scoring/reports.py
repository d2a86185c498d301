"""Reports of a run (spec 8.1): an XLSX workbook, and an HTML report (inline SVG charts) and a PDF report
(the same sections, charts as images, Chinese set in the PDF's built-in CJK font) with the ranking, the
dimension profile, the monthly trend, the problems found (indicators under target, largest drops) and
suggested rectification.

Charts are drawn with matplotlib's object API (a ``Figure`` per chart, no pyplot state), so reports can
be rendered in worker threads side by side."""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure
from openpyxl import Workbook
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Table, TableStyle
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


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


_DPI = 150


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def _figure(width: float, height: float):
    figure = Figure(figsize=(width, height))
    return figure, figure.add_subplot()


def ranking_chart(data: ReportData) -> str:
    return _svg(ranking_figure(data))


def dimension_chart(data: ReportData) -> str:
    return _svg(dimension_figure(data))


def trend_chart(data: ReportData) -> str | None:
    figure = trend_figure(data)
    return None if figure is None else _svg(figure)


def ranking_figure(data: ReportData) -> Figure:
    ranked = [r for r in data.results if r["total"] is not None]
    figure, axes = _figure(7, max(2, 0.3 * len(ranked) + 1))
    axes.barh([r["unit"] for r in reversed(ranked)], [r["total"] for r in reversed(ranked)], color="#3b6ea8")
    axes.set_xlabel("total")
    axes.set_title("Ranking")
    return figure


def dimension_figure(data: ReportData) -> Figure:
    shares: dict[str, list[float]] = {}
    for r in data.results:
        for d in r["dimensions"]:
            if d["points"]:
                shares.setdefault(d["dimension"], []).append(100 * d["score"] / d["points"])
    names = sorted(shares)
    figure, axes = _figure(7, 3)
    axes.bar(names, [sum(shares[n]) / len(shares[n]) for n in names], color="#6a9f58")
    axes.set_ylabel("% of points (cohort mean)")
    axes.set_title("Dimension profile")
    axes.tick_params(axis="x", labelrotation=30)
    return figure


def trend_figure(data: ReportData) -> Figure | None:
    """Cohort mean per month of each indicator (special evaluations, which carry monthly series)."""
    series: dict[str, dict[str, list[float]]] = {}
    for r in data.results:
        for i in r["indicators"]:
            for month, value in i.get("series", []):
                if value is not None:
                    series.setdefault(i["indicator"], {}).setdefault(month, []).append(value)
    if not series:
        return None
    figure, axes = _figure(7, 3)
    for code in sorted(series):
        months = sorted(series[code])
        axes.plot(months, [sum(series[code][m]) / len(series[code][m]) for m in months], marker="o", label=code)
    axes.legend(fontsize="small")
    axes.set_title("Monthly trend")
    return figure


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


# Adobe's standard Simplified-Chinese CID font: referenced, not embedded (the report stays small); Acrobat and
# Chinese-locale systems supply it, poppler-based viewers with poppler-data installed.
CJK_FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
_BODY = ParagraphStyle("body", fontName=CJK_FONT, fontSize=9, leading=13)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=7.5, leading=10)
_H1 = ParagraphStyle("h1", parent=_BODY, fontSize=16, leading=22, spaceAfter=4)
_H2 = ParagraphStyle("h2", parent=_BODY, fontSize=12, leading=18, spaceBefore=10, spaceAfter=4, keepWithNext=1)
_TABLE = TableStyle([
    ("FONT", (0, 0), (-1, -1), CJK_FONT, 8.5),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("REPEATROWS", (0, 0), (-1, 0)),
])  # fmt: skip
_WIDTH = A4[0] - 36 * mm  # the frame's width between the margins


def _chart(figure: Figure) -> Image:
    """A figure as a PNG image at its own size (150 dpi), shrunk to the frame's width if wider."""
    image = Image(io.BytesIO(_png(figure)))
    width, height = image.imageWidth * 72 / _DPI, image.imageHeight * 72 / _DPI
    scale = min(1.0, _WIDTH / width)
    image.drawWidth, image.drawHeight = width * scale, height * scale
    return image


def pdf_report(data: ReportData) -> bytes:
    """The report as a PDF: the same sections as ``html_report``; the same inputs give the same bytes."""
    doc, e = data.document, html.escape  # Paragraph text is a small markup language: escape like HTML
    story: list = [
        Paragraph(f"{e(doc.get('name_zh', ''))} — {e(data.period_label)}", _H1),
        Paragraph(
            f"{e(doc.get('name_en', ''))}; run {e(data.run_id)}, revision {data.revision}; "
            f"{data.cohort['units']} units.",
            _BODY,
        ),
        Paragraph("评价结果 Results", _H2),
    ]
    results = [["排名 Rank", "单位 Unit", "名称 Name", "总分 Total", "等级 Grade"]]
    for r in data.results:
        grade = r["grade"]["name_zh"] if r["grade"] else "—"
        results.append(
            [str(r["rank"] or "—"), r["unit"], data.unit_names.get(r["unit"], ""), _total(r["total"]), grade]
        )
    story.append(Table(results, style=_TABLE, repeatRows=1, hAlign="LEFT"))
    story += [Paragraph("排名 Ranking", _H2), _chart(ranking_figure(data))]
    story += [Paragraph("维度分析 Dimension profile", _H2), _chart(dimension_figure(data))]
    story.append(Paragraph("月度趋势 Monthly trend", _H2))
    trend = trend_figure(data)
    story.append(
        _chart(trend)
        if trend
        else Paragraph("本次为综合评价,无月度序列。This evaluation has no monthly series.", _BODY)
    )
    story.append(Paragraph("发现的问题与整改建议 Problems found and rectification", _H2))
    problems = [["单位 Unit", "问题 Problem", "值 Value", "得分 Score", "整改建议 Rectification"]]
    for p in problems_found(data):
        advice = Paragraph(f"{e(p['rectification_zh'])}<br/><font size=7>{e(p['rectification_en'])}</font>", _SMALL)
        problems.append(
            [p["unit"], Paragraph(e(p["name_zh"]), _SMALL), _number(p["value"]), _number(p["score"]), advice]
        )
    if len(problems) == 1:
        story.append(Paragraph("未发现低于目标的指标。No indicator is under target.", _BODY))
    else:
        widths = [22 * mm, 40 * mm, 20 * mm, 18 * mm, _WIDTH - 100 * mm]
        story.append(Table(problems, colWidths=widths, style=_TABLE, repeatRows=1, hAlign="LEFT"))
    buffer = io.BytesIO()
    title = f"{doc.get('name_zh', '')} {data.period_label}"
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=16 * mm,
        title=title, author="hotline-eval", subject=f"run {data.run_id} revision {data.revision}", invariant=True,
    )  # fmt: skip
    document.build(story)
    return buffer.getvalue()


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
