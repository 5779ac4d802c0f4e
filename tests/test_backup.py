"""`chatiq backup` / `chatiq restore` (issue 16) on the embedded database, as real processes:
passwd and backup while the server runs, wipe, restore, and the same data comes back."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from conftest import ChatHelper, request
from test_cli import Server, free_port

ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "restored horse 9"


def chatiq(*args, stdin: str = "", **env):
    return subprocess.run([sys.executable, "-m", "chatiq", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, "DATABASE_URL": "", **env})


async def _snapshot(chat: ChatHelper, token: str) -> dict:
    """What a user sees: their sites, chats and every message, and the attachments' bytes."""
    _, sites = await chat.call("GET", "/api/v1/sites", token)
    _, chats = await chat.call("GET", "/api/v1/chats", token)
    out = {"sites": sorted(s["siteKey"] for s in sites["sites"]), "chats": {}, "files": {}}
    for c in chats["chats"]:
        _, body = await chat.call("GET", f"/api/v1/chats/{c['id']}/messages", token)
        out["chats"][c["id"]] = [(m["seq"], m["text"], (m.get("attachment") or {}).get("id"))
                                 for m in body["messages"]]
        for m in body["messages"]:
            if m.get("attachment"):
                async with chat.session.get(chat.base + m["attachment"]["url"], headers={
                        "Authorization": f"Bearer {token}"}) as resp:
                    assert resp.status == 200
                    out["files"][m["attachment"]["id"]] = hashlib.sha256(
                        await resp.read()).hexdigest()
    return out


async def _login(chat: ChatHelper, email: str, password: str) -> tuple[int, str | None]:
    status, body = await chat.call("POST", "/api/v1/auth/login",
                                   json={"email": email, "password": password})
    return status, body.get("token") if isinstance(body, dict) else None


@pytest.fixture
def dirs():
    # Short: the embedded server's unix socket path must stay under ~107 bytes.
    root = Path(tempfile.mkdtemp(prefix="cbk", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


async def test_passwd_backup_wipe_restore_round_trip(dirs):
    data, archive = dirs / "data", dirs / "chat.tar"
    port = free_port()
    server = Server(data, port)
    try:
        server.wait_healthy()
        async with aiohttp.ClientSession() as session:
            chat = ChatHelper(session, f"http://127.0.0.1:{port}")
            owner_token, user = await chat.register()
            site = await chat.create_site(owner_token)
            visitor = await chat.visitor_ws(site["siteKey"])
            chat_id = (await chat.say(visitor, "hello"))["chatId"]
            form = aiohttp.FormData()
            form.add_field("siteKey", site["siteKey"])
            form.add_field("visitorToken", visitor.session["visitorToken"])
            form.add_field("file", _png(), filename="photo.png", content_type="image/png")
            status, body = await chat.call("POST", "/api/v1/uploads", data=form)
            assert status == 201, body
            reply = await request(visitor, "visitor:message", {
                "clientId": "with-file", "text": "see attached",
                "attachmentId": body["attachment"]["id"]})
            assert reply["type"] == "ack" and reply["data"]["message"]["chatId"] == chat_id
            await chat.reply(await chat.operator_ws(owner_token), chat_id, "thanks")
            owner = user["email"]
            # passwd and backup while the server runs, on its data dir.
            result = chatiq("passwd", owner, "--data-dir", str(data), stdin=NEW_PASSWORD)
            assert result.returncode == 0, result.stderr
            status, token = await _login(chat, owner, NEW_PASSWORD)
            assert status == 200
            before = await _snapshot(chat, token)
            assert len(before["files"]) == 1
            result = chatiq("backup", str(archive), "--data-dir", str(data))
            assert result.returncode == 0, result.stderr
            assert "1 files" in result.stdout or "2 files" in result.stdout
            assert archive.stat().st_mode & 0o777 == 0o600
            await visitor.close()
    finally:
        assert server.stop() == 0
    secret = (data / "secret_key").read_text()
    shutil.rmtree(data)  # the wipe

    result = chatiq("restore", str(archive), "--data-dir", str(data))
    assert result.returncode == 0, result.stderr + result.stdout
    assert (data / "secret_key").read_text() == secret
    assert (data / "secret_key").stat().st_mode & 0o777 == 0o600
    assert not list(dirs.glob(".chatiq-restore-*"))  # its scratch space is gone
    server = Server(data, port)
    try:
        server.wait_healthy()
        async with aiohttp.ClientSession() as session:
            chat = ChatHelper(session, f"http://127.0.0.1:{port}")
            assert (await chat.call("GET", "/api/v1/auth/me", token))[0] == 200  # same secret
            status, token = await _login(chat, owner, NEW_PASSWORD)
            assert status == 200
            assert await _snapshot(chat, token) == before
    finally:
        assert server.stop() == 0

    # A restored data dir is not empty: refused without --force, replaced with it.
    again = chatiq("restore", str(archive), "--data-dir", str(data))
    assert again.returncode == 1 and "not empty" in again.stderr
    forced = chatiq("restore", str(archive), "--data-dir", str(data), "--force")
    assert forced.returncode == 0, forced.stderr

    # A damaged archive is refused before anything is touched.
    fresh = dirs / "fresh"
    for damaged in _damaged_copies(archive, dirs):
        result = chatiq("restore", str(damaged), "--data-dir", str(fresh))
        assert result.returncode == 1, (damaged.name, result.stderr)
        assert not fresh.exists(), damaged.name
        files_before = sorted(p.name for p in (data / "files").rglob("*"))
        result = chatiq("restore", str(damaged), "--data-dir", str(data), "--force")
        assert result.returncode == 1, (damaged.name, result.stderr)
        assert sorted(p.name for p in (data / "files").rglob("*")) == files_before
    assert not list(dirs.glob(".chatiq-restore-*"))


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def _damaged_copies(archive: Path, where: Path) -> list[Path]:
    raw = archive.read_bytes()
    truncated = where / "truncated.tar"
    truncated.write_bytes(raw[: len(raw) // 2])
    cut_tail = where / "no-checksums.tar"
    with tarfile.open(archive) as src, tarfile.open(cut_tail, "w") as dst:
        for member in src:
            if not member.name.endswith("checksums.json"):
                dst.addfile(member, src.extractfile(member))
    flipped = where / "flipped.tar"
    data = bytearray(raw)
    with tarfile.open(archive) as src:
        dump = next(m for m in src if m.name.endswith("database.dump"))
        data[dump.offset_data + dump.size // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    not_tar = where / "not-a-backup.tar"
    not_tar.write_bytes(b"hello" * 1000)
    return [truncated, cut_tail, flipped, not_tar, where / "missing.tar"]


def test_backup_of_a_data_dir_without_a_database_is_refused(dirs):
    result = chatiq("backup", str(dirs / "x.tar"), "--data-dir", str(dirs / "nothing"))
    assert result.returncode == 1 and "no ChatIQ database" in result.stderr
    assert not (dirs / "x.tar").exists() and not (dirs / "nothing").exists()
