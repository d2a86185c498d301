"""Reports a Chinese reader can read: the shipped font embedded as a subset in the PDF, Chinese names in
the text and on the charts, one panel per unit of measure in the trend, no profile for one dimension."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
import yaml
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from pypdf import PdfReader

from hotline.domain.measures import measure_catalog
from services.scoring import charts
from services.scoring.engine import EngineInput, compute
from services.scoring.report_pdf import pdf_report
from services.scoring.reports import (
    ReportData,
    dimension_figure,
    html_report,
    ranking_figure,
    rule_label,
    trend_figure,
)
from services.scoring.scheme import parse_scheme
from tests.scoring.example import MEASURES, example_scheme, indicator

ROOT = Path(__file__).resolve().parents[2]
NAMES = {"UA": "广州市住房和城乡建设局", "UB": "广州市交通运输局", "UC": "深圳市水务集团有限公司", "UD": "东莞市禅城区"}
RESOLUTION = {"dimension_name_zh": "问题解决质量", "dimension_name_en": "Resolution quality"}


def report(document, measures, monthly=None) -> ReportData:
    outcome = compute(EngineInput(scheme=parse_scheme(document), units=sorted(measures), measures=measures,
                                  monthly=monthly or {}))  # fmt: skip
    results = sorted(outcome["units"], key=lambda r: (r["rank"] is None, r["rank"] or 0, r["unit"]))
    return ReportData(run_id="run-1", document=document, period_label="2025-Q1", results=results,
                      cohort=outcome["cohort"], revision=1, unit_names=NAMES)  # fmt: skip


def comprehensive() -> ReportData:
    """The hand-computed example (two dimensions), its dimensions named as indicators' documents name them."""
    document = example_scheme()
    names = {"service_response": "服务响应", "satisfaction": "服务满意度"}
    for item in document["items"]:
        item["indicator"]["dimension_name_zh"] = names[item["indicator"]["dimension"]]
    return report(document, MEASURES)


def orders(assigned, on_time, hours):
    return {"orders.assigned": assigned, "orders.closed": assigned, "orders.closed_on_time": on_time,
            "orders.resolution_hours": hours}  # fmt: skip


def special() -> ReportData:
    """The demo's shape: one dimension, two percentages and a time in hours, three months of series."""
    items = [
        {"indicator": {**indicator("on_time_closure_rate", "orders.closed_on_time / orders.assigned * 100",
                                   dimension="resolution_quality", name_zh="按期办结率"), **RESOLUTION},
         "points": 40, "rule": {"type": "ratio_to_reference"}, "reference": {"policy": "percentile", "percentile": 90}},
        {"indicator": {**indicator("overall_closure_rate", "orders.closed / orders.assigned * 100",
                                   dimension="resolution_quality", name_zh="总办结率"), **RESOLUTION},
         "points": 20, "rule": {"type": "threshold", "target": 95}, "reference": {"policy": "none"}},
        {"indicator": {**indicator("average_resolution_time", "orders.resolution_hours / orders.closed",
                                   direction="lower_better", unit="hours", dimension="resolution_quality",
                                   name_zh="诉求解决平均用时"), **RESOLUTION},
         "points": 40, "rule": {"type": "ratio_to_reference"},
         "reference": {"policy": "best_in_cohort", "min_sample": {"measure": "orders.closed", "count": 100}}},
    ]  # fmt: skip
    monthly = {
        "2025-01": {"UA": orders(100, 90, 5000), "UB": orders(10, 10, 30), "UC": orders(60, 50, 9000)},
        "2025-02": {"UA": orders(120, 110, 6000), "UB": orders(5, 5, 10), "UC": orders(50, 40, 8000)},
        "2025-03": {"UA": orders(130, 125, 5500), "UB": orders(5, 4, 20), "UC": orders(70, 65, 9000)},
    }
    totals: dict[str, dict[str, float]] = {}
    for month in monthly.values():
        for unit, values in month.items():
            for code, value in values.items():
                totals.setdefault(unit, {})[code] = totals.get(unit, {}).get(code, 0) + value
    document = example_scheme(kind="special", period={"granularity": "quarter"}, items=items)
    return report(document, totals, monthly)


def fonts_of(reader: PdfReader) -> dict[str, dict]:
    found = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            found[str(font["/BaseFont"])] = font
    return found


@pytest.mark.parametrize("make", [comprehensive, special])
def test_the_pdf_embeds_a_subset_of_the_shipped_font_and_its_text_is_chinese(make):
    data = make()
    reader = PdfReader(io.BytesIO(pdf_report(data)))
    fonts = fonts_of(reader)
    # Every font the pages name is the shipped one, embedded (FontFile2: a TrueType font program) and subset
    # (a six-capital-letter tag before its name) — no Adobe CID font left for the reader's system to supply.
    assert fonts, "the report names no font"
    for name, font in fonts.items():
        assert re.fullmatch(r"/[A-Z]{6}\+HotlineSansSC-Regular", name), name
        assert "/FontFile2" in font["/FontDescriptor"], name
    embedded = sum(len(f["/FontDescriptor"]["/FontFile2"].get_object().get_data()) for f in fonts.values())
    assert embedded < charts.FONT_FILE.stat().st_size / 10  # a subset: a fraction of the 2 MB font
    text = "\n".join(page.extract_text() for page in reader.pages)
    for unit in {r["unit"] for r in data.results}:
        assert NAMES[unit] in text, unit  # the units' Chinese names (results and problems tables)
    for item in data.document["items"]:
        assert item["indicator"]["name_zh"] in text  # the indicators' Chinese names (indicators table)


