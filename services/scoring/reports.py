"""Reports of a run (spec 8.1): an XLSX workbook, an HTML report (inline SVG charts) and a PDF report
(``report_pdf``: the same sections, charts as images) with the results, the ranking, the dimension profile,
the monthly trend, the indicators and how their references were set, the problems found (indicators under
target, largest drops) and suggested rectification.

Units are named by their Chinese names (the directory's read model ``scoring.unit_ref``), indicators and
dimensions by the scheme document's; the charts are ``charts``."""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select

from services.scoring import charts
from services.scoring.explain import POLICIES, explain_indicator
from services.scoring.models import UnitRef
from services.scoring.reference_basis import reference_basis

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
    "resolution_quality": (
        "加强督办,减少退回重办,提高一次办结率,压缩办理用时",
        "supervise more closely, reduce orders returned for redo, shorten resolution time",
    ),
    "innovation": ("总结推广创新做法,加强联动", "share innovative practice and strengthen linkage"),
}
SHORTFALL = 0.8  # an indicator scoring under 80 % of its points is a problem found
# A rule in a few words, for the indicator table (the explanation of each score says it in full).
RULE_LABELS = {
    "ratio_to_reference": "与参照值之比",
    "threshold": "达到 {target} 得满分",
    "linear_band": "{floor} → {target} 线性得分",
    "target_band": "{low}–{high} 区间内满分",
    "deduction": "每次扣 {per_occurrence} 分",
    "expert": "专家评分",
}
RULE_NAMES = {
    "threshold": "达标得满分",
    "linear_band": "区间线性得分",
    "target_band": "目标区间",
    "deduction": "按次扣分",
}
VALUE_SUFFIXES = {"percent": "%", "hours": " 小时", "seconds": " 秒", "points": " 分", "per_10k": " /万人"}


@dataclass
class ReportData:
    run_id: str
    document: dict[str, Any]
    period_label: str
    results: list[dict]  # unit result details, in rank order
    cohort: dict
    revision: int
    unit_names: dict[str, str]

    @property
    def items(self) -> list[dict]:
        """The scheme's items in order: the indicator's fields plus the item's points, rule and reference."""
        return [
            {**i["indicator"], **{k: i.get(k) for k in ("points", "rule", "reference")}}
            for i in self.document.get("items", [])
        ]

    def unit_name(self, unit_id: str | None) -> str:
        """The unit's Chinese name, or its id when the directory does not know it."""
        return self.unit_names.get(unit_id or "", unit_id or "")

    @property
    def dimension_names(self) -> dict[str, str]:
        """Dimension code → Chinese name, from the scheme document (its code where the document has none)."""
        return {i["dimension"]: i.get("dimension_name_zh") or i["dimension"] for i in self.items}


async def unit_names(session, unit_ids: Sequence[str]) -> dict[str, str]:
    rows = await session.execute(select(UnitRef.c.id, UnitRef.c.name_zh).where(UnitRef.c.id.in_(list(unit_ids))))
    return dict(rows.all())


def problems_found(data: ReportData) -> list[dict]:
    """Indicators under target (scored under 80 % of their points), worst first, then largest drops."""
    found = []
    for result in data.results:
        name = data.unit_name(result["unit"])
        for i in result["indicators"]:
            if i["applicable"] and i["score"] < SHORTFALL * i["points"]:
                zh, en = RECTIFICATION.get(i["dimension"], ("针对性整改", "targeted rectification"))
                found.append({
                    "unit": result["unit"], "unit_name": name, "kind": "under_target", "indicator": i["indicator"],
                    "name_zh": i["name_zh"], "value": i["value"], "score": i["score"], "points": i["points"],
                    "rectification_zh": zh, "rectification_en": en,
                })  # fmt: skip
    found.sort(key=lambda p: (p["score"] / p["points"], p["unit"], p["indicator"]))
    drops = [r for r in data.results if r.get("change") is not None and r["change"] < 0]
    for r in sorted(drops, key=lambda r: (r["change"], r["unit"]))[:10]:
        found.append({"unit": r["unit"], "unit_name": data.unit_name(r["unit"]), "kind": "largest_drop",
                      "indicator": None, "name_zh": "总分下降", "value": r["change"], "score": r["total"],
                      "points": None, "rectification_zh": "逐项对照失分指标制定整改计划",
                      "rectification_en": "draw up a rectification plan indicator by indicator"})  # fmt: skip
    return found


def with_unit(value: float | None, unit: str) -> str:
    """A value with its unit of measure: ``93.47%``, ``61.83 小时``."""
    if value is None:
        return "—"
    return f"{value:.2f}".rstrip("0").rstrip(".") + VALUE_SUFFIXES.get(unit, "")


def rule_label(rule: Mapping[str, Any] | None, unit: str) -> str:
    """A rule with its parameters in the indicator's unit, e.g. ``达到 95% 得满分``."""
    rule = rule or {}
    kind = rule.get("type", "")
    values = {k: with_unit(v, "" if k == "per_occurrence" else unit) for k, v in rule.items()
              if isinstance(v, int | float) and not isinstance(v, bool)}  # fmt: skip
    if kind == "linear_band" and rule.get("relative"):  # floor and target are percentages of the reference
        values = {k: with_unit(rule[k], "percent") for k in ("floor", "target") if k in rule}
        return "参照值的 " + RULE_LABELS[kind].format(**values) if len(values) == 2 else RULE_NAMES[kind]
    try:
        return RULE_LABELS.get(kind, kind).format(**values)
    except KeyError:  # a parameter the document leaves out
        return RULE_NAMES.get(kind, kind)


