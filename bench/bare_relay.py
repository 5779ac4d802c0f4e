"""The ceiling baselines: a bare aiohttp WebSocket server with no database and no state.

It speaks just enough of the protocol for the load clients: `visitor:join` → `session`,
`visitor:message` → an immediate `ack` (nothing stored) and a copy to every operator
socket, `auth` → `operator:ready`, and `operator:message` relayed to the visitor
sockets of the named chat. Run: python -m bench.bare_relay PORT
"""

from __future__ import annotations

import json
import sys

from aiohttp import WSMsgType, web

ROOMS: dict[str, set] = {}  # chat id → visitor sockets
OPERATORS: set = set()      # sockets that sent `auth`


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
                message = {"chatId": chat, "seq": seq, "text": data.get("text")}
                await ws.send_str(json.dumps({"type": "ack", "ref": ref,
                                              "data": {"message": message}}))
                out = json.dumps({"type": "visitor:message", "data": {"message": message}})
                for peer in tuple(OPERATORS):
                    await peer.send_str(out)
            elif kind == "auth":
                OPERATORS.add(ws)
                await ws.send_str(json.dumps({"type": "operator:ready", "data": {}}))
            elif kind == "operator:message":
                out = json.dumps({"type": "admin:message", "data": {"message": data}})
                for peer in tuple(ROOMS.get(data.get("chatId"), ())):
                    await peer.send_str(out)
                await ws.send_str(json.dumps({"type": "ack", "ref": ref, "data": {}}))
    finally:
        OPERATORS.discard(ws)
        if chat is not None:
            ROOMS.get(chat, set()).discard(ws)
    return ws


def main() -> None:
    app = web.Application()
    app.router.add_get("/ws", socket)
    app.router.add_get("/ws/widget", socket)
    app.router.add_get("/ws/operator", socket)
    app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
