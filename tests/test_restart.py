"""A server restart in the middle of a conversation loses nothing that was acknowledged."""

import asyncio
import json
import uuid

from aiohttp import WSMsgType

from conftest import recv_until


async def test_sockets_close_1001_on_shutdown(live_server):
    token, _ = await live_server.register()
    site = await live_server.create_site(token)
    v = await live_server.visitor_ws(site["siteKey"])
    op = await live_server.operator_ws(token)
    stopping = asyncio.create_task(live_server.stop())

    async def close_code(ws):
        while (await ws.receive(timeout=5)).type == WSMsgType.TEXT:
            pass
        return ws.close_code

    assert await asyncio.gather(close_code(v), close_code(op)) == [1001, 1001]
    await stopping


async def test_restart_mid_burst_is_exactly_once_and_gap_free(live_server, sql):
    token, _ = await live_server.register()
    site = await live_server.create_site(token)
    v = await live_server.visitor_ws(site["siteKey"])
    visitor_token = v.session["visitorToken"]
    first = await live_server.say(v, "before")
    chat_id = first["chatId"]
    op = await live_server.operator_ws(token)
    await live_server.reply(op, chat_id, "operator before")

    # A burst without waiting for acks; the server restarts in the middle of it.
    outbox = {str(uuid.uuid4()): f"burst {i}" for i in range(40)}
    acked: dict[str, dict] = {}
    for n, (cid, text) in enumerate(outbox.items()):
        await v.send_json({"type": "visitor:message", "ref": cid, "data": {"clientId": cid, "text": text}})
        if n == 15:
            restart = asyncio.create_task(live_server.restart())
    async for msg in v:
        if msg.type != WSMsgType.TEXT:
            break
        frame = json.loads(msg.data)
        if frame["type"] == "ack":
            acked[frame["ref"]] = frame["data"]["message"]
    await restart
    assert v.close_code == 1001

    # Reconnect and resend what was not acked, like the widget's outbox does; also
    # resend one that was acked (its ack was lost in flight, say).
    v2 = await live_server.visitor_ws(site["siteKey"], visitorToken=visitor_token,
                                      lastSeq=first["seq"])
    resend = [cid for cid in outbox if cid not in acked]
    if acked:
        resend.append(next(iter(acked)))
    from conftest import request

    for cid in resend:
        while True:  # a resend burst may meet the rate limit: back off like the widget
            reply = await request(v2, "visitor:message", {"clientId": cid, "text": outbox[cid]})
            if reply["type"] == "ack" or reply["data"]["code"] != "rate_limited":
                break
            await asyncio.sleep(0.2)
        assert reply["type"] == "ack", reply
        message = reply["data"]["message"]
        if cid in acked:
            assert message == acked[cid]  # the first copy's ack, nothing new stored
        acked[cid] = message

    rows = sql("SELECT seq, client_id, text FROM messages ORDER BY seq")
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))  # gap-free
    visitor_rows = [r for r in rows if r[1] in outbox]
    assert sorted(r[1] for r in visitor_rows) == sorted(outbox)  # each exactly once
    assert {cid: m["seq"] for cid, m in acked.items()} == {r[1]: r[0] for r in visitor_rows}

    # The operator resumes by seq and sees every message it missed, in order.
    op2 = await live_server.operator_ws(token)
    sub = await request(op2, "chat:subscribe", {"chatId": chat_id, "lastSeq": 2})
    assert [m["seq"] for m in sub["data"]["messages"]] == list(range(3, len(rows) + 1))
    await live_server.reply(op2, chat_id, "after restart")
    assert (await recv_until(v2, "admin:message"))["data"]["message"]["seq"] == len(rows) + 1
