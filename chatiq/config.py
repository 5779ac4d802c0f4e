"""One frozen configuration object, built from flags and the environment.

Secrets the user did not give are generated once and kept in the data dir (0600),
so tokens and session cookies survive a restart.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from chatiq.core.proxies import BadProxyList, Network, parse_trusted
from chatiq.core.ratelimit import RateLimit


class ConfigError(Exception):
    """A configuration problem with a one-line explanation for the user."""


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
    # File kinds uploads may be (extensions from chatiq.files.filetypes); None: the default allowlist.
    upload_types: tuple[str, ...] | None = None
    db_pool_max: int = 10
    # bcrypt cost; tests lower it, production keeps the default.
    bcrypt_rounds: int = 12
    # The outbox (emails, webhooks): how often to look for due jobs when nobody says so,
    # the first retry's delay (doubling after), the longest delay, and when to give up.
    outbox_poll_seconds: float = 2.0
    outbox_backoff_base: float = 30.0
    outbox_backoff_cap: float = 6 * 3600.0
    outbox_max_attempts: int = 10
    # Each SMTP socket operation (connect, every reply) gives up after this; below the
    # outbox's 30 s per attempt, so a hung mail server fails with a clear reason.
    smtp_timeout_seconds: float = 20.0
    # OpenID Connect sign-in for operators (docs/oidc.md): off while the issuer is None.
    oidc_issuer: str | None = None
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    # The provider's name on the login page's button ("Sign in with Google").
    oidc_name: str = ""
    # Each call to the provider (discovery, keys, code exchange) gives up after this.
    oidc_timeout_seconds: float = 10.0
    # How often the retention job deletes what sites no longer keep (it also runs at start).
    retention_interval_seconds: float = 3600.0
    # Webhooks (docs/webhooks.md): targets on loopback, private, link-local or reserved
    # addresses are refused unless this is on (tests, receivers on an intranet), and one
    # delivery attempt gives up after the timeout.
    webhooks_allow_private: bool = False
    webhooks_timeout_seconds: float = 10.0
    # Reverse proxies whose X-Forwarded-For / -Proto and Forwarded headers are believed
    # (core/proxies.py); empty: those headers are ignored, nobody can spoof an address.
    trusted_proxies: tuple[Network, ...] = ()
    # The bearer token GET /metrics asks for; None: no /metrics at all (404).
    metrics_token: str | None = field(default=None, repr=False)

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
        try:
            probe.write_bytes(b"ok")
        finally:  # on a full disk the file is created and then the write fails
            probe.unlink(missing_ok=True)
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


def trusted_proxies(text: str | None) -> tuple[Network, ...]:
    try:
        return parse_trusted(text)
    except BadProxyList as exc:
        raise ConfigError(f"CHATIQ_TRUSTED_PROXIES: {exc.entry!r} is not an IP address or"
                          f" CIDR range") from None


def load_config(
    *, host: str | None = None, port: int | None = None, data_dir: str | None = None,
    proxies: str | None = None, env: dict | None = None,
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
        retention_interval_seconds=max(1, _env_int(env, "CHATIQ_RETENTION_INTERVAL", 3600)),
        webhooks_allow_private=env.get("CHATIQ_WEBHOOKS_ALLOW_PRIVATE", "off").lower()
        in ("on", "true", "1", "yes"),
        trusted_proxies=trusted_proxies(proxies if proxies is not None
                                        else env.get("CHATIQ_TRUSTED_PROXIES")),
        metrics_token=env.get("CHATIQ_METRICS_TOKEN") or None,
        **oidc_settings(env),
    )


# The issuer CHATIQ_OIDC_ISSUER=google stands for.
GOOGLE_ISSUER = "https://accounts.google.com"


def oidc_settings(env: dict) -> dict:
    """The CHATIQ_OIDC_* variables as Config fields; half a configuration is an error,
    since a login button that cannot work is worse than none."""
    issuer = (env.get("CHATIQ_OIDC_ISSUER") or "").strip()
    if not issuer:
        return {}
    name = (env.get("CHATIQ_OIDC_NAME") or "").strip()
    if issuer.lower() == "google":
        issuer, name = GOOGLE_ISSUER, name or "Google"
    try:
        parts = urlsplit(issuer)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed [ in an IPv6 address
        parts, host = None, None
    if not host or parts.query or parts.fragment or not (
            parts.scheme == "https"
            or (parts.scheme == "http" and host in ("127.0.0.1", "::1", "localhost"))):
        raise ConfigError(f"CHATIQ_OIDC_ISSUER must be an https:// URL (or 'google'),"
                          f" got {issuer!r}")
    client_id = (env.get("CHATIQ_OIDC_CLIENT_ID") or "").strip()
    client_secret = env.get("CHATIQ_OIDC_CLIENT_SECRET") or ""
    if not client_id or not client_secret:
        raise ConfigError("CHATIQ_OIDC_ISSUER needs CHATIQ_OIDC_CLIENT_ID and"
                          " CHATIQ_OIDC_CLIENT_SECRET too")
    return {"oidc_issuer": issuer, "oidc_client_id": client_id,
            "oidc_client_secret": client_secret, "oidc_name": name or host}
