"""Bearer-token authentication and the caller's identity.

Tokens are JWTs with the claims ``sub`` (subject), ``unit_id`` (the caller's unit) and ``roles``.
Development signs with HS256 and a shared secret; production verifies RS256/ES256 against the
identity provider's JWKS. Every service verifies the token itself: a subgraph reached directly is no
less protected than the gateway.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import jwt

from hotline.kit.errors import ForbiddenError, UnauthenticatedError
from hotline.kit.settings import Settings


class Role(enum.StrEnum):
    """What a caller may do; scope (which units) comes from the caller's unit, not from the role."""

    ADMIN = "admin"
    ORGANIZER = "organizer"
    EXPERT = "expert"
    REVIEWER = "reviewer"
    UNIT = "unit"
    VIEWER = "viewer"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's subject, unit and roles."""

    subject: str
    unit_id: str
    roles: frozenset[Role]
    # True only for a token another service minted (service secret and audience), never for a user's.
    internal: bool = False
    # When the token stops being valid (its ``exp``, Unix seconds): a subscription ends then.
    expires_at: float | None = field(default=None, compare=False)

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def require_internal(self) -> None:
        """Raise ``FORBIDDEN`` unless the caller is another service of this system."""
        if not self.internal:
            raise ForbiddenError("this endpoint answers other hotline-eval services only")

    def require_any(self, *roles: Role) -> None:
        """Raise ``FORBIDDEN`` unless the caller holds one of ``roles``."""
        if not self.has_any(*roles):
            wanted = ", ".join(sorted(r.value for r in roles))
            raise ForbiddenError(f"this action needs one of the roles: {wanted}")


# Audience of service-to-service tokens; user tokens never carry it and the gateway never accepts it.
SERVICE_AUDIENCE = "hotline-internal"


def _audiences(claims: dict) -> list[str]:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else list(aud or [])


# How many verified tokens a process remembers (least recently used dropped first).
VERIFIED_TOKENS_KEPT = 4096


class TokenVerifier:
    """Verifies bearer tokens with the configured key (HS256 secret or a JWKS)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # The key set is cached for ``jwks_cache_seconds`` and re-read on expiry, with no per-key cache
        # beside it: a key removed from the JWKS (rotation, compromise) stops verifying within that time.
        self._jwks = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=False, lifespan=settings.jwks_cache_seconds)
            if settings.jwks_url
            else None
        )
        # Tokens verified before: token → (principal, until when the verification may be reused).
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify_header(self, authorization: str | None) -> Principal:
        """Parse an ``Authorization`` header value into a principal, or raise ``UNAUTHENTICATED``."""
        if not authorization:
            raise UnauthenticatedError("missing bearer token (Authorization: Bearer <jwt>)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("the Authorization header must be 'Bearer <jwt>'")
        return await self.verify(token.strip())

    async def verify(self, token: str) -> Principal:
        """The token's principal, or ``UNAUTHENTICATED``. A token verified before is answered from this process's
        copy until its ``exp`` (then it is verified again, and refused as expired), and for no longer than the key
        set is kept (``jwks_cache_seconds``): the same token on every request of a portal costs its signature
        check once."""
        now = time.time()
        known = self._verified.get(token)
        if known is not None:
            principal, until = known
            if now < until:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal, exp = await self._verify(token)
        self._verified[token] = (principal, min(exp, now + self._settings.jwks_cache_seconds))
        while len(self._verified) > VERIFIED_TOKENS_KEPT:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            # Only to choose the key: the signature is checked below with the key for that audience.
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError(f"invalid token: {exc}") from exc
        if SERVICE_AUDIENCE in _audiences(unverified):
            return self._verify_service_token(token), float(unverified["exp"])
        try:
            if self._jwks is not None:
                # The JWKS client fetches over blocking HTTP (and caches); keep it off the event loop.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key, algorithms = signing_key.key, ["RS256", "ES256"]
            else:
                assert self._settings.jwt_secret is not None
                key, algorithms = self._settings.jwt_secret.get_secret_value(), ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={"require": ["sub", "exp"], "verify_aud": self._settings.jwt_audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError(f"invalid token: {exc}") from exc
        return principal_from_claims(claims), float(claims["exp"])

    def _verify_service_token(self, token: str) -> Principal:
        assert self._settings.service_secret is not None
        # During a rotation the previous secret is still accepted, so callers not yet restarted keep working.
        secrets = [self._settings.service_secret, self._settings.service_secret_previous]
        keys = [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]
        for index, key in enumerate(keys):
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=["HS256"],
                    audience=SERVICE_AUDIENCE,
                    options={"require": ["sub", "exp", "aud"]},
                )
                break
            except jwt.InvalidSignatureError as exc:
                if index == len(keys) - 1:
                    raise UnauthenticatedError(f"invalid service token: {exc}") from exc
            except jwt.PyJWTError as exc:
                raise UnauthenticatedError(f"invalid service token: {exc}") from exc
        principal = principal_from_claims(claims)
        if principal.roles != {Role.SERVICE}:
            raise UnauthenticatedError("invalid service token: a service token carries the role 'service' only")
        return replace(principal, internal=True)


def principal_from_claims(claims: dict) -> Principal:
    unit_id = claims.get("unit_id")
    if not isinstance(unit_id, str) or not unit_id:
        raise UnauthenticatedError("invalid token: claim 'unit_id' is missing")
    raw_roles = claims.get("roles", [])
    if not isinstance(raw_roles, list):
        raise UnauthenticatedError("invalid token: claim 'roles' must be a list")
    try:
        roles = frozenset(Role(r) for r in raw_roles)
    except ValueError as exc:
        raise UnauthenticatedError(f"invalid token: unknown role in {raw_roles!r}") from exc
    exp = claims.get("exp")
    expires_at = float(exp) if isinstance(exp, int | float) else None
    return Principal(subject=str(claims["sub"]), unit_id=unit_id, roles=roles, expires_at=expires_at)


def mint_token(
    *,
    secret: str,
    unit_id: str,
    roles: list[str],
    subject: str | None = None,
    ttl_seconds: int = 12 * 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """A development HS256 token (the CLI's ``hotline token``; tests)."""
    now = int(time.time())
    claims: dict = {
        "sub": subject or f"dev:{unit_id}:{'+'.join(roles)}",
        "unit_id": unit_id,
        "roles": [Role(r).value for r in roles],
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def mint_service_token(*, secret: str, service: str, unit_id: str, ttl_seconds: int = 300) -> str:
    """A short-lived token one service sends another, acting for ``unit_id`` (its scope is that unit's)."""
    now = int(time.time())
    claims = {
        "sub": f"service:{service}",
        "unit_id": unit_id,
        "roles": [Role.SERVICE.value],
        "aud": SERVICE_AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
