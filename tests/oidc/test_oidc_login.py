"""Signing in to the panel through an OpenID Connect provider started by the tests.

Every refusal is checked for what the person sees, what the log says and that nobody
was signed in or created; the happy paths check who was signed in and what was linked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re

import aiohttp
import jwt
import pytest
from yarl import URL

from chatiq import keys
from chatiq.app import create_app
from chatiq.panel.session import COOKIE_NAME
from chatiq.store import accounts, invitations
from conftest import ChatHelper
from oidc_provider import CLIENT_ID, idp, new_rsa_key, s256  # noqa: F401  (idp: fixture)

CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


@pytest.fixture
def config(config, idp):
    return idp.configure(config)


class Browser:
    """One browser's cookies, following the redirects of a sign-in one hop at a time."""

    def __init__(self, base: str, lang: str = "en"):
        self.base = base.rstrip("/")
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             headers={"Accept-Language": lang})

    async def get(self, url: str):
        url = url if url.startswith("http") else self.base + url
        async with self.session.get(url, allow_redirects=False) as resp:
            return resp, await resp.text()

    async def start(self, path: str = "/admin/oidc/start") -> str:
        """The provider URL the panel sends the browser to."""
        resp, text = await self.get(path)
        assert resp.status == 302, text
        return resp.headers["Location"]

    async def at_provider(self, url: str) -> str:
        """The callback URL the provider sends the browser back to."""
        resp, text = await self.get(url)
        assert resp.status == 302, text
        return resp.headers["Location"]

    async def sign_in(self, path: str = "/admin/oidc/start"):
        return await self.get(await self.at_provider(await self.start(path)))

    async def page_user(self) -> str | None:
        """Who the panel says is signed in (their email on the chats page), if anyone."""
        resp, text = await self.get("/admin/chats")
        return None if resp.status != 200 else text

    def cookie(self) -> str | None:
        found = self.session.cookie_jar.filter_cookies(URL(self.base)).get(COOKIE_NAME)
        return found.value if found else None


@pytest.fixture
async def browsers(client):
    made = []

    def make(lang: str = "en") -> Browser:
        made.append(Browser(str(client.make_url("/")), lang))
        return made[-1]

    yield make
    for b in made:
        await b.session.close()


@pytest.fixture
def pool(client):
    return client.server.app[keys.POOL]


async def _owner(chat, pool, email: str = "olena@example.com"):
    await chat.register(email=email)
    return await accounts.user_by_email(pool, email)


def _identities(sql):
    return sql("SELECT user_id, issuer, subject, email FROM user_identities ORDER BY id")


async def _refused(browser: Browser, status: int, reason: str, text_part: str, caplog,
                   path: str = "/admin/oidc/start"):
    """Run a sign-in that must fail: the page, the log line, and nobody signed in."""
    with caplog.at_level(logging.WARNING, logger="chatiq.oidc.pages"):
        resp, text = await browser.sign_in(path)
    assert resp.status == status, text
    assert f'data-reason="{reason}"' in text and text_part in text, text
    assert f"oidc sign-in refused ({reason})" in caplog.text
    assert await browser.page_user() is None
    return text


# --- the happy paths ----------------------------------------------------------------

async def test_the_login_page_offers_the_provider(browsers):
    resp, text = await browsers().get("/admin/login?next=/admin/sites")
    assert resp.status == 200
    assert "Sign in with Local ID" in text
    assert 'href="/admin/oidc/start?next=/admin/sites"' in text
    _, uk = await browsers("uk").get("/admin/login")
    assert "Увійти через Local ID" in uk


async def test_without_a_provider_there_is_no_button_and_no_route(aiohttp_client, config):
    plain = await aiohttp_client(create_app(dataclasses.replace(config, oidc_issuer=None)))
    text = await (await plain.get("/admin/login")).text()
    assert "Sign in with" not in text and "oidc" not in text
    for path in ("/admin/oidc/start", "/admin/oidc/callback?state=x&code=y"):
        assert (await plain.get(path, allow_redirects=False)).status == 404


