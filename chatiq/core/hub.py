"""The in-memory room registry: who is connected where, and fan-out to them.

No I/O: each connection is a Peer with a bounded outbox that its own writer task
drains. Fan-out appends to outboxes and returns at once, so one slow peer never
delays a room; a peer whose outbox fills up is cut off and resumes by seq.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

# How many (chat, seq) pairs a process remembers having delivered: enough to cover
# the burst a LISTEN reconnect replays, small enough to be a few MiB at most.
DELIVERED_MEMORY = 50_000


class Peer:
    """One WebSocket connection's outbound side and the rooms it belongs to."""

    # A full outbox cuts the peer off only if its socket is backed up too (it really
    # stopped reading) or the outbox reached this many times the limit: a burst queued
    # within one event-loop pass, before the writer could run, is not a stall.
    HARD_LIMIT_FACTOR = 8

    # Thousands sit idle per process: no per-instance __dict__.
    __slots__ = ("kind", "outbox", "sending", "limit", "_congested", "closed", "overflowed",
                 "_wake", "_on_overflow", "end", "site_id", "visitor_id", "chat_id", "user_id",
                 "site_ids", "__weakref__")

    def __init__(self, kind: str, *, limit: int, wake: Callable[[], None],
                 on_overflow: Callable[[], None],
                 congested: Callable[[], bool] = lambda: True,
                 end: Callable[[int, str], None] = lambda code, reason: None):
        self.kind = kind                   # "visitor" or "operator"
        # Encoded frames waiting for the writer. A list, not a deque: most sockets sit
        # idle with nothing queued, and an empty deque costs ~700 bytes, a list 56.
        self.outbox: list[str] = []
        self.sending = 0                   # frames the writer took from outbox, not yet sent
        self.limit = limit
        self._congested = congested        # is the socket's own send buffer backed up?
        self.closed = False
        self.overflowed = False
        self._wake = wake
        self._on_overflow = on_overflow
        self.end = end                     # end(code, reason): the server closes the socket
        # Identity, set when the connection joins or authenticates.
        self.site_id: int | None = None
        self.visitor_id: int | None = None
        self.chat_id: int | None = None    # a visitor's current chat
        self.user_id: int | None = None
        self.site_ids: frozenset[int] = frozenset()

    def push(self, text: str) -> bool:
        """Queue one frame; never blocks. False when the peer is gone or cut off."""
        if self.closed:
            return False
        queued = len(self.outbox) + self.sending
        if queued >= self.limit and (queued >= self.limit * self.HARD_LIMIT_FACTOR
                                     or self._congested()):
            self.closed = self.overflowed = True
            self.outbox.clear()
            self._on_overflow()
            return False
        self.outbox.append(text)
        self._wake()
        return True


def _add(index: dict, key, peer: Peer) -> bool:
    """Add peer under key; True when it is the first one there."""
    peers = index.setdefault(key, set())
    peers.add(peer)
    return len(peers) == 1


def _discard(index: dict, key, peer: Peer) -> bool:
    """Remove peer under key; True when it was the last one there."""
    peers = index.get(key)
    if not peers or peer not in peers:
        return False
    peers.discard(peer)
    if not peers:
        del index[key]
        return True
    return False


def _send(peers: Iterable[Peer], text: str, exclude: Peer | None) -> int:
    sent = 0
    for peer in tuple(peers):  # a push may cut a peer off and change the set
        if peer is not exclude and peer.push(text):
            sent += 1
    return sent


