"""Forged tokens against every service's verifier (the same code at each subgraph): expired, future-dated,
wrong audience or issuer, ``alg: none``, HS/RS confusion, a user token dressed as a service token.
The end-to-end counterpart (each running subgraph reached directly) is tests/e2e/test_attacks.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hotline.kit.auth import SERVICE_AUDIENCE, TokenVerifier, mint_service_token
from hotline.kit.errors import UnauthenticatedError
from hotline.kit.settings import Settings

SECRET = "s" * 40
SERVICE_SECRET = "service-" + "z" * 40
ISSUER, AUDIENCE = "https://idp.example", "hotline"


def claims(**extra) -> dict:
    now = int(time.time())
    return {"sub": "u1", "unit_id": "GD-GZ", "roles": ["organizer"], "iat": now, "exp": now + 300} | extra


def b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def unsigned(payload: dict, **header) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT', **header})}.{b64(payload)}."


def verifier(**settings) -> TokenVerifier:
    return TokenVerifier(Settings(env="test", jwt_secret=SECRET, service_secret=SERVICE_SECRET, **settings))


async def test_the_control_token_passes():
    good = jwt.encode(claims(iss=ISSUER, aud=AUDIENCE), SECRET, algorithm="HS256")
    assert (await verifier(jwt_issuer=ISSUER, jwt_audience=AUDIENCE).verify(good)).unit_id == "GD-GZ"


def _forgeries() -> dict[str, str]:
    now = int(time.time())
    base = claims(iss=ISSUER, aud=AUDIENCE)
    return {
        "expired": jwt.encode(base | {"exp": now - 120}, SECRET, algorithm="HS256"),
        "nbf in the future": jwt.encode(base | {"nbf": now + 3600}, SECRET, algorithm="HS256"),
        "iat in the future": jwt.encode(base | {"iat": now + 3600}, SECRET, algorithm="HS256"),
        "no exp": jwt.encode({k: v for k, v in base.items() if k != "exp"}, SECRET, algorithm="HS256"),
        "wrong audience": jwt.encode(base | {"aud": "another-app"}, SECRET, algorithm="HS256"),
        "no audience": jwt.encode({k: v for k, v in base.items() if k != "aud"}, SECRET, algorithm="HS256"),
        "wrong issuer": jwt.encode(base | {"iss": "https://evil.example"}, SECRET, algorithm="HS256"),
        "alg none": unsigned(base),
        "alg none with a signature": unsigned(base) + "c2lnbmF0dXJl",
        "alg None (case)": f"{b64({'alg': 'None'})}.{b64(base)}.",
        "HS512": jwt.encode(base, SECRET + "x" * 30, algorithm="HS512"),
        "other secret": jwt.encode(base, "o" * 40, algorithm="HS256"),
        # A user token claiming the service audience is checked against the service secret: refused.
        "user token with the service audience": jwt.encode(
            base | {"aud": SERVICE_AUDIENCE, "roles": ["service"]}, SECRET, algorithm="HS256"
        ),
        "service token with alg none": unsigned(claims(aud=SERVICE_AUDIENCE, roles=["service"])),
        "service token with extra roles": jwt.encode(
            claims(aud=SERVICE_AUDIENCE, roles=["service", "admin"]), SERVICE_SECRET, algorithm="HS256"
        ),
        "service token without exp": jwt.encode(
            {k: v for k, v in claims(aud=SERVICE_AUDIENCE, roles=["service"]).items() if k != "exp"},
            SERVICE_SECRET,
            algorithm="HS256",
        ),
        "expired service token": jwt.encode(
            claims(aud=SERVICE_AUDIENCE, roles=["service"], exp=now - 60), SERVICE_SECRET, algorithm="HS256"
        ),
    }


@pytest.mark.parametrize("name", list(_forgeries()))
async def test_forged_tokens_are_refused(name):
    with pytest.raises(UnauthenticatedError):
        await verifier(jwt_issuer=ISSUER, jwt_audience=AUDIENCE).verify(_forgeries()[name])


async def test_the_real_service_token_passes_as_the_control():
    principal = await verifier().verify(mint_service_token(secret=SERVICE_SECRET, service="scoring", unit_id="GD"))
    assert principal.internal


@pytest.fixture
def jwks():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update(kid="k1", use="sig", alg="RS256")
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
    yield key, public, f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


async def test_hs_rs_algorithm_confusion_is_refused(jwks):
    key, public, url = jwks
    settings = Settings(env="production", jwks_url=url, service_secret=SERVICE_SECRET)
    good = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "k1"})
    assert (await TokenVerifier(settings).verify(good)).subject == "u1"  # the control
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    signing_input = f"{b64(header)}.{b64(claims())}".encode()
    for secret in (pem, public["n"].encode()):
        signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).rstrip(b"=")
        forged = (signing_input + b"." + signature).decode()
        with pytest.raises(UnauthenticatedError):
            await TokenVerifier(settings).verify(forged)
    with pytest.raises(UnauthenticatedError):
        await TokenVerifier(settings).verify(unsigned(claims(), kid="k1"))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(UnauthenticatedError):
        await TokenVerifier(settings).verify(jwt.encode(claims(), other, algorithm="RS256", headers={"kid": "k1"}))