async def test_an_operator_signs_in_and_the_account_is_linked(browsers, chat, pool, idp, sql):
    owner = await _owner(chat, pool)
    b = browsers()
    resp, _ = await b.sign_in()
    assert resp.status == 302 and resp.headers["Location"] == "/admin/chats"
    assert "olena@example.com" in (await b.page_user() or "")
    assert _identities(sql) == [(owner.id, idp.issuer, "1001", "olena@example.com")]
    # The next time the account is found by its subject, even with another email there.
    idp.account["email"] = "olena.new@example.com"
    again = browsers()
    resp, _ = await again.sign_in()
    assert resp.status == 302 and "olena@example.com" in (await again.page_user() or "")
    assert len(_identities(sql)) == 1


async def test_the_flow_uses_pkce_s256_state_nonce_and_basic_client_auth(browsers, chat, pool,
                                                                         idp):
    await _owner(chat, pool)
    resp, _ = await browsers().sign_in()
    assert resp.status == 302
    [asked] = idp.authorize_requests
    [exchanged] = idp.token_requests
    assert asked["code_challenge_method"] == "S256"
    assert s256(exchanged["code_verifier"]) == asked["code_challenge"]
    assert 43 <= len(exchanged["code_verifier"]) <= 128
    assert len(asked["state"]) >= 40 and len(asked["nonce"]) >= 40
    assert asked["state"] != asked["nonce"]
    assert exchanged["auth"] == "basic" and "client_secret" not in exchanged
    assert exchanged["redirect_uri"] == asked["redirect_uri"]
    assert asked["redirect_uri"].endswith("/admin/oidc/callback")


async def test_client_secret_post_when_the_provider_only_takes_that(browsers, chat, pool, idp):
    await _owner(chat, pool)
    idp.discovery["token_endpoint_auth_methods_supported"] = ["client_secret_post"]
    resp, _ = await browsers().sign_in()
    assert resp.status == 302
    assert idp.token_requests[0]["auth"] == "post"
    assert idp.token_requests[0]["client_id"] == CLIENT_ID


async def test_signing_in_rotates_the_session_like_the_password_form(browsers, chat, pool):
    await _owner(chat, pool)
    b = browsers()
    _, page = await b.get("/admin/login")
    before_cookie, before_csrf = b.cookie(), CSRF.search(page).group(1)
    resp, _ = await b.sign_in()
    assert resp.status == 302
    text = await b.page_user()
    assert b.cookie() != before_cookie
    assert CSRF.search(text).group(1) != before_csrf
    # The cookie from before the sign-in is worth nothing now.
    stale = Browser(b.base)
    try:
        stale.session.cookie_jar.update_cookies({COOKIE_NAME: before_cookie}, URL(b.base))
        assert await stale.page_user() is None
    finally:
        await stale.session.close()


async def test_next_is_followed_only_inside_the_panel(browsers, chat, pool):
    await _owner(chat, pool)
    resp, _ = await browsers().sign_in("/admin/oidc/start?next=/admin/sites")
    assert resp.headers["Location"] == "/admin/sites"
    resp, _ = await browsers().sign_in("/admin/oidc/start?next=https://evil.example/")
    assert resp.headers["Location"] == "/admin/chats"


async def test_an_invited_operator_joins_through_the_provider(browsers, chat, pool, sql, idp):
    owner = await _owner(chat, pool)
    await invitations.invite_operator(pool, org_id=owner.org_id, email="ivan@example.com",
                                      name="Ivan", token="invite-token-1", invited_by=owner.id)
    idp.account.update(sub="2002", email="Ivan@Example.com")
    b = browsers()
    resp, _ = await b.sign_in()
    assert resp.status == 302
    assert "ivan@example.com" in (await b.page_user() or "")
    ivan = await accounts.user_by_email(pool, "ivan@example.com")
    assert ivan.org_id == owner.org_id and ivan.role == "OPERATOR"
    assert ivan.password_hash is not None  # joined, with a password nobody knows
    assert sql("SELECT used_at IS NOT NULL FROM invitations WHERE user_id = %s",
               (ivan.id,)) == [(True,)]
    assert (ivan.id, idp.issuer, "2002", "ivan@example.com") in _identities(sql)
    # The link in the invitation email is spent too.
    resp, _ = await browsers().get("/admin/invite/invite-token-1")
    assert resp.status == 404