def test_the_pdf_states_how_each_reference_was_set():
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf_report(special()))).pages)
    flat = "".join(text.split())  # table cells wrap: compare without the line breaks
    # UA (350 closed, 47.14 h) and UC (180, 144.44 h) may set the resolution-time reference; UB (20) may not.
    assert "仅限办结量(orders.closed)不少于100的单位参与设定,共2家" in flat
    assert "由广州市住房和城乡建设局创造" in flat  # who set it, by name
    assert "第90百分位" in flat and "47.14小时" in flat


def test_charts_label_units_and_indicators_by_their_chinese_names_in_the_shipped_font():
    data = comprehensive()
    ranking = ranking_figure(data)
    axes = ranking.axes[0]
    labels = [t.get_text() for t in axes.get_yticklabels()]
    # Best on top: barh draws the first label at the bottom.
    assert labels == [NAMES[u] for u in ("UD", "UB", "UC", "UA")]
    assert not set(labels) & set(NAMES)  # no unit id
    for text in [*axes.get_yticklabels(), axes.title, axes.xaxis.label]:
        assert Path(font_manager.findfont(text.get_fontproperties())) == charts.FONT_FILE, text.get_text()
    assert axes.get_legend().get_title().get_text() == "等级"
    profile = dimension_figure(data)
    assert [t.get_text() for t in profile.axes[0].get_xticklabels()] == ["服务响应", "服务满意度"]
    for line in trend_figure(special()).axes[0].get_lines():
        assert line.get_label() in ("按期办结率", "总办结率")


def test_the_svg_charts_carry_their_glyphs_as_paths():
    page = html_report(comprehensive())
    chart = page[page.index('id="ranking-chart"') : page.index('id="dimension-chart"')]
    assert "<text" not in chart  # the browser needs no Chinese font
    assert len(set(re.findall(r'id="HotlineSansSC-Regular-([0-9a-f]+)"', chart))) > 20


def test_the_trend_puts_each_unit_of_measure_on_its_own_axis():
    figure = trend_figure(special())
    panels = figure.axes
    assert [a.get_ylabel() for a in panels] == ["百分比(%)", "小时"]
    assert [[line.get_label() for line in a.get_lines()] for a in panels] == [["按期办结率", "总办结率"],
                                                                                 ["诉求解决平均用时"]]  # fmt: skip
    # January's cohort means: on time (90 + 100 + 83.3333) / 3, hours (50 + 3 + 150) / 3.
    assert panels[0].get_lines()[0].get_ydata()[0] == pytest.approx((90 + 100 + 50 / 60 * 100) / 3, abs=1e-3)
    assert panels[1].get_lines()[0].get_ydata()[0] == pytest.approx((50 + 3 + 150) / 3, abs=1e-3)
    assert [t.get_text() for t in panels[-1].get_xticklabels()] == ["2025-01", "2025-02", "2025-03"]


def test_a_one_dimension_scheme_gets_no_profile():
    data = special()
    assert dimension_figure(data) is None
    page = html_report(data)
    profile = page[page.index('id="dimension-chart"') : page.index('id="trend-chart"')]
    assert "<svg" not in profile and "本方案只有一个维度(问题解决质量),不作维度分析" in profile
    reader = PdfReader(io.BytesIO(pdf_report(data)))
    assert sum(len(page.images) for page in reader.pages) == 2  # the ranking and the trend only
    assert dimension_figure(comprehensive()) is not None


def _chinese(text: str) -> set[str]:
    return {c for c in text if ord(c) > 0x2E7F}


def test_the_font_covers_every_chinese_name_the_system_ships():
    covered = set(map(chr, TTFont(charts.FONT_FILE).getBestCmap()))
    needed: set[str] = set()
    for path in [*(ROOT / "services/indicators/catalog").glob("*.yaml"),
                 *(ROOT / "services/indicators/templates").glob("*.yaml")]:  # fmt: skip
        needed |= _chinese(path.read_text("utf-8"))
    with (ROOT / "services/ingest/demo/units.csv").open(encoding="utf-8") as file:
        needed |= {c for row in csv.DictReader(file) for c in _chinese(row["name_zh"])}
    needed |= {c for m in measure_catalog().values() for c in _chinese(m.name_zh)}
    for module in ("reports.py", "report_pdf.py", "charts.py", "explain.py", "reference_basis.py"):
        needed |= _chinese((ROOT / "services/scoring" / module).read_text("utf-8"))
    needed |= _chinese(str(yaml.safe_load((ROOT / "hotline/domain/measures.yaml").read_text("utf-8"))))
    assert needed - covered == set()
    assert len(needed) > 400  # the check looked at real names


@pytest.mark.parametrize(
    ("rule", "unit", "label"),
    [
        ({"type": "threshold", "target": 95}, "percent", "达到 95% 得满分"),
        ({"type": "linear_band", "floor": 80, "target": 95}, "percent", "80% → 95% 线性得分"),
        (
            {"type": "linear_band", "floor": 80, "target": 120, "relative": True},
            "count",
            "参照值的 80% → 120% 线性得分",
        ),
        ({"type": "target_band", "low": 60, "high": 180, "tolerance": 60}, "seconds", "60 秒–180 秒 区间内满分"),
        ({"type": "deduction", "per_occurrence": 2, "free_occurrences": 1}, "count", "每次扣 2 分"),
        ({"type": "ratio_to_reference"}, "hours", "与参照值之比"),
    ],
)
def test_the_indicator_table_states_each_rule_with_its_parameters_in_the_indicators_unit(rule, unit, label):
    assert rule_label(rule, unit) == label
