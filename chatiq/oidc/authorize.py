"""The first leg of the authorization-code flow: PKCE (S256) and the provider's URL."""

from __future__ import annotations

import base64
import hashlib
import secrets

from yarl import URL

SCOPES = "openid email profile"


def new_verifier() -> str:
    """A PKCE code verifier: 64 URL-safe characters (RFC 7636 allows 43 to 128)."""
    return secrets.token_urlsafe(48)


def challenge(verifier: str) -> str:
    """The S256 challenge for a verifier: base64url(sha256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(endpoint: str, *, client_id: str, redirect_uri: str, state: str,
                      nonce: str, verifier: str) -> str:
    """Where to send the browser; parameters already in the endpoint URL are kept."""
    return str(URL(endpoint).update_query({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": SCOPES, "state": state, "nonce": nonce,
        "code_challenge": challenge(verifier), "code_challenge_method": "S256"}))
