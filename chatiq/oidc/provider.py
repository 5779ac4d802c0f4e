"""One OpenID Connect provider over HTTP: its discovery document and keys (cached), the
code exchange, and the ID token check with a key refetch when the provider rotated."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from urllib.parse import quote_plus, urlsplit

import aiohttp

from chatiq.oidc import idtoken
from chatiq.oidc.errors import OidcError

# Google's ID tokens may name their issuer without the scheme (Google's OIDC docs).
_ISSUER_ALIASES = {"https://accounts.google.com": ("accounts.google.com",)}
# How long the discovery document and keys are trusted before being fetched again.
METADATA_TTL = 3600.0
# A kid not in the keys makes us fetch them again (the provider rotated), but the same
# missing kid at most this often: a broken provider must not make us hammer it.
JWKS_REFETCH_INTERVAL = 10.0
# Bigger answers are not what a provider sends; reading stops there.
MAX_RESPONSE_BYTES = 1024 * 1024
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Metadata:
    """The parts of the discovery document the flow uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    # How the token endpoint wants the client secret: "basic" (the default) or "post".
    token_auth: str


class Provider:
    def __init__(self, *, issuer: str, client_id: str, client_secret: str, name: str,
                 timeout: float = 10.0):
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.name = name
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._metadata: Metadata | None = None
        self._metadata_at = float("-inf")
        self._jwks: list[dict] = []
        self._jwks_at = float("-inf")
        self._missing: dict[str, float] = {}  # kid not found after a fetch → when
        # Only one discovery or key fetch at a time; the others wait for its result.
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def metadata(self) -> Metadata:
        async with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_at > METADATA_TTL:
                self._metadata = await self._discover()
                self._metadata_at = time.monotonic()
            return self._metadata

    async def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> str:
        """The ID token the token endpoint gives for an authorization code."""
        meta = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": verifier}
        headers = {"Accept": "application/json"}
        if meta.token_auth == "post":
            form.update(client_id=self.client_id, client_secret=self.client_secret)
        else:  # RFC 6749 2.3.1: both parts form-encoded before Basic
            pair = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        status, body = await self._request("POST", meta.token_endpoint, data=form,
                                           headers=headers)
        if status != 200:
            error = body if isinstance(body, dict) else {}
            raise OidcError("token_endpoint_error", _clip(
                f"HTTP {status} {error.get('error', '')}: {error.get('error_description', '')}"))
        token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise OidcError("provider_bad_response", "the token endpoint sent no id_token")
        return token

    async def verify(self, token: str, nonce: str) -> idtoken.Identity:
        meta = await self.metadata()
        alg, kid = idtoken.header(token)
        key = await self._signing_key(alg, kid)
        return idtoken.verify(token, key, alg, issuers=(meta.issuer,) + _ISSUER_ALIASES.get(
            meta.issuer, ()), audience=self.client_id, nonce=nonce,
            canonical_issuer=meta.issuer)

    async def _signing_key(self, alg: str, kid: str | None):
        meta = await self.metadata()
        async with self._lock:
            now = time.monotonic()
            key = idtoken.pick_key(self._jwks, alg, kid) \
                if now - self._jwks_at <= METADATA_TTL else None
            missed = self._missing.get(f"{alg}:{kid}", float("-inf"))
            if key is None and now - missed >= JWKS_REFETCH_INTERVAL:
                self._jwks = await self._fetch_jwks(meta.jwks_uri)
                self._jwks_at = time.monotonic()
                key = idtoken.pick_key(self._jwks, alg, kid)
                if key is None:
                    if len(self._missing) > 100:
                        self._missing.clear()
                    self._missing[f"{alg}:{kid}"] = self._jwks_at
        if key is None:
            raise OidcError("token_unknown_key", f"no {alg} key with kid {kid!r} in the JWKS")
        return key

    async def _discover(self) -> Metadata:
        url = self.issuer + "/.well-known/openid-configuration"
        status, doc = await self._request("GET", url)
        if status != 200 or not isinstance(doc, dict):
            raise OidcError("provider_bad_response", f"{url} answered HTTP {status}")
        if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
            raise OidcError("provider_bad_response",
                            _clip(f"the discovery document names issuer {doc.get('issuer')!r}"))
        endpoints = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = doc.get(name)
            if not isinstance(value, str) or not self._acceptable_url(value):
                raise OidcError("provider_bad_response", _clip(f"{name} is {value!r}"))
            endpoints[name] = value
        methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        auth = "basic" if "client_secret_basic" in methods or "client_secret_post" not in \
            methods else "post"
        return Metadata(issuer=doc["issuer"], token_auth=auth, **endpoints)

    def _acceptable_url(self, url: str) -> bool:
        """https, or http only when the issuer itself is plain http on this machine."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if not parts.hostname:
            return False
        if parts.scheme == "https":
            return True
        return parts.scheme == "http" and urlsplit(self.issuer).scheme == "http" \
            and parts.hostname in _LOOPBACK

    async def _fetch_jwks(self, url: str) -> list[dict]:
        status, doc = await self._request("GET", url)
        keys = doc.get("keys") if isinstance(doc, dict) else None
        if status != 200 or not isinstance(keys, list):
            raise OidcError("provider_bad_response", f"{url} answered HTTP {status} without keys")
        return [k for k in keys if isinstance(k, dict)]

    async def _request(self, method: str, url: str, **kw) -> tuple[int, object]:
        """(status, parsed JSON or None) of one call, or OidcError saying what went wrong."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._session.request(method, url, allow_redirects=False, **kw) as resp:
                body = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise OidcError("provider_bad_response", f"{url} sent over 1 MiB")
                status = resp.status
        except asyncio.TimeoutError:
            raise OidcError("provider_timeout",
                            f"{method} {url} got no answer within {self.timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise OidcError("provider_unreachable", _clip(f"{method} {url}: {exc}")) from None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, None


def _clip(text: str, limit: int = 300) -> str:
    """Provider-controlled text bound for the log: short and on one line."""
    return " ".join(text.split())[:limit]
