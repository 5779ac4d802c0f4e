"""Hardening (issue 9): a full or read-only disk, at start and while serving.

Real filesystems, not mocks: a tiny tmpfs (full after a few hundred KiB, or remounted
read-only) and an immutable directory (`chattr +i`, which stops root too). Both need root;
without it the tests skip and say so. At start: one clear line and exit code 2. While
serving: an upload answers 507 (full) or 503 (refused) with code `unavailable`, leaves no
file and no row behind, chat goes on, and uploads work again once the disk does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from chatiq.app import create_app
from chatiq.files.storage import LocalBlobStore, writing
from chatiq.keys import STORAGE
from conftest import ChatHelper

ROOT = Path(__file__).resolve().parents[2]


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


@contextlib.contextmanager
def tmpfs(path: Path, size_kb: int):
    path.mkdir(parents=True, exist_ok=True)
    mounted = _run("mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        _run("umount", "-l", str(path))


def remount(path: Path, mode: str) -> None:
    result = _run("mount", "-o", f"remount,{mode}", str(path))
    assert result.returncode == 0, result.stderr


@contextlib.contextmanager
def immutable(path: Path):
    result = _run("chattr", "+i", str(path))
    if result.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {result.stderr.strip()}")
    try:
        yield path
    finally:
        _run("chattr", "-i", str(path))


def fill(path: Path) -> None:
    """Write zeros until the filesystem says it is full."""
    with open(path / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def noise_png(side: int, seed: int = 1) -> bytes:
    """A PNG that does not compress: about 3 * side² bytes."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (side, side), rng.randbytes(3 * side * side))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def files_on(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")
                  if p.is_file() and p.name != "filler")


def serve(data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    env.pop("CHATIQ_DATA_DIR", None)
    return subprocess.run([sys.executable, "-m", "chatiq", "serve", "--data-dir", str(data_dir)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def assert_one_clear_line(result: subprocess.CompletedProcess, reason: str) -> None:
    assert result.returncode == 2, result
    assert "is not writable" in result.stderr and reason in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0


# --- at start -------------------------------------------------------------------

def test_data_dir_on_a_read_only_filesystem_is_one_clear_line(tmp_path):
    with tmpfs(tmp_path / "ro", 256) as mount:
        remount(mount, "ro")
        assert_one_clear_line(serve(mount / "data"), "Read-only file system")
        assert_one_clear_line(serve(mount), "Read-only file system")


def test_data_dir_on_a_full_disk_is_one_clear_line(tmp_path):
    with tmpfs(tmp_path / "full", 64) as mount:
        (mount / "data").mkdir()
        fill(mount)
        assert_one_clear_line(serve(mount / "data"), "No space left on device")
        assert list((mount / "data").iterdir()) == []  # not even the probe stays


# --- while serving --------------------------------------------------------------

async def _setup(aiohttp_client, config) -> tuple[ChatHelper, dict, object]:
    config = dataclasses.replace(config, rate_limits_enabled=False)
    client = await aiohttp_client(create_app(config))
    chat = ChatHelper(client.session, str(client.make_url("/")))
    token, _ = await chat.register()
    site = await chat.create_site(token)
    visitor = await chat.visitor_ws(site["siteKey"])
    return chat, site, visitor


async def _upload(chat: ChatHelper, site: dict, visitor, content: bytes, name: str = "noise.png"):
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("siteKey", site["siteKey"])
    form.add_field("visitorToken", visitor.session["visitorToken"])
    form.add_field("file", content, filename=name, content_type="image/png")
    return await chat.call("POST", "/api/v1/uploads", data=form)


async def _chat_goes_on(chat: ChatHelper, visitor, sql) -> None:
    before = sql("SELECT count(*) FROM messages")[0][0]
    await chat.say(visitor, "still talking")
    assert sql("SELECT count(*) FROM messages")[0][0] == before + 1


async def test_upload_to_a_full_disk_is_507_and_leaves_nothing(aiohttp_client, config, sql):
    with tmpfs(config.data_dir / "files", 320) as files:
        chat, site, visitor = await _setup(aiohttp_client, config)
        status, body = await _upload(chat, site, visitor, noise_png(400))  # ~480 KB
        assert status == 507, body
        assert body["error"]["code"] == "unavailable" and body["error"]["field"] == "file"
        assert "storage is full" in body["error"]["message"]
        assert files_on(files) == [] and sql("SELECT count(*) FROM attachments") == [(0,)]
        await _chat_goes_on(chat, visitor, sql)

        # The failed upload gave its space back: one that needs most of the disk now fits.
        status, body = await _upload(chat, site, visitor, noise_png(220))  # ~145 KB + preview
        assert status == 201, body
        assert len(files_on(files)) == 2  # the blob and its preview, nothing in .incoming


async def test_upload_to_a_read_only_disk_is_503_then_recovers(aiohttp_client, config, sql):
    with tmpfs(config.data_dir / "files", 2048) as files:
        chat, site, visitor = await _setup(aiohttp_client, config)
        original = noise_png(40, seed=1)
        status, body = await _upload(chat, site, visitor, original)
        assert status == 201, body
        kept = body["attachment"]
        stored = files_on(files)

        remount(files, "ro")
        status, body = await _upload(chat, site, visitor, noise_png(40, seed=2))
        assert status == 503, body
        assert body["error"]["code"] == "unavailable"
        assert "cannot store files" in body["error"]["message"]
        assert files_on(files) == stored and sql("SELECT count(*) FROM attachments") == [(1,)]
        # What is stored can still be read, and the chat goes on.
        token, key = visitor.session["visitorToken"], site["siteKey"]
        async with chat.session.get(f"{chat.base}{kept['url']}?t={token}&k={key}") as resp:
            assert resp.status == 200 and await resp.read() == original
        await _chat_goes_on(chat, visitor, sql)

        remount(files, "rw")  # no restart needed
        status, body = await _upload(chat, site, visitor, noise_png(40, seed=2))
        assert status == 201, body


async def test_blob_directory_refusing_writes_is_503_and_leaves_nothing(aiohttp_client, config,
                                                                        sql):
    files = config.data_dir / "files"
    (files / ".incoming").mkdir(parents=True)
    chat, site, visitor = await _setup(aiohttp_client, config)
    # Root ignores permission bits; an immutable directory stops it from adding the blob's
    # shard directory, after the upload has already been received into .incoming.
    with immutable(files):
        status, body = await _upload(chat, site, visitor, noise_png(40))
    assert status == 503, body
    assert body["error"]["code"] == "unavailable"
    assert files_on(files) == [] and sql("SELECT count(*) FROM attachments") == [(0,)]
    await _chat_goes_on(chat, visitor, sql)


class _PreviewlessStore(LocalBlobStore):
    """A store whose disk fills up between the blob and its preview (the blob went in)."""

    async def put(self, key: str, source: Path) -> None:
        if key.endswith("-thumb"):
            with writing():
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        await super().put(key, source)


async def test_half_stored_upload_is_rolled_back(aiohttp_client, config, sql):
    config = dataclasses.replace(config, rate_limits_enabled=False)
    app = create_app(config)
    files = config.data_dir / "files"
    app[STORAGE] = _PreviewlessStore(files)
    client = await aiohttp_client(app)
    chat = ChatHelper(client.session, str(client.make_url("/")))
    token, _ = await chat.register()
    site = await chat.create_site(token)
    visitor = await chat.visitor_ws(site["siteKey"])
    status, body = await _upload(chat, site, visitor, noise_png(40))
    assert status == 507, body
    assert files_on(files) == [] and sql("SELECT count(*) FROM attachments") == [(0,)]
