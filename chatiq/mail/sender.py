"""The outbox's sender for `email` jobs: build the letters from the database now, then hand
them to the organization's SMTP server.

A job whose email is no longer due (answered, erased, spent) completes without sending.
"""

from __future__ import annotations

import email.errors
import logging

from aiohttp import web

from chatiq import keys
from chatiq.mail import invites, missed, reset_link, smtp, transcript
from chatiq.mail.cipher import Undecryptable, unseal
from chatiq.mail.context import Builder, Context
from chatiq.outbox import DeliveryFailed, Sender
from chatiq.store import mail as store
from chatiq.store.mail import MailSettings
from chatiq.store.outbox import Job

log = logging.getLogger(__name__)

# payload["type"] → what builds that email
BUILDERS: dict[str, Builder] = {
    "missed": missed.letters,
    "transcript": transcript.letters,
    "invite": invites.letters,
    "reset": reset_link.letters,
}


def server_for(settings: MailSettings, secret: str, timeout: float) -> smtp.Server:
    password = unseal(secret, settings.password_enc) if settings.password_enc else ""
    return smtp.Server(settings.host, settings.port, settings.security, settings.username,
                       password, timeout)


def email_sender(app: web.Application) -> Sender:
    pool, config = app[keys.POOL], app[keys.CONFIG]

    async def send(job: Job) -> int | None:
        settings = await store.settings_for(pool, job.org_id)
        if settings is None:
            raise DeliveryFailed("email is not set up for this organization", retry=False)
        builder = BUILDERS.get(job.payload.get("type"))
        if builder is None:
            raise DeliveryFailed(f"unknown email type {job.payload.get('type')!r}", retry=False)
        org_name, _ = await store.names(pool, job.org_id)
        try:
            letters = await builder(Context(pool, config.secret_key, settings, org_name), job)
            server = server_for(settings, config.secret_key, config.smtp_timeout_seconds)
        except Undecryptable as exc:  # the OWNER can save the password again
            raise DeliveryFailed(str(exc)) from None
        except (ValueError, email.errors.MessageError) as exc:  # an address no header holds
            raise DeliveryFailed(f"cannot build the message: {exc}"[:300], retry=False) from None
        if not letters:
            log.info("email job %d (%s): no longer due, nothing sent", job.id, job.dedupe_key)
            return None
        code = None
        for letter in letters:
            code = await smtp.send(server, letter.message, letter.recipients)
        return code

    return send
