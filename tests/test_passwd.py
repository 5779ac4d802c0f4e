"""`chatiq passwd` and `chatiq users` (issue 16): recovering an account without SMTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ChatHelper

ROOT = Path(__file__).resolve().parent.parent
OLD, NEW = "correct horse 1", "battery staple 2"


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    """DATABASE_URL holds the data; the data dir (the secret key) must not be the repo's."""
    monkeypatch.setenv("CHATIQ_DATA_DIR", str(tmp_path / "data"))


def chatiq(*args, database_url: str, stdin: str = "", **env):
    return subprocess.run([sys.executable, "-m", "chatiq", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DATABASE_URL": database_url, **env})


async def _login(chat: ChatHelper, email: str, password: str) -> int:
    status, _ = await chat.call("POST", "/api/v1/auth/login",
                                json={"email": email, "password": password})
    return status


async def test_passwd_sets_the_password_and_ends_sessions(chat, database_url, sql):
    token, _ = await chat.register(email="Owner@Example.com", password=OLD)
    assert (await chat.call("GET", "/api/v1/auth/me", token))[0] == 200
    result = chatiq("passwd", "owner@example.com", database_url=database_url,
                    stdin=NEW + "\n")
    assert result.returncode == 0, result.stderr
    assert "owner@example.com" in result.stdout
    assert (await chat.call("GET", "/api/v1/auth/me", token))[0] == 401  # token revoked
    assert await _login(chat, "owner@example.com", OLD) == 401
    assert await _login(chat, "owner@example.com", NEW) == 200


async def test_passwd_lifts_the_lockout(chat, database_url):
    await chat.register(email="locked@example.com", password=OLD)
    while await _login(chat, "locked@example.com", "guess-guess") == 401:
        pass
    assert await _login(chat, "locked@example.com", OLD) == 429
    result = chatiq("passwd", "locked@example.com", database_url=database_url, stdin=NEW)
    assert result.returncode == 0, result.stderr
    assert await _login(chat, "locked@example.com", NEW) == 200


async def test_unknown_email_or_short_password_exit_1_and_change_nothing(chat, database_url, sql):
    await chat.register(email="kept@example.com", password=OLD)
    before = sql("SELECT id, password_hash, token_version FROM users ORDER BY id")
    unknown = chatiq("passwd", "nobody@example.com", database_url=database_url, stdin=NEW)
    assert unknown.returncode == 1 and "nobody@example.com" in unknown.stderr
    short = chatiq("passwd", "kept@example.com", database_url=database_url, stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    empty = chatiq("passwd", "kept@example.com", database_url=database_url, stdin="")
    assert empty.returncode == 1
    long = chatiq("passwd", "kept@example.com", database_url=database_url, stdin="x" * 201)
    assert long.returncode == 1 and "at most 200" in long.stderr
    assert sql("SELECT id, password_hash, token_version FROM users ORDER BY id") == before


def test_passwd_refuses_a_data_dir_without_a_database(tmp_path):
    result = chatiq("passwd", "a@example.com", "--data-dir", str(tmp_path / "typo"),
                    database_url="", stdin=NEW)
    assert result.returncode == 1 and "no ChatIQ database" in result.stderr
    assert not (tmp_path / "typo").exists()


async def test_users_lists_every_organization(chat, database_url):
    await chat.register(email="a@example.com", name="Anna", organization="Zeta")
    await chat.register(email="b@example.com", name="Bohdan", organization="Alpha")
    result = chatiq("users", database_url=database_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["EMAIL", "NAME", "ROLE", "ORGANIZATION"]
    assert [line.split() for line in lines[1:]] == [["b@example.com", "Bohdan", "OWNER", "Alpha"],
                                                    ["a@example.com", "Anna", "OWNER", "Zeta"]]
