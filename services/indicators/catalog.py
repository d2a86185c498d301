"""The indicator catalog as data: YAML files under ``catalog/``, checked, hashed and versioned.

``read_catalog`` parses and checks a catalog document (every problem at once); ``plan_versions``
decides, from what is stored, which indicators need a new version (pure); ``sync_catalog`` applies
the built-in files after every migration (idempotent: an unchanged file changes nothing).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hotline.domain.formula import FormulaError, parse
from hotline.domain.measures import measure_codes
from services.indicators import SERVICE_DIR

CATALOG_DIR = SERVICE_DIR / "catalog"
METHODS = ("system", "sampling", "reported_expert")
DIRECTIONS = ("higher_better", "lower_better", "target_band")
UNITS = ("percent", "seconds", "hours", "count", "per_10k", "points")
LEVELS = ("province_body", "city_body", "district", "undertaking_unit", "agent_team", "agent")
# The seven dimensions of the 12345 spec, created by migration indicators_0001.
GB12345_DIMENSIONS = (
    "service_response", "accuracy", "standardization", "efficiency", "satisfaction", "resolution_quality", "innovation",
)  # fmt: skip
REQUIRED = ("code", "name_zh", "name_en", "dimension", "clause", "method", "unit", "direction", "levels")


class CatalogError(ValueError):
    """A catalog document with problems; ``problems`` lists every one as ``(where, message)``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{where}: {message}" for where, message in problems))


@dataclass(frozen=True)
class IndicatorDefinition:
    """What an indicator version says. Two versions differ iff their ``definition_hash`` differs."""

    code: str
    standard: str
    name_zh: str
    name_en: str
    dimension: str
    clause: str
    method: str
    unit: str
    direction: str
    levels: tuple[str, ...]
    formula: str | None
    description: str = ""
    band: dict[str, float] | None = None

    @property
    def definition_hash(self) -> str:
        content = {k: v for k, v in asdict(self).items() if k not in ("code", "standard")}
        return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Catalog:
    """Standards, their dimension groupings and indicator definitions read from one or more files."""

    standards: list[dict[str, str]] = field(default_factory=list)
    dimensions: list[dict[str, Any]] = field(default_factory=list)
    indicators: list[IndicatorDefinition] = field(default_factory=list)


def _check_indicator(raw: Any, where: str, standard: str, dimensions: set[str] | None) -> list[tuple[str, str]]:
    if not isinstance(raw, dict):
        return [(where, "an indicator must be a mapping of fields")]
    problems = [(where, f"missing field {name!r}") for name in REQUIRED if raw.get(name) in (None, "", [])]
    unknown = sorted(set(raw) - {*REQUIRED, "formula", "description", "band"})
    problems += [(where, f"unknown field {name!r}") for name in unknown]
    for name, allowed in (("method", METHODS), ("direction", DIRECTIONS), ("unit", UNITS)):
        if raw.get(name) is not None and raw[name] not in allowed:
            problems.append((where, f"{name} {raw[name]!r} is not one of {', '.join(allowed)}"))
    levels = raw.get("levels") or []
    if not isinstance(levels, list):
        problems.append((where, "levels must be a list of unit kinds"))
    else:
        problems += [
            (where, f"level {lv!r} is not a unit kind ({', '.join(LEVELS)})") for lv in levels if lv not in LEVELS
        ]
    if dimensions is not None and raw.get("dimension") and raw["dimension"] not in dimensions:
        problems.append((where, f"dimension {raw['dimension']!r} is not declared for standard {standard!r}"))
    formula = raw.get("formula")
    if raw.get("method") == "reported_expert":
        if formula:
            problems.append((where, "a reported/expert indicator has no formula (its value is entered by experts)"))
    elif not formula:
        problems.append((where, f"a {raw.get('method')} indicator needs a formula over measure codes"))
    else:
        try:
            parse(str(formula), measure_codes())
        except FormulaError as error:
            problems += [(where, f"formula at {pos}: {msg}") for pos, msg in error.problems]
    band = raw.get("band")
    if raw.get("direction") == "target_band":
        ok = isinstance(band, dict) and all(isinstance(band.get(k), int | float) for k in ("low", "high"))
        if not ok:
            problems.append((where, "a target_band indicator needs band: {low, high} numbers"))
        elif band["low"] >= band["high"]:
            problems.append((where, f"band low {band['low']} must be below high {band['high']}"))
    elif band is not None:
        problems.append((where, "band is only for direction target_band"))
    return problems


