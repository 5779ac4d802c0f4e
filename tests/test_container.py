"""The container image and compose file (issue 16). CI cannot run Docker here, so this checks
what can be checked without it: the image runs the ordinary `chatiq serve` as a non-root user
with the data dir as a volume and /healthz as its health check, and compose.yaml wires ChatIQ
to its PostgreSQL service."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import yaml

from chatiq.cli import _parser

ROOT = Path(__file__).resolve().parent.parent


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _all(instruction: str) -> list[str]:
    return [args for word, args in dockerfile() if word == instruction]


def _env() -> dict[str, str]:
    env = {}
    for args in _all("ENV"):
        for pair in shlex.split(args):
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def test_image_runs_the_ordinary_serve_command():
    (cmd,) = _all("CMD")
    argv = json.loads(cmd)
    assert argv == ["chatiq", "serve"]
    args = _parser().parse_args(argv[1:])  # the CLI accepts it as it is
    assert args.command == "serve"
    env = _env()
    assert env["CHATIQ_HOST"] == "0.0.0.0" and env["PORT"] in _all("EXPOSE")


def test_image_is_slim_non_root_with_the_data_dir_a_volume():
    (base,) = _all("FROM")
    assert re.fullmatch(r"python:3\.\d+-slim", base)
    users = _all("USER")
    assert users and users[-1] not in ("root", "0")
    assert json.loads(_all("VOLUME")[0]) == [_env()["CHATIQ_DATA_DIR"]]


def test_healthcheck_asks_healthz():
    (check,) = _all("HEALTHCHECK")
    assert "/healthz" in check and "CMD" in check


def test_the_build_context_has_what_pip_install_needs():
    copied = " ".join(_all("COPY"))
    for needed in ("setup.cfg", "pyproject.toml", "chatiq", "sql", "widget", "admin"):
        assert needed in copied
        assert (ROOT / needed).exists()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert not {"chatiq", "sql", "widget", "admin"} & set(ignored)


def test_compose_runs_chatiq_on_a_postgresql_service():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    db, app = services["db"], services["chatiq"]
    assert db["image"].startswith("postgres:") and "healthcheck" in db
    assert app["build"] == "."
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    env = app["environment"]
    assert re.fullmatch(r"postgresql://chatiq:\$\{POSTGRES_PASSWORD\}@db:5432/chatiq",
                        env["DATABASE_URL"])
    assert "CHATIQ_SECRET_KEY" in env  # every replica and restart signs with the same key
    volumes = {v.split(":")[0]: v.split(":")[1] for v in app["volumes"]}
    assert volumes == {"files": _env()["CHATIQ_DATA_DIR"]}
    assert set(compose["volumes"]) >= {"files", "pgdata"}
    # Every setting it passes is one the README documents.
    readme = (ROOT / "README.md").read_text()
    for name in env:
        assert f"`{name}`" in readme, name
