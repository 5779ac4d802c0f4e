"""The password reset link: made, stored as its hash, queued as an email with the link
sealed inside, and built into that email when it is sent (the pages are in reset.py)."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from chatiq import keys
from chatiq.core.ratelimit import RateLimit
from chatiq.mail.cipher import seal, unseal
from chatiq.mail.context import Context
from chatiq.mail.messages import Letter, build, button, para
from chatiq.mail.strings import translate
from chatiq.outbox import wake
from chatiq.core.ratelimit import KeyedLimiter
from chatiq.core.security import new_token, token_hash
from chatiq.store import accounts, outbox
from chatiq.store import mail as store
from chatiq.store.accounts import User
from chatiq.store.mail import MailSettings
from chatiq.store.outbox import Job

TTL_SECONDS = 3600
# Requests per IP address (10, then one a minute) and per email address asked about
# (3, then one every 10 minutes): enough for a typo or a slow inbox, too few to flood one.
REQUESTS_PER_IP = RateLimit(burst=10, per_second=1 / 60)
REQUESTS_PER_EMAIL = RateLimit(burst=3, per_second=1 / 600)


def new_limiters() -> tuple[KeyedLimiter, KeyedLimiter]:
    return KeyedLimiter(REQUESTS_PER_IP), KeyedLimiter(REQUESTS_PER_EMAIL)


def _link(settings: MailSettings, token: str) -> str:
    # The saved panel address, never this request's Host header: a stranger asking for a
    # reset must not choose where the victim's link points.
    return f"{settings.base_url.rstrip('/')}/admin/password/reset/{token}"


async def send_link(app: web.Application, user: User, settings: MailSettings) -> None:
    """A new link for `user` (older ones stop working), queued as an email."""
    pool = app[keys.POOL]
    token = new_token()
    await store.create_reset(pool, user.id, token, ttl_seconds=TTL_SECONDS)
    await outbox.enqueue_now(
        pool, org_id=user.org_id, kind="email", key=f"reset:{token_hash(token).hex()}",
        payload={"type": "reset", "user": user.id,
                 "link": seal(app[keys.CONFIG].secret_key, _link(settings, token))})
    wake(app)


async def letters(ctx: Context, job: Job) -> list[Letter]:
    link = unseal(ctx.secret, job.payload["link"])
    found = await store.open_reset(ctx.pool, link.rsplit("/", 1)[1])
    if found is None:
        return []  # spent, expired or replaced by a newer link: sending it would only confuse
    user = await accounts.user_by_id(ctx.pool, found.user_id)
    t = partial(translate, user.language)
    intro = t("mail.reset.intro", email=user.email)
    text = f"{intro}\n\n{t('mail.reset.button')}: {link}\n\n{t('mail.reset.ignore')}\n"
    body = para(intro) + button(link, t("mail.reset.button")) + para(
        t("mail.reset.ignore"), "color:#6b7280")
    return [build(ctx.settings, org_name=ctx.org_name, key=job.dedupe_key, lang=user.language,
                  to=[(user.name, user.email)], subject=t("mail.reset.subject"), text=text,
                  body_html=body)]
