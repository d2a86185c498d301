"""What scoring asks of the other services (contracts §4, §5), over ``ServiceClients``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any
from urllib.parse import quote

import numpy as np

from hotline.kit.errors import ApiError, NotFoundError
from hotline.kit.services import ServiceClients, ServiceUnavailableError


class UpstreamError(ApiError):
    status_code = 502
    code = "UPSTREAM_ERROR"


def _check(response, what: str) -> Any:
    if response.status_code == 404:
        raise NotFoundError(f"{what}: not found")
    if response.status_code in (502, 503, 504):
        raise ServiceUnavailableError(f"{what}: the service answered {response.status_code}")
    if response.status_code != 200:
        raise UpstreamError(f"{what}: answered {response.status_code}: {response.text[:300]}")
    return response.json()


async def scheme_document(services: ServiceClients, scheme_id: str, version: int, *, acting_for: str) -> dict:
    """A published scheme version's self-contained document from indicators."""
    response = await services.request(
        "indicators",
        "GET",
        f"/schemes/{quote(str(scheme_id), safe='')}/versions/{int(version)}/document",
        acting_for=acting_for,
    )
    return _check(response, f"scheme {scheme_id} version {version}")


async def query_measures(
    services: ServiceClients,
    units: Sequence[str],
    measures: Sequence[str],
    start: date,
    end: date,
    *,
    by: str,
    acting_for: str,
) -> dict:
    """``POST /measures/query``: one call for the whole cohort; aggregated at the source."""
    body = {
        "units": list(units),
        "measures": list(measures),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "by": by,
    }
    response = await services.request(
        "ingest", "POST", "/measures/query", acting_for=acting_for, json=body, headers={"accept": ACCEPT_MEASURES}
    )
    if response.status_code == 200 and response.headers.get("content-type", "").startswith(COLUMNS_MEDIA_TYPE):
        return decode_columns(response.content)
    return _check(response, "measures")


# Ingest's compact answer to ``POST /measures/query`` (contracts §4): asked for first, JSON accepted too.
COLUMNS_MEDIA_TYPE = "application/vnd.hotline.measures-columns"
ACCEPT_MEASURES = f"{COLUMNS_MEDIA_TYPE}, application/json;q=0.5"


def decode_columns(content: bytes) -> dict:
    """The compact answer as the JSON answer's dict: a 4-byte little-endian header length, the JSON
    header (the answer without ``rows``, plus ``units`` and ``periods`` per row), then each row's values
    as little-endian float64 in ``measures`` order."""
    length = int.from_bytes(content[:4], "little")
    head = json.loads(content[4 : 4 + length])
    units, periods = head.pop("units"), head.pop("periods")
    values = np.frombuffer(content, dtype="<f8", offset=4 + length).reshape(len(units), len(head["measures"]))
    head["rows"] = [[u, p, v] for u, p, v in zip(units, periods, values.tolist(), strict=True)]
    return head


def totals_by_unit(answer: dict) -> dict[str, dict[str, float]]:
    """Rows of a ``by: total`` answer as unit → measure → value (missing units are left out)."""
    codes = answer["measures"]
    found: dict[str, dict[str, float]] = {}
    for row in answer["rows"]:
        unit, values = row[0], row[-1]
        found[unit] = {c: float(v) for c, v in zip(codes, values, strict=True)}
    return found


def by_period(answer: dict) -> dict[str, dict[str, dict[str, float]]]:
    """Rows of a ``by: month`` or ``by: day`` answer as period → unit → measure → value."""
    codes = answer["measures"]
    found: dict[str, dict[str, dict[str, float]]] = {}
    for unit, label, values in answer["rows"]:
        found.setdefault(label, {})[unit] = {c: float(v) for c, v in zip(codes, values, strict=True)}
    return found


def uncovered_by_period(answer: dict) -> dict[str, dict[str, list[str]]] | None:
    """The answer's coverage (contracts §4, ``uncovered``: unit → period → measures no source covered) as
    period → unit → measures; None when ingest answered no coverage at all (then every value counts)."""
    uncovered = answer.get("uncovered")
    if uncovered is None:
        return None
    found: dict[str, dict[str, list[str]]] = {}
    for unit, periods in sorted(uncovered.items()):
        for period, codes in sorted(periods.items()):
            if codes:
                found.setdefault(period, {})[unit] = sorted(codes)
    return found


async def measure_sources(
    services: ServiceClients, units: Sequence[str], measures: Sequence[str], start: date, end: date, *, acting_for: str
) -> list[dict]:
    """``POST /measures/sources``: batches and record counts behind measures (for explanations)."""
    body = {"units": list(units), "measures": list(measures), "from": start.isoformat(), "to": end.isoformat()}
    response = await services.request("ingest", "POST", "/measures/sources", acting_for=acting_for, json=body)
    return _check(response, "measure sources")["sources"]


async def contributions(services: ServiceClients, records: Sequence[dict], *, acting_for: str) -> dict:
    """``POST /measures/contribution`` (contracts §4): what given records add to the measures (to exclude
    them). Answers ``{"contributions": [{source, record_id, kind, unit, day, measure, value}], "not_found": [...]}``."""
    body = {"records": [{"source": r["source"], "record_id": r["record_id"]} for r in records]}
    response = await services.request("ingest", "POST", "/measures/contribution", acting_for=acting_for, json=body)
    return _check(response, "record contributions")
