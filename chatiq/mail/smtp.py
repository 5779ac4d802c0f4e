"""Sending one message with the standard library's smtplib, in a thread, with a timeout.

Failures become `DeliveryFailed` the outbox understands: a 5xx refusal of the recipients or
the message is permanent (retrying cannot help), anything else (a 4xx, a timeout, a refused
connection, wrong credentials the OWNER may still fix) is retried with backoff.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage

from chatiq.outbox import DeliveryFailed

SECURITY = ("none", "starttls", "tls")


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str  # one of SECURITY
    username: str = ""
    password: str = field(default="", repr=False)
    # Each socket operation (connect, every reply) gives up after this many seconds.
    timeout: float = 20.0


def _refusal(code: int, text: str | bytes, what: str, *, permanent_5xx: bool) -> DeliveryFailed:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return DeliveryFailed(f"{what}: {code} {text}".strip()[:300], status_code=code,
                          retry=not (permanent_5xx and 500 <= code < 600))


def _send(server: Server, message: EmailMessage, recipients: list[str]) -> int:
    # The greeting name: the sender's domain, since socket.getfqdn() may wait on DNS.
    local = str(message["From"].addresses[0].domain or "localhost")
    context = ssl.create_default_context()
    if server.security == "tls":
        smtp = smtplib.SMTP_SSL(server.host, server.port, local_hostname=local,
                                timeout=server.timeout, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, local_hostname=local,
                            timeout=server.timeout)
    with smtp:
        if server.security == "starttls":
            smtp.starttls(context=context)
        if server.username:
            smtp.login(server.username, server.password)
        refused = smtp.send_message(message, to_addrs=recipients)
    if refused:  # some accepted: they got it; the rest would refuse a retry the same way
        raise _some_refused(refused)
    return 250


def _some_refused(refused: dict) -> DeliveryFailed:
    address, (code, text) = next(iter(refused.items()))
    failed = _refusal(code, text, f"recipient {address} refused", permanent_5xx=True)
    failed.retry = False  # the others have it; sending again would duplicate theirs
    return failed


def send_blocking(server: Server, message: EmailMessage, recipients: list[str]) -> int:
    """Deliver `message` to `recipients` (envelope) or raise DeliveryFailed."""
    try:
        return _send(server, message, recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        address, (code, text) = next(iter(exc.recipients.items()))
        raise _refusal(code, text, f"recipient {address} refused", permanent_5xx=True) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise _refusal(exc.smtp_code, exc.smtp_error, "authentication failed",
                       permanent_5xx=False) from None
    except smtplib.SMTPDataError as exc:
        raise _refusal(exc.smtp_code, exc.smtp_error, "message refused",
                       permanent_5xx=True) from None
    except smtplib.SMTPResponseException as exc:  # sender refused, greeting, HELO, …
        raise _refusal(exc.smtp_code, exc.smtp_error, "server refused",
                       permanent_5xx=False) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryFailed(f"server does not support it: {exc}"[:300]) from None
    except smtplib.SMTPServerDisconnected as exc:
        # smtplib reports a reply that never came as a disconnection.
        if isinstance(exc.__context__, TimeoutError):
            raise DeliveryFailed(f"timed out after {server.timeout:g} s") from None
        raise DeliveryFailed(f"server closed the connection: {exc}"[:300]) from None
    except TimeoutError:
        raise DeliveryFailed(f"timed out after {server.timeout:g} s") from None
    except smtplib.SMTPException as exc:  # e.g. no AUTH method both sides know
        raise DeliveryFailed(f"SMTP error: {exc}"[:300]) from None
    except ssl.SSLError as exc:
        raise DeliveryFailed(f"TLS failed: {exc.reason or exc}"[:300]) from None
    except OSError as exc:  # refused, unreachable, unknown host
        raise DeliveryFailed(f"cannot connect to {server.host}:{server.port}:"
                             f" {exc.strerror or exc}"[:300]) from None


async def send(server: Server, message: EmailMessage, recipients: list[str]) -> int:
    """`send_blocking` off the event loop. A hung server costs a thread until its socket
    times out, never the loop."""
    return await asyncio.to_thread(send_blocking, server, message, recipients)
