"""fanout.stored: who hears about a stored message, each frame encoded once (no sockets)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from chatiq.core import fanout
from chatiq.core.fanout import Posted
from chatiq.core.hub import Hub, Peer

NOW = datetime(2026, 12, 4, tzinfo=timezone.utc)


def peer(kind: str) -> Peer:
    return Peer(kind, limit=100, wake=lambda: None, on_overflow=lambda: None)


def row(kind: str, seq: int, chat_id: int = 42, author_id: int | None = 7) -> dict:
    return {"id": 1000 + seq, "chat_id": chat_id, "seq": seq, "client_id": None,
            "author_kind": kind, "author_id": author_id, "text": f"text {seq}",
            "reactions": {}, "created_at": NOW, "read_at": None, "operator_name": "Olena",
            "operator_avatar": None, "visitor_name": None, "att_id": None, "att_name": None,
            "att_size": None, "att_mime": None, "att_thumb": None}


def chat_row(status: str = "open") -> dict:
    return {"id": 42, "site_id": 1, "visitor_id": 7, "status": status, "assigned_to": None,
            "last_seq": 1, "operator_read_seq": 0, "visitor_read_seq": 0, "created_at": NOW,
            "updated_at": NOW, "closed_at": None, "org_id": 1, "visitor_name": None,
            "visitor_email": None, "page_url": None, "page_title": None, "referrer": None,
            "language": None, "user_agent": None, "timezone": None, "first_seen": NOW,
            "last_seen": NOW, "visitor_external_id": None, "unread": 1, "lm_id": 1001,
            "lm_seq": 1, "lm_text": "text 1", "lm_author_kind": "visitor",
            "lm_created_at": NOW, "lm_attachment_id": None}


def room() -> tuple[Hub, Peer, Peer, Peer, Peer]:
    hub = Hub()
    tab1, tab2, op1, op2 = peer("visitor"), peer("visitor"), peer("operator"), peer("operator")
    hub.add_visitor(tab1, site_id=1, visitor_id=7, chat_id=42)
    hub.add_visitor(tab2, site_id=1, visitor_id=7, chat_id=42)
    hub.add_operator(op1, user_id=1, site_ids=[1])
    hub.add_operator(op2, user_id=2, site_ids=[1])
    return hub, tab1, tab2, op1, op2


def types(p: Peer) -> list[str]:
    return [json.loads(text)["type"] for text in p.outbox]


def test_a_visitor_message_reaches_their_other_tabs_and_the_team_as_one_frame():
    hub, tab1, tab2, op1, op2 = room()
    message = fanout.stored(hub, Posted(row("visitor", 1), True, site_id=1), sender=tab1)
    assert message["seq"] == 1 and message["text"] == "text 1"
    assert tab1.outbox == [] and types(tab2) == ["visitor:message"]
    assert types(op1) == types(op2) == ["visitor:message"]
    # One encoding shared by everyone: the very same string object.
    assert tab2.outbox[0] is op1.outbox[0] is op2.outbox[0]


def test_an_operator_message_reaches_visitors_as_admin_message_and_colleagues_not_the_sender():
    hub, tab1, tab2, op1, op2 = room()
    fanout.stored(hub, Posted(row("operator", 1, author_id=1), True, site_id=1), sender=op1)
    assert types(tab1) == types(tab2) == ["admin:message"]
    assert op1.outbox == [] and types(op2) == ["operator:message"]


def test_a_bot_message_reaches_visitors_as_auto_reply():
    hub, tab1, _, op1, _ = room()
    fanout.stored(hub, Posted(row("bot", 1, author_id=None), True, site_id=1), sender=None)
    assert types(tab1) == ["auto-reply:sent"] and types(op1) == ["operator:message"]


def test_a_duplicate_is_answered_but_told_to_nobody():
    hub, tab1, tab2, op1, _ = room()
    message = fanout.stored(hub, Posted(row("visitor", 1), False, site_id=1), sender=tab1)
    assert message["seq"] == 1
    assert tab2.outbox == [] and op1.outbox == []


def test_a_message_delivered_twice_here_is_fanned_out_once():
    """A replay after a LISTEN reconnect meets messages this process already delivered."""
    hub, tab1, tab2, op1, _ = room()
    for _ in range(2):
        fanout.stored(hub, Posted(row("visitor", 1), True, site_id=1), sender=None)
    assert types(op1) == ["visitor:message"] and types(tab1) == ["visitor:message"]


def test_a_new_chat_is_announced_before_its_first_message():
    hub, tab1, _, op1, _ = room()
    fanout.stored(hub, Posted(row("visitor", 1), True, site_id=1, chat=chat_row(),
                              chat_created=True), sender=tab1)
    assert types(op1) == ["chat:new", "visitor:message"]
    assert json.loads(op1.outbox[0])["data"]["chat"]["id"] == "c_42"


def test_a_reopened_chat_is_an_update_before_the_message():
    hub, tab1, _, op1, _ = room()
    fanout.stored(hub, Posted(row("visitor", 2), True, site_id=1, chat=chat_row(),
                              chat_reopened=True), sender=tab1)
    assert types(op1) == ["chat:updated", "visitor:message"]
