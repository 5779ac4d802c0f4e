"""A small OpenID Connect provider the tests start on localhost: discovery, an authorize
page, a token endpoint checking PKCE, and JWKS, with real keys and real signed ID tokens.

Here at the top of tests/ because both tests/oidc and tests/browser use it. Each knob
(`account`, `claims`, `sign_with`, `token_answer`, `delays`, …) bends one thing.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import html
import secrets
import time
from collections import Counter
from urllib.parse import unquote_plus

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from yarl import URL

CLIENT_ID = "chatiq-test-client"
CLIENT_SECRET = "test secret/with+odd=chars"
NAME = "Local ID"


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()


class LocalProvider:
    def __init__(self):
        self.port: int | None = None
        self.runner: web.AppRunner | None = None
        self.keys = {"rsa-1": new_rsa_key(), "ec-1": new_ec_key()}
        self.kid = "rsa-1"  # signs the ID tokens
        # Who signs in at the provider.
        self.account = {"sub": "1001", "email": "olena@example.com", "email_verified": True,
                        "name": "Olena Petrenko"}
        # Merged into every ID token's claims; a value of None removes that claim.
        self.claims: dict = {}
        # Sign with this private key instead (a forged token) and/or name this kid/alg.
        self.sign_with = None
        self.header: dict = {}
        # (status, JSON body) the token endpoint answers instead of a token.
        self.token_answer: tuple[int, object] | None = None
        # Path → seconds every answer there waits first (timeouts).
        self.delays: dict[str, float] = {}
        # Merged into the discovery document.
        self.discovery: dict = {}
        # False: /authorize shows a page with a Continue button (for the browser test).
        self.auto_approve = True
        # Set: /authorize sends the browser back with this error instead of a code.
        self.deny: str | None = None
        self.codes: dict[str, dict] = {}  # code → what /authorize saw (single use)
        self.authorize_requests: list[dict] = []
        self.token_requests: list[dict] = []  # form, plus how the client authenticated
        self.hits: Counter = Counter()  # path → requests

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configure(self, config, **extra):
        return dataclasses.replace(config, oidc_issuer=self.issuer, oidc_client_id=CLIENT_ID,
                                   oidc_client_secret=CLIENT_SECRET, oidc_name=NAME, **extra)

    async def start(self, port: int = 0) -> None:
        app = web.Application(middlewares=[self._count])
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/authorize", self._approve)
        app.router.add_post("/token", self._token)
        app.router.add_get("/jwks", self._jwks)
        # Short: a test may leave a deliberately slow answer hanging.
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port or self.port or 0)
        await site.start()
        self.port = self.port or self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            runner, self.runner = self.runner, None
            await runner.cleanup()

    def rotate(self) -> str:
        """A new RSA signing key under a new kid; the old one leaves the JWKS."""
        del self.keys[self.kid]
        self.kid = f"rsa-{secrets.token_hex(4)}"
        self.keys[self.kid] = new_rsa_key()
        return self.kid

    def id_token(self, nonce: str | None, **claims) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                "nonce": nonce, **self.account, **self.claims, **claims}
        body = {k: v for k, v in body.items() if v is not None}
        key = self.sign_with or self.keys[self.kid]
        alg = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
        headers = {"kid": self.kid, "alg": alg, **self.header}
        return jwt.encode(body, key, algorithm=headers.pop("alg"), headers=headers)

    @web.middleware
    async def _count(self, request: web.Request, handler):
        self.hits[request.path] += 1
        delay = self.delays.get(request.path)
        if delay:
            await asyncio.sleep(delay)
        return await handler(request)

    async def _discovery(self, request: web.Request) -> web.Response:
        base = self.issuer
        return web.json_response({
            "issuer": base, "authorization_endpoint": base + "/authorize",
            "token_endpoint": base + "/token", "jwks_uri": base + "/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
            **self.discovery})

    async def _jwks(self, request: web.Request) -> web.Response:
        keys = []
        for kid, key in self.keys.items():
            if isinstance(key, ec.EllipticCurvePrivateKey):
                jwk, alg = ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "ES256"
            else:
                jwk, alg = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "RS256"
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": alg})
        return web.json_response({"keys": keys})

    async def _authorize(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        self.authorize_requests.append(params)
        problem = self._check_authorize(params)
        if problem:
            return web.Response(status=400, text=problem)
        if self.auto_approve:
            return self._send_back(params)
        fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in params.items())
        return web.Response(content_type="text/html", text=(
            f"<!doctype html><title>{NAME}</title><h1>{NAME}</h1>"
            f"<p>Sign in to ChatIQ as {html.escape(self.account['email'])}?</p>"
            f'<form method="post" action="/authorize">{fields}'
            f'<button type="submit" id="continue">Continue</button></form>'))

    async def _approve(self, request: web.Request) -> web.Response:
        params = {k: str(v) for k, v in (await request.post()).items()}
        problem = self._check_authorize(params)
        if problem:
            return web.Response(status=400, text=problem)
        return self._send_back(params)

    def _check_authorize(self, params: dict) -> str | None:
        if params.get("client_id") != CLIENT_ID:
            return "unknown client_id"
        if params.get("response_type") != "code" or "openid" not in params.get("scope", ""):
            return "response_type=code and scope openid expected"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE S256 required"
        for name in ("redirect_uri", "state", "nonce"):
            if not params.get(name):
                return f"{name} missing"
        return None

    def _send_back(self, params: dict) -> web.Response:
        target = URL(params["redirect_uri"])
        if self.deny:
            raise web.HTTPFound(str(target.update_query(
                error=self.deny, error_description="The user said no", state=params["state"])))
        code = secrets.token_urlsafe(16)
        self.codes[code] = params
        raise web.HTTPFound(str(target.update_query(code=code, state=params["state"])))

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        client_id, secret, how = form.get("client_id"), form.get("client_secret"), "post"
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            raw = base64.b64decode(auth[6:]).decode()
            user, _, password = raw.partition(":")
            client_id, secret, how = unquote_plus(user), unquote_plus(password), "basic"
        self.token_requests.append({**form, "auth": how})
        if self.token_answer is not None:
            status, body = self.token_answer
            return web.json_response(body, status=status)
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = self.codes.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return web.json_response({"error": "invalid_grant"}, status=400)
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return web.json_response({"error": "invalid_grant",
                                      "error_description": "redirect_uri differs"}, status=400)
        if s256(form.get("code_verifier", "")) != grant["code_challenge"]:
            return web.json_response({"error": "invalid_grant",
                                      "error_description": "PKCE verification failed"},
                                     status=400)
        return web.json_response({"access_token": secrets.token_urlsafe(16),
                                  "token_type": "Bearer", "expires_in": 3600,
                                  "id_token": self.id_token(grant["nonce"])})


@pytest.fixture
async def idp():
    """A LocalProvider running for one test."""
    provider = LocalProvider()
    await provider.start()
    try:
        yield provider
    finally:
        await provider.stop()
