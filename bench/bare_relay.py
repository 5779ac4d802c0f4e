"""The ceiling baselines: a bare aiohttp WebSocket server with no database and no state.

It speaks just enough of the visitor protocol for the load clients: `visitor:join` →
`session`, `visitor:message` → an immediate `ack` (nothing stored), and relays operator
messages to the visitor sockets of the named chat. Run: python bench/bare_relay.py PORT
"""

from __future__ import annotations

import json
import sys

from aiohttp import WSMsgType, web

ROOMS: dict[str, set] = {}  # chat id → visitor sockets


async def socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    chat = None
    seq = 0
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            kind, data, ref = frame.get("type"), frame.get("data") or {}, frame.get("ref")
            if kind == "visitor:join":
                chat = data.get("siteKey", "c") + ":" + str(id(ws))
                ROOMS.setdefault(chat, set()).add(ws)
                await ws.send_str(json.dumps({"type": "session", "data": {"chatId": chat}}))
            elif kind == "visitor:message":
                seq += 1
                await ws.send_str(json.dumps({"type": "ack", "ref": ref, "data": {"message": {
                    "chatId": chat, "seq": seq, "text": data.get("text")}}}))
            elif kind == "operator:message":
                out = json.dumps({"type": "admin:message", "data": {"message": data}})
                for peer in ROOMS.get(data.get("chatId"), ()):
                    await peer.send_str(out)
                await ws.send_str(json.dumps({"type": "ack", "ref": ref, "data": {}}))
    finally:
        if chat is not None:
            ROOMS.get(chat, set()).discard(ws)
    return ws


def main() -> None:
    app = web.Application()
    app.router.add_get("/ws", socket)
    app.router.add_get("/ws/widget", socket)
    app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
