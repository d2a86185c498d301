"""Fakes of the other services' contracts (docs/contracts.md §4, §5), answering exactly their JSON shapes.

Ingest's ``/units/snapshot`` is served by the real ingest app; ``/measures/*`` by ``FakeMeasures``
over daily values held in memory, scoped like the contract says (units outside the caller's
subtree are ``missing``). Indicators' scheme documents come from ``FakeSchemes``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import jwt

from hotline.kit.settings import DEVELOPMENT_SERVICE_SECRET


def caller_unit(request: httpx.Request) -> str:
    token = request.headers["authorization"].split(" ", 1)[1]
    claims = jwt.decode(token, DEVELOPMENT_SERVICE_SECRET, algorithms=["HS256"], audience="hotline-internal")
    return claims["unit_id"]


@dataclass(frozen=True)
class Coverage:
    """What one applied batch covers (contracts §4, "Coverage"): measures, units and days."""

    units: tuple[str, ...]
    measures: frozenset[str]
    start: date
    end: date
    declared: bool = False  # declared with ``covers=``: it covers the named units' descendants too


class FakeMeasures:
    """Daily measures per unit; ``paths`` gives each unit's materialized path for the scope check.

    Coverage: until a test calls ``cover``, the answers carry no ``uncovered`` (as ingest answered before
    coverage existed); after, they answer it as contracts §4 says, from the coverage given."""

    def __init__(self, paths: dict[str, str]) -> None:
        self.paths = dict(paths)
        self.daily: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        self.sources: list[dict] = []
        self.contributions: dict[tuple[str, str], list[dict]] = {}
        self.calls: list[tuple[str, dict]] = []
        self.coverage: list[Coverage] | None = None

    def put(self, unit: str, day: str, values: dict[str, float]) -> None:
        self.daily[unit][day].update(values)

    def cover(self, units, measures, start: str, end: str, *, declared: bool = False) -> None:
        """A batch covering ``measures`` for ``units`` from ``start`` to ``end`` (days, inclusive)."""
        entry = Coverage(
            tuple(units), frozenset(measures), date.fromisoformat(start), date.fromisoformat(end), declared
        )
        self.coverage = [*(self.coverage or []), entry]

    def _covers(self, entry: Coverage, unit: str) -> bool:
        mine = self.paths[unit]
        for named in entry.units:
            path = self.paths.get(named, "")
            if path == mine or path.startswith(mine + "/") or (entry.declared and mine.startswith(path + "/")):
                return True
        return False

    def _uncovered(self, unit: str, codes: list[str], start: date, end: date) -> list[str]:
        covered = set()
        for entry in self.coverage or []:
            if entry.start <= end and start <= entry.end and self._covers(entry, unit):
                covered |= entry.measures
        return sorted(set(codes) - covered)

    def _periods(self, start: date, end: date, by: str) -> list[tuple[str, date, date]]:
        if by == "total":
            return [("total", start, end)]
        found, day = [], start
        while day <= end:
            if by == "day":
                found.append((day.isoformat(), day, day))
                day += timedelta(days=1)
            else:
                last = min(end, (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1))
                found.append((day.strftime("%Y-%m"), day, last))
                day = last + timedelta(days=1)
        return found

    def _visible(self, caller: str, unit: str) -> bool:
        path, mine = self.paths.get(unit), self.paths.get(caller)
        return path is not None and mine is not None and (path == mine or path.startswith(mine + "/"))

    def query(self, caller: str, body: dict) -> dict:
        start, end, by = date.fromisoformat(body["from"]), date.fromisoformat(body["to"]), body["by"]
        units, codes = body["units"], body["measures"]
        missing = sorted(u for u in units if not self._visible(caller, u))
        rows, days_with_data = [], {}
        for unit in units:
            if unit in missing:
                continue
            buckets: dict[str, list[float]] = {}
            days = 0
            for day, values in sorted(self.daily.get(unit, {}).items()):
                d = date.fromisoformat(day)
                if not start <= d <= end:
                    continue
                days += 1
                key = "total" if by == "total" else day[:7] if by == "month" else day
                bucket = buckets.setdefault(key, [0.0] * len(codes))
                for i, code in enumerate(codes):
                    bucket[i] += values.get(code, 0.0)
            days_with_data[unit] = days
            if by == "total":
                rows.append([unit, buckets.get("total", [0.0] * len(codes))])
            else:  # every period of the range, zeros where there is no data (contracts §4)
                rows.extend(
                    [unit, key, buckets.get(key, [0.0] * len(codes))] for key, _, _ in self._periods(start, end, by)
                )
        answer = {"from": body["from"], "to": body["to"], "by": by, "measures": codes, "rows": rows,
                  "days_with_data": days_with_data, "missing": missing}  # fmt: skip
        if self.coverage is not None:
            uncovered: dict[str, dict[str, list[str]]] = {}
            for unit in units:
                if unit in missing:
                    continue
                for label, first, last in self._periods(start, end, by):
                    if gaps := self._uncovered(unit, codes, first, last):
                        uncovered.setdefault(unit, {})[label] = gaps
            answer["uncovered"] = uncovered
        return answer

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        self.calls.append((request.url.path, body))
        caller = caller_unit(request)
        if request.url.path == "/measures/query":
            return httpx.Response(200, json=self.query(caller, body))
        if request.url.path == "/measures/sources":
            # The shapes of contracts §4, as the real ingest service answers them.
            wanted = set(body["units"]), set(body["measures"])
            sources = [s for s in self.sources if s["unit"] in wanted[0] and s["measure"] in wanted[1]]
            return httpx.Response(200, json={"sources": sources, "missing": []})
        if request.url.path == "/measures/contribution":
            found, not_found = [], []
            for record in body["records"]:
                key = (record["source"], record["record_id"])
                found.extend(self.contributions.get(key, []))
                if key not in self.contributions:
                    not_found.append(record)
            return httpx.Response(200, json={"contributions": found, "not_found": not_found})
        return httpx.Response(404, json={"error": {"code": "NOT_FOUND"}})


class FakeSchemes:
    """Scheme documents by (id, version), as indicators would serve them."""

    def __init__(self) -> None:
        self.documents: dict[tuple[str, int], dict] = {}

    def add(self, document: dict) -> None:
        self.documents[(document["id"], int(document["version"]))] = document

    def handle(self, request: httpx.Request) -> httpx.Response:
        match = re.fullmatch(r"/schemes/([^/]+)/versions/(\d+)/document", request.url.path)
        document = self.documents.get((match[1], int(match[2]))) if match else None
        if document is None:
            return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": "scheme not found"}})
        return httpx.Response(200, json=document)


class RoutingTransport(httpx.AsyncBaseTransport):
    """Ingest as the tests see it: the real app for the unit snapshot, the fake for measures."""

    def __init__(self, real: httpx.AsyncBaseTransport, fake: FakeMeasures) -> None:
        self.real, self.fake = real, fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/measures/"):
            await request.aread()
            return self.fake.handle(request)
        return await self.real.handle_async_request(request)
