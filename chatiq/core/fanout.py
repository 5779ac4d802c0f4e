"""Who hears about what: turns a stored change into frames pushed through the hub.

Pure (no I/O): encode each event once, push it to every peer that may see it.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatiq.core import protocol
from chatiq.core.hub import Hub, Peer
from chatiq.core.wire import chat_summary, message_object


@dataclass(frozen=True, slots=True)
class Posted:
    """What storing a message did (the writer's answer; store/writer.py)."""

    message: dict            # the stored row (store/chats.py MESSAGE_SELECT)
    created: bool            # False: the clientId was seen before, nothing stored
    site_id: int | None = None
    chat: dict | None = None  # the chat's summary row when this message created or changed it
    chat_created: bool = False
    chat_reopened: bool = False
    assigned: bool = False   # the operator who wrote it took the unassigned chat


def stored(hub: Hub, posted: Posted, *, sender: Peer | None) -> dict:
    """Fan out a freshly stored message (and the chat it created or changed), each frame
    encoded once; returns the message's wire object for the author's ack."""
    message = message_object(posted.message)
    if not posted.created:
        return message
    chat_id = posted.message["chat_id"]
    if posted.chat is not None:
        if posted.chat_created:
            chat_new(hub, posted.chat)
        else:
            chat_updated(hub, posted.chat)
    if not hub.mark_delivered(chat_id, message["seq"]):
        return message  # already fanned out here (a replay after a LISTEN reconnect)
    site_id = posted.site_id
    kind = posted.message["author_kind"]
    body = {"message": message}
    # Other processes learn of messages through the database (store/writer's NOTIFY),
    # not by relay.
    if kind == "visitor":
        # The visitor's other tabs see their own message too: one frame for both sides.
        text = protocol.encode("visitor:message", body)
        hub.to_chat_visitors(chat_id, text, exclude=sender, relay=False)
        hub.to_site_operators(site_id, text, relay=False)
    else:
        visitor_event = {"operator": "admin:message", "bot": "auto-reply:sent"}.get(
            kind, "admin:message")
        hub.to_chat_visitors(chat_id, protocol.encode(visitor_event, body), relay=False)
        hub.to_site_operators(site_id, protocol.encode("operator:message", body), exclude=sender,
                              relay=False)
    return message


def chat_new(hub: Hub, chat_row: dict) -> None:
    # Not relayed: other processes learn of it with the first message's NOTIFY, so
    # that everywhere chat:new comes before the chat's first visitor:message.
    hub.to_site_operators(chat_row["site_id"],
                          protocol.encode("chat:new", {"chat": chat_summary(chat_row)}),
                          relay=False)


def chat_updated(hub: Hub, chat_row: dict, exclude: Peer | None = None) -> dict:
    chat = chat_summary(chat_row)
    hub.to_site_operators(chat_row["site_id"], protocol.encode("chat:updated", {"chat": chat}),
                          exclude=exclude)
    return chat


def settings_changed(hub: Hub, site_id: int, settings: dict) -> int:
    return hub.to_site_visitors(site_id, protocol.encode("settings:update", {"settings": settings}))


def presence(hub: Hub, user_id: int, site_ids, status: str) -> None:
    """Tell colleagues on the same sites and the sites' widgets.

    Other processes hear of it through the bus's presence report, not by relay.
    """
    text = protocol.encode("presence", {"operatorId": protocol.make_id("u", user_id),
                                        "status": status})
    told: set[Peer] = set()
    for site_id in site_ids:
        for peer in tuple(hub.site_operators.get(site_id, ())):
            if peer not in told:
                told.add(peer)
                peer.push(text)
    operators_online_changed(hub, site_ids)
    if hub.relay is not None:
        hub.relay("presence", 0, "")


def operators_online_changed(hub: Hub, site_ids) -> None:
    """Every widget of these sites hears how many operators are online now."""
    for site_id in site_ids:
        hub.to_site_visitors(site_id, protocol.encode(
            "operators:online", {"count": hub.operators_online(site_id)}), relay=False)


def reaction_changed(hub: Hub, site_id: int, row: dict) -> dict:
    """Both sides of the chat see the message's new reactions."""
    message = message_object(row)
    text = protocol.encode("message:reaction", {
        "chatId": message["chatId"], "messageId": message["id"], "reactions": message["reactions"]})
    hub.to_chat_visitors(row["chat_id"], text)
    hub.to_site_operators(site_id, text)
    return message


def remote_presence_changed(hub: Hub, before: dict, after: dict, affected_sites: set[int]) -> None:
    """Another process's operators changed: tell operators and widgets here."""
    for user_id in set(before) | set(after):
        old, new = before.get(user_id), after.get(user_id)
        if old == new or user_id in hub.operator_peers:  # local connections speak for them
            continue
        status = new[0] if new else "offline"
        text = protocol.encode("presence", {"operatorId": protocol.make_id("u", user_id),
                                            "status": status})
        told: set[Peer] = set()
        for site_id in (old[1] if old else frozenset()) | (new[1] if new else frozenset()):
            for peer in tuple(hub.site_operators.get(site_id, ())):
                if peer not in told:
                    told.add(peer)
                    peer.push(text)
    operators_online_changed(hub, affected_sites)
