"""`chatiq serve | migrate | passwd | users | backup | restore | version`: the only place
that starts things."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from pathlib import Path

from chatiq import __version__
from chatiq.config import Config, ConfigError, load_config
from chatiq.passwd import Refused, check_password, list_users, read_password, set_password, table
from chatiq.server import Database, serve

log = logging.getLogger("chatiq")

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatiq", description="Self-hosted live chat.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    passwd = sub.add_parser("passwd", help="set a user's password (read from standard input"
                                           " when it is not a terminal), ending their sessions")
    passwd.add_argument("email")
    for p in (serve, sub.add_parser("migrate", help="apply database migrations and exit"),
              passwd, sub.add_parser("users", help="list every user: email, name, role,"
                                                   " organization")):
        p.add_argument("--data-dir", help="where the embedded database and secrets live"
                                          " (default ./chatiq-data, or $CHATIQ_DATA_DIR)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080, or $PORT)")
    serve.add_argument("--trusted-proxies", metavar="LIST",
                       help="comma-separated addresses / CIDR ranges of reverse proxies whose"
                            " X-Forwarded-For and Forwarded headers are believed"
                            " (default none, or $CHATIQ_TRUSTED_PROXIES)")
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
    if args.command in ("passwd", "users"):
        try:
            _needs_existing_data(args.data_dir)
            # Asked before the database starts: a wrong password costs no start-up.
            password = check_password(read_password()) if args.command == "passwd" else None
        except Refused as exc:
            print(f"chatiq: {exc}", file=sys.stderr)
            return 1
        args.password = password
    # The one-shot commands print their answer; only problems are worth a log line.
    level = logging.INFO if args.command in ("serve", "migrate") else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        config = load_config(host=getattr(args, "host", None), port=getattr(args, "port", None),
                             data_dir=args.data_dir,
                             proxies=getattr(args, "trusted_proxies", None))
        with Database(config) as dsn:
            config = dataclasses.replace(config, database_url=dsn)
            if args.command == "migrate":
                return asyncio.run(_migrate(config))
            if args.command in ("passwd", "users"):
                return _accounts(args, config)
            if args.workers > 1:
                from chatiq.workers import run_workers

                return run_workers(config, args.workers)
            return asyncio.run(serve(config))
    except ConfigError as exc:
        print(f"chatiq: {exc}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"chatiq: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _needs_existing_data(data_dir: str | None) -> None:
    """Commands that act on an existing installation refuse a data dir with no database
    (a typo in --data-dir), instead of creating an empty one."""
    if os.environ.get("DATABASE_URL"):
        return
    path = Path(data_dir or os.environ.get("CHATIQ_DATA_DIR") or "chatiq-data").expanduser()
    if not (path / "pg" / "PG_VERSION").exists():
        raise Refused(f"no ChatIQ database in {path.resolve()} (give --data-dir, or set"
                      f" DATABASE_URL)")


def _accounts(args, config: Config) -> int:
    if args.command == "users":
        print(table(asyncio.run(list_users(config))))
        return 0
    user = asyncio.run(set_password(config, args.email, args.password))
    print(f"password set for {user.email}; their earlier sessions and tokens are ended")
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
