"""The pure parts of OpenID Connect: ID token checks, key choice, PKCE and the
authorization URL, and the CHATIQ_OIDC_* configuration."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from yarl import URL

from chatiq.config import ConfigError, load_config
from chatiq.oidc import authorize, idtoken
from chatiq.oidc.errors import OidcError
from oidc_provider import new_ec_key, new_rsa_key

ISSUER = "https://id.example"
CLIENT = "client-1"
RSA_KEY, EC_KEY = new_rsa_key(), new_ec_key()


def _jwk(private, kid: str, **extra) -> dict:
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return {**ECAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": kid, **extra}
    return {**RSAAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": kid, **extra}


JWKS = [_jwk(RSA_KEY, "r1", use="sig"), _jwk(EC_KEY, "e1")]


def _token(key=RSA_KEY, alg="RS256", kid="r1", **claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": CLIENT, "sub": "s-1", "iat": now, "exp": now + 60,
            "nonce": "n-1", "email": "Olena@Example.com", "email_verified": True,
            "name": "  Olena  ", **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=alg,
                      headers={"kid": kid} if kid else None)


def _check(token: str, nonce: str = "n-1", issuers=(ISSUER,)) -> idtoken.Identity:
    alg, kid = idtoken.header(token)
    key = idtoken.pick_key(JWKS, alg, kid)
    assert key is not None
    return idtoken.verify(token, key, alg, issuers=issuers, audience=CLIENT, nonce=nonce,
                          canonical_issuer=ISSUER)


def _reason(fn, *args, **kw) -> str:
    with pytest.raises(OidcError) as caught:
        fn(*args, **kw)
    return caught.value.reason


def test_a_good_rs256_token_gives_the_identity():
    assert _check(_token()) == idtoken.Identity(issuer=ISSUER, subject="s-1",
                                                email="olena@example.com", name="Olena")


def test_a_good_es256_token_gives_the_identity():
    assert _check(_token(EC_KEY, "ES256", "e1")).subject == "s-1"


def test_googles_schemeless_issuer_is_accepted_under_the_canonical_name():
    identity = _check(_token(iss="accounts.google.com"),
                      issuers=(ISSUER, "accounts.google.com"))
    assert identity.issuer == ISSUER


@pytest.mark.parametrize("claims, reason", [
    ({"iss": "https://other.example"}, "token_issuer"),
    ({"aud": "client-2"}, "token_audience"),
    ({"aud": [CLIENT, "client-2"]}, "token_audience"),
    ({"aud": [CLIENT, "client-2"], "azp": "client-2"}, "token_audience"),
    ({"exp": int(time.time()) - 120}, "token_expired"),
    ({"iat": int(time.time()) + 600, "exp": int(time.time()) + 900}, "token_not_yet_valid"),
    ({"iat": None}, "token_claims"),
    ({"sub": None}, "token_claims"),
    ({"sub": ""}, "token_claims"),
    ({"sub": 12345}, "token_malformed"),
    ({"nonce": "n-2"}, "token_nonce"),
    ({"nonce": 7}, "token_nonce"),
    ({"nonce": None}, "token_nonce"),
    ({"email": None}, "email_missing"),
    ({"email": "no-at-sign"}, "email_missing"),
    ({"email": "a@" + "b" * 300}, "email_missing"),
    ({"email_verified": None}, "email_unverified"),
    ({"email_verified": False}, "email_unverified"),
    ({"email_verified": "yes"}, "email_unverified"),
])
def test_a_token_failing_one_check_says_which(claims, reason):
    assert _reason(_check, _token(**claims)) == reason


def test_several_audiences_pass_when_azp_names_us():
    assert _check(_token(aud=[CLIENT, "client-2"], azp=CLIENT)).subject == "s-1"


def test_email_verified_as_the_string_true_counts():
    assert _check(_token(email_verified="true")).email == "olena@example.com"


def test_a_token_signed_by_another_key_fails_the_signature():
    forged = _token(new_rsa_key())
    assert _reason(_check, forged) == "token_signature"


@pytest.mark.parametrize("token", [
    "", "not.a.jwt", "a" * 20000,
    jwt.encode({"sub": "x"}, None, algorithm="none"),
    jwt.encode({"sub": "x"}, "a shared secret of at least 32 bytes!", algorithm="HS256"),
    jwt.encode({"sub": "x"}, RSA_KEY, algorithm="PS256"),
])
def test_headers_with_other_algorithms_or_garbage_are_refused(token):
    assert _reason(idtoken.header, token) in ("token_malformed", "token_algorithm")


def test_a_non_string_kid_is_malformed():
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'RS256', 'kid': 5})}.{part({'sub': 'x'})}.c2ln"
    assert _reason(idtoken.header, token) == "token_malformed"


def test_keys_are_picked_by_kid_type_and_use():
    assert idtoken.pick_key(JWKS, "RS256", "r1") is not None
    assert idtoken.pick_key(JWKS, "ES256", "e1") is not None
    assert idtoken.pick_key(JWKS, "RS256", "e1") is None  # an EC key never checks RS256
    assert idtoken.pick_key(JWKS, "RS256", "zz") is None
    assert idtoken.pick_key([_jwk(RSA_KEY, "r1", use="enc")], "RS256", "r1") is None
    assert idtoken.pick_key([_jwk(RSA_KEY, "r1", alg="RS512")], "RS256", "r1") is None
    assert idtoken.pick_key([{"kty": "RSA", "kid": "r1", "n": "!!", "e": "AQAB"}],
                            "RS256", "r1") is None
    assert idtoken.pick_key(["junk", 3, None], "RS256", None) is None


def test_without_a_kid_only_an_unambiguous_key_is_used():
    assert idtoken.pick_key(JWKS, "RS256", None) is not None  # the only RSA key
    two = JWKS + [_jwk(new_rsa_key(), "r2")]
    assert idtoken.pick_key(two, "RS256", None) is None


def test_pkce_matches_rfc_7636_appendix_b():
    assert authorize.challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    verifiers = {authorize.new_verifier() for _ in range(50)}
    assert len(verifiers) == 50 and all(43 <= len(v) <= 128 for v in verifiers)


def test_the_authorization_url_keeps_the_endpoints_own_parameters():
    url = URL(authorize.authorization_url(
        "https://id.example/auth?hd=example.com", client_id=CLIENT,
        redirect_uri="https://chat.example/admin/oidc/callback", state="s&x", nonce="n",
        verifier="v" * 43))
    assert url.query["hd"] == "example.com" and url.query["state"] == "s&x"
    assert url.query["code_challenge"] == authorize.challenge("v" * 43)
    assert url.query["code_challenge_method"] == "S256"
    assert url.query["scope"] == "openid email profile"
    assert url.query["redirect_uri"] == "https://chat.example/admin/oidc/callback"


# --- configuration -------------------------------------------------------------------

def _env(**values) -> dict:
    return {"CHATIQ_SECRET_KEY": "k" * 40, **values}


def test_no_issuer_means_no_oidc(tmp_path):
    assert load_config(data_dir=str(tmp_path), env=_env()).oidc_issuer is None


def test_google_is_a_shortcut(tmp_path):
    config = load_config(data_dir=str(tmp_path), env=_env(
        CHATIQ_OIDC_ISSUER="google", CHATIQ_OIDC_CLIENT_ID=" id.apps ",
        CHATIQ_OIDC_CLIENT_SECRET="s3cret"))
    assert config.oidc_issuer == "https://accounts.google.com"
    assert config.oidc_name == "Google" and config.oidc_client_id == "id.apps"
    assert "s3cret" not in repr(config)


def test_any_provider_with_its_name(tmp_path):
    config = load_config(data_dir=str(tmp_path), env=_env(
        CHATIQ_OIDC_ISSUER="https://login.example.org/realms/staff",
        CHATIQ_OIDC_CLIENT_ID="chatiq", CHATIQ_OIDC_CLIENT_SECRET="x",
        CHATIQ_OIDC_NAME="Staff SSO"))
    assert config.oidc_issuer == "https://login.example.org/realms/staff"
    assert config.oidc_name == "Staff SSO"
    unnamed = load_config(data_dir=str(tmp_path), env=_env(
        CHATIQ_OIDC_ISSUER="https://login.example.org", CHATIQ_OIDC_CLIENT_ID="c",
        CHATIQ_OIDC_CLIENT_SECRET="x"))
    assert unnamed.oidc_name == "login.example.org"


@pytest.mark.parametrize("env, says", [
    ({"CHATIQ_OIDC_ISSUER": "google"}, "CHATIQ_OIDC_CLIENT_ID"),
    ({"CHATIQ_OIDC_ISSUER": "google", "CHATIQ_OIDC_CLIENT_ID": "c"}, "CLIENT_SECRET"),
    ({"CHATIQ_OIDC_ISSUER": "http://login.example.org", "CHATIQ_OIDC_CLIENT_ID": "c",
      "CHATIQ_OIDC_CLIENT_SECRET": "x"}, "https://"),
    ({"CHATIQ_OIDC_ISSUER": "login.example.org", "CHATIQ_OIDC_CLIENT_ID": "c",
      "CHATIQ_OIDC_CLIENT_SECRET": "x"}, "https://"),
    ({"CHATIQ_OIDC_ISSUER": "https://[::1", "CHATIQ_OIDC_CLIENT_ID": "c",
      "CHATIQ_OIDC_CLIENT_SECRET": "x"}, "https://"),
    ({"CHATIQ_OIDC_ISSUER": "https://login.example.org/?x=1", "CHATIQ_OIDC_CLIENT_ID": "c",
      "CHATIQ_OIDC_CLIENT_SECRET": "x"}, "https://"),
])
def test_half_or_unsafe_configuration_is_refused_clearly(tmp_path, env, says):
    with pytest.raises(ConfigError) as caught:
        load_config(data_dir=str(tmp_path), env=_env(**env))
    assert says in str(caught.value)


def test_plain_http_is_allowed_on_this_machine_only(tmp_path):
    config = load_config(data_dir=str(tmp_path), env=_env(
        CHATIQ_OIDC_ISSUER="http://127.0.0.1:9000", CHATIQ_OIDC_CLIENT_ID="c",
        CHATIQ_OIDC_CLIENT_SECRET="x"))
    assert config.oidc_issuer == "http://127.0.0.1:9000"
