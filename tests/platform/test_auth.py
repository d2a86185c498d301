"""Token verification: HS256 in development, RS256/ES256 against a JWKS in production."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from hotline.kit.auth import SERVICE_AUDIENCE, Role, TokenVerifier, mint_service_token, mint_token
from hotline.kit.errors import UnauthenticatedError
from hotline.kit.settings import Settings


async def test_hs256_round_trip():
    settings = Settings(env="test", jwt_secret="s" * 40)
    principal = await TokenVerifier(settings).verify(mint_token(secret="s" * 40, unit_id="GD-GZ", roles=["organizer"]))
    assert principal.unit_id == "GD-GZ" and principal.roles == frozenset({Role.ORGANIZER})


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"sub": "a", "roles": ["admin"]}, "unit_id"),
        ({"sub": "a", "unit_id": "GD", "roles": ["emperor"]}, "unknown role"),
        ({"sub": "a", "unit_id": "GD", "roles": "admin"}, "must be a list"),
        ({"unit_id": "GD", "roles": []}, "sub"),
    ],
)
async def test_bad_claims_are_unauthenticated(claims, message):
    token = jwt.encode({**claims, "exp": int(time.time()) + 60}, "s" * 40, algorithm="HS256")
    with pytest.raises(UnauthenticatedError, match=message):
        await TokenVerifier(Settings(env="test", jwt_secret="s" * 40)).verify(token)


def test_production_refuses_placeholder_secrets():
    with pytest.raises(ValueError, match="required in production"):
        Settings(env="production", jwt_secret="changeme")
    with pytest.raises(ValueError, match="required in production"):
        Settings(env="production")
    with pytest.raises(ValueError, match="HOTLINE_SERVICE_SECRET"):
        Settings(env="production", jwt_secret="a-real-user-secret-" + "y" * 20)


SERVICE_SECRET = "service-" + "z" * 40


async def test_service_tokens_verify_with_their_own_secret_only():
    settings = Settings(env="test", jwt_secret="s" * 40, service_secret=SERVICE_SECRET)
    verifier = TokenVerifier(settings)
    good = mint_service_token(secret=SERVICE_SECRET, service="scoring", unit_id="GD-GZ")
    principal = await verifier.verify(good)
    assert principal.roles == frozenset({Role.SERVICE}) and principal.unit_id == "GD-GZ"
    assert principal.subject == "service:scoring" and principal.internal
    # Signed with the user secret (as anyone holding a user key could), it is refused.
    forged = mint_service_token(secret="s" * 40, service="scoring", unit_id="GD")
    with pytest.raises(UnauthenticatedError, match="service token"):
        await verifier.verify(forged)
    # A service token claiming more than the service role is refused.
    greedy = jwt.encode(
        {"sub": "service:x", "unit_id": "GD", "roles": ["service", "admin"], "aud": SERVICE_AUDIENCE,
         "exp": int(time.time()) + 60},
        SERVICE_SECRET,
        algorithm="HS256",
    )  # fmt: skip
    with pytest.raises(UnauthenticatedError, match="role 'service' only"):
        await verifier.verify(greedy)
    # A user token with the service role but no service audience is not a service token: the user key
    # verifies it, so it is only as good as the user key that signed it.
    user = mint_token(secret="s" * 40, unit_id="GD", roles=["service"])
    as_user = await verifier.verify(user)
    assert as_user.roles == frozenset({Role.SERVICE}) and not as_user.internal


async def test_garbage_tokens_are_unauthenticated():
    with pytest.raises(UnauthenticatedError):
        await TokenVerifier(Settings(env="test")).verify("not-a-jwt")


async def test_es256_with_a_jwks():
    key = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    public.update(kid="k1", use="sig", alg="ES256")
    body = json.dumps({"keys": [public]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = Settings(
            env="production",
            jwks_url=f"http://127.0.0.1:{server.server_port}/jwks.json",
            service_secret="a-real-service-secret-" + "x" * 20,
        )
        claims = {"sub": "idp:42", "unit_id": "GD", "roles": ["viewer"], "exp": int(time.time()) + 60}
        good = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})
        principal = await TokenVerifier(settings).verify(good)
        assert principal.subject == "idp:42"
        forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "k1"})
        with pytest.raises(UnauthenticatedError):
            await TokenVerifier(settings).verify(forged)
        hs = mint_token(secret="s" * 40, unit_id="GD", roles=["admin"])
        with pytest.raises(UnauthenticatedError):  # an HS256 token is not accepted where a JWKS is configured
            await TokenVerifier(settings).verify(hs)
    finally:
        server.shutdown()


async def test_service_secret_rotation_accepts_the_previous_secret_until_it_is_removed():
    old, new = "old-service-" + "o" * 40, "new-service-" + "n" * 40
    rotating = TokenVerifier(Settings(env="test", jwt_secret="s" * 40, service_secret=new, service_secret_previous=old))
    for secret in (new, old):
        principal = await rotating.verify(mint_service_token(secret=secret, service="scoring", unit_id="GD-GZ"))
        assert principal.internal and principal.unit_id == "GD-GZ"
    with pytest.raises(UnauthenticatedError, match="service token"):
        await rotating.verify(mint_service_token(secret="third-" + "t" * 40, service="scoring", unit_id="GD"))
    # An expired token is refused at once, whichever secret signed it.
    with pytest.raises(UnauthenticatedError, match="expired"):
        await rotating.verify(mint_service_token(secret=old, service="scoring", unit_id="GD", ttl_seconds=-10))
    # Once the previous secret is removed, tokens signed with it stop working.
    rotated = TokenVerifier(Settings(env="test", jwt_secret="s" * 40, service_secret=new))
    with pytest.raises(UnauthenticatedError, match="service token"):
        await rotated.verify(mint_service_token(secret=old, service="scoring", unit_id="GD"))
    with pytest.raises(ValueError, match="PREVIOUS"):
        Settings(
            env="production",
            jwt_secret="a-real-user-secret-" + "y" * 20,
            service_secret=new,
            service_secret_previous="changeme",
        )


async def test_a_key_removed_from_the_jwks_stops_verifying_once_the_cache_expires():
    old_key, new_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def jwk(key, kid):
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        return {**public, "kid": kid, "use": "sig", "alg": "ES256"}

    published = {"keys": [jwk(old_key, "old"), jwk(new_key, "new")]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(published).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = Settings(
            env="test", jwks_url=f"http://127.0.0.1:{server.server_port}/jwks.json", jwks_cache_seconds=0.3
        )
        verifier = TokenVerifier(settings)
        claims = {"sub": "idp:7", "unit_id": "GD", "roles": ["viewer"], "exp": int(time.time()) + 60}
        signed_old = jwt.encode(claims, old_key, algorithm="ES256", headers={"kid": "old"})
        signed_new = jwt.encode(claims, new_key, algorithm="ES256", headers={"kid": "new"})
        # Overlap: both keys published, both verify.
        assert (await verifier.verify(signed_old)).subject == "idp:7"
        assert (await verifier.verify(signed_new)).subject == "idp:7"
        # The old key is withdrawn: after the cache expires, tokens it signed are refused.
        published["keys"] = [jwk(new_key, "new")]
        await asyncio.sleep(0.4)
        with pytest.raises(UnauthenticatedError):
            await verifier.verify(signed_old)
        assert (await verifier.verify(signed_new)).subject == "idp:7"
    finally:
        server.shutdown()


async def test_a_token_verified_once_is_refused_once_it_expires():
    """A verification is reused (the same token on every request of a portal), never past the token's exp."""
    settings = Settings(env="test", jwt_secret="s" * 40)
    verifier = TokenVerifier(settings)
    claims = {"sub": "a", "unit_id": "GD", "roles": ["viewer"], "exp": time.time() + 1.0}
    token = jwt.encode(claims, "s" * 40, algorithm="HS256")
    first = await verifier.verify(token)
    assert (await verifier.verify(token)) is first  # the second time from the process's copy
    await asyncio.sleep(max(0.0, claims["exp"] - time.time()) + 0.05)
    with pytest.raises(UnauthenticatedError, match="expired"):
        await verifier.verify(token)
