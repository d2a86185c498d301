"""Token verification: HS256 in development, RS256/ES256 against a JWKS in production."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from hotline.kit.auth import Role, TokenVerifier, mint_token
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
        settings = Settings(env="production", jwks_url=f"http://127.0.0.1:{server.server_port}/jwks.json")
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
