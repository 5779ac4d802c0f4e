"""One frozen configuration object, built from flags and the environment.

Secrets the user did not give are generated once and kept in the data dir (0600),
so tokens and session cookies survive a restart.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    """A configuration problem with a one-line explanation for the user."""


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `burst` frames at once, refilled at `per_second`."""

    burst: float
    per_second: float


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("chatiq-data")
    database_url: str | None = None
    secret_key: str = ""
    jwt_ttl_seconds: int = 3600
    # The wire contract's 64 KiB frame limit: a bigger frame closes with 1009.
    max_frame_bytes: int = 64 * 1024
    max_text_chars: int = 10_000
    auth_timeout_seconds: float = 5.0
    rate_limits_enabled: bool = True
    # Above the contract's floor (20 burst, 5/s) so a fast typist never trips it.
    visitor_rate: RateLimit = field(default_factory=lambda: RateLimit(30, 10))
    operator_rate: RateLimit = field(default_factory=lambda: RateLimit(300, 150))
    # Consecutive refused frames before the connection is closed with 4008.
    abuse_close_after: int = 50
    # Frames queued for one peer before it counts as stalled and is cut off; it
    # resumes by seq on reconnect, and the room never waits for it.
    send_queue_limit: int = 1024
    history_limit: int = 100
    upload_limit_bytes: int = 10 * 1024 * 1024
    # File kinds uploads may be (extensions from chatiq.filetypes); None: the default allowlist.
    upload_types: tuple[str, ...] | None = None
    db_pool_max: int = 10
    # bcrypt cost; tests lower it, production keeps the default.
    bcrypt_rounds: int = 12

    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "pg"


def _env_int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def prepare_data_dir(path: Path) -> Path:
    """Create the data dir and prove it is writable, or say clearly why not."""
    path = path.expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"data dir {path} is not writable: {exc.strerror or exc}") from None
    return path


def persistent_secret(data_dir: Path, name: str = "secret_key") -> str:
    """The secret stored in the data dir, created (mode 0600) on first use."""
    path = data_dir / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def load_config(
    *, host: str | None = None, port: int | None = None, data_dir: str | None = None,
    env: dict | None = None,
) -> Config:
    """Flags win over the environment, the environment over defaults."""
    env = dict(os.environ if env is None else env)
    directory = prepare_data_dir(Path(data_dir or env.get("CHATIQ_DATA_DIR") or "chatiq-data"))
    secret = env.get("CHATIQ_SECRET_KEY") or persistent_secret(directory)
    return Config(
        host=host or env.get("CHATIQ_HOST") or "127.0.0.1",
        port=port if port is not None else _env_int(env, "PORT", 8080),
        data_dir=directory,
        database_url=env.get("DATABASE_URL") or None,
        secret_key=secret,
        jwt_ttl_seconds=_env_int(env, "CHATIQ_JWT_TTL", 3600),
        rate_limits_enabled=env.get("CHATIQ_RATE_LIMITS", "on").lower() != "off",
        upload_limit_bytes=_env_int(env, "CHATIQ_UPLOAD_LIMIT_BYTES", 10 * 1024 * 1024),
    )
