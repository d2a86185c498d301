"""Validators for reads whose answer changes only when its data does (RFC 9110 §8.8, §13.1.2).

A published revision's results never change; a result's or a report's answer changes only with a new revision,
a publication, finality or a renamed unit. Such reads carry an ``ETag`` and ``Cache-Control: private, no-cache``
(any cache may keep the answer for this caller but must ask again before using it — a new revision can come at any
time), and a request whose ``If-None-Match`` names the current tag is answered ``304 Not Modified`` without a body.
``Vary: Authorization``: what an answer holds depends on the caller's scope, checked before any 304.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

CACHE_CONTROL = "private, no-cache"


def etag_of(*parts: Any, weak: bool = False) -> str:
    """A validator over ``parts`` (anything JSON can write; other values by ``str``). ``weak``: for an answer made
    from the same data whose bytes may differ (a rendered file), as RFC 9110 §8.8.1 asks."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return ("W/" if weak else "") + '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def matches(request: Request, etag: str) -> bool:
    """Whether the request's ``If-None-Match`` names ``etag`` (or is ``*``); weak tags compare by their opaque part."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag.removeprefix("W/") in {t.removeprefix("W/") for t in tags}


def validator_headers(etag: str) -> dict[str, str]:
    return {"etag": etag, "cache-control": CACHE_CONTROL, "vary": "Authorization"}


def not_modified(etag: str) -> Response:
    return Response(status_code=304, headers=validator_headers(etag))


def with_validators(response: Response, etag: str) -> Response:
    response.headers.update(validator_headers(etag))
    return response
