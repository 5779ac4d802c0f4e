"""Invitation links by email: when an OWNER invites a teammate (or makes a new link) and the
organization has SMTP settings, the link goes to the invitee too. The panel still shows it.

The link is a credential, so the queued job holds it sealed (cipher.py), never in clear.
"""

from __future__ import annotations

from functools import partial

from aiohttp import web

from chatiq import keys
from chatiq.mail.cipher import seal, unseal
from chatiq.mail.context import Context
from chatiq.mail.messages import Letter, build, button, para
from chatiq.outbox import wake
from chatiq.mail.strings import translate
from chatiq.core.security import token_hash
from chatiq.store import accounts
from chatiq.store import mail as store
from chatiq.store import outbox
from chatiq.store.accounts import User
from chatiq.store.outbox import Job


async def email_invitation(request: web.Request, owner: User, invited: User, token: str,
                           link: str) -> bool:
    """Queue the link for `invited`; False when the organization sends no email."""
    pool = request.app[keys.POOL]
    if await store.settings_for(pool, owner.org_id) is None:
        return False
    await outbox.enqueue_now(
        pool, org_id=owner.org_id, kind="email", key=f"invite:{token_hash(token).hex()}",
        payload={"type": "invite", "user": invited.id, "inviter": owner.name,
                 "lang": owner.language,
                 "link": seal(request.app[keys.CONFIG].secret_key, link)})
    wake(request.app)
    return True


async def letters(ctx: Context, job: Job) -> list[Letter]:
    user = await accounts.user_by_id(ctx.pool, int(job.payload["user"]))
    if user is None or user.password_hash is not None:
        return []  # removed, or joined already
    lang = job.payload["lang"]
    t = partial(translate, lang)
    link = unseal(ctx.secret, job.payload["link"])
    names = {"inviter": job.payload["inviter"], "org": ctx.org_name}
    intro = t("mail.invite.intro", **names)
    return [build(ctx.settings, org_name=ctx.org_name, key=job.dedupe_key, lang=lang,
                  to=[(user.name, user.email)], subject=t("mail.invite.subject", **names),
                  text=f"{intro}\n\n{t('mail.invite.button')}: {link}\n",
                  body_html=para(intro) + button(link, t("mail.invite.button")))]
