"""The reports' charts: the ranking, the dimension profile and the monthly trend, labelled in Chinese.

Units and indicators are named by their Chinese names (the directory's and the scheme's), every label is
set in the shipped font (Hotline Sans SC, ``services/scoring/fonts``), so a PNG shows Chinese on any
machine and an SVG carries the glyphs as paths. Drawn with matplotlib's object API (a ``Figure`` per
chart, no pyplot state, the font given per text rather than through global ``rcParams``), so reports
can be rendered in worker threads side by side.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

FONT_FILE = Path(__file__).parent / "fonts" / "HotlineSansSC-Regular.ttf"
FONT_FAMILY = "Hotline Sans SC"
font_manager.fontManager.addfont(str(FONT_FILE))

# The indicator's unit of measure (catalog ``unit``) as a Chinese axis label.
MEASURE_UNITS = {
    "percent": "百分比(%)",
    "hours": "小时",
    "seconds": "秒",
    "count": "次数(件)",
    "points": "分",
    "per_10k": "每万人",
}
GRADE_COLOURS = {"excellent": "#4d8b3f", "qualified": "#3b6ea8", "needs_improvement": "#d08a2e"}
_OTHER_GRADE = "#7f7f7f"
DPI = 150


def _use_font(figure: Figure) -> Figure:
    """Every text of the figure in the shipped font, tick labels included (those made at drawing time too)."""
    for axes in figure.axes:
        axes.tick_params(labelfontfamily=FONT_FAMILY)
    for text in figure.findobj(Text):
        text.set_fontfamily(FONT_FAMILY)
    return figure


def svg(figure: Figure) -> str:
    """The figure as inline SVG (glyphs as paths: the page needs no font)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def ranking_figure(results: Sequence[Mapping[str, Any]], unit_names: Mapping[str, str]) -> Figure:
    """Totals as horizontal bars, best on top, each bar named by the unit's Chinese name and coloured by grade."""
    ranked = [r for r in results if r["total"] is not None]
    figure = Figure(figsize=(7, max(2.0, 0.38 * len(ranked) + 1.2)))
    axes = figure.add_subplot()
    shown = list(reversed(ranked))
    colours = [GRADE_COLOURS.get((r["grade"] or {}).get("code"), _OTHER_GRADE) for r in shown]
    bars = axes.barh([unit_names.get(r["unit"], r["unit"]) for r in shown], [r["total"] for r in shown], color=colours)
    axes.bar_label(bars, labels=[f"{r['total']:.2f}" for r in shown], padding=3, fontsize=8)
    axes.set_xlim(0, max(100.0, *(r["total"] for r in ranked)) * 1.08 if ranked else 100.0)
    axes.set_xlabel("总分")
    axes.set_title("总分排名")
    grades = {}  # the grades shown, best first (the order of the ranking)
    for r, bar in reversed(list(zip(shown, bars, strict=True))):
        if r["grade"]:
            grades.setdefault(r["grade"]["name_zh"], bar)
    if grades:
        axes.legend(list(grades.values()), list(grades), loc="lower right", fontsize="small", title="等级")
    axes.spines[["top", "right"]].set_visible(False)
    return _use_font(figure)


def dimensions_of(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The dimensions the results are subtotalled by, in scheme order."""
    seen: dict[str, None] = {}
    for r in results:
        for d in r["dimensions"]:
            seen.setdefault(d["dimension"], None)
    return list(seen)


def dimension_figure(results: Sequence[Mapping[str, Any]], dimension_names: Mapping[str, str]) -> Figure | None:
    """The cohort's mean share of each dimension's points; None for a scheme of one dimension (one bar
    would only repeat the total)."""
    shares: dict[str, list[float]] = {}
    for r in results:
        for d in r["dimensions"]:
            if d["points"]:
                shares.setdefault(d["dimension"], []).append(100 * d["score"] / d["points"])
    names = [d for d in dimensions_of(results) if d in shares]
    if len(names) < 2:
        return None
    figure = Figure(figsize=(7, 3.2))
    axes = figure.add_subplot()
    means = [sum(shares[n]) / len(shares[n]) for n in names]
    bars = axes.bar([dimension_names.get(n, n) for n in names], means, color="#6a9f58")
    axes.bar_label(bars, labels=[f"{m:.1f}%" for m in means], padding=2, fontsize=8)
    axes.set_ylim(0, 110)
    axes.set_ylabel("得分率(各单位平均,%)")
    axes.set_title("维度得分率")
    axes.tick_params(axis="x", labelrotation=20)
    axes.spines[["top", "right"]].set_visible(False)
    return _use_font(figure)


def monthly_means(results: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per indicator, the cohort's mean value of each month (units with a value that month)."""
    values: dict[str, dict[str, list[float]]] = {}
    for r in results:
        for i in r["indicators"]:
            for month, value in i.get("series") or []:
                if value is not None:
                    values.setdefault(i["indicator"], {}).setdefault(month, []).append(value)
    return {code: {m: sum(v) / len(v) for m, v in sorted(months.items())} for code, months in values.items()}


def trend_figure(results: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]) -> Figure | None:
    """The cohort's monthly mean of each indicator (special evaluations), one panel per unit of measure
    (percentages on one axis, hours on another …), each line named by the indicator's Chinese name."""
    means = monthly_means(results)
    shown = [i for i in items if i["code"] in means]
    if not shown:
        return None
    by_unit: dict[str, list[Mapping[str, Any]]] = {}
    for item in shown:
        by_unit.setdefault(item["unit"], []).append(item)
    figure = Figure(figsize=(7, 0.4 + 2.3 * len(by_unit)))
    panels = figure.subplots(len(by_unit), 1, sharex=True, squeeze=False)[:, 0]
    months = sorted({m for code in means for m in means[code]})
    colours = {item["code"]: f"C{k}" for k, item in enumerate(shown)}  # one colour per indicator across panels
    for axes, (unit, unit_items) in zip(panels, by_unit.items(), strict=True):
        for item in unit_items:
            series = means[item["code"]]
            axes.plot([months.index(m) for m in series], list(series.values()), marker="o", markersize=3,
                      label=item["name_zh"], color=colours[item["code"]])  # fmt: skip
        axes.set_ylabel(MEASURE_UNITS.get(unit, unit))
        axes.legend(fontsize="small", loc="best")
        axes.grid(axis="y", color="#dddddd", linewidth=0.5)
        axes.spines[["top", "right"]].set_visible(False)
    panels[-1].set_xticks(range(len(months)), months, rotation=45, ha="right")
    panels[0].set_title("月度趋势(评价范围内各单位平均值)")
    figure.align_ylabels(panels)
    return _use_font(figure)
