"""Scheme documents (contracts §5), differences between versions, and YAML import/export. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from hotline.domain.scheme_settings import DEFAULT_MIN_APPLICABLE_SHARE, DEFAULT_PRECISION
from services.indicators.validation import DEFAULT_APPEAL, DEFAULT_GRADE_BANDS, Problem

DOCUMENT_INDICATOR_FIELDS = ("name_zh", "name_en", "clause", "dimension", "unit", "direction", "formula", "method")
MAX_YAML_BYTES = 2 * 1024 * 1024


def with_defaults(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body with every optional setting made explicit (what a published document states)."""
    full = dict(body)
    full.setdefault("na_policy", "rescale")
    full.setdefault("expert_aggregation", "mean")
    full.setdefault("rankings_public", False)
    full.setdefault("min_applicable_share", DEFAULT_MIN_APPLICABLE_SHARE)
    precision = body.get("precision")
    full["precision"] = {**DEFAULT_PRECISION, **(precision if isinstance(precision, Mapping) else {})}
    appeal = body.get("appeal")
    full["appeal"] = {**DEFAULT_APPEAL, **(appeal if isinstance(appeal, Mapping) else {})}
    bands = body.get("grade_bands")
    full["grade_bands"] = list(bands) if isinstance(bands, list) and bands else list(DEFAULT_GRADE_BANDS)
    return full


def scheme_document(
    *,
    scheme_id: str,
    version: int,
    status: str,
    organizer: str,
    body: Mapping[str, Any],
    indicators: Mapping[tuple[str, int], Mapping[str, Any]],
    dimension_names: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The self-contained document scoring stores with a run: every indicator version spelled out, with
    its dimension's Chinese and English names (``dimension_names``: code → (name_zh, name_en)) for reports."""
    full = with_defaults(body)
    items = []
    for item in full.get("items", []):
        ref = item["indicator"]
        row = indicators[(ref["code"], ref["version"])]
        indicator = {"code": ref["code"], "version": ref["version"]}
        indicator.update({name: row.get(name) for name in DOCUMENT_INDICATOR_FIELDS})
        band = _applied_band(item.get("rule"), row.get("band"))
        if band is not None:
            indicator["band"] = band
        if dimension_names and row.get("dimension") in dimension_names:
            indicator["dimension_name_zh"], indicator["dimension_name_en"] = dimension_names[row["dimension"]]
        entry = {"indicator": indicator}
        for name in ("points", "weight", "rule", "reference", "min_sample"):
            if item.get(name) is not None:
                entry[name] = item[name]
        entry.setdefault("reference", {"policy": "none"})
        items.append(entry)
    document = {"id": scheme_id, "version": version, "code": full["code"], "name_zh": full["name_zh"]}
    document["name_en"] = full.get("name_en", "")
    document.update({"kind": full["kind"], "status": status, "organizer": organizer})
    for name in ("template", "cohort", "period", "dimensions"):
        if full.get(name) is not None:
            document[name] = full[name]
    if "cohort" in document:
        document["cohort"] = explicit_cohort(document["cohort"], organizer)
    for name in ("na_policy", "expert_aggregation", "rankings_public", "appeal", "grade_bands"):
        document[name] = full[name]
    for name in ("min_applicable_share", "precision"):
        document[name] = full[name]
    document["items"] = items
    return document


def _applied_band(rule: Any, catalog_band: Any) -> Any:
    """The band a document shows for an item: the scheme's own target band when its rule sets one (the band
    scoring applies), else the catalog's default — never the default beside a different applied band."""
    if isinstance(rule, Mapping) and rule.get("type") == "target_band" and {"low", "high"} <= set(rule):
        return {"low": rule["low"], "high": rule["high"]}
    return catalog_band


def explicit_cohort(cohort: Any, organizer: str) -> Any:
    """The cohort as a document states it: ``{kind, under}`` names its ``under`` unit, the organizer when the
    body leaves it out (contracts §5), so that the document needs nothing else to find its units."""
    if isinstance(cohort, Mapping) and "kind" in cohort and cohort.get("under") is None:
        return {**cohort, "under": organizer}
    return cohort


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two scheme versions."""

    path: str
    change: str  # added | removed | changed
    before: Any
    after: Any


def diff_bodies(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """What changed from ``old`` to ``new``: settings by name, items by indicator code."""
    changes: list[Change] = []
    old_full, new_full = with_defaults(old), with_defaults(new)
    for name in sorted((set(old_full) | set(new_full)) - {"items"}):
        _compare(changes, name, old_full.get(name), new_full.get(name))
    old_items, new_items = _items_by_code(old), _items_by_code(new)
    for code in sorted(set(old_items) | set(new_items)):
        _compare(changes, f"items[{code}]", old_items.get(code), new_items.get(code))
    return changes


def _items_by_code(body: Mapping[str, Any]) -> dict[str, Any]:
    """Items keyed by indicator code (a malformed draft item by its position)."""
    items = body.get("items") if isinstance(body.get("items"), list) else []
    keyed = {}
    for position, item in enumerate(items):
        ref = item.get("indicator") if isinstance(item, Mapping) else None
        code = ref.get("code") if isinstance(ref, Mapping) else None
        keyed[code if isinstance(code, str) else f"#{position}"] = item
    return keyed


def _compare(changes: list[Change], path: str, before: Any, after: Any) -> None:
    if before == after:
        return
    if before is None:
        changes.append(Change(path, "added", None, after))
    elif after is None:
        changes.append(Change(path, "removed", before, None))
    elif isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after)):
            _compare(changes, f"{path}.{key}", before.get(key), after.get(key))
    else:
        changes.append(Change(path, "changed", before, after))


def to_yaml(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)


def parse_yaml(text: str, what: str = "document") -> tuple[Any, list[Problem]]:
    """Parse YAML text; a syntax error becomes a problem with its line and column."""
    if len(text.encode("utf-8", "replace")) > MAX_YAML_BYTES:
        return None, [Problem("", "too_large", f"the {what} is larger than {MAX_YAML_BYTES // 1024 // 1024} MiB")]
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        return None, [Problem("", "yaml_syntax", f"the {what} is not valid YAML{where}: {reason}")]
    docs = [d for d in docs if d is not None]
    if not docs:
        return None, [Problem("", "empty", f"the {what} is empty")]
    return (docs[0] if len(docs) == 1 else docs), []


def scheme_body_from_document(document: Any) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Turn an exported document (or a hand-written body) back into a scheme body.

    Indicator details in an exported document are descriptive; only code and version are kept, so
    an import pins exactly the versions the document names (validation checks they exist here).
    """
    if not isinstance(document, Mapping):
        return None, [Problem("", "not_a_mapping", "a scheme document is a mapping of fields")]
    body = {k: v for k, v in document.items() if k not in ("id", "version", "status", "organizer")}
    items = []
    for item in body.get("items") or []:
        if isinstance(item, Mapping) and isinstance(item.get("indicator"), Mapping):
            ref = item["indicator"]
            item = {**item, "indicator": {k: ref[k] for k in ("code", "version") if k in ref}}
        items.append(item)
    if "items" in body:
        body["items"] = items
    return body, []
