"""What both sockets share: the read loop, the writer task, limits and error replies.

Every connection: prepare → register → `async for` frames → finally unregister,
so no path skips cleanup. Frames are handled one at a time per connection, which
keeps a client's own frames (and their acks) in order.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from chatiq import keys

from chatiq.core import protocol
from chatiq.core.hub import Peer
from chatiq.core.protocol import Frame, ProtocolError
from chatiq.core.ratelimit import TokenBucket
from chatiq.store.db import DatabaseUnavailable, NotFound, StoreError

log = logging.getLogger(__name__)

# Unsent bytes in our transport's buffer past which a peer counts as not reading.
CONGESTED_BYTES = 64 * 1024

# The field specs never change for a given text limit: built once, shared by every
# connection (building them per socket cost ~1.5 KiB of each held connection).
_frame_specs = functools.lru_cache(maxsize=4)(protocol.frame_specs)


class Closing(Exception):
    """Raised by a handler to end the connection with a close code."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Connection:
    """One WebSocket: its peer (outbound queue), rate limiter and frame dispatch."""

    kind = "visitor"
    # One per open socket, thousands per process: no per-instance __dict__.
    __slots__ = ("request", "app", "config", "pool", "hub", "specs", "ws", "peer", "bucket",
                 "refused_in_a_row", "_writer", "_ended")

    def __init__(self, request: web.Request):
        self.request = request
        self.app = request.app
        self.config = self.app[keys.CONFIG]
        self.pool = self.app[keys.POOL]
        self.hub = self.app[keys.HUB]
        self.specs = _frame_specs(self.config.max_text_chars)[self.kind]
        self.ws = web.WebSocketResponse(
            max_msg_size=self.config.max_frame_bytes, heartbeat=30.0, compress=False)
        self.peer = Peer(self.kind, limit=self.config.send_queue_limit,
                         wake=self._kick, on_overflow=self._cut_off,
                         congested=self._congested, end=self._end)
        rate = self.config.visitor_rate if self.kind == "visitor" else self.config.operator_rate
        self.bucket = TokenBucket(rate)
        self.refused_in_a_row = 0
        # Runs only while the outbox has frames: an idle socket holds no task.
        self._writer: asyncio.Task | None = None
        self._ended = False

    # --- lifecycle ---

    async def run(self) -> web.WebSocketResponse:
        await self.ws.prepare(self.request)
        sockets = self.app[keys.SOCKETS]
        sockets.add(self.ws)
        try:
            if await self.start():
                await self._read_loop()
        except Closing as close:
            await self._close(close.code, close.reason)
        finally:
            self._ended = True
            if self._writer is not None:
                self._writer.cancel()
            sockets.discard(self.ws)
            try:
                await self.stop()
            except Exception:  # the database may be gone; the hub must still forget us
                log.exception("cleanup of a %s connection failed", self.kind)
            if not self.ws.closed:
                await self._close(1000, "bye")
        return self.ws

    async def start(self) -> bool:
        """Before the read loop (operator auth). False ends the connection."""
        return True

    async def stop(self) -> None:
        """After the read loop: leave rooms and announce."""

    async def _read_loop(self) -> None:
        async for msg in self.ws:
            if msg.type == WSMsgType.TEXT:
                await self.on_text(msg.data)
            elif msg.type == WSMsgType.BINARY:
                self.send_error(ProtocolError("bad_frame", "binary frames are not accepted"))
            elif msg.type == WSMsgType.ERROR:
                break

    def _kick(self) -> None:
        """Frames were queued: start the writer unless it is already running."""
        if self._writer is None and not self._ended:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        """Send what is queued, in order, then end; the next push starts a new writer."""
        peer = self.peer
        try:
            while peer.outbox:
                batch, peer.outbox = peer.outbox, []
                peer.sending = len(batch)
                for text in batch:
                    await self.ws.send_str(text)
                    peer.sending -= 1
        except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
            pass
        finally:
            self._writer = None

    def _congested(self) -> bool:
        """The transport holds unsent bytes beyond its high-water mark: the peer is
        not reading (a healthy one drains it as fast as the writer fills it)."""
        transport = self.request.transport
        if transport is None:
            return True
        return transport.get_write_buffer_size() >= CONGESTED_BYTES

    def _cut_off(self) -> None:
        """The peer stopped reading and its outbox filled: drop it, never the room."""
        log.warning("closing a %s connection whose send queue overflowed", self.kind)
        if self._writer is not None:
            self._writer.cancel()
        asyncio.get_running_loop().create_task(
            self._close(protocol.CLOSE_TRY_AGAIN_LATER, "send queue overflow"))

    def _end(self, code: int, reason: str) -> None:
        """The server ends this connection (e.g. the visitor's data was erased); the read
        loop then ends and cleans up as always."""
        asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()), 2.0)
        except (asyncio.TimeoutError, ConnectionResetError, RuntimeError):
            if self.request.transport is not None:
                self.request.transport.close()

    # --- frames ---

    def send(self, ftype: str, data: dict | None = None, ref: str | None = None) -> None:
        self.peer.push(protocol.encode(ftype, data, ref))

    def send_ack(self, ref: str | None, data: dict | None = None) -> None:
        if ref is not None:
            self.peer.push(protocol.ack(ref, data))

    def send_error(self, err: ProtocolError, ref: str | None = None) -> None:
        self.peer.push(protocol.error(err, ref))

    async def on_text(self, text: str) -> None:
        if self.config.rate_limits_enabled and not self.bucket.allow():
            self.app[keys.METRICS].refused("frames_" + self.kind)
            self.refused_in_a_row += 1
            if self.refused_in_a_row >= self.config.abuse_close_after:
                raise Closing(protocol.CLOSE_RATE_LIMITED, "rate limited")
            self.send_error(ProtocolError("rate_limited", "too many frames, slow down"),
                            _peek_ref(text))
            return
        self.refused_in_a_row = 0
        ref = None
        try:
            frame = protocol.decode(text)
            ref = frame.ref
            data = protocol.validate(frame, self.specs)
            handler = self.HANDLERS.get(frame.type)
            if handler is not None:
                reply = await handler(self, frame, data)
            else:
                reply = await self.feature_frame(frame, data)
            if ref is not None:
                self.send_ack(ref, reply or {})
        except protocol.FrameRefError as exc:
            self.send_error(exc.error, exc.ref)
        except ProtocolError as err:
            self.send_error(err, ref)
        except NotFound as exc:
            self.send_error(ProtocolError("not_found", str(exc)), ref)
        except DatabaseUnavailable:
            self.send_error(ProtocolError(
                "unavailable", "the database is unavailable; retry with the same clientId"), ref)
        except StoreError as exc:
            self.send_error(ProtocolError(exc.code, str(exc)), ref)
        except Closing:
            raise
        except Exception:
            log.exception("handler for %s failed", text[:80])
            self.send_error(ProtocolError("internal", "internal error; nothing was stored"), ref)

    async def on_ping(self, frame: Frame, data: dict) -> dict:
        return {}

    async def feature_frame(self, frame: Frame, data: dict) -> dict:
        """A frame the protocol knows but this socket does not handle itself: a feature's
        (keys.VISITOR_FRAMES), or refused when that feature is not installed."""
        raise ProtocolError("bad_frame", f"{frame.type} is not supported by this server")

    # frame type → handler(connection, frame, data) → the ack's data; each socket's own
    HANDLERS: dict[str, Callable[..., Awaitable[dict]]] = {"ping": on_ping}


def _peek_ref(text: str) -> str | None:
    """The ref of a frame refused before parsing (rate limit): best effort."""
    try:
        return protocol.decode(text).ref
    except (ProtocolError, protocol.FrameRefError):
        return None

