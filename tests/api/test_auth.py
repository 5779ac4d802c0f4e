"""Register, login, logout and token checks over REST."""

import time

import jwt
import pytest


async def test_register_creates_org_and_owner(chat, sql):
    token, user = await chat.register(email="Olena@Example.com", organization="Acme")
    assert user["role"] == "OWNER" and user["email"] == "olena@example.com"
    assert sql("SELECT name FROM organizations") == [("Acme",)]
    (hashed,) = sql("SELECT password_hash FROM users")[0]
    assert hashed.startswith("$2b$") and "correct horse" not in hashed
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 3600


@pytest.mark.parametrize("body,status,field", [
    ({"email": "bad", "password": "long enough", "name": "a", "organization": "o"}, 422, "email"),
    ({"email": "a@b.example", "password": "short", "name": "a", "organization": "o"}, 422, "password"),
    ({"email": "a@b.example", "password": "long enough", "name": "", "organization": "o"}, 422, "name"),
    ({"email": "a@b.example", "password": "long enough", "name": "a"}, 422, "organization"),
    ({"email": ["a@b.example"], "password": "long enough", "name": "a", "organization": "o"}, 422, "email"),
    ({"email": "a@b.example", "password": "x" * 300, "name": "a", "organization": "o"}, 413, "password"),
])
async def test_register_bad_input_stores_nothing(chat, sql, body, status, field):
    code, reply = await chat.call("POST", "/api/v1/auth/register", json=body)
    assert code == status and reply["error"]["field"] == field
    assert sql("SELECT count(*) FROM users")[0][0] == 0
    assert sql("SELECT count(*) FROM organizations")[0][0] == 0


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b"\xff\xfe", b'"str"'])
async def test_malformed_json_body(chat, raw):
    code, reply = await chat.call("POST", "/api/v1/auth/register", data=raw,
                                  headers={"Content-Type": "application/json"})
    assert code == 400 and reply["error"]["code"] == "bad_json"


async def test_oversize_body(chat):
    code, reply = await chat.call("POST", "/api/v1/auth/login", data=b"{" + b" " * 300_000 + b"}",
                                  headers={"Content-Type": "application/json"})
    assert code == 413 and reply["error"]["code"] == "too_large"


async def test_duplicate_email_conflicts(chat, sql):
    await chat.register(email="dup@example.com")
    code, reply = await chat.call("POST", "/api/v1/auth/register", json={
        "email": "DUP@example.com", "password": "long enough", "name": "b", "organization": "o"})
    assert code == 409 and reply["error"]["code"] == "conflict"
    assert sql("SELECT count(*) FROM organizations")[0][0] == 1


async def test_login(chat):
    await chat.register(email="op@example.com", password="right password")
    code, ok = await chat.call("POST", "/api/v1/auth/login",
                               json={"email": "op@example.com", "password": "right password"})
    assert code == 200 and ok["user"]["email"] == "op@example.com" and ok["token"]
    code, bad = await chat.call("POST", "/api/v1/auth/login",
                                json={"email": "op@example.com", "password": "wrong password"})
    assert code == 401 and bad["error"]["code"] == "unauthorized"
    code, nobody = await chat.call("POST", "/api/v1/auth/login",
                                   json={"email": "nobody@example.com", "password": "whatever1"})
    assert code == 401 and nobody["error"]["message"] == bad["error"]["message"]


async def test_login_is_rate_limited_per_account(chat):
    await chat.register(email="target@example.com")
    codes = []
    for _ in range(15):
        code, reply = await chat.call("POST", "/api/v1/auth/login",
                                      json={"email": "target@example.com", "password": "guess-guess"})
        codes.append(code)
    assert codes[:10] == [401] * 10 and codes[-1] == 429


async def test_bearer_token_checks(chat, config):
    token, user = await chat.register()
    assert (await chat.call("GET", "/api/v1/auth/me", token))[1]["user"]["id"] == user["id"]
    claims = jwt.decode(token, options={"verify_signature": False})
    expired = jwt.encode({**claims, "exp": int(time.time()) - 1}, config.secret_key, algorithm="HS256")
    forged = jwt.encode(claims, "x" * 40, algorithm="HS256")
    for bad in (expired, forged, "garbage", ""):
        code, reply = await chat.call("GET", "/api/v1/sites", bad)
        assert code == 401 and reply["error"]["code"] == "unauthorized"
    code, _ = await chat.call("GET", "/api/v1/sites", headers={"Authorization": "Basic abc"})
    assert code == 401


async def test_logout_revokes_tokens(chat):
    token, _ = await chat.register()
    assert (await chat.call("POST", "/api/v1/auth/logout", token))[0] == 200
    assert (await chat.call("GET", "/api/v1/auth/me", token))[0] == 401


async def test_long_passphrases_work_and_every_byte_counts(chat):
    """Regression (found by fuzzing): bcrypt ≥ 5 raised on passwords over 72 bytes,
    so such a login answered 500."""
    long = "correct horse battery staple " * 5  # 145 bytes
    await chat.register(email="long@example.com", password=long)
    code, _ = await chat.call("POST", "/api/v1/auth/login",
                              json={"email": "long@example.com", "password": long})
    assert code == 200
    code, _ = await chat.call("POST", "/api/v1/auth/login",
                              json={"email": "long@example.com", "password": long[:-1] + "X"})
    assert code == 401
