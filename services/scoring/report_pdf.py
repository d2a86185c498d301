"""The PDF report: the HTML report's sections, the charts as images, all text set in the shipped Chinese
font (Hotline Sans SC), which ReportLab embeds as a subset — only the glyphs the report prints, with a
``ToUnicode`` map so its text can be searched and copied. The same inputs give the same bytes."""

from __future__ import annotations

import html
import io

from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Table, TableStyle

from services.scoring import charts
from services.scoring.reports import (
    NO_SERIES_NOTE,
    ReportData,
    dimension_figure,
    indicator_rows,
    one_dimension_note,
    problems_found,
    ranking_figure,
    trend_figure,
)

FONT = "HotlineSansSC"
pdfmetrics.registerFont(TTFont(FONT, str(charts.FONT_FILE)))  # embedded as a subset (ReportLab's default)
_BODY = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=13)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=7.5, leading=10)
_H1 = ParagraphStyle("h1", parent=_BODY, fontSize=16, leading=22, spaceAfter=4)
_H2 = ParagraphStyle("h2", parent=_BODY, fontSize=12, leading=18, spaceBefore=10, spaceAfter=4, keepWithNext=1)
_TABLE = TableStyle([
    ("FONT", (0, 0), (-1, -1), FONT, 8.5),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("REPEATROWS", (0, 0), (-1, 0)),
])  # fmt: skip
_WIDTH = A4[0] - 36 * mm  # the frame's width between the margins


def _chart(figure: Figure) -> Image:
    """A figure as a PNG image at its own size (150 dpi), shrunk to the frame's width if wider."""
    image = Image(io.BytesIO(charts.png(figure)))
    width, height = image.imageWidth * 72 / charts.DPI, image.imageHeight * 72 / charts.DPI
    scale = min(1.0, _WIDTH / width)
    image.drawWidth, image.drawHeight = width * scale, height * scale
    return image


def _small(text: str) -> Paragraph:
    return Paragraph(html.escape(text), _SMALL)  # Paragraph text is a small markup language: escape like HTML


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _results(data: ReportData) -> Table:
    rows: list[list] = [["排名 Rank", "单位 Unit", "名称 Name", "总分 Total", "等级 Grade"]]
    for r in data.results:
        grade = r["grade"]["name_zh"] if r["grade"] else "—"
        total = "" if r["total"] is None else f"{r['total']:.2f}"
        rows.append([str(r["rank"] or "—"), r["unit"], data.unit_names.get(r["unit"], ""), total, grade])
    return Table(rows, style=_TABLE, repeatRows=1, hAlign="LEFT")


def _indicators(data: ReportData) -> Table:
    rows: list[list] = [
        ["指标 Indicator", "分值", "规则 Rule", "参照值", "参照值来源 How it was set", "适用", "平均值"]
    ]
    for i in indicator_rows(data):
        rows.append([_small(i["name_zh"]), _number(i["points"]), _small(i["rule"]), _small(i["reference"]),
                     _small(i["source"]), str(i["applicable_units"]), _small(i["mean"])])  # fmt: skip
    widths = [28 * mm, 10 * mm, 27 * mm, 18 * mm, _WIDTH - 114 * mm, 10 * mm, 21 * mm]
    return Table(rows, colWidths=widths, style=_TABLE, repeatRows=1, hAlign="LEFT")


def _problems(data: ReportData) -> Table | Paragraph:
    rows: list[list] = [["单位 Unit", "名称 Name", "问题 Problem", "值 Value", "得分 Score", "整改建议 Rectification"]]
    for p in problems_found(data):
        advice = Paragraph(
            f"{html.escape(p['rectification_zh'])}<br/><font size=7>{html.escape(p['rectification_en'])}</font>",
            _SMALL,
        )
        rows.append([p["unit"], _small(p["unit_name"]), _small(p["name_zh"]), _number(p["value"]),
                     _number(p["score"]), advice])  # fmt: skip
    if len(rows) == 1:
        return Paragraph("未发现低于目标的指标。No indicator is under target.", _BODY)
    widths = [22 * mm, 32 * mm, 28 * mm, 16 * mm, 19 * mm, _WIDTH - 117 * mm]
    return Table(rows, colWidths=widths, style=_TABLE, repeatRows=1, hAlign="LEFT")


def pdf_report(data: ReportData) -> bytes:
    """The report as a PDF: the same sections as ``reports.html_report``."""
    doc, e = data.document, html.escape
    story: list = [
        Paragraph(f"{e(doc.get('name_zh', ''))} — {e(data.period_label)}", _H1),
        Paragraph(
            f"{e(doc.get('name_en', ''))}; run {e(data.run_id)}, revision {data.revision}; "
            f"{data.cohort['units']} units.",
            _BODY,
        ),
        Paragraph("评价结果 Results", _H2),
        _results(data),
        Paragraph("排名 Ranking", _H2),
        _chart(ranking_figure(data)),
        Paragraph("维度分析 Dimension profile", _H2),
    ]
    profile = dimension_figure(data)
    story.append(_chart(profile) if profile else Paragraph(e(one_dimension_note(data)), _BODY))
    story.append(Paragraph("月度趋势 Monthly trend", _H2))
    trend = trend_figure(data)
    story.append(_chart(trend) if trend else Paragraph(e(NO_SERIES_NOTE), _BODY))
    story += [Paragraph("指标与参照值 Indicators and references", _H2), _indicators(data)]
    story += [Paragraph("发现的问题与整改建议 Problems found and rectification", _H2), _problems(data)]
    buffer = io.BytesIO()
    title = f"{doc.get('name_zh', '')} {data.period_label}"
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=16 * mm,
        title=title, author="hotline-eval", subject=f"run {data.run_id} revision {data.revision}", invariant=True,
        initialFontName=FONT,  # not Helvetica: the page then names no font it does not embed
    )  # fmt: skip
    document.build(story)
    return buffer.getvalue()