# --- refusals ------------------------------------------------------------------------

async def test_an_email_nobody_uses_is_refused_and_creates_nobody(browsers, chat, pool, sql,
                                                                  idp, caplog):
    await _owner(chat, pool)
    idp.account.update(sub="3003", email="stranger@example.com")
    await _refused(browsers(), 403, "no_account", "Ask an owner of your organization", caplog)
    assert sql("SELECT count(*) FROM users") == [(1,)]
    assert _identities(sql) == []


async def test_an_expired_invitation_lets_nobody_in(browsers, chat, pool, sql, idp, caplog):
    owner = await _owner(chat, pool)
    await invitations.invite_operator(pool, org_id=owner.org_id, email="ivan@example.com",
                                      name="Ivan", token="invite-token-2", invited_by=owner.id)
    sql("UPDATE invitations SET expires_at = now() - interval '1 minute'")
    idp.account.update(sub="2002", email="ivan@example.com")
    await _refused(browsers(), 403, "no_invitation", "invitation has expired", caplog)
    assert sql("SELECT password_hash FROM users WHERE email = 'ivan@example.com'") == [(None,)]
    assert _identities(sql) == []


async def test_a_used_invitation_lets_nobody_in(browsers, chat, pool, sql, idp, caplog):
    owner = await _owner(chat, pool)
    await invitations.invite_operator(pool, org_id=owner.org_id, email="ivan@example.com",
                                      name="Ivan", token="invite-token-3", invited_by=owner.id)
    sql("UPDATE invitations SET used_at = now()")
    idp.account.update(sub="2002", email="ivan@example.com")
    await _refused(browsers(), 403, "no_invitation", "invitation has expired", caplog)
    assert _identities(sql) == []


@pytest.mark.parametrize("verified", [False, "false", None])
async def test_an_unverified_email_is_refused(browsers, chat, pool, sql, idp, caplog, verified):
    await _owner(chat, pool)
    idp.account["email_verified"] = verified
    await _refused(browsers(), 403, "email_unverified", "has not verified the email", caplog)
    assert _identities(sql) == []


async def test_a_second_provider_account_cannot_take_over_a_linked_user(browsers, chat, pool,
                                                                        sql, idp, caplog):
    owner = await _owner(chat, pool)
    assert (await browsers().sign_in())[0].status == 302
    idp.account["sub"] = "9999"  # the same address, now another account at the provider
    await _refused(browsers(), 409, "already_linked", "already linked", caplog)
    assert _identities(sql) == [(owner.id, idp.issuer, "1001", "olena@example.com")]


async def test_a_token_signed_with_another_key_is_refused(browsers, chat, pool, sql, idp,
                                                          caplog):
    await _owner(chat, pool)
    idp.sign_with = new_rsa_key()  # same kid, same claims, the wrong private key
    await _refused(browsers(), 401, "token_signature", "could not be verified", caplog)
    assert _identities(sql) == []


@pytest.mark.parametrize("claims, reason", [
    ({"iss": "https://evil.example"}, "token_issuer"),
    ({"aud": "someone-else"}, "token_audience"),
    ({"aud": [CLIENT_ID, "someone-else"]}, "token_audience"),  # several, and no azp
    ({"exp": 1_000_000_000, "iat": 999_999_000}, "token_expired"),
    ({"iat": 4_000_000_000, "exp": 4_000_000_300}, "token_not_yet_valid"),
    ({"nonce": "not-the-nonce-we-sent"}, "token_nonce"),
    ({"nonce": None}, "token_nonce"),
    ({"exp": None}, "token_claims"),
    ({"email": None}, "email_missing"),
])
async def test_a_token_failing_a_check_is_refused(browsers, chat, pool, sql, idp, caplog,
                                                  claims, reason):
    await _owner(chat, pool)
    idp.claims = claims
    status = 403 if reason.startswith("email") else 401
    await _refused(browsers(), status, reason, "", caplog)
    assert _identities(sql) == []