def reference_source(
    data: ReportData, reference: Mapping[str, Any], scheme_reference: Mapping[str, Any] | None = None
) -> str:
    """How the reference was set, in Chinese: the policy (a fixed or target value by the scheme's own label),
    what it was drawn from, and who set it (by name)."""
    if reference["policy"] == "none":
        return "不设参照值"
    label = (scheme_reference or {}).get("label_zh") or POLICIES.get(reference["policy"], (reference["policy"], ""))[0]
    basis = reference_basis(reference)[0]
    set_by = f",由{data.unit_name(reference['set_by'])}创造" if reference.get("set_by") else ""
    return f"{label}{basis}{set_by}"


def indicator_rows(data: ReportData) -> list[dict]:
    """One row per indicator of the scheme: its name, points, rule, the cohort's reference and how it was
    set, the units it applied to and their mean value."""
    rows = []
    for item in data.items:
        summary = data.cohort.get("indicators", {}).get(item["code"], {})
        reference = summary.get("reference") or {"value": None, "policy": "none"}
        rows.append({
            "code": item["code"], "name_zh": item["name_zh"], "points": item.get("points"),
            "rule": rule_label(item.get("rule"), item["unit"]),
            "reference": with_unit(reference.get("value"), item["unit"]) if reference["policy"] != "none" else "—",
            "source": reference_source(data, reference, item.get("reference")), "applicable_units": summary.get("applicable_units", 0),
            "mean": with_unit((summary.get("values") or {}).get("mean"), item["unit"]),
        })  # fmt: skip
    return rows


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


def ranking_figure(data: ReportData):
    return charts.ranking_figure(data.results, data.unit_names)


def dimension_figure(data: ReportData):
    """The dimension profile, or None for a scheme of one dimension."""
    return charts.dimension_figure(data.results, data.dimension_names)


def trend_figure(data: ReportData):
    """The monthly trend (special evaluations), one panel per unit of measure; None without series."""
    return charts.trend_figure(data.results, data.items)


def one_dimension_note(data: ReportData) -> str:
    names = "、".join(data.dimension_names.get(d, d) for d in charts.dimensions_of(data.results))
    return f"本方案只有一个维度({names}),不作维度分析。This scheme has one dimension: no profile."


NO_SERIES_NOTE = "本次为综合评价,无月度序列。This evaluation has no monthly series."


def _total(total: float | None) -> str:
    return "" if total is None else f"{total:.2f}"


def html_report(data: ReportData) -> str:
    doc, e = data.document, html.escape
    rows = "".join(
        f"<tr><td>{r['rank'] or '—'}</td><td>{e(r['unit'])}</td><td>{e(data.unit_names.get(r['unit'], ''))}</td>"
        f"<td>{_total(r['total'])}</td><td>{e(r['grade']['name_zh']) if r['grade'] else '—'}</td></tr>"
        for r in data.results
    )
    indicators = "".join(
        f"<tr><td>{e(i['name_zh'])}</td><td>{i['points']}</td><td>{e(i['rule'])}</td><td>{e(i['reference'])}</td>"
        f"<td>{e(i['source'])}</td><td>{i['applicable_units']}</td><td>{e(i['mean'])}</td></tr>"
        for i in indicator_rows(data)
    )
    problems = "".join(
        f"<tr><td>{e(p['unit'])}</td><td>{e(p['unit_name'])}</td><td>{e(p['name_zh'])}</td><td>{p['value']}</td>"
        f"<td>{p['score']}</td><td>{e(p['rectification_zh'])}<br><small>{e(p['rectification_en'])}</small></td></tr>"
        for p in problems_found(data)
    )
    profile, trend = dimension_figure(data), trend_figure(data)
    profile_html = charts.svg(profile) if profile else f"<p>{e(one_dimension_note(data))}</p>"
    trend_html = charts.svg(trend) if trend else f"<p>{e(NO_SERIES_NOTE)}</p>"
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{e(doc.get("name_zh", ""))} {e(data.period_label)}</title></head>
<body>
<h1>{e(doc.get("name_zh", ""))} — {e(data.period_label)}</h1>
<p>{e(doc.get("name_en", ""))}; run {e(data.run_id)}, revision {data.revision}; {data.cohort["units"]} units.</p>
<h2>评价结果 Results</h2>
<table id="results"><tr><th>排名</th><th>单位</th><th>名称</th><th>总分</th><th>等级</th></tr>{rows}</table>
<h2>排名 Ranking</h2><div class="chart" id="ranking-chart">{charts.svg(ranking_figure(data))}</div>
<h2>维度分析 Dimension profile</h2><div class="chart" id="dimension-chart">{profile_html}</div>
<h2>月度趋势 Monthly trend</h2><div class="chart" id="trend-chart">{trend_html}</div>
<h2>指标与参照值 Indicators and references</h2>
<table id="indicators"><tr><th>指标</th><th>分值</th><th>规则</th><th>参照值</th><th>参照值来源</th><th>适用单位数</th><th>平均值</th></tr>{indicators}</table>
<h2>发现的问题与整改建议 Problems found and rectification</h2>
<table id="problems"><tr><th>单位</th><th>名称</th><th>问题</th><th>值</th><th>得分</th><th>整改建议</th></tr>{problems}</table>
</body></html>
"""
