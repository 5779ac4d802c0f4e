"""`chatiq backup FILE` / `chatiq restore FILE`: one tar archive holding a consistent
database dump, every stored file the dump refers to, and the secret key.

The archive ends with a list of every member's SHA-256, so a truncated or altered archive
is refused before the target is touched; restore loads the database in one transaction
and swaps the files in only after it committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from chatiq import __version__
from chatiq.files.storage import LocalBlobStore, is_key
from chatiq.store import dump

log = logging.getLogger(__name__)

FORMAT = "chatiq-backup/1"
ROOT = "chatiq-backup"
MANIFEST = f"{ROOT}/manifest.json"      # first: what this is
DATABASE = f"{ROOT}/database.dump"     # pg_dump's custom format
FILES = f"{ROOT}/files/"               # files/<key>, the blob store's keys
SECRET = f"{ROOT}/secret_key"           # signs tokens, seals SMTP passwords
CHECKSUMS = f"{ROOT}/checksums.json"   # last: SHA-256 of every member above
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """Why a backup or restore could not be done, in one line; the target is as it was."""


@dataclass(frozen=True)
class Summary:
    files: int
    bytes: int
    missing: list[str]


def backup(target: Path, *, dsn: str, data_dir: Path, secret: str, embedded=None) -> Summary:
    """Write the archive to `target` (via a temporary name beside it, mode 0600: it holds
    password hashes and the secret key). The server may be running meanwhile."""
    store = LocalBlobStore(data_dir / "files")
    target = target.expanduser().resolve()
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    sums: dict[str, str] = {}
    missing: list[str] = []
    count = size = 0
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar, \
                tempfile.TemporaryDirectory(prefix="chatiq-backup-") as scratch:
            _add_bytes(tar, MANIFEST, json.dumps(
                {"format": FORMAT, "chatiq": __version__,
                 "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode(), sums)
            with dump.snapshot(dsn) as (snapshot_id, keys):
                # Files first, while the snapshot holds: a blob is only deleted after its
                # row, so every key the snapshot lists is still there unless retention
                # removed it a moment ago (then it is reported, not invented).
                for key in keys:
                    path = store.local_path(key)
                    if not path.is_file():
                        missing.append(key)
                        continue
                    _add_file(tar, FILES + key, path, sums)
                    count += 1
                    size += path.stat().st_size
                database = Path(scratch) / "database.dump"
                dump.dump(dsn, snapshot_id, database, embedded=embedded)
            _add_file(tar, DATABASE, database, sums)
            _add_bytes(tar, SECRET, secret.encode(), sums)
            _add_bytes(tar, CHECKSUMS, json.dumps(sums, indent=0).encode(), {})
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
    except dump.DumpError as exc:
        raise BackupError(str(exc)) from None
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return Summary(count, size, missing)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, sums: dict) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
    tar.addfile(info, io.BytesIO(data))
    sums[name] = hashlib.sha256(data).hexdigest()


def _add_file(tar: tarfile.TarFile, name: str, path: Path, sums: dict) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
        fh.seek(0)
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = os.fstat(fh.fileno()).st_size, int(time.time()), 0o600
        tar.addfile(info, fh)
    sums[name] = digest.hexdigest()


@dataclass(frozen=True)
class Unpacked:
    """A verified archive, unpacked into `root` (database.dump, files/, secret_key)."""

    root: Path
    files: int
    secret: str


def unpack(archive: Path, into: Path, *, embedded=None) -> Unpacked:
    """Extract and verify everything before anything is restored: every member's checksum,
    nothing outside the archive's own names, the dump readable by pg_restore."""
    root = into / "unpacked"
    sums: dict[str, str] = {}
    expected: dict | None = None
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for member in tar:
                if expected is not None:
                    raise BackupError("data after the checksum list")
                name = member.name
                if not member.isfile() or not _allowed(name):
                    raise BackupError(f"unexpected member {name!r}")
                source = tar.extractfile(member)
                if name == CHECKSUMS:
                    expected = json.loads(source.read(1024 * 1024 * 64))
                    continue
                path = root / name[len(ROOT) + 1:]
                path.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with open(path, "xb") as out:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                sums[name] = digest.hexdigest()
    except (tarfile.TarError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupError(f"{archive} is not a readable ChatIQ backup ({exc})") from None
    except FileExistsError:
        raise BackupError(f"{archive} names a member twice") from None
    except FileNotFoundError:
        raise BackupError(f"{archive} does not exist") from None
    except IsADirectoryError:
        raise BackupError(f"{archive} is a directory") from None
    if expected is None:
        raise BackupError(f"{archive} is truncated: its checksum list is missing")
    if not isinstance(expected, dict) or expected != sums:
        raise BackupError(f"{archive} is damaged: its contents do not match its checksums")
    try:
        manifest = json.loads((root / "manifest.json").read_text())
        secret = (root / "secret_key").read_text()
    except (OSError, ValueError) as exc:
        raise BackupError(f"{archive} is incomplete ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or not (root / "database.dump").is_file() or not secret:
        raise BackupError(f"{archive} is not a ChatIQ backup of a format this version reads")
    try:
        dump.check_archive(root / "database.dump", embedded=embedded)
    except dump.DumpError as exc:
        raise BackupError(f"the database dump in {archive} is damaged: {exc}") from None
    files = root / "files"
    return Unpacked(root, sum(1 for _ in files.iterdir()) if files.is_dir() else 0, secret)


def _allowed(name: str) -> bool:
    if name in (MANIFEST, DATABASE, SECRET, CHECKSUMS):
        return True
    return name.startswith(FILES) and is_key(name[len(FILES):])


def files_in_use(data_dir: Path) -> bool:
    """Blobs in the data dir's store (its scratch dir of half-received uploads aside)."""
    files = data_dir / "files"
    if not files.is_dir():
        return False
    return any(p.name != ".incoming" for p in files.iterdir())


def restore(unpacked: Unpacked, *, dsn: str, data_dir: Path, replace: bool,
            embedded=None) -> None:
    """Load the database (one transaction), then put the files in place: the old store,
    if any, is moved aside and removed only once the new one is there."""
    try:
        dump.load(dsn, unpacked.root / "database.dump", unpacked.root.parent, replace=replace,
                  embedded=embedded)
    except dump.DumpError as exc:
        raise BackupError(f"the database was not restored: {exc}") from None
    store = data_dir / "files"
    incoming = unpacked.root / "files"
    placed = store.parent / f".files-restored-{os.getpid()}"
    if incoming.is_dir():
        # Lay the blobs out as the store keeps them: <first two hex digits>/<key>.
        for blob in list(incoming.iterdir()):
            shard = placed / blob.name[:2]
            shard.mkdir(parents=True, exist_ok=True)
            os.replace(blob, shard / blob.name)
    else:
        placed.mkdir(parents=True)
    old = store.parent / f".files-replaced-{os.getpid()}"
    if store.exists():
        os.replace(store, old)
    os.replace(placed, store)
    shutil.rmtree(old, ignore_errors=True)
