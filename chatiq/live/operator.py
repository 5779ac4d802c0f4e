"""`/ws/operator`: the operator's side of the wire contract (PROTOCOL.md §4)."""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from chatiq.core import fanout, protocol

from chatiq import keys
from chatiq.api.tokens import user_from_token
from chatiq.core.protocol import Frame, ProtocolError, make_id, parse_id
from chatiq.store import accounts, chats, sites
from chatiq.store.db import NotFound
from chatiq.store.writer import Post
from chatiq.core.wire import chat_summary, message_object, site_object, user_object
from chatiq.live.connection import Closing, Connection


class OperatorConnection(Connection):
    kind = "operator"
    __slots__ = ("user", "known_chats")

    def __init__(self, request: web.Request):
        super().__init__(request)
        self.user: accounts.User | None = None
        # chat id → site id, for chats this connection was already allowed to touch
        self.known_chats: dict[int, int] = {}

    async def start(self) -> bool:
        session_auth = self.app.get(keys.SESSION_AUTH)
        user = await session_auth(self.request) if session_auth else None
        ref = None
        if user is None:
            user, ref = await self._auth_frame()
        self.user = user
        site_list = await sites.sites_for(self.pool, user)
        came_online = self.hub.add_operator(self.peer, user_id=user.id,
                                            site_ids=[s.id for s in site_list])
        rows = await chats.chats_for(self.pool, user, limit=200)
        self.send("operator:ready", {
            "operator": {**user_object(user), "status": self.hub.status_of(user.id)},
            "sites": [site_object(s) for s in site_list],
            "chats": [self._summary(r) for r in rows],
            "onlineOperators": [make_id("u", u) for u in self.hub.operator_user_ids()
                                if self.hub.status_of(u) == "online"],
        })
        self.send_ack(ref, {"operatorId": make_id("u", user.id)})
        if came_online:
            fanout.presence(self.hub, user.id, self.peer.site_ids, self.hub.status_of(user.id))
        return True

    async def _auth_frame(self) -> tuple[accounts.User, str | None]:
        """The first frame must be `auth` with a valid JWT, within the time limit."""
        try:
            msg = await self.ws.receive(timeout=self.config.auth_timeout_seconds)
        except asyncio.TimeoutError:
            self.send_error(ProtocolError("unauthorized", "no auth frame in time"))
            raise Closing(protocol.CLOSE_UNAUTHORIZED, "auth timeout") from None
        if msg.type != WSMsgType.TEXT:
            raise Closing(protocol.CLOSE_UNAUTHORIZED, "auth required")
        ref = None
        try:
            frame = protocol.decode(msg.data)
            ref = frame.ref
            if frame.type != "auth":
                raise ProtocolError("unauthorized", "the first frame must be auth")
            data = protocol.validate(frame, self.specs)
        except protocol.FrameRefError as exc:
            ref = exc.ref
            user = None
        except ProtocolError:
            user = None
        else:
            user = await user_from_token(self.app, data["token"])
        if user is None:
            self.send_error(ProtocolError("unauthorized", "invalid or expired token"), ref)
            raise Closing(protocol.CLOSE_UNAUTHORIZED, "unauthorized")
        return user, ref

    async def stop(self) -> None:
        if self.hub.remove_operator(self.peer):
            fanout.presence(self.hub, self.user.id, self.peer.site_ids, "offline")

    async def _chat(self, chat_ref: str) -> dict:
        row = await chats.chat_for(self.pool, self.user, parse_id("c", chat_ref))
        if row["site_id"] not in self.peer.site_ids:  # access changed in another process
            raise NotFound("chat not found")
        self.known_chats[row["id"]] = row["site_id"]
        return row

    async def _chat_site(self, chat_ref: str) -> tuple[int, int]:
        """(chat id, site id) with the access check cached per connection (typing is hot)."""
        chat_id = parse_id("c", chat_ref)
        if chat_id in self.known_chats:
            return chat_id, self.known_chats[chat_id]
        row = await self._chat(chat_ref)
        return row["id"], row["site_id"]

    def _summary(self, row: dict) -> dict:
        """A chat summary plus whether its visitor is connected to this process now."""
        return {**chat_summary(row), "visitorOnline": self.hub.visitor_online(row["visitor_id"])}

    async def on_auth(self, frame: Frame, data: dict) -> dict:
        raise ProtocolError("invalid", "already authenticated", field="token")

    async def on_chat_subscribe(self, frame: Frame, data: dict) -> dict:
        row = await self._chat(data["chatId"])
        if "lastSeq" in data:
            messages = await chats.messages_after(self.pool, row["id"], data["lastSeq"])
        else:
            messages = await chats.latest_messages(self.pool, row["id"], self.config.history_limit)
        return {"chat": self._summary(row), "messages": [message_object(m) for m in messages]}

    async def on_chat_unsubscribe(self, frame: Frame, data: dict) -> dict:
        await self._chat_site(data["chatId"])
        return {}

    async def on_operator_message(self, frame: Frame, data: dict) -> dict:
        chat_id, site_id = await self._chat_site(data["chatId"])
        text = data.get("text") or ""
        if not text.strip() and not data.get("attachmentId"):
            raise ProtocolError("invalid", "a message needs text or an attachment", field="text")
        # The first operator to answer an unassigned chat takes it, in the message's own
        # transaction; the fan-out then carries the changed chat too.
        posted = await self.app[keys.WRITER].post(Post(
            "operator", self.user.id, text, chat_id=chat_id, client_id=data.get("clientId"),
            attachment_id=data.get("attachmentId")))
        message = fanout.stored(self.hub, posted, sender=self.peer)
        automation = self.app.get(keys.AUTOMATION)
        if posted.created and automation is not None:
            await automation.operator_message(site_id, posted)
        return {"message": message}

    async def on_operator_typing(self, frame: Frame, data: dict) -> dict:
        chat_id, _ = await self._chat_site(data["chatId"])
        self.hub.to_chat_visitors(chat_id, protocol.encode(
            "admin:typing", {"typing": data["typing"], "name": self.user.name}))
        return {}

    async def on_operator_read(self, frame: Frame, data: dict) -> dict:
        chat_id, _ = await self._chat_site(data["chatId"])
        seq = await chats.mark_read(self.pool, chat_id, data["seq"], by="operator")
        if seq is not None:
            self.hub.to_chat_visitors(chat_id, protocol.encode("admin:read", {"seq": seq}))
            fanout.chat_updated(self.hub, await chats.chat_row(self.pool, chat_id))
        return {"seq": seq if seq is not None else data["seq"]}

    async def _set_status(self, chat_ref: str, status: str) -> dict:
        chat_id, _ = await self._chat_site(chat_ref)
        changed = await chats.set_status(self.pool, chat_id, status,
                                         on_event=self.app.get(keys.WEBHOOKS))
        row = await chats.chat_row(self.pool, chat_id)
        if changed:
            if status == "closed":
                self.hub.to_chat_visitors(chat_id, protocol.encode(
                    "chat:closed", {"chatId": make_id("c", chat_id)}))
            fanout.chat_updated(self.hub, row, exclude=self.peer)
        return {"chat": chat_summary(row)}

    async def on_chat_close(self, frame: Frame, data: dict) -> dict:
        return await self._set_status(data["chatId"], "closed")

    async def on_chat_reopen(self, frame: Frame, data: dict) -> dict:
        return await self._set_status(data["chatId"], "open")

    async def on_chat_assign(self, frame: Frame, data: dict) -> dict:
        row = await self._chat(data["chatId"])
        assignee = None
        if data.get("operatorId") is not None:
            assignee = parse_id("u", data["operatorId"])
            site = await sites.site_for(self.pool, self.user, row["site_id"])
            if assignee not in await sites.site_user_ids(self.pool, site):
                raise ProtocolError("not_found", "operator not found", field="operatorId")
        await chats.assign(self.pool, row["id"], assignee)
        row = await chats.chat_row(self.pool, row["id"])
        return {"chat": fanout.chat_updated(self.hub, row, exclude=self.peer)}

    async def on_operator_status(self, frame: Frame, data: dict) -> dict:
        self.hub.set_status(self.user.id, data["status"])
        fanout.presence(self.hub, self.user.id, self.peer.site_ids, data["status"])
        return {"status": data["status"]}

    async def on_message_react(self, frame: Frame, data: dict) -> dict:
        message_id = parse_id("m", data["messageId"])
        chat_id = await chats.chat_of_message(self.pool, message_id)
        _, site_id = await self._chat_site(make_id("c", chat_id))
        await chats.toggle_reaction(self.pool, message_id, make_id("u", self.user.id),
                                    data["emoji"])
        row = await chats.message_in_chat(self.pool, chat_id, message_id)
        return {"message": fanout.reaction_changed(self.hub, site_id, row)}


    HANDLERS = {**Connection.HANDLERS,
                "auth": on_auth, "chat:subscribe": on_chat_subscribe,
                "chat:unsubscribe": on_chat_unsubscribe, "operator:message": on_operator_message,
                "operator:typing": on_operator_typing, "operator:read": on_operator_read,
                "chat:close": on_chat_close, "chat:reopen": on_chat_reopen,
                "chat:assign": on_chat_assign, "operator:status": on_operator_status,
                "message:react": on_message_react}


async def operator_socket(request: web.Request) -> web.WebSocketResponse:
    return await OperatorConnection(request).run()
