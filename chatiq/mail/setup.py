"""Wiring email into the app: the outbox sender for `email` jobs and the limits on what
strangers may ask to be emailed."""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.mail import invites, reset_link, transcript
from chatiq.mail.sender import email_sender
from chatiq.outbox import register_sender


def setup_mail(app: web.Application) -> None:
    app[keys.TRANSCRIPT_LIMITER] = transcript.new_limiter()
    app[keys.RESET_IP_LIMITER], app[keys.RESET_EMAIL_LIMITER] = reset_link.new_limiters()
    register_sender(app, "email", email_sender)
    app[keys.INVITE_MAILER] = invites.email_invitation
    app[keys.VISITOR_FRAMES] = {**app.get(keys.VISITOR_FRAMES, {}),
                                "visitor:email": transcript.visitor_email}