async def test_a_token_with_an_unknown_kid_refetches_the_keys_once(browsers, chat, pool, idp,
                                                                   caplog):
    await _owner(chat, pool)
    idp.header = {"kid": "never-published"}
    await _refused(browsers(), 401, "token_unknown_key", "could not be verified", caplog)
    fetched = idp.hits["/jwks"]
    # Another forged kid right after does not make the server ask the provider again.
    await _refused(browsers(), 401, "token_unknown_key", "could not be verified", caplog)
    assert idp.hits["/jwks"] == fetched == 1


async def test_rotated_provider_keys_are_fetched_again(browsers, chat, pool, idp):
    await _owner(chat, pool)
    assert (await browsers().sign_in())[0].status == 302
    assert idp.hits["/jwks"] == 1 and idp.hits["/.well-known/openid-configuration"] == 1
    idp.rotate()
    assert (await browsers().sign_in())[0].status == 302
    assert idp.hits["/jwks"] == 2 and idp.hits["/.well-known/openid-configuration"] == 1


async def test_an_es256_token_is_accepted(browsers, chat, pool, idp):
    await _owner(chat, pool)
    idp.kid = "ec-1"
    assert (await browsers().sign_in())[0].status == 302


@pytest.mark.parametrize("alg", ["HS256", "none"])
async def test_symmetric_and_unsigned_tokens_are_refused(browsers, chat, pool, idp, caplog,
                                                         alg, monkeypatch):
    await _owner(chat, pool)

    def forged(nonce, **claims):
        body = {"iss": idp.issuer, "aud": CLIENT_ID, "iat": 1, "exp": 4_000_000_000,
                "nonce": nonce, **idp.account}
        secret = "a secret the attacker knows, 32+ bytes" if alg == "HS256" else None
        return jwt.encode(body, secret, algorithm=alg, headers={"kid": idp.kid})

    monkeypatch.setattr(idp, "id_token", forged)
    await _refused(browsers(), 401, "token_algorithm", "could not be verified", caplog)


async def test_a_replayed_callback_is_refused(browsers, chat, pool, caplog):
    await _owner(chat, pool)
    b = browsers()
    callback = await b.at_provider(await b.start())
    resp, _ = await b.get(callback)
    assert resp.status == 302
    with caplog.at_level(logging.WARNING, logger="chatiq.oidc.pages"):
        resp, text = await browsers().get(callback)  # someone who got hold of the URL
        assert resp.status == 400 and 'data-reason="state_unknown"' in text
        resp, text = await b.get(callback)  # and the same browser, again
        assert resp.status == 400 and 'data-reason="state_unknown"' in text
    assert caplog.text.count("oidc sign-in refused (state_unknown)") == 2


async def test_a_callback_from_another_browsers_sign_in_is_refused(browsers, chat, pool, caplog,
                                                                   sql):
    """Login CSRF: an attacker's own callback URL, opened in the victim's browser."""
    await _owner(chat, pool)
    attacker, victim = browsers(), browsers()
    callback = await attacker.at_provider(await attacker.start())
    await victim.start()  # even with a sign-in of its own under way
    with caplog.at_level(logging.WARNING, logger="chatiq.oidc.pages"):
        resp, text = await victim.get(callback)
    assert resp.status == 400 and 'data-reason="state_mismatch"' in text
    assert await victim.page_user() is None
    # The attacker's state was spent on the way: it cannot be used afterwards either.
    resp, _ = await attacker.get(callback)
    assert resp.status == 400
    assert _identities(sql) == []


@pytest.mark.parametrize("query, reason", [
    ("code=abc", "state_missing"),
    ("code=abc&state=", "state_missing"),
    ("code=abc&state=made-up-state", "state_unknown"),
    ("code=abc&state=" + "x" * 5000, "state_unknown"),
])
async def test_a_missing_or_unknown_state_is_refused(browsers, chat, pool, caplog, query, reason,
                                                     idp):
    await _owner(chat, pool)
    b = browsers()
    await b.start()
    with caplog.at_level(logging.WARNING, logger="chatiq.oidc.pages"):
        resp, text = await b.get("/admin/oidc/callback?" + query)
    assert resp.status == 400 and f'data-reason="{reason}"' in text
    assert "expired, was already used" in text
    assert f"oidc sign-in refused ({reason})" in caplog.text
    assert idp.token_requests == []  # nothing was exchanged


