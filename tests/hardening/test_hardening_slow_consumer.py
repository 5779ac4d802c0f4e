"""Hardening (issue 9): an operator socket that stops reading is cut off; the room never waits.

The stalled client is a raw aiohttp WebSocket whose transport stops reading, so the server's
writes back up once the kernel buffers are full (a few MB); a second operator of the
same site must keep receiving every event promptly the whole time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json

from aiohttp import WSMsgType

from chatiq.app import create_app
from conftest import ChatHelper, recv_until

QUEUE_LIMIT = 50
PREVIEW = "p" * 1000          # each visitor:typing event is ~1.1 KB on the wire
BATCH = 20            # below QUEUE_LIMIT: one event-loop tick can queue a whole batch
MAX_EVENTS = 12000            # a bound: ~4,000 (4 MB of kernel buffers) cut it off here


async def test_stalled_operator_is_closed_while_colleague_keeps_receiving(aiohttp_client, config):
    config = dataclasses.replace(config, rate_limits_enabled=False, send_queue_limit=QUEUE_LIMIT)
    client = await aiohttp_client(create_app(config))
    chat = ChatHelper(client.session, str(client.make_url("/")))
    token, _ = await chat.register()
    site = await chat.create_site(token)
    visitor = await chat.visitor_ws(site["siteKey"])
    await chat.say(visitor, "hello")              # a chat exists: typing reaches operators

    stalled = await chat.operator_ws(token)
    healthy = await chat.operator_ws(token)
    # Stop reading: the transport no longer takes bytes off the socket.
    transport = stalled._response.connection.transport
    transport.pause_reading()

    sent = 0
    loop = asyncio.get_running_loop()
    while sent < MAX_EVENTS:
        for i in range(BATCH):
            await visitor.send_str(json.dumps(
                {"type": "visitor:typing", "data": {"typing": True, "preview": f"{sent + i}:{PREVIEW}"}}))
        sent += BATCH
        # The colleague hears the last one of the batch promptly, and in order.
        started = loop.time()
        while True:
            frame = await recv_until(healthy, "visitor:typing", timeout=3.0)
            if frame["data"]["preview"].startswith(f"{sent - 1}:"):
                break
        assert loop.time() - started < 3.0
        if stalled._response.connection is None or transport.is_closing():
            break
        # Has the server let go of the stalled peer? Its hub no longer counts it.
        peers = [p for p in _operator_peers(client.server.app) if p.overflowed]
        if peers:
            break
    else:
        raise AssertionError(f"the stalled operator was never cut off after {sent} events")

    # Resume reading: whatever was buffered arrives, then the close (1013) or a dropped
    # connection — never all the events.
    transport.resume_reading()
    received = 0
    closed_with = None
    deadline = loop.time() + 15
    while loop.time() < deadline:
        msg = await stalled.receive(timeout=max(0.1, deadline - loop.time()))
        if msg.type == WSMsgType.TEXT:
            if json.loads(msg.data)["type"] == "visitor:typing":
                received += 1
            continue
        closed_with = msg.type
        break
    assert closed_with in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR), \
        "the stalled socket was never closed"
    if stalled.close_code is not None and closed_with != WSMsgType.ERROR:
        assert stalled.close_code in (1013, 1006), stalled.close_code
    assert received < sent

    # The colleague and the visitor are unaffected.
    await chat.say(visitor, "still here")
    frame = await recv_until(healthy, "visitor:message", timeout=3.0)
    assert frame["data"]["message"]["text"] == "still here"


def _operator_peers(app):
    from chatiq import keys
    hub = app[keys.HUB]
    peers = set()
    for value in vars(hub).values():
        if isinstance(value, dict):
            for group in value.values():
                if isinstance(group, (set, frozenset)):
                    peers.update(p for p in group if getattr(p, "kind", None) == "operator")
    return peers
