"""Calls to the scoring service (contracts §6): the disputed result, revisions from decisions, settlement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from hotline.kit.errors import ApiError, ConflictError, NotFoundError
from hotline.kit.services import ServiceClients, ServiceUnavailableError
from services.appeals.plausibility import IndicatorFacts
from services.appeals.workflow import AppealLimits, ResultFacts

# Acting for no unit: the settlement listing is for service tokens only, like ingest's /units/snapshot.
NO_UNIT = "-"


class ScoringRefusedError(ApiError):
    """Scoring refused a request the appeals service made (its message is passed on)."""

    status_code = 502
    code = "SCORING_REFUSED"


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """What a revision changed for one result: the total and each indicator, before and after."""

    revision: int
    unit: str
    result_id: str  # scoring's result ids are stable across revisions: the disputed result's own id
    total_before: float | None
    total_after: float | None
    indicators: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "unit": self.unit,
            "result_id": self.result_id,
            "total_before": self.total_before,
            "total_after": self.total_after,
            "indicators": self.indicators,
        }


@dataclass(frozen=True, slots=True)
class RevisionAnswer:
    """Scoring's answer to a revision (or its dry run): the revision, each changed result's scores, and what it
    did to the cohort — the references that moved and every changed result (contracts §6)."""

    revision: int
    changes: list[ScoreChange]
    references: list[dict[str, Any]] = field(default_factory=list)
    consequences: list[dict[str, Any]] = field(default_factory=list)

    def of_unit(self, unit: str) -> ScoreChange | None:
        return next((c for c in self.changes if c.unit == unit), None)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def result_facts(body: dict[str, Any]) -> ResultFacts:
    """Parse ``GET /results/{id}``; a missing field is scoring breaking the contract (a 502, not our bug)."""
    try:
        appeal = body["appeal_limits"]
        peers = body.get("peer_appeals") or {}
        return ResultFacts(
            result_id=str(body["id"]),
            run_id=str(body["run_id"]),
            revision=int(body["revision"]),
            unit_id=body["unit"],
            organizer_id=body["organizer"],
            published_at=_dt(body.get("published_at")),
            limits=AppealLimits(
                window_days=int(appeal["window_days"]),
                max_appeals_per_result=int(appeal["max_appeals_per_result"]),
                max_indicators_per_appeal=int(appeal["max_indicators_per_appeal"]),
                escalation_days=int(appeal["escalation_days"]),
                decision_days=int(appeal.get("decision_days", 15)),
            ),
            total=body.get("total"),
            indicator_scores={i["indicator"]: i.get("score") for i in body["indicators"]},
            final=bool(body.get("final", False)),
            indicator_facts={i["indicator"]: IndicatorFacts.of(i) for i in body["indicators"]},
            peer_appeals=bool(peers.get("allowed", True)),
            peer_window_days=int(peers.get("window_days", appeal["window_days"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ScoringRefusedError(f"the scoring service answered a result this service cannot read: {exc!r}") from exc


def _error_message(response) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:300]


class ScoringClient:
    """The calls of contracts §6 (result, revision and its dry run, settlement, the settlement listing)."""

    def __init__(self, services: ServiceClients) -> None:
        self._services = services

    async def result(self, result_id: str, *, acting_for: str) -> ResultFacts | None:
        """The result as the acting unit may see it; None when unknown or outside its scope."""
        response = await self._services.request(
            "scoring", "GET", f"/results/{quote(result_id, safe='')}", acting_for=acting_for
        )
        if response.status_code == 404:
            return None
        self._raise_for(response)
        return result_facts(response.json())

    async def revise(
        self, run_id: str, *, acting_for: str, appeal_id: str, reason: str, adjustments: list[dict[str, Any]]
    ) -> RevisionAnswer:
        """Ask for a new revision of the run (idempotent per appeal id and decision level: scoring answers
        ``201`` for a new revision and ``200`` with the same revision when the key was seen before)."""
        return await self._revision("revisions", run_id, acting_for, appeal_id, reason, adjustments)

    async def dry_run(
        self, run_id: str, *, acting_for: str, appeal_id: str, reason: str, adjustments: list[dict[str, Any]]
    ) -> RevisionAnswer:
        """What the revision would do, computed by scoring and stored nowhere (a decision's preview)."""
        return await self._revision("revisions/dry-run", run_id, acting_for, appeal_id, reason, adjustments)

    async def _revision(
        self, path: str, run_id: str, acting_for: str, appeal_id: str, reason: str, adjustments: list[dict[str, Any]]
    ) -> RevisionAnswer:
        response = await self._services.request(
            "scoring",
            "POST",
            f"/runs/{quote(run_id, safe='')}/{path}",
            acting_for=acting_for,
            json={"appeal_id": appeal_id, "reason": reason, "adjustments": adjustments},
        )
        self._raise_for(response)
        body = response.json()
        try:
            revision = int(body["revision"])
            changes = [
                ScoreChange(
                    revision=revision,
                    unit=str(r["unit"]),
                    result_id=str(r["result_id"]),
                    total_before=r.get("total_before"),
                    total_after=r.get("total_after"),
                    indicators=list(r.get("indicators", [])),
                )
                for r in body["results"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ScoringRefusedError(
                f"the scoring service answered a revision this service cannot read: {exc!r}"
            ) from exc
        return RevisionAnswer(
            revision, changes, list(body.get("references") or []), list(body.get("consequences") or [])
        )

    async def settle(self, run_id: str, *, acting_for: str, summary: dict[str, Any]) -> None:
        response = await self._services.request(
            "scoring", "POST", f"/runs/{quote(run_id, safe='')}/settled", acting_for=acting_for, json=summary
        )
        self._raise_for(response)

    async def awaiting_settlement(self) -> list[dict[str, Any]]:
        """Published runs whose window has closed and that are not final yet (service tokens only)."""
        response = await self._services.request("scoring", "GET", "/runs/awaiting-settlement", acting_for=NO_UNIT)
        self._raise_for(response)
        return list(response.json()["runs"])

    @staticmethod
    def _raise_for(response) -> None:
        if response.status_code < 400:
            return
        if response.status_code == 404:
            raise NotFoundError(f"scoring: {_error_message(response)}")
        if response.status_code == 409:
            raise ConflictError(f"scoring: {_error_message(response)}")
        if response.status_code >= 500:
            raise ServiceUnavailableError(f"the scoring service answered {response.status_code}")
        raise ScoringRefusedError(f"scoring refused the request: {_error_message(response)}")
