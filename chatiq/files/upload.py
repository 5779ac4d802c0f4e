"""Turning an upload stream into a stored attachment, and letting go of files nobody needs.

The HTTP handlers (api/uploads.py, files.py) decide who may; this module does the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader, web

from chatiq import keys

from chatiq.files import filetypes, images
from chatiq.files.filetypes import Refused
from chatiq.files.storage import BlobStore, LocalBlobStore, writing
from chatiq.store import attachments, chats
from chatiq.store.attachments import Attachment

CHUNK = 64 * 1024
MIN_READ = 128
# Uploads never sent in a message are forgotten after a day.
UNUSED_TTL_HOURS = 24


def thumb_key(sha256: str) -> str:
    return sha256 + "-thumb"


@dataclass(frozen=True)
class Received:
    path: Path
    sha256: str
    size: int


async def receive(part: BodyPartReader, storage: BlobStore, limit: int) -> Received:
    """Stream one file part to a scratch file, hashing as it goes.

    Reads at most limit + MIN_READ bytes: one byte more than allowed proves the file is
    too large, and the rest of the body is never read. Nothing is kept on refusal, nor
    when the disk fills up or refuses writes half-way (StorageError).
    """
    path = storage.scratch()
    digest = hashlib.sha256()
    size = 0
    try:
        with writing():
            fh = await asyncio.to_thread(path.open, "xb")
        try:
            while True:
                # aiohttp reads no less than a boundary's length: MIN_READ covers any (≤ 70 + 4).
                chunk = await part.read_chunk(min(CHUNK, max(limit + 1 - size, MIN_READ)))
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise Refused("too_large", f"the file is larger than {limit:,} bytes")
                digest.update(chunk)
                with writing():
                    await asyncio.to_thread(fh.write, chunk)
        finally:
            with writing():  # the last buffered bytes reach the disk here, and may not fit
                await asyncio.to_thread(fh.close)
    except BaseException:
        _discard(path)
        raise
    return Received(path, digest.hexdigest(), size)


def _discard(path: Path | None) -> None:
    """Remove a scratch file; on a disk that now refuses even that, leave it (nothing refers
    to it, and `.incoming` holds nothing else of value)."""
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


async def store(pool, storage: BlobStore, received: Received, *, client_name: str | None,
                allowed: tuple[str, ...], site_id: int | None, uploader_kind: str,
                uploader_id: int) -> Attachment:
    """Check what the file really is, keep its bytes once, and record who uploaded it.

    All or nothing: if the thumbnail, the blob or the row cannot be written, bytes that
    no other attachment uses are removed again.
    """
    thumb_path: Path | None = None
    try:
        verdict = await asyncio.to_thread(filetypes.inspect, received.path, client_name, allowed)
        fmt = verdict.type.image_format
        if fmt is not None:  # made every time: an existing preview could be released meanwhile
            thumb_path = storage.scratch()
            try:
                with writing():
                    await asyncio.to_thread(images.thumbnail, received.path, fmt, thumb_path)
            except images.BadImage as exc:
                raise Refused(exc.code, exc.message) from None
        async with attachments.blob_lock(pool, received.sha256) as cur:
            shared = await attachments.sha_in_use(cur, received.sha256)
            try:
                await storage.put(received.sha256, received.path)
                if thumb_path is not None:
                    await storage.put(thumb_key(received.sha256), thumb_path)
                return await attachments.create(
                    cur, site_id=site_id, uploader_kind=uploader_kind, uploader_id=uploader_id,
                    sha256=received.sha256, name=verdict.name, size=received.size,
                    mime=verdict.type.mime, has_thumb=fmt is not None)
            except BaseException:
                if not shared:
                    with contextlib.suppress(OSError):
                        await storage.delete(received.sha256)
                        await storage.delete(thumb_key(received.sha256))
                raise
    finally:
        _discard(received.path)
        _discard(thumb_path)


async def release_blobs(pool, storage: BlobStore, sha256s: list[str]) -> int:
    """Delete the blobs (and previews) no attachment row refers to any more; how many went."""
    removed = 0
    for sha in sorted(set(sha256s)):
        async with attachments.blob_lock(pool, sha) as cur:
            if await attachments.sha_in_use(cur, sha):
                continue
            await storage.delete(sha)
            await storage.delete(thumb_key(sha))
            removed += 1
    return removed


async def delete_chat(pool, storage: BlobStore, chat_id: int) -> None:
    """Erase a chat's data: its messages, attachments and the files only it used."""
    await release_blobs(pool, storage, await chats.delete_chats(pool, chat_id=chat_id))


async def apply_retention(pool, storage: BlobStore, *, site_id: int, days: int) -> None:
    """The retention job's call for one site: chats idle longer than `days` go with their
    files, and so do older attachments of chats still active. Also drops stale unsent uploads."""
    shas = await chats.delete_chats(pool, site_id=site_id, idle_days=days)
    shas += await attachments.delete_for_site_before(pool, site_id, days)
    shas += await attachments.delete_unused_before(pool, UNUSED_TTL_HOURS)
    await release_blobs(pool, storage, shas)


def storage_of(app: web.Application) -> BlobStore:
    """The app's blob store: the one installed under keys.STORAGE, else files in the data dir."""
    store = app.get(keys.STORAGE)
    if store is None:
        store = LocalBlobStore(app[keys.CONFIG].data_dir / "files")
    return store
