"""A scheme's result settings (issue 14): the minimum applicable share, the precision of totals and scores and the
labels of fixed references — validated by indicators, stated in the published document, and accepted by scoring
exactly when indicators accepts them (one check, ``hotline.domain.scheme_settings``). And a document shows the
band its rule applies, not the catalog's default."""

from __future__ import annotations

import pytest

from services.indicators.catalog import builtin_catalog
from services.indicators.documents import scheme_document
from services.indicators.templates import builtin_templates, scheme_body_from_template
from services.indicators.validation import IndicatorFacts, validate_scheme
from services.scoring.scheme import SchemeError, parse_scheme

CATALOG = builtin_catalog()
FACTS = {
    (i.code, 1): IndicatorFacts(i.code, 1, i.dimension, i.method, i.unit, i.direction, i.levels)
    for i in CATALOG.indicators
}
ROWS = {(i.code, 1): {**i.__dict__, "version": 1} for i in CATALOG.indicators}
TEMPLATE = next(t for t in builtin_templates() if t["code"] == "call_centre_kpi")


def body(**settings) -> dict:
    made = scheme_body_from_template(TEMPLATE, 1, {i.code: 1 for i in CATALOG.indicators}, code="T-1", name_zh="测试")
    made.update(settings)
    return made


def problems(made: dict) -> list[tuple[str, str]]:
    return [(p.path, p.code) for p in validate_scheme(made, indicators=FACTS)]


def document(made: dict) -> dict:
    return scheme_document(scheme_id="s-1", version=1, status="published", organizer="GD", body=made, indicators=ROWS)


def test_a_published_document_states_the_defaults():
    doc = document(body())
    assert doc["min_applicable_share"] == 0.5 and doc["precision"] == {"total": 2, "score": 4}
    scheme = parse_scheme(doc)
    assert (scheme.min_applicable_share, scheme.total_places, scheme.score_places) == (0.5, 2, 4)
    doc = document(body(min_applicable_share=0.75, precision={"score": 3}))
    assert doc["min_applicable_share"] == 0.75 and doc["precision"] == {"total": 2, "score": 3}


SETTINGS = [
    ({"min_applicable_share": 0}, []),
    ({"min_applicable_share": 1}, []),
    ({"min_applicable_share": 0.6}, []),
    ({"min_applicable_share": 1.2}, [("min_applicable_share", "out_of_range")]),
    ({"min_applicable_share": -0.1}, [("min_applicable_share", "out_of_range")]),
    ({"min_applicable_share": "half"}, [("min_applicable_share", "out_of_range")]),
    ({"min_applicable_share": True}, [("min_applicable_share", "out_of_range")]),
    ({"precision": {"total": 0, "score": 6}}, []),
    ({"precision": {"total": 7}}, [("precision.total", "out_of_range")]),
    ({"precision": {"score": 2.5}}, [("precision.score", "out_of_range")]),
    ({"precision": {"score": -1}}, [("precision.score", "out_of_range")]),
    ({"precision": {"totals": 2}}, [("precision.totals", "unknown_parameter")]),
    ({"precision": 2}, [("precision", "invalid")]),
]


@pytest.mark.parametrize(("settings", "expected"), SETTINGS)
def test_indicators_and_scoring_agree_on_the_result_settings(settings, expected):
    made = body(**settings)
    assert problems(made) == expected
    raw = {**document(body()), **settings}  # the document as scoring would receive it
    if expected:
        with pytest.raises(SchemeError) as refused:
            parse_scheme(raw)
        assert {p.split(":")[0] for p in refused.value.problems} == {path for path, _ in expected}
    else:
        parse_scheme(raw)


LABELS = [
    ({"policy": "fixed", "value": 90, "label_zh": "全国优秀值", "label_en": "national excellent value"}, []),
    ({"policy": "target", "value": 90, "label_zh": "省定目标值"}, []),
    ({"policy": "fixed", "value": 90, "label_zh": ""}, ["label_zh"]),
    ({"policy": "fixed", "value": 90, "label_en": "x" * 61}, ["label_en"]),
    ({"policy": "fixed", "value": 90, "label_zh": 7}, ["label_zh"]),
    ({"policy": "best_in_cohort", "label_zh": "全省最优"}, ["label_zh"]),
]


@pytest.mark.parametrize(("reference", "bad"), LABELS)
def test_a_fixed_or_target_reference_may_carry_its_own_label_and_both_services_agree(reference, bad):
    made = body()
    index = next(i for i, item in enumerate(made["items"]) if item["rule"]["type"] == "ratio_to_reference")
    made["items"][index]["reference"] = reference
    found = [path for path, _ in problems(made) if ".reference." in path]
    assert found == [f"items[{index}].reference.{key}" for key in bad]
    doc = document(made)
    if bad:
        with pytest.raises(SchemeError):
            parse_scheme(doc)
    else:
        item = parse_scheme(doc).items[index]
        assert (item.reference.label_zh, item.reference.label_en) == (
            reference.get("label_zh"),
            reference.get("label_en"),
        )


def test_the_document_shows_the_band_the_schemes_rule_applies():
    made = body()
    aht = next(item for item in made["items"] if item["indicator"]["code"] == "cc_average_handle_time")
    catalog_band = next(i.band for i in CATALOG.indicators if i.code == "cc_average_handle_time")
    assert catalog_band == {"low": 60, "high": 180}
    aht["rule"] = {"type": "target_band", "low": 180, "high": 330, "tolerance": 60}
    shown = next(i for i in document(made)["items"] if i["indicator"]["code"] == "cc_average_handle_time")
    assert shown["indicator"]["band"] == {"low": 180, "high": 330} == {k: shown["rule"][k] for k in ("low", "high")}
    # An indicator whose rule sets no band keeps the catalog's (it is descriptive there).
    aht["rule"] = {"type": "threshold", "target": 200}
    shown = next(i for i in document(made)["items"] if i["indicator"]["code"] == "cc_average_handle_time")
    assert shown["indicator"]["band"] == catalog_band
