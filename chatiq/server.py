"""Running one server: the database it needs (DATABASE_URL or the embedded one) and
the aiohttp app on a port until SIGTERM/SIGINT. The CLI and `--workers` both call it."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from chatiq import __version__
from chatiq.config import Config, ConfigError
from chatiq.store.db import unreachable

log = logging.getLogger("chatiq")

# Longest a graceful stop may take: sockets get 2 s to close, requests 5 s to finish.
SHUTDOWN_LIMIT_SECONDS = 20.0


class Database:
    """DATABASE_URL if given, else the embedded PostgreSQL in the data dir."""

    def __init__(self, config: Config):
        self.config = config
        self.embedded = None

    def __enter__(self) -> str:
        if self.config.database_url:
            problem = unreachable(self.config.database_url)
            if problem is not None:
                raise ConfigError(problem)
            return self.config.database_url
        from chatiq.store.embedded import EmbeddedPostgres

        self.embedded = EmbeddedPostgres(self.config.pg_dir)
        try:
            return self.embedded.start()
        except Exception as exc:
            raise ConfigError(f"could not start the embedded PostgreSQL in "
                              f"{self.config.pg_dir}: {exc}") from None

    def __exit__(self, *exc) -> None:
        if self.embedded is not None:
            self.embedded.stop()


async def serve(config: Config, *, reuse_port: bool = False,
                on_ready: Callable[[], None] | None = None) -> int:
    """Run one server until SIGTERM/SIGINT. A worker of `--workers` shares its port with
    its siblings (reuse_port) and reports readiness through on_ready instead of the banner."""
    from chatiq.app import create_app

    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True,
                       reuse_port=reuse_port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {config.port} on {config.host} is already in use") from None
        raise ConfigError(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from None
    if on_ready is not None:
        on_ready()
    else:
        shown = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
        print(f"ChatIQ {__version__} on http://{shown}:{config.port}  (admin: /admin, demo: /demo)",
              flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: closing sockets, draining, stopping the database")
    # Stops accepting, closes WebSockets with 1001 (on_shutdown), waits for
    # in-flight requests, then closes the pool (cleanup_ctx). A stuck step must not
    # keep the process (and the embedded PostgreSQL) alive forever.
    try:
        await asyncio.wait_for(runner.cleanup(), SHUTDOWN_LIMIT_SECONDS)
    except asyncio.TimeoutError:
        log.error("shutdown took longer than %ss; exiting anyway", SHUTDOWN_LIMIT_SECONDS)
        return 1
    return 0
