"""Behind a reverse proxy (issue 16): per-IP limits, the audit log, the visitor's IP and the
Secure cookie see the real client when (and only when) the peer is a trusted proxy."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatiq.app import create_app
from chatiq.config import ConfigError, load_config
from chatiq.core.proxies import parse_trusted
from chatiq.core.ratelimit import JOINS_PER_IP
from conftest import ChatHelper

ROOT = Path(__file__).resolve().parents[2]


async def _app(aiohttp_client, config, trusted: str):
    app = create_app(dataclasses.replace(config, trusted_proxies=parse_trusted(trusted)))
    client = await aiohttp_client(app)
    return ChatHelper(client.session, str(client.make_url("/")))


async def _join(chat: ChatHelper, site_key: str, **headers) -> dict:
    ws = await chat.session.ws_connect(chat.base + "/ws/widget", headers=headers)
    try:
        await ws.send_json({"type": "visitor:join", "ref": "j", "data": {"siteKey": site_key}})
        while True:
            frame = json.loads((await ws.receive(timeout=5)).data)
            if frame.get("ref") == "j":
                return frame
    finally:
        await ws.close()


async def test_without_trusted_proxies_a_spoofed_header_changes_nothing(aiohttp_client, config,
                                                                        sql):
    chat = await _app(aiohttp_client, config, "")
    token, _ = await chat.register()
    site = await chat.create_site(token)
    burst = int(JOINS_PER_IP.burst)
    for n in range(burst):
        frame = await _join(chat, site["siteKey"], **{"X-Forwarded-For": f"203.0.113.{n}"})
        assert frame["type"] == "ack", frame
    refused = await _join(chat, site["siteKey"], **{"X-Forwarded-For": "198.51.100.77",
                                                    "Forwarded": "for=198.51.100.78"})
    assert refused["data"]["code"] == "rate_limited"
    assert {ip for (ip,) in sql("SELECT DISTINCT ip FROM visitors")} == {"127.0.0.1"}
    status, _ = await chat.call("POST", "/api/v1/auth/login", json={
        "email": "x@example.com", "password": "wrong-wrong"},
        headers={"X-Forwarded-For": "203.0.113.200"})
    assert status == 401
    assert sql("SELECT ip FROM audit_log WHERE action = 'auth.login_failed'") == [("127.0.0.1",)]


async def test_trusted_proxy_gives_each_visitor_their_own_limit(aiohttp_client, config, sql):
    chat = await _app(aiohttp_client, config, "127.0.0.1")
    token, _ = await chat.register()
    site = await chat.create_site(token)
    for n in range(100):
        frame = await _join(chat, site["siteKey"], **{"X-Forwarded-For": f"203.0.113.{n}"})
        assert frame["type"] == "ack", (n, frame)
    # One forwarded address is limited as before.
    one = {"X-Forwarded-For": "198.51.100.9"}
    for _ in range(int(JOINS_PER_IP.burst)):
        assert (await _join(chat, site["siteKey"], **one))["type"] == "ack"
    refused = await _join(chat, site["siteKey"], **one)
    assert refused["data"]["code"] == "rate_limited"
    # The visitor rows and the audit log hold the real addresses.
    ips = {ip for (ip,) in sql("SELECT DISTINCT ip FROM visitors")}
    assert "203.0.113.42" in ips and "198.51.100.9" in ips and "127.0.0.1" not in ips
    await chat.call("POST", "/api/v1/auth/login", json={
        "email": "x@example.com", "password": "wrong-wrong"},
        headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.200"})
    assert sql("SELECT ip FROM audit_log WHERE action = 'auth.login_failed'") == [("203.0.113.200",)]


async def test_malformed_header_from_a_trusted_proxy_is_the_peer_not_a_500(aiohttp_client, config,
                                                                           sql):
    chat = await _app(aiohttp_client, config, "127.0.0.1")
    for value in ("garbage", "1.2.3.4, [::1", "\u00e9\u00e9", "1.1.1.1,,, 999.0.0.1"):
        status, body = await chat.call("POST", "/api/v1/auth/login", json={
            "email": "x@example.com", "password": "wrong-wrong"},
            headers={"X-Forwarded-For": value.encode().decode("latin-1"),
                     "X-Forwarded-Proto": "\u00e9".encode().decode("latin-1")})
        assert status == 401, body
    status, _ = await chat.call("GET", "/healthz", headers={"Forwarded": 'for="[::1'})
    assert status == 200
    assert {ip for (ip,) in sql("SELECT ip FROM audit_log")} == {"127.0.0.1"}


async def _login_page_cookie(chat: ChatHelper, **headers) -> str:
    async with chat.session.get(chat.base + "/admin/login", headers=headers) as resp:
        assert resp.status == 200
        return resp.headers.get("Set-Cookie", "")


async def test_session_cookie_is_secure_behind_a_trusted_tls_proxy(aiohttp_client, config):
    behind = await _app(aiohttp_client, config, "127.0.0.0/8")
    tls = {"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}
    assert "secure" in (await _login_page_cookie(behind, **tls)).lower()
    assert "secure" in (await _login_page_cookie(
        behind, Forwarded="for=203.0.113.5;proto=https")).lower()
    behind.session.cookie_jar.clear()
    plain = await _login_page_cookie(behind, **{"X-Forwarded-Proto": "http",
                                                "X-Forwarded-For": "203.0.113.5"})
    assert plain and "secure" not in plain.lower()


async def test_an_untrusted_peer_cannot_claim_tls(aiohttp_client, config):
    chat = await _app(aiohttp_client, config, "10.0.0.0/8")
    cookie = await _login_page_cookie(chat, **{"X-Forwarded-Proto": "https",
                                               "X-Forwarded-For": "10.1.1.1"})
    assert cookie and "secure" not in cookie.lower()


def test_load_config_reads_the_flag_and_the_environment(tmp_path):
    config = load_config(data_dir=str(tmp_path), env={"CHATIQ_TRUSTED_PROXIES": "10.0.0.0/8"})
    assert [str(n) for n in config.trusted_proxies] == ["10.0.0.0/8"]
    config = load_config(data_dir=str(tmp_path), proxies="::1",
                         env={"CHATIQ_TRUSTED_PROXIES": "10.0.0.0/8"})
    assert [str(n) for n in config.trusted_proxies] == ["::1/128"]
    with pytest.raises(ConfigError, match="'10.0.0.300'"):
        load_config(data_dir=str(tmp_path), env={"CHATIQ_TRUSTED_PROXIES": "::1, 10.0.0.300"})


@pytest.mark.parametrize("how", ["env", "flag"])
def test_unparseable_list_exits_2_naming_the_entry(tmp_path, how):
    env = {**os.environ, "DATABASE_URL": ""}
    args = [sys.executable, "-m", "chatiq", "serve", "--data-dir", str(tmp_path), "--port", "0"]
    if how == "env":
        env["CHATIQ_TRUSTED_PROXIES"] = "127.0.0.1,nginx.local"
    else:
        args += ["--trusted-proxies", "127.0.0.1,nginx.local"]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'nginx.local'" in lines[0], result.stderr
    assert not (tmp_path / "pg").exists()  # refused before anything started
