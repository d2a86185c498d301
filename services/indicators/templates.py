"""Built-in scheme templates (``templates/*.yaml``): read, expanded into scheme bodies, stored versioned.

A template is a scheme body without pins: items name an indicator code, and ``defaults`` gives the
rule and reference of items that do not set their own. A scheme created from a template pins the
latest version of every indicator at that moment.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import yaml
from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.indicators import SERVICE_DIR

TEMPLATE_DIR = SERVICE_DIR / "templates"
TEMPLATE_FIELDS = ("code", "name_zh", "name_en", "kind", "standard", "cohort", "period", "dimensions", "items")


class TemplateError(ValueError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{w}: {m}" for w, m in problems))


def expand_template(raw: Mapping[str, Any], where: str = "template") -> dict[str, Any]:
    """Apply ``defaults`` to every item; raise ``TemplateError`` on a malformed template."""
    problems = [(where, f"missing field {name!r}") for name in TEMPLATE_FIELDS if not raw.get(name)]
    problems += [(where, f"unknown field {n!r}") for n in sorted(set(raw) - {*TEMPLATE_FIELDS, "defaults"})]
    defaults = raw.get("defaults") or {}
    items = []
    for i, item in enumerate(raw.get("items") or []):
        if not isinstance(item, Mapping) or not isinstance(item.get("indicator"), str):
            problems.append((f"{where} items[{i}]", "an item names its indicator by code"))
            continue
        expanded = {"indicator": item["indicator"]}
        for name in ("points", "weight"):
            if name in item:
                expanded[name] = item[name]
        expanded["rule"] = copy.deepcopy(item.get("rule") or defaults.get("rule"))
        expanded["reference"] = copy.deepcopy(item.get("reference") or defaults.get("reference") or {"policy": "none"})
        if item.get("min_sample"):
            expanded["min_sample"] = dict(item["min_sample"])
        items.append(expanded)
    if problems:
        raise TemplateError(problems)
    body = {name: copy.deepcopy(raw[name]) for name in TEMPLATE_FIELDS}
    body["items"] = items
    return body


def builtin_templates() -> list[dict[str, Any]]:
    return [
        expand_template(yaml.safe_load(path.read_text("utf-8")), path.name)
        for path in sorted(TEMPLATE_DIR.glob("*.yaml"))
    ]


def body_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def scheme_body_from_template(
    template: Mapping[str, Any],
    template_version: int,
    latest_versions: Mapping[str, int],
    *,
    code: str,
    name_zh: str,
    name_en: str = "",
    cohort: Any = None,
    organizer: str | None = None,
) -> dict[str, Any]:
    """A draft scheme body from a template, pinning each indicator's latest version.

    Without a cohort from the caller, the template's cohort kind is taken under ``organizer`` (stated in
    the body, as the published document states it). An indicator the catalog does not hold is kept
    without a version, so validation names it.
    """
    items = []
    for item in template["items"]:
        pinned = {"code": item["indicator"]}
        if item["indicator"] in latest_versions:
            pinned["version"] = latest_versions[item["indicator"]]
        items.append({**copy.deepcopy(item), "indicator": pinned})
    return {
        "code": code,
        "name_zh": name_zh,
        "name_en": name_en,
        "kind": template["kind"],
        "template": {"code": template["code"], "version": template_version},
        # A cohort given by the caller is kept as given, so that validation can name what is wrong with it.
        "cohort": copy.deepcopy(cohort) if cohort is not None else _template_cohort(template, organizer),
        "period": dict(template["period"]),
        "dimensions": copy.deepcopy(template["dimensions"]),
        "items": items,
    }


def _template_cohort(template: Mapping[str, Any], organizer: str | None) -> dict[str, Any]:
    cohort = dict(template["cohort"])
    if organizer is not None and "kind" in cohort:
        cohort.setdefault("under", organizer)
    return cohort


def apply_templates(connection: Connection, templates: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Store each template whose content changed as a new version (synchronous; after migrations)."""
    latest = {
        code: (version, digest)
        for code, version, digest in connection.execute(
            text(
                "SELECT DISTINCT ON (code) code, version, body_hash FROM indicators.scheme_template "
                "ORDER BY code, version DESC"
            )
        )
    }
    created = []
    for template in templates:
        digest = body_hash(template)
        stored = latest.get(template["code"])
        if stored is not None and stored[1] == digest:
            continue
        version = 1 if stored is None else stored[0] + 1
        connection.execute(
            text(
                "INSERT INTO indicators.scheme_template (code, version, body, body_hash) "
                "VALUES (:code, :version, CAST(:body AS jsonb), :hash)"
            ),
            {
                "code": template["code"],
                "version": version,
                "body": json.dumps(template, ensure_ascii=False),
                "hash": digest,
            },
        )
        created.append((template["code"], version))
    return created
