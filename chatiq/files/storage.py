"""Where attachment bytes live: a small blob interface and its local, content-addressed disk store.

Keys are sha256 hex digests (plus `-thumb` for previews), so the same bytes are kept once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import secrets
from pathlib import Path
from typing import Protocol


# A key is a sha256 (optionally with a suffix): nothing a client sends can name a path.
_KEY = re.compile(r"^[0-9a-f]{64}(-thumb)?$")
# link() failures that may mean "no hard links here" (vfat answers EPERM), so a rename is
# tried; a full or read-only disk fails the same way either way.
_NO_LINKS = frozenset({errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP})


def is_key(key: str) -> bool:
    """Whether `key` names a blob (backups check archive members with it)."""
    return bool(_KEY.match(key))


class StorageError(Exception):
    """The store could not write: its disk is full (`full`), or it refuses writes
    (read-only, permissions, I/O error). Nothing was kept; the caller may retry later."""

    def __init__(self, exc: OSError):
        super().__init__(exc.strerror or str(exc))
        self.full = exc.errno in (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def writing():
    """Around filesystem writes only: an OSError with an errno becomes StorageError.
    (Not around network reads, whose resets are OSErrors too.)"""
    try:
        yield
    except OSError as exc:
        if exc.errno is None:
            raise
        raise StorageError(exc) from exc


class BlobStore(Protocol):
    """What the upload and download code needs; an S3 backend implements the same five."""

    def scratch(self) -> Path:
        """A fresh local path to write an incoming upload to, on the store's filesystem
        (StorageError if it cannot be written)."""

    async def put(self, key: str, source: Path) -> None:
        """Move `source` in under `key`; if the key exists (same bytes) just drop `source`.
        StorageError if the store cannot take it."""

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
        with writing():
            self.incoming.mkdir(parents=True, exist_ok=True)
        return self.incoming / secrets.token_hex(16)

    async def put(self, key: str, source: Path) -> None:
        with writing():
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
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
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
