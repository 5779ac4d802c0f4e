"""Shared pieces of the email tests: a real SMTP server on localhost (aiosmtpd) that keeps
what it receives and can be told to refuse, a server that never answers, and helpers to
turn email on for an organization and wait for the outbox."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import socket
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, SECRET = "mailer", "s3cret-pass"


class Inbox:
    """aiosmtpd's handler: every accepted message, and scripted refusals of recipients."""

    def __init__(self):
        self.received: list[tuple[list[str], EmailMessage]] = []  # (envelope to, message)
        self.rcpt_replies: list[str] = []  # replies for the next RCPTs, e.g. "550 no such user"
        self.rcpt_attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_attempts += 1
        reply = self.rcpt_replies.pop(0) if self.rcpt_replies else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        return [m for _, m in self.received]

    async def wait(self, n: int, timeout: float = 10.0) -> list[EmailMessage]:
        for _ in range(int(timeout / 0.05)):
            if len(self.received) >= n:
                return self.messages
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(self.received)} emails arrived, expected {n}")


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == SECRET.encode())
    return AuthResult(success=ok, handled=False)


def start_smtp(port: int, *, with_auth: bool = False) -> tuple[Inbox, Controller]:
    inbox = Inbox()
    extra = {"authenticator": _authenticate, "auth_required": True} if with_auth else {}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, auth_require_tls=False,
                            **extra)
    controller.start()
    return inbox, controller


def silent_port() -> tuple[socket.socket, int]:
    """A port that accepts TCP connections (the kernel's backlog) but never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock, sock.getsockname()[1]


@pytest.fixture
def config(config):
    """Mail tests' app: the outbox and SMTP on fast timers (see `fast`)."""
    return fast(config)


@pytest.fixture
def smtp(unused_tcp_port_factory):
    """A real SMTP server on localhost for one test; its inbox is what it received."""
    port = unused_tcp_port_factory()
    inbox, controller = start_smtp(port)
    inbox.port = port
    yield inbox
    controller.stop()


def fast(config, **changes):
    """The outbox polls and retries in fractions of a second; SMTP gives up after 1 s."""
    return dataclasses.replace(config, outbox_poll_seconds=0.05, outbox_backoff_base=0.05,
                               outbox_backoff_cap=0.2, outbox_max_attempts=4,
                               smtp_timeout_seconds=1.0, **changes)


async def smtp_on(chat, token: str, port: int, **fields) -> dict:
    """Email on for the token's organization, through the API."""
    body = {"host": "127.0.0.1", "port": port, "security": "none",
            "fromEmail": "chat@shop.example", "fromName": "Shop support", **fields}
    status, reply = await chat.call("PUT", "/api/v1/mail", token, json=body)
    assert status == 200, reply
    return reply["mail"]


def email_jobs(sql) -> list[tuple]:
    return sql("SELECT dedupe_key, status, attempts, last_error FROM outbox"
               " WHERE kind = 'email' ORDER BY id")


async def settle(sql, status: str, timeout: float = 10.0, index: int = -1) -> tuple:
    """Wait until the newest (or `index`th) email job has `status`."""
    for _ in range(int(timeout / 0.05)):
        jobs = email_jobs(sql)
        if jobs and jobs[index][1] == status:
            return jobs[index]
        await asyncio.sleep(0.05)
    raise AssertionError(f"email jobs {email_jobs(sql)}: none became {status}")


def parts(message: EmailMessage) -> tuple[str, str]:
    """(plain text, HTML) of a received message."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html