async def test_an_abandoned_sign_in_expires(browsers, chat, pool, sql):
    await _owner(chat, pool)
    b = browsers()
    callback = await b.at_provider(await b.start())
    sql("UPDATE oidc_logins SET expires_at = now() - interval '1 second'")
    resp, text = await b.get(callback)
    assert resp.status == 400 and 'data-reason="state_unknown"' in text
    # Starting a new one sweeps the dead rows away.
    await browsers().start()
    assert sql("SELECT count(*) FROM oidc_logins WHERE expires_at <= now()") == [(0,)]


async def test_a_callback_without_a_code_is_refused(browsers, chat, pool, idp):
    await _owner(chat, pool)
    b = browsers()
    callback = URL(await b.at_provider(await b.start()))
    resp, text = await b.get(str(callback.with_query(state=callback.query["state"])))
    assert resp.status == 400 and 'data-reason="code_missing"' in text
    assert idp.token_requests == []


async def test_the_person_saying_no_at_the_provider(browsers, chat, pool, idp, caplog):
    await _owner(chat, pool)
    idp.deny = "access_denied"
    text = await _refused(browsers(), 403, "provider_denied", "did not allow", caplog)
    assert "access_denied: The user said no" in caplog.text
    assert "The user said no" not in text  # provider text goes to the log only


@pytest.mark.parametrize("answer", [
    (400, {"error": "invalid_grant", "error_description": "code was already redeemed"}),
    (500, "<html>Internal error</html>"),
])
async def test_a_token_endpoint_error_is_refused(browsers, chat, pool, idp, caplog, answer):
    await _owner(chat, pool)
    idp.token_answer = answer
    await _refused(browsers(), 502, "token_endpoint_error", "could not be verified", caplog)
    assert f"HTTP {answer[0]}" in caplog.text


async def test_a_token_answer_without_an_id_token_is_refused(browsers, chat, pool, idp, caplog):
    await _owner(chat, pool)
    idp.token_answer = (200, {"access_token": "x", "token_type": "Bearer"})
    await _refused(browsers(), 502, "provider_bad_response", "could not be reached", caplog)


async def test_a_provider_that_is_down_at_the_start(browsers, idp, caplog):
    await idp.stop()
    b = browsers()
    with caplog.at_level(logging.WARNING, logger="chatiq.oidc.pages"):
        resp, text = await b.get("/admin/oidc/start")
    assert resp.status == 502 and 'data-reason="provider_unreachable"' in text
    assert "Local ID could not be reached" in text
    assert "oidc sign-in refused (provider_unreachable)" in caplog.text


async def test_a_provider_that_goes_down_before_the_code_exchange(browsers, chat, pool, idp,
                                                                  caplog):
    await _owner(chat, pool)
    b = browsers()
    callback = await b.at_provider(await b.start())
    await idp.stop()
    with caplog.at_level(logging.WARNING, logger="chatiq.oidc.pages"):
        resp, text = await b.get(callback)
    assert resp.status == 502 and 'data-reason="provider_unreachable"' in text
    assert await b.page_user() is None


@pytest.fixture
async def impatient(aiohttp_client, config):
    """The app with a half-second limit on each call to the provider."""
    return await aiohttp_client(create_app(dataclasses.replace(config, oidc_timeout_seconds=0.5)))


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/token", "/jwks"])
async def test_a_provider_that_does_not_answer_in_time(impatient, idp, caplog, path):
    helper = ChatHelper(impatient.session, str(impatient.make_url("/")))
    await helper.register(email="olena@example.com")
    idp.delays[path] = 3.0
    b = Browser(str(impatient.make_url("/")))
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        with caplog.at_level(logging.WARNING, logger="chatiq.oidc.pages"):
            if path.startswith("/.well-known"):
                resp, text = await b.get("/admin/oidc/start")
            else:
                resp, text = await b.sign_in()
        assert resp.status == 504 and 'data-reason="provider_timeout"' in text
        assert loop.time() - began < 2.5
        assert "got no answer within 0.5s" in caplog.text
        assert await b.page_user() is None
    finally:
        await b.session.close()


