"""Checking an ID token: signature (RS256/ES256 from the provider's JWKS), issuer,
audience, expiry, issue time, nonce and a verified email. No I/O: keys come in."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from collections.abc import Collection

import jwt

from chatiq.oidc.errors import OidcError

# Asymmetric only: with HS256 the "key" would be the public JWKS, i.e. anyone could sign.
ALGORITHMS = ("RS256", "ES256")
# The JWK key type each algorithm needs; a key of another type is never tried.
_KEY_TYPES = {"RS256": ("RSA", None), "ES256": ("EC", "P-256")}
# Seconds of clock difference forgiven between the provider and us.
LEEWAY = 60
_MAX_TOKEN = 16 * 1024


@dataclass(frozen=True)
class Identity:
    """Who the provider vouches for: its issuer and stable subject, and a verified email."""

    issuer: str
    subject: str
    email: str
    name: str


def header(token: str) -> tuple[str, str | None]:
    """(alg, kid) from the unverified header, refusing any algorithm but ours."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN:
        raise OidcError("token_malformed", "the ID token is not a string of sane length")
    try:
        head = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise OidcError("token_malformed", str(exc)) from None
    alg, kid = head.get("alg"), head.get("kid")
    if alg not in ALGORITHMS:
        raise OidcError("token_algorithm", f"alg {alg!r} is not one of {', '.join(ALGORITHMS)}")
    if kid is not None and not isinstance(kid, str):
        raise OidcError("token_malformed", "kid is not a string")
    return alg, kid


def pick_key(jwks: list[dict], alg: str, kid: str | None) -> jwt.PyJWK | None:
    """The signing key for (alg, kid) in a JWKS; without a kid, only an unambiguous one."""
    kty, crv = _KEY_TYPES[alg]
    fits = [k for k in jwks if isinstance(k, dict) and k.get("kty") == kty
            and (crv is None or k.get("crv") == crv) and k.get("use", "sig") == "sig"
            and k.get("alg", alg) == alg and (kid is None or k.get("kid") == kid)]
    if len(fits) != 1:
        return None
    try:
        return jwt.PyJWK(fits[0], algorithm=alg)
    except jwt.PyJWTError:
        return None


def verify(token: str, key: jwt.PyJWK, alg: str, *, issuers: Collection[str], audience: str,
           nonce: str, canonical_issuer: str) -> Identity:
    """The identity in a token signed by `key`, or OidcError naming the first check failed."""
    try:
        claims = jwt.decode(token, key.key, algorithms=[alg], audience=audience,
                            issuer=list(issuers), leeway=LEEWAY,
                            options={"require": ["iss", "sub", "aud", "exp", "iat"]})
    except jwt.ExpiredSignatureError:
        raise OidcError("token_expired", "the ID token has expired") from None
    except jwt.ImmatureSignatureError as exc:
        raise OidcError("token_not_yet_valid", str(exc)) from None
    except jwt.InvalidAudienceError as exc:
        raise OidcError("token_audience", str(exc)) from None
    except jwt.InvalidIssuerError as exc:
        raise OidcError("token_issuer", str(exc)) from None
    except jwt.InvalidSignatureError:
        raise OidcError("token_signature", "the signature does not match the provider's key") \
            from None
    except jwt.MissingRequiredClaimError as exc:
        raise OidcError("token_claims", str(exc)) from None
    except jwt.PyJWTError as exc:
        raise OidcError("token_malformed", str(exc)) from None
    # Several audiences: the token must say it was issued to us (OIDC Core 3.1.3.7).
    if isinstance(claims["aud"], list) and len(claims["aud"]) > 1 \
            and claims.get("azp") != audience:
        raise OidcError("token_audience", "several audiences and azp is not our client id")
    got = claims.get("nonce")
    if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
        raise OidcError("token_nonce", "the nonce is not the one this sign-in sent")
    return _identity(claims, canonical_issuer)


def _identity(claims: dict, issuer: str) -> Identity:
    subject, email, name = claims.get("sub"), claims.get("email"), claims.get("name")
    if not isinstance(subject, str) or not 0 < len(subject) <= 255:
        raise OidcError("token_claims", "sub is not a string of 1 to 255 characters")
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        raise OidcError("email_missing", "the token carries no usable email address")
    # Some providers send the string "true"; anything else (absent, false) is unverified.
    if claims.get("email_verified") not in (True, "true"):
        raise OidcError("email_unverified", f"the provider has not verified {email}")
    return Identity(issuer=issuer, subject=subject, email=email.strip().lower(),
                    name=name.strip()[:100] if isinstance(name, str) else "")