def read_catalog(documents: list[tuple[str, Any]], *, known_dimensions: dict[str, str] | None = None) -> Catalog:
    """Check and read catalog documents (``(name, parsed yaml)``); raise ``CatalogError`` with every problem.

    ``known_dimensions`` maps dimension codes already stored to their standard.
    """
    catalog, problems, seen = Catalog(), [], set()
    dimension_standard = dict(known_dimensions or {})
    for name, doc in documents:
        if not isinstance(doc, dict) or not isinstance(doc.get("standard"), dict):
            problems.append((name, "a catalog document needs a `standard:` mapping and `indicators:`"))
            continue
        std = doc["standard"]
        code = std.get("code")
        missing = [k for k in ("code", "name_zh", "name_en", "source") if not std.get(k)]
        problems += [(f"{name} standard", f"missing field {k!r}") for k in missing]
        catalog.standards.append({k: str(std.get(k, "")) for k in ("code", "name_zh", "name_en", "source")})
        for i, dim in enumerate(doc.get("dimensions") or []):
            where = f"{name} dimensions[{i}]"
            keys = ("code", "position", "clause", "name_zh", "name_en", "description")
            if not isinstance(dim, dict) or any(dim.get(k) in (None, "") for k in keys):
                problems.append((where, f"a dimension needs {', '.join(keys)}"))
                continue
            catalog.dimensions.append({**{k: dim[k] for k in keys}, "standard": code})
            dimension_standard[dim["code"]] = code
        own = {d for d, s in dimension_standard.items() if s == code}
        for i, raw in enumerate(doc.get("indicators") or []):
            where = f"{name} indicators[{i}]" + (f" ({raw.get('code')})" if isinstance(raw, dict) else "")
            found = _check_indicator(raw, where, code, own)
            if isinstance(raw, dict) and raw.get("code") in seen:
                found.append((where, f"indicator code {raw['code']!r} appears twice"))
            problems += found
            if found:
                continue
            seen.add(raw["code"])
            formula = parse(raw["formula"]).text if raw.get("formula") else None
            catalog.indicators.append(
                IndicatorDefinition(
                    code=raw["code"],
                    standard=code,
                    name_zh=str(raw["name_zh"]),
                    name_en=str(raw["name_en"]),
                    dimension=raw["dimension"],
                    clause=str(raw["clause"]),
                    method=raw["method"],
                    unit=raw["unit"],
                    direction=raw["direction"],
                    levels=tuple(raw["levels"]),
                    formula=formula,
                    description=str(raw.get("description") or ""),
                    band={k: float(v) for k, v in raw["band"].items()} if raw.get("band") else None,
                )
            )
    if problems:
        raise CatalogError(problems)
    return catalog


def builtin_catalog() -> Catalog:
    """The catalog shipped with the service (``catalog/*.yaml``)."""
    files = sorted(CATALOG_DIR.glob("*.yaml"))
    documents = [(path.name, yaml.safe_load(path.read_text("utf-8"))) for path in files]
    return read_catalog(documents, known_dimensions=dict.fromkeys(GB12345_DIMENSIONS, "gb12345"))


