"""Words for what a reference was drawn from (the percentile taken, who could set it), for explanations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hotline.domain.measures import measure_catalog


def _n(value: Any) -> str:
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return text or "0"


def _ordinal(p: float) -> str:
    text = _n(p)
    if text.endswith(("11", "12", "13")) or "." in text:
        return f"{text}th"
    return text + {"1": "st", "2": "nd", "3": "rd"}.get(text[-1], "th")


def _sample_terms(sample: Mapping[str, Any]) -> tuple[str, str]:
    """A reference's minimum sample in words: (``办结量(orders.closed)不少于 100``, ``at least 100 orders.closed``)."""
    measure = measure_catalog().get(sample["measure"])
    name_zh = f"{measure.name_zh}({sample['measure']})" if measure else sample["measure"]
    return f"{name_zh}不少于 {_n(sample['count'])}", f"at least {_n(sample['count'])} {sample['measure']}"


def reference_basis(ref: Mapping[str, Any]) -> tuple[str, str]:
    """What a reference was drawn from, when the policy says: the percentile taken and who could set it
    (units with the reference's minimum sample) — ``("", "")`` for the other references."""
    zh, en = [], []
    units = ref.get("qualifying_units")
    if ref.get("min_sample"):
        sample_zh, sample_en = _sample_terms(ref["min_sample"])
        zh.append(f"仅限{sample_zh} 的单位参与设定,共 {units} 家")
        en.append(f"only the {units} units with {sample_en} could set it")
    if ref.get("percentile") is not None:
        p = _n(ref["percentile"])
        zh.append(f"第 {p} 百分位:{p}% 的单位不优于此值,按线性插值,取自 {units} 家单位的指标值")
        en.append(f"the {_ordinal(ref['percentile'])} percentile: {p} % of units do no better, "
                  f"linear interpolation over {units} units' values")  # fmt: skip
    if not zh:
        return "", ""
    return f"({';'.join(zh)})", f" ({'; '.join(en)})"


def no_qualifying_unit(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """Why a row has no reference when no unit had the reference's minimum sample; None otherwise."""
    ref = row["reference"]
    if row.get("na_reason") != "no_reference" or not ref.get("min_sample") or ref.get("qualifying_units"):
        return None
    sample_zh, sample_en = _sample_terms(ref["min_sample"])
    return (
        f"没有单位达到设定参照值所需的最小样本({sample_zh}),无可用参照值",
        f"no unit had the sample needed to set the reference ({sample_en}), so there is no reference value",
    )
