"""The organization's people: invite operators with a one-time link, set roles (OWNER only)."""

from __future__ import annotations

from aiohttp import web

from chatiq import keys
from chatiq.api.auth import EMAIL
from chatiq.panel import i18n
from chatiq.panel.access import require_owner
from chatiq.panel.render import render
from chatiq.panel.session import language
from chatiq.api.sites import share_site
from chatiq.panel.sites import own_origin
from chatiq.api.audit import record_request
from chatiq.core.protocol import make_id, parse_id
from chatiq.core.security import new_token
from chatiq.store import accounts, audit, invitations, sites
from chatiq.store.db import Conflict, NotFound

ROLES = ("OWNER", "OPERATOR")


async def team_page(request: web.Request, *, status: int = 200, **extra) -> web.Response:
    user = await require_owner(request)
    pool = request.app[keys.POOL]
    members = [{"ref": make_id("u", u.id), "name": u.name, "email": u.email, "role": u.role,
                "pending": u.password_hash is None}
               for u in await accounts.org_users(pool, user.org_id)]
    site_choices = [{"ref": make_id("s", s.id), "name": s.name}
                    for s in await sites.sites_for(pool, user)]
    return await render(request, "team.html", {"members": members, "form": {},
                                               "site_choices": site_choices, **extra},
                        status=status)


async def _error(request: web.Request, form: str, key: str, field: str | None = None) -> dict:
    return {"form": form, "field": field,
            "text": i18n.translate(await language(request), key)}


def _link(request: web.Request, token: str) -> str:
    return f"{own_origin(request)}/admin/invite/{token}"


async def invite(request: web.Request) -> web.Response:
    owner = await require_owner(request)
    form = await request.post()
    pool = request.app[keys.POOL]
    # The sites the new operator works on from their first sign-in (an operator without a
    # site has nothing to answer).
    own_sites = {s.id: s for s in await sites.sites_for(pool, owner)}
    given = [own_sites[i] for i in {parse_id("s", ref) for ref in form.getall("site", [])}
             if i in own_sites]
    email = str(form.get("email", "")).strip()
    name = str(form.get("name", "")).strip() or email.split("@", 1)[0]
    values = {"email": email, "name": str(form.get("name", ""))}
    if len(email) > 254 or not EMAIL.match(email):
        return await team_page(request, status=422, form=values,
                               error=await _error(request, "invite", "auth.bad_email", "email"))
    if len(name) > 100:
        return await team_page(request, status=422, form=values,
                               error=await _error(request, "invite", "form.name_long", "name"))
    token = new_token()
    try:
        invited = await invitations.invite_operator(request.app[keys.POOL], org_id=owner.org_id,
                                                    email=email.lower(), name=name, token=token,
                                                    invited_by=owner.id)
    except Conflict:
        return await team_page(request, status=422, form=values,
                               error=await _error(request, "invite", "auth.email_taken", "email"))
    await sites.give_sites(pool, invited.id, [s.id for s in given])
    for site in given:
        await share_site(request.app, site)
    await record_request(request, audit.INVITED, owner, target=make_id("u", invited.id),
                         details={"email": email.lower(),
                                  **({"sites": [s.name for s in given]} if given else {})})
    link = _link(request, token)
    emailed = await _email_invitation(request, owner, invited, token, link)
    return await team_page(request, status=201, invite_link=link, invite_email=email.lower(),
                           invite_emailed=emailed)


async def _member(request: web.Request, owner: accounts.User) -> accounts.User:
    """A user of the owner's organization; anyone else's is NotFound."""
    member = await accounts.user_by_id(request.app[keys.POOL],
                                       parse_id("u", request.match_info["id"]) or 0)
    if member is None or member.org_id != owner.org_id:
        raise NotFound("user not found")
    return member


async def reinvite(request: web.Request) -> web.Response:
    owner = await require_owner(request)
    member = await _member(request, owner)
    if member.password_hash is not None:
        raise NotFound("no pending invitation")
    token = new_token()
    await invitations.renew_invitation(request.app[keys.POOL], user_id=member.id, token=token,
                                       invited_by=owner.id)
    await record_request(request, audit.REINVITED, owner, target=make_id("u", member.id),
                         details={"email": member.email})
    link = _link(request, token)
    emailed = await _email_invitation(request, owner, member, token, link)
    return await team_page(request, invite_link=link, invite_email=member.email,
                           invite_emailed=emailed)


async def set_role(request: web.Request) -> web.Response:
    owner = await require_owner(request)
    member = await _member(request, owner)
    role = str((await request.post()).get("role", ""))
    if role not in ROLES:
        return await team_page(request, status=422,
                               error=await _error(request, "role", "team.bad_role", "role"))
    try:
        await accounts.set_role(request.app[keys.POOL], owner.org_id, member.id, role)
    except Conflict:
        return await team_page(request, status=422,
                               error=await _error(request, "role", "team.last_owner", "role"))
    if role != member.role:
        await record_request(request, audit.ROLE_CHANGED, owner, target=make_id("u", member.id),
                             details={"email": member.email, "from": member.role, "to": role})
    raise web.HTTPFound("/admin/chats" if member.id == owner.id and role != "OWNER"
                        else "/admin/team")


async def _email_invitation(request: web.Request, owner, invited, token: str, link: str) -> bool:
    """Email the link if the app has email (the mail feature installs INVITE_MAILER);
    False: the owner passes the link on themselves."""
    mailer = request.app.get(keys.INVITE_MAILER)
    return mailer is not None and await mailer(request, owner, invited, token, link)