class Hub:
    """Rooms and presence for one process. Mutate only through the methods below."""

    def __init__(self):
        # chat id → visitor connections showing that chat (several tabs of one visitor)
        self.chat_visitors: dict[int, set[Peer]] = {}
        # site id → visitor connections on that site (settings and business status)
        self.site_visitors: dict[int, set[Peer]] = {}
        # visitor id → that visitor's connections (online while non-empty)
        self.visitor_peers: dict[int, set[Peer]] = {}
        # site id → operator connections allowed to see that site's chats
        self.site_operators: dict[int, set[Peer]] = {}
        # user id → that operator's connections
        self.operator_peers: dict[int, set[Peer]] = {}
        # user id → the status the operator chose; absent means "online"
        self.operator_status: dict[int, str] = {}
        # node id → {user id: (status, site ids)}: operators connected to other processes
        self.remote_operators: dict[str, dict[int, tuple[str, frozenset[int]]]] = {}
        # (chat id, seq) → None, oldest first: messages already fanned out here
        self.delivered: OrderedDict[tuple[int, int], None] = OrderedDict()
        # Set by the cross-process bus: called as relay(route, key, text) for every
        # ephemeral event, so other processes can hand it to their own peers.
        self.relay: Callable[[str, int, str], None] | None = None

    # --- visitors ---

    def add_visitor(self, peer: Peer, *, site_id: int, visitor_id: int, chat_id: int | None) -> bool:
        """Register a joined visitor connection; True if the visitor just came online."""
        peer.site_id, peer.visitor_id = site_id, visitor_id
        _add(self.site_visitors, site_id, peer)
        if chat_id is not None:
            self.set_visitor_chat(peer, chat_id)
        return _add(self.visitor_peers, visitor_id, peer)

    def set_visitor_chat(self, peer: Peer, chat_id: int) -> None:
        if peer.chat_id == chat_id:
            return
        if peer.chat_id is not None:
            _discard(self.chat_visitors, peer.chat_id, peer)
        peer.chat_id = chat_id
        _add(self.chat_visitors, chat_id, peer)

    def attach_chat(self, visitor_id: int, chat_id: int) -> None:
        """Put every connection of a visitor into its (new) chat's room."""
        for peer in tuple(self.visitor_peers.get(visitor_id, ())):
            self.set_visitor_chat(peer, chat_id)

    def remove_visitor(self, peer: Peer) -> bool:
        """Forget a visitor connection; True if the visitor just went offline."""
        peer.closed = True
        if peer.visitor_id is None:
            return False
        _discard(self.site_visitors, peer.site_id, peer)
        if peer.chat_id is not None:
            _discard(self.chat_visitors, peer.chat_id, peer)
        return _discard(self.visitor_peers, peer.visitor_id, peer)

    def visitor_online(self, visitor_id: int) -> bool:
        return visitor_id in self.visitor_peers

    def end_visitor(self, visitor_id: int, code: int, reason: str, relay: bool = True) -> int:
        """Close every connection of a visitor whose data is gone (here, and through the
        relay in other processes); how many were here."""
        self._relay("end_visitor", visitor_id, f"{code} {reason}", relay)
        peers = tuple(self.visitor_peers.get(visitor_id, ()))
        for peer in peers:
            peer.end(code, reason)
        return len(peers)

    # --- operators ---

    def add_operator(self, peer: Peer, *, user_id: int, site_ids: Iterable[int]) -> bool:
        """Register an authenticated operator connection; True if they just came online."""
        peer.user_id, peer.site_ids = user_id, frozenset(site_ids)
        for site_id in peer.site_ids:
            _add(self.site_operators, site_id, peer)
        return _add(self.operator_peers, user_id, peer)

    def remove_operator(self, peer: Peer) -> bool:
        """Forget an operator connection; True if the operator just went offline."""
        peer.closed = True
        if peer.user_id is None:
            return False
        for site_id in peer.site_ids:
            _discard(self.site_operators, site_id, peer)
        gone = _discard(self.operator_peers, peer.user_id, peer)
        if gone:
            self.operator_status.pop(peer.user_id, None)
        return gone

    def set_site_access(self, site_id: int, user_ids: Iterable[int]) -> None:
        """Who may work on a site changed: open connections follow at once."""
        allowed = set(user_ids)
        for user_id, peers in self.operator_peers.items():
            for peer in peers:
                if user_id in allowed and site_id not in peer.site_ids:
                    peer.site_ids = peer.site_ids | {site_id}
                    _add(self.site_operators, site_id, peer)
                elif user_id not in allowed and site_id in peer.site_ids:
                    peer.site_ids = peer.site_ids - {site_id}
                    _discard(self.site_operators, site_id, peer)

    def set_status(self, user_id: int, status: str) -> None:
        if status == "online":
            self.operator_status.pop(user_id, None)
        else:
            self.operator_status[user_id] = status

    def status_of(self, user_id: int) -> str:
        if user_id not in self.operator_peers:
            return "offline"
        return self.operator_status.get(user_id, "online")

    def operators_online(self, site_id: int) -> int:
        """Distinct operators of a site, here or in another process, who say they are online."""
        users = {p.user_id for p in self.site_operators.get(site_id, ())
                 if self.status_of(p.user_id) == "online"}
        for operators in self.remote_operators.values():
            users.update(u for u, (status, sites) in operators.items()
                         if status == "online" and site_id in sites)
        return len(users)

    def local_presence(self) -> dict[int, tuple[str, frozenset[int]]]:
        """This process's operators: user id → (status, site ids)."""
        out: dict[int, tuple[str, frozenset[int]]] = {}
        for user_id, peers in self.operator_peers.items():
            sites = frozenset().union(*(p.site_ids for p in peers))
            out[user_id] = (self.status_of(user_id), sites)
        return out

    def set_remote_presence(self, node: str, operators: dict[int, tuple[str, frozenset[int]]] | None) -> set[int]:
        """Replace what another process reported (None: it is gone); returns the sites affected."""
        before = self.remote_operators.pop(node, {})
        if operators:
            self.remote_operators[node] = operators
        affected: set[int] = set()
        for user_id in set(before) | set(operators or {}):
            if before.get(user_id) != (operators or {}).get(user_id):
                for entry in (before.get(user_id), (operators or {}).get(user_id)):
                    if entry:
                        affected |= entry[1]
        return affected

    def mark_delivered(self, chat_id: int, seq: int) -> bool:
        """Remember a message was fanned out here; False if it already was."""
        key = (chat_id, seq)
        if key in self.delivered:
            return False
        self.delivered[key] = None
        if len(self.delivered) > DELIVERED_MEMORY:
            self.delivered.popitem(last=False)
        return True

    def operator_user_ids(self) -> list[int]:
        return list(self.operator_peers)

    # --- fan-out: encode once, push to many, never wait ---

    # Each takes relay=False for what other processes learn some other way (messages
    # travel as ids through the database) or for what came from another process.

    def to_chat_visitors(self, chat_id: int, text: str, exclude: Peer | None = None,
                         relay: bool = True) -> int:
        self._relay("chat_visitors", chat_id, text, relay)
        return _send(self.chat_visitors.get(chat_id, ()), text, exclude)

    def to_site_visitors(self, site_id: int, text: str, relay: bool = True) -> int:
        self._relay("site_visitors", site_id, text, relay)
        return _send(self.site_visitors.get(site_id, ()), text, None)

    def to_site_operators(self, site_id: int, text: str, exclude: Peer | None = None,
                          relay: bool = True) -> int:
        self._relay("site_operators", site_id, text, relay)
        return _send(self.site_operators.get(site_id, ()), text, exclude)

    def to_user(self, user_id: int, text: str, relay: bool = True) -> int:
        self._relay("user", user_id, text, relay)
        return _send(self.operator_peers.get(user_id, ()), text, None)

    def deliver(self, route: str, key: int, text: str) -> int:
        """An event relayed from another process: hand it to the peers here only."""
        if route == "end_visitor":
            code, _, reason = text.partition(" ")
            return self.end_visitor(key, int(code), reason, relay=False)
        send = {"chat_visitors": self.to_chat_visitors, "site_visitors": self.to_site_visitors,
                "site_operators": self.to_site_operators, "user": self.to_user}.get(route)
        return 0 if send is None else send(key, text, relay=False)

    def connection_counts(self) -> dict[str, int]:
        """Open connections here by kind (for /metrics)."""
        return {"visitor": sum(len(p) for p in self.visitor_peers.values()),
                "operator": sum(len(p) for p in self.operator_peers.values())}

    def _relay(self, route: str, key: int, text: str, relay: bool) -> None:
        if relay and self.relay is not None:
            self.relay(route, key, text)
