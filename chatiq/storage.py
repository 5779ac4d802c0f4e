"""Where attachment bytes live: a small blob interface and its local, content-addressed disk store.

Keys are sha256 hex digests (plus `-thumb` for previews), so the same bytes are kept once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
from pathlib import Path
from typing import Protocol

from aiohttp import web

from chatiq import keys

# A key is a sha256 (optionally with a suffix): nothing a client sends can name a path.
_KEY = re.compile(r"^[0-9a-f]{64}(-thumb)?$")


class BlobStore(Protocol):
    """What the upload and download code needs; an S3 backend implements the same five."""

    def scratch(self) -> Path:
        """A fresh local path to write an incoming upload to, on the store's filesystem."""

    async def put(self, key: str, source: Path) -> None:
        """Move `source` in under `key`; if the key exists (same bytes) just drop `source`."""

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the blob; a missing one is not an error."""

    def local_path(self, key: str) -> Path | None:
        """A file the server can send with FileResponse, or None for remote stores."""


class LocalBlobStore:
    """Blobs as files `<root>/<first two hex digits>/<key>`; uploads land in `<root>/.incoming`."""

    def __init__(self, root: Path):
        self.root = root
        self.incoming = root / ".incoming"

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a blob key: {key!r}")
        return self.root / key[:2] / key

    def scratch(self) -> Path:
        self.incoming.mkdir(parents=True, exist_ok=True)
        return self.incoming / secrets.token_hex(16)

    async def put(self, key: str, source: Path) -> None:
        await asyncio.to_thread(self._put, self._path(key), source)

    @staticmethod
    def _put(target: Path, source: Path) -> None:
        # link() never overwrites: two uploads of the same bytes racing here both
        # succeed, one by creating the blob and one by finding it already there.
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links
            os.replace(source, target)
            return
        source.unlink()

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        def unlink() -> None:
            with contextlib.suppress(FileNotFoundError):
                self._path(key).unlink()
        await asyncio.to_thread(unlink)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


STORAGE = web.AppKey("storage", BlobStore)


def storage_of(app: web.Application) -> BlobStore:
    """The app's blob store: the one installed under STORAGE, else files in the data dir."""
    store = app.get(STORAGE)
    if store is None:
        store = LocalBlobStore(app[keys.CONFIG].data_dir / "files")
    return store
