"""`/ws/widget`: the visitor's side of the wire contract (PROTOCOL.md §3)."""

from __future__ import annotations

import logging

from aiohttp import web

from chatiq.core import fanout, identity, protocol

from chatiq import keys
from chatiq.core.origins import origin_allowed
from chatiq.core.protocol import Frame, ProtocolError, make_id, parse_id
from chatiq.core.ratelimit import whole_seconds
from chatiq.core.security import new_token
from chatiq.store import chats, sites, visitors
from chatiq.store import mail as mail_store
from chatiq.store.accounts import user_by_id
from chatiq.store.db import NotFound
from chatiq.store.site_identity import identity_for_join
from chatiq.store.writer import Post
from chatiq.core.wire import message_object, settings_object
from chatiq.live.connection import Closing, Connection
from chatiq.live.refusals import note_refused_origin

log = logging.getLogger(__name__)


class VisitorConnection(Connection):
    kind = "visitor"
    __slots__ = ("site", "visitor")

    def __init__(self, request: web.Request):
        super().__init__(request)
        self.site: sites.Site | None = None
        self.visitor: visitors.Visitor | None = None

    def _joined(self) -> None:
        if self.visitor is None:
            raise ProtocolError("not_joined", "send visitor:join first")

    @property
    def chat_id(self) -> int | None:
        return self.peer.chat_id

    async def stop(self) -> None:
        went_offline = self.hub.remove_visitor(self.peer)
        if went_offline and self.chat_id is not None:
            self.hub.to_site_operators(self.site.id, protocol.encode("visitor:offline", {
                "chatId": make_id("c", self.chat_id), "visitorId": make_id("v", self.visitor.id)}))

    async def on_visitor_join(self, frame: Frame, data: dict) -> dict:
        if self.visitor is not None:
            raise ProtocolError("invalid", "already joined", field="siteKey")
        ip = self.request.remote or "?"
        limiter = self.app[keys.JOIN_LIMITER]
        if self.config.rate_limits_enabled and not limiter.allow(ip):
            raise ProtocolError("rate_limited", "too many joins from this address, retry later",
                                retry_after=whole_seconds(limiter.retry_after(ip)))
        site = await sites.site_by_key(self.pool, data["siteKey"])
        if site is None or not site.enabled:
            raise Closing(protocol.CLOSE_FORBIDDEN, "unknown or disabled site")
        origin = self.request.headers.get("Origin")
        if not origin_allowed(origin, site.allowed_origins, self.request.host):
            await note_refused_origin(self.app, site, origin)
            # The widget tells "origin" from "site key" by this reason's first word.
            raise Closing(protocol.CLOSE_FORBIDDEN, "origin not allowed for this site")
        info = {**data, "userAgent": self.request.headers.get("User-Agent", "")[:500], "ip": ip}
        token = data.get("visitorToken")
        decision = await self._identity(site, data.get("user"), frame.ref)
        verified = None
        if decision.user_id is not None:
            user = data["user"]
            verified = await visitors.join_verified(
                self.pool, site_id=site.id, external_id=decision.user_id, name=user.get("name"),
                email=user.get("email"), token=token, info=info,
                on_event=self.app.get(keys.WEBHOOKS))
            visitor, token = verified.visitor, verified.token
        else:
            visitor = await visitors.visitor_by_token(self.pool, site.id, token) if token else None
            # A verified customer's chats show only to a join that proves who they are.
            if visitor is not None and visitor.external_id is not None:
                visitor = None
            if visitor is None:
                token = new_token()
                visitor = await visitors.create_visitor(self.pool, site_id=site.id, token=token,
                                                        info=info)
            else:
                visitor = await visitors.touch_visitor(self.pool, visitor.id, info)
        chat_id = await chats.latest_chat_id(self.pool, visitor.id)
        self.site, self.visitor = site, visitor
        # In the room before the history is read: a message stored meanwhile then comes
        # live (perhaps also in the history; clients merge by seq). Read first, it could
        # fall between the two and reach this visitor only on their next reconnect.
        came_online = self.hub.add_visitor(self.peer, site_id=site.id, visitor_id=visitor.id,
                                           chat_id=chat_id)
        history, agent = [], None
        try:
            if chat_id is not None:
                if "lastSeq" in data:
                    rows = await chats.messages_after(self.pool, chat_id, data["lastSeq"])
                else:
                    rows = await chats.latest_messages(self.pool, chat_id,
                                                       self.config.history_limit)
                history = [message_object(r) for r in rows]
                agent = await self._agent(chat_id)
            settings = settings_object(await sites.widget_settings(self.pool, site.id))
        except BaseException:  # not joined after all: the client may send visitor:join again
            self.hub.remove_visitor(self.peer)
            self.site = self.visitor = None
            raise
        if agent is None and settings["agentName"]:
            agent = {"name": settings["agentName"], "avatarUrl": settings["agentAvatarUrl"]}
        if came_online and chat_id is not None:
            self.hub.to_site_operators(site.id, protocol.encode("visitor:online", {
                "chatId": make_id("c", chat_id), "visitorId": make_id("v", visitor.id)}))
        if verified is not None:
            await self._identified(site, verified, chat_id)
        self.send("session", {
            "visitorId": make_id("v", visitor.id),
            "visitorToken": token,
            "chatId": make_id("c", chat_id),
            "settings": settings,
            "business": await self._business(site),
            "agent": agent,
            "operatorsOnline": self.hub.operators_online(site.id),
            "history": history,
            # email: whether this site can send email at all; without it the widget never
            # promises an emailed answer or transcript.
            "features": {"uploads": True, "reactions": True,
                         "email": await mail_store.mail_configured(self.pool, site.org_id)},
            "identity": _identity_state(decision),
        })
        return {"visitorId": make_id("v", visitor.id), "chatId": make_id("c", chat_id)}

    async def _identity(self, site: sites.Site, user: dict | None,
                        ref: str | None) -> identity.Decision:
        """Check the join's `user` against the site's secret; a site that enforces
        identity ends the connection when it does not verify (docs/identity.md)."""
        settings = await identity_for_join(self.pool, site.id)
        decision = identity.decide(settings.secret if settings else None,
                                   settings is not None and settings.enforce, user)
        if decision.error is not None and user is not None:
            log.info("site %s: visitor identity not accepted: %s", site.id, decision.error.message)
        if decision.refuse:
            self.send_error(decision.error, ref)
            raise Closing(protocol.CLOSE_IDENTITY_REFUSED, "verified identity required")
        return decision

    async def _identified(self, site: sites.Site, verified: visitors.VerifiedJoin,
                          chat_id: int | None) -> None:
        """Operators see the verified badge, name and a moved chat (now this one) at once."""
        if chat_id is not None and verified.changed:
            fanout.chat_updated(self.hub, await chats.chat_row(self.pool, chat_id))
        if verified.identified:  # webhooks heard it in join_verified's transaction
            log.info("site %s: visitor v_%s identified as customer %r", site.id,
                     verified.visitor.id, verified.visitor.external_id)

    async def _business(self, site: sites.Site) -> dict:
        automation = self.app.get(keys.AUTOMATION)
        if automation is None:
            return {"open": True, "nextOpenAt": None}
        return await automation.business_status(site.id)

    async def _agent(self, chat_id: int) -> dict | None:
        row = await chats.chat_row(self.pool, chat_id)
        if row is None or row["assigned_to"] is None:
            return None
        user = await user_by_id(self.pool, row["assigned_to"])
        return None if user is None else {"name": user.name, "avatarUrl": user.avatar_url}

    async def on_visitor_message(self, frame: Frame, data: dict) -> dict:
        self._joined()
        text = data.get("text") or ""
        if not text.strip() and not data.get("attachmentId"):
            raise ProtocolError("invalid", "a message needs text or an attachment", field="text")
        limiter, who = self.app[keys.MESSAGE_LIMITER], str(self.visitor.id)
        if self.config.rate_limits_enabled and not limiter.allow(who):  # all their sockets
            raise ProtocolError("rate_limited", "too many messages, retry later",
                                retry_after=whole_seconds(limiter.retry_after(who)))
        # No chat yet: the writer finds or makes the visitor's (two tabs' first messages
        # share one); a closed chat reopens.
        posted = await self.app[keys.WRITER].post(Post(
            "visitor", self.visitor.id, text, chat_id=self.chat_id,
            client_id=data.get("clientId"), attachment_id=data.get("attachmentId"), reopen=True))
        if posted.created:
            self.hub.attach_chat(self.visitor.id, posted.message["chat_id"])
        message = fanout.stored(self.hub, posted, sender=self.peer)
        automation = self.app.get(keys.AUTOMATION)
        if posted.created and automation is not None:
            await automation.visitor_message(self.site, posted)
        return {"message": message}

    async def on_visitor_typing(self, frame: Frame, data: dict) -> dict:
        self._joined()
        if self.chat_id is not None:
            event = {"chatId": make_id("c", self.chat_id), "typing": data["typing"]}
            if data.get("preview") is not None and data["typing"]:
                event["preview"] = data["preview"][:1000]
            self.hub.to_site_operators(self.site.id, protocol.encode("visitor:typing", event))
        return {}

    async def on_visitor_read(self, frame: Frame, data: dict) -> dict:
        self._joined()
        if self.chat_id is None:
            return {"seq": 0}
        seq = await chats.mark_read(self.pool, self.chat_id, data["seq"], by="visitor")
        if seq is not None:
            self.hub.to_site_operators(self.site.id, protocol.encode(
                "visitor:read", {"chatId": make_id("c", self.chat_id), "seq": seq}))
        return {"seq": seq if seq is not None else data["seq"]}

    async def on_visitor_page(self, frame: Frame, data: dict) -> dict:
        self._joined()
        self.visitor = await visitors.touch_visitor(self.pool, self.visitor.id, data)
        if self.chat_id is not None:
            self.hub.to_site_operators(self.site.id, protocol.encode("visitor:page", {
                "chatId": make_id("c", self.chat_id), "visitorId": make_id("v", self.visitor.id),
                "pageUrl": self.visitor.page_url, "pageTitle": self.visitor.page_title}))
        return {}

    async def feature_frame(self, frame: Frame, data: dict) -> dict:
        handler = self.app.get(keys.VISITOR_FRAMES, {}).get(frame.type)
        if handler is None:
            return await super().feature_frame(frame, data)
        self._joined()
        return await handler(self, data)  # e.g. visitor:email, docs/email.md

    async def on_message_react(self, frame: Frame, data: dict) -> dict:
        self._joined()
        if self.chat_id is None:
            raise NotFound("message not found")
        message_id = parse_id("m", data["messageId"])
        await chats.message_in_chat(self.pool, self.chat_id, message_id)
        await chats.toggle_reaction(self.pool, message_id, make_id("v", self.visitor.id),
                                    data["emoji"])
        row = await chats.message_in_chat(self.pool, self.chat_id, message_id)
        return {"message": fanout.reaction_changed(self.hub, self.site.id, row)}


    HANDLERS = {**Connection.HANDLERS,
                "visitor:join": on_visitor_join, "visitor:message": on_visitor_message,
                "visitor:typing": on_visitor_typing, "visitor:read": on_visitor_read,
                "visitor:page": on_visitor_page, "message:react": on_message_react}


def _identity_state(decision: identity.Decision) -> dict | None:
    """The session's `identity`: null when the join sent no user."""
    if decision.user_id is not None:
        return {"verified": True, "userId": decision.user_id}
    if decision.error is not None:
        return {"verified": False, "error": decision.error.data()}
    return None


async def widget_socket(request: web.Request) -> web.WebSocketResponse:
    return await VisitorConnection(request).run()
