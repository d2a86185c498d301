"""What a revision made from an appeal's adjustments does to the cohort (contracts §6): the references that
moved, and every result whose total, rank, grade, or an indicator's value or score changed — the appellant's
and its peers' alike, each marked whether an adjustment named it.

A best-in-cohort reference or a cohort mean moves when one unit's value is corrected, and every unit scored
against it moves with it; a rank moves when another unit passes. These effects are answered to appeals with
the revision (and by its dry run, before the decision), stored with the revision
(``run_revision.consequences``), and told in the explanation of each affected result.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any


def _n(value: Any) -> str:
    """A figure as explanations write it: up to four decimals, no trailing zeros, an em dash for none."""
    if value is None:
        return "—"
    return f"{float(value):.4f}".rstrip("0").rstrip(".") or "0"


def _grade_code(detail: Mapping[str, Any]) -> str | None:
    return (detail.get("grade") or {}).get("code")


def reference_moves(before_cohort: Mapping[str, Any], after_cohort: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The indicators whose cohort reference (value, or the unit that set it) differs between two revisions."""
    moves = []
    for code in sorted(after_cohort.get("indicators", {})):
        before = before_cohort.get("indicators", {}).get(code)
        if before is None:
            continue
        rb, ra = before["reference"], after_cohort["indicators"][code]["reference"]
        if rb.get("value") != ra.get("value") or rb.get("set_by") != ra.get("set_by"):
            moves.append(
                {"indicator": code, "policy": ra.get("policy"), "before": rb.get("value"), "after": ra.get("value"),
                 "set_by_before": rb.get("set_by"), "set_by_after": ra.get("set_by")}
            )  # fmt: skip
    return moves


def changed_results(
    before: Mapping[str, dict], after: Mapping[str, dict], ids: Mapping[str, uuid.UUID], adjusted: set[str]
) -> list[dict[str, Any]]:
    """Every result the revision changed (total, rank, grade, an indicator's value or score) or an adjustment
    named, with its figures before and after; units in id order, indicators in scheme order."""
    out = []
    for unit in sorted(set(after) & set(before)):
        b, a = before[unit], after[unit]
        indicators = [
            {"indicator": i["indicator"], "value_before": bi["value"], "value_after": i["value"],
             "score_before": bi["score"], "score_after": i["score"]}
            for i, bi in zip(a["indicators"], b["indicators"], strict=True)
            if i["score"] != bi["score"] or i["value"] != bi["value"]
        ]  # fmt: skip
        headline = (b["total"], b.get("rank"), _grade_code(b)) != (a["total"], a.get("rank"), _grade_code(a))
        if not (indicators or headline or unit in adjusted):
            continue
        out.append(
            {"result_id": str(ids[unit]), "unit": unit, "adjusted": unit in adjusted,
             "total_before": b["total"], "total_after": a["total"], "rank_before": b.get("rank"),
             "rank_after": a.get("rank"), "grade_before": _grade_code(b), "grade_after": _grade_code(a),
             "indicators": indicators}
        )  # fmt: skip
    return out


def effects(
    before: Mapping[str, dict],
    after: Mapping[str, dict],
    ids: Mapping[str, uuid.UUID],
    *,
    before_cohort: Mapping[str, Any],
    after_cohort: Mapping[str, Any],
    adjusted: set[str],
) -> dict[str, list[dict[str, Any]]]:
    """``references`` (moved) and ``consequences`` (changed results) of one revision."""
    return {
        "references": reference_moves(before_cohort, after_cohort),
        "consequences": changed_results(before, after, ids, adjusted),
    }


def explanation_notes(
    unit: str, revisions: Sequence[tuple[int, str | None, Mapping[str, Any]]]
) -> dict[str, list[tuple[str, str]]]:
    """For one unit: per indicator, a sentence (zh, en) for each appeal revision that changed its score there
    without an adjustment naming the unit — a decision on another unit's appeal — oldest first."""
    notes: dict[str, list[tuple[str, str]]] = {}
    for revision, appeal_id, stored in revisions:
        mine = next((c for c in stored.get("consequences", []) if c["unit"] == unit and not c["adjusted"]), None)
        if mine is None:
            continue
        moved = {m["indicator"]: m for m in stored.get("references", [])}
        cause_zh = f"第 {revision} 次修订(申诉 {appeal_id} 的决定)"
        cause_en = f"Revision {revision} (the decision on appeal {appeal_id})"
        for i in mine["indicators"]:
            score_zh = f"本项得分由 {_n(i['score_before'])} 变为 {_n(i['score_after'])}"
            score_en = f"this score went from {_n(i['score_before'])} to {_n(i['score_after'])}"
            m = moved.get(i["indicator"])
            if m is not None:
                by_zh = f"(由 {m['set_by_after']} 创造)" if m.get("set_by_after") else ""
                by_en = f" (set by {m['set_by_after']})" if m.get("set_by_after") else ""
                zh = f"{cause_zh}使参照值由 {_n(m['before'])} 变为 {_n(m['after'])}{by_zh},{score_zh}。"
                en = f"{cause_en} moved the reference from {_n(m['before'])} to {_n(m['after'])}{by_en}; {score_en}."
            else:
                zh, en = f"{cause_zh}改变了本项,{score_zh}。", f"{cause_en} changed it; {score_en}."
            notes.setdefault(i["indicator"], []).append((zh, en))
    return notes