@pytest.mark.parametrize("change", [
    {"issuer": "https://impostor.example"},
    {"token_endpoint": "http://203.0.113.5/token"},  # plain http off this machine
    {"jwks_uri": None},
])
async def test_a_discovery_document_that_does_not_fit_is_refused(browsers, idp, caplog, change):
    idp.discovery = change
    with caplog.at_level(logging.WARNING, logger="chatiq.oidc.pages"):
        resp, text = await browsers().get("/admin/oidc/start")
    assert resp.status == 502 and 'data-reason="provider_bad_response"' in text
    assert idp.authorize_requests == []


async def test_starting_is_limited_per_address(browsers, idp, sql):
    b = browsers()
    for _ in range(30):
        resp, _ = await b.get("/admin/oidc/start")
        assert resp.status == 302
    resp, text = await b.get("/admin/oidc/start")
    assert resp.status == 429 and 'data-reason="rate_limited"' in text
    assert sql("SELECT count(*) FROM oidc_logins") == [(30,)]


async def test_refusals_speak_ukrainian_too(browsers, chat, pool, idp):
    await _owner(chat, pool)
    idp.account.update(sub="3003", email="stranger@example.com")
    resp, text = await browsers("uk").sign_in()
    assert resp.status == 403
    assert "Не вдалося увійти через Local ID" in text
    assert "Попросіть власника вашої організації" in text
    assert "Назад до входу" in text


async def test_provider_text_in_the_log_is_one_short_line(browsers, chat, pool, idp, caplog):
    await _owner(chat, pool)
    idp.token_answer = (400, {"error": "invalid_grant\nFAKE LOG LINE",
                              "error_description": "x" * 5000})
    await _refused(browsers(), 502, "token_endpoint_error", "", caplog)
    [line] = [r.getMessage() for r in caplog.records if "token_endpoint_error" in r.getMessage()]
    assert "\n" not in line and len(line) < 500


# --- the audit log -------------------------------------------------------------------

def _audit(sql):
    return sql("SELECT org_id, actor_id, actor_email, action, details->>'via',"
               " details->>'how', details->>'reason' FROM audit_log"
               " WHERE details->>'via' = 'oidc' ORDER BY id")


async def test_sign_ins_are_in_the_audit_log(browsers, chat, pool, sql, idp):
    owner = await _owner(chat, pool)
    await invitations.invite_operator(pool, org_id=owner.org_id, email="ivan@example.com",
                                      name="Ivan", token="invite-token-4", invited_by=owner.id)
    assert (await browsers().sign_in())[0].status == 302
    assert (await browsers().sign_in())[0].status == 302
    idp.account.update(sub="2002", email="ivan@example.com")
    assert (await browsers().sign_in())[0].status == 302
    ivan = await accounts.user_by_email(pool, "ivan@example.com")
    assert _audit(sql) == [
        (owner.org_id, owner.id, owner.email, "auth.login", "oidc", "linked", None),
        (owner.org_id, owner.id, owner.email, "auth.login", "oidc", "known", None),
        (owner.org_id, ivan.id, ivan.email, "user.invitation_accepted", "oidc", "joined", None)]


async def test_refusals_are_in_the_audit_log(browsers, chat, pool, sql, idp):
    owner = await _owner(chat, pool)
    idp.account["email_verified"] = False
    await browsers().sign_in()
    idp.account.update(email_verified=True, sub="3003", email="stranger@example.com")
    await browsers().sign_in()
    idp.account.update(sub="1001", email="olena@example.com")
    assert (await browsers().sign_in())[0].status == 302
    idp.account["sub"] = "9999"
    await browsers().sign_in()
    failed = [row for row in _audit(sql) if row[3] == "auth.login_failed"]
    assert failed == [
        (None, None, None, "auth.login_failed", "oidc", None, "email_unverified"),
        (None, None, "stranger@example.com", "auth.login_failed", "oidc", None, "no_account"),
        (owner.org_id, owner.id, "olena@example.com", "auth.login_failed", "oidc", None,
         "already_linked")]