def plan_versions(
    definitions: list[IndicatorDefinition], stored: dict[str, tuple[int, str]]
) -> list[tuple[IndicatorDefinition, int]]:
    """Which definitions need storing, with their new version: new codes get 1, changed ones latest + 1."""
    plan = []
    for definition in definitions:
        latest = stored.get(definition.code)
        if latest is None:
            plan.append((definition, 1))
        elif latest[1] != definition.definition_hash:
            plan.append((definition, latest[0] + 1))
    return plan


def version_row(definition: IndicatorDefinition, version: int) -> dict[str, Any]:
    row = asdict(definition)
    row.pop("standard")
    return {**row, "levels": list(definition.levels), "version": version, "definition_hash": definition.definition_hash}


_STORED_SQL = """
    SELECT v.code, v.version, v.definition_hash FROM indicators.indicator_version v
    JOIN indicators.indicator i ON i.code = v.code AND i.latest_version = v.version
"""


def apply_catalog(connection: Connection, catalog: Catalog) -> list[tuple[str, int]]:
    """Store standards, dimensions and new indicator versions (synchronous, for migrations and the CLI)."""
    for std in catalog.standards:
        connection.execute(
            text(
                "INSERT INTO indicators.standard (code, name_zh, name_en, source) VALUES (:code, :name_zh, :name_en, :source) "
                "ON CONFLICT (code) DO UPDATE SET name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en, source = EXCLUDED.source"
            ),
            std,
        )
    for dim in catalog.dimensions:
        connection.execute(
            text(
                "INSERT INTO indicators.dimension (code, standard, position, clause, name_zh, name_en, description) "
                "VALUES (:code, :standard, :position, :clause, :name_zh, :name_en, :description) "
                "ON CONFLICT (code) DO UPDATE SET position = EXCLUDED.position, clause = EXCLUDED.clause, "
                "name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en, description = EXCLUDED.description"
            ),
            dim,
        )
    stored = {code: (version, digest) for code, version, digest in connection.execute(text(_STORED_SQL))}
    created = []
    for definition, version in plan_versions(catalog.indicators, stored):
        connection.execute(
            text(
                "INSERT INTO indicators.indicator (code, standard, latest_version) VALUES (:code, :standard, :version) "
                "ON CONFLICT (code) DO UPDATE SET latest_version = EXCLUDED.latest_version"
            ),
            {"code": definition.code, "standard": definition.standard, "version": version},
        )
        row = version_row(definition, version)
        row["band"] = json.dumps(row["band"]) if row["band"] is not None else None
        connection.execute(
            text(
                "INSERT INTO indicators.indicator_version (code, version, name_zh, name_en, dimension, clause, method, "
                "unit, direction, band, levels, formula, description, definition_hash) VALUES (:code, :version, "
                ":name_zh, :name_en, :dimension, :clause, :method, :unit, :direction, CAST(:band AS jsonb), :levels, "
                ":formula, :description, :definition_hash)"
            ),
            row,
        )
        created.append((definition.code, version))
    return created


def catalog_to_yaml(standards: list[dict], dimensions: list[dict], versions: list[dict]) -> str:
    """Export catalog rows (latest versions) as one YAML document per standard, in the import format."""
    docs = []
    for std in standards:
        dims = [
            {k: d[k] for k in ("code", "position", "clause", "name_zh", "name_en", "description")}
            for d in dimensions
            if d["standard"] == std["code"] and std["code"] != "gb12345"
        ]
        items = []
        for v in versions:
            if v["standard"] != std["code"]:
                continue
            item = {
                k: v[k] for k in ("code", "name_zh", "name_en", "dimension", "clause", "method", "unit", "direction")
            }
            item["levels"] = list(v["levels"])
            for optional in ("band", "formula"):
                if v.get(optional) is not None:
                    item[optional] = v[optional]
            item["description"] = v["description"]
            items.append(item)
        docs.append({"standard": std, "dimensions": dims, "indicators": items})
    return yaml.safe_dump_all(docs, allow_unicode=True, sort_keys=False)
