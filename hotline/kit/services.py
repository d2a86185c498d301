"""Calls from one service to another: HTTP with httpx, a service token, retries on transient failures.

A service never imports another; it calls its API. The token acts for a unit (the organizer of a
run, the caller of a request), so the callee applies that unit's scope — a service sees no more
than the unit it works for.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx
import stamina

from hotline.kit import tracing
from hotline.kit.auth import mint_service_token
from hotline.kit.errors import ApiError
from hotline.kit.requestid import REQUEST_ID_HEADER, current_request_id
from hotline.kit.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger("hotline.services")
RETRY_STATUSES = frozenset({502, 503, 504})


class ServiceUnavailableError(ApiError):
    """Another service this request needs did not answer."""

    status_code = 503
    code = "SERVICE_UNAVAILABLE"


class _Transient(Exception):
    """A response worth retrying (the callee is restarting or overloaded)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.request.method} {response.request.url} answered {response.status_code}")
        self.response = response


class ServiceClients:
    """HTTP clients for the other services, one per callee, created on first use.

    ``transports`` replaces the network for named services (tests plug in ``httpx.ASGITransport``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        caller: str,
        transports: dict[str, httpx.AsyncBaseTransport] | None = None,
        timeout: float = 60.0,
        attempts: int = 4,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self._settings = settings
        self._caller = caller
        self._transports = dict(transports or {})
        self._timeout = timeout
        self._attempts = attempts
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._tracer_provider = tracer_provider

    def token(self, unit_id: str) -> str:
        assert self._settings.service_secret is not None
        return mint_service_token(
            secret=self._settings.service_secret.get_secret_value(), service=self._caller, unit_id=unit_id
        )

    def _client(self, service: str) -> httpx.AsyncClient:
        if service not in self._clients:
            self._clients[service] = httpx.AsyncClient(
                base_url=self._settings.service_url(service),
                transport=self._transports.get(service),
                timeout=self._timeout,
            )
            if self._tracer_provider is not None:
                # Spans for the calls, and the W3C ``traceparent`` header so the callee continues the trace.
                tracing.instrument_client(self._clients[service], self._tracer_provider)
        return self._clients[service]

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        acting_for: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        attempts: int | None = None,
    ) -> httpx.Response:
        """Send a request acting for unit ``acting_for``; retries connection errors and 502/503/504."""
        client = self._client(service)
        all_headers = {
            "authorization": f"Bearer {self.token(acting_for)}",
            REQUEST_ID_HEADER: current_request_id(),
            **(headers or {}),
        }
        try:
            async for attempt in stamina.retry_context(
                on=(httpx.TransportError, _Transient),
                attempts=attempts or self._attempts,
                wait_initial=0.1,
                wait_max=2.0,
            ):
                with attempt:
                    response = await client.request(method, path, json=json, params=params, headers=all_headers)
                    if response.status_code in RETRY_STATUSES:
                        raise _Transient(response)
        except _Transient as exc:
            return exc.response
        except httpx.TransportError as exc:
            logger.warning("%s unreachable: %s", service, exc)
            raise ServiceUnavailableError(f"the {service} service is unreachable: {exc}") from exc
        return response

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
