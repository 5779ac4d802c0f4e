"""Rooms, presence and fan-out, without sockets."""

from chatiq.core.hub import Hub, Peer


class Watched(Peer):
    """A peer that records its calls (Peer itself has __slots__)."""


def peer(kind="visitor", limit=10):
    woken = []
    overflowed = []
    p = Watched(kind, limit=limit, wake=lambda: woken.append(1), on_overflow=lambda: overflowed.append(1))
    p.woken, p.overflow_calls = woken, overflowed
    return p


def test_visitor_online_and_offline_only_at_the_edges():
    hub = Hub()
    a, b = peer(), peer()
    assert hub.add_visitor(a, site_id=1, visitor_id=7, chat_id=None) is True
    assert hub.add_visitor(b, site_id=1, visitor_id=7, chat_id=None) is False
    assert hub.remove_visitor(a) is False
    assert hub.visitor_online(7)
    assert hub.remove_visitor(b) is True
    assert not hub.visitor_online(7)
    assert hub.site_visitors == {} and hub.visitor_peers == {}


def test_chat_room_fan_out_reaches_every_tab_but_the_sender():
    hub = Hub()
    a, b, other = peer(), peer(), peer()
    hub.add_visitor(a, site_id=1, visitor_id=7, chat_id=None)
    hub.add_visitor(b, site_id=1, visitor_id=7, chat_id=None)
    hub.add_visitor(other, site_id=1, visitor_id=8, chat_id=99)
    hub.attach_chat(7, 42)
    assert hub.to_chat_visitors(42, "x", exclude=a) == 1
    assert list(b.outbox) == ["x"] and not a.outbox and not other.outbox


def test_operators_see_only_their_sites():
    hub = Hub()
    o1, o2 = peer("operator"), peer("operator")
    hub.add_operator(o1, user_id=1, site_ids=[10, 11])
    hub.add_operator(o2, user_id=2, site_ids=[11])
    hub.to_site_operators(10, "ten")
    hub.to_site_operators(11, "eleven")
    assert list(o1.outbox) == ["ten", "eleven"]
    assert list(o2.outbox) == ["eleven"]


def test_a_full_outbox_cuts_off_that_peer_only():
    hub = Hub()
    slow, fast = peer("operator", limit=3), peer("operator", limit=100)
    hub.add_operator(slow, user_id=1, site_ids=[5])
    hub.add_operator(fast, user_id=2, site_ids=[5])
    for i in range(10):
        hub.to_site_operators(5, str(i))
    assert slow.overflowed and slow.closed and slow.overflow_calls == [1]
    assert not slow.outbox  # nothing left to write to a peer that is cut off
    assert list(fast.outbox) == [str(i) for i in range(10)]
    assert not slow.push("late")


def test_presence_counts_distinct_online_operators():
    hub = Hub()
    a1, a2, b = peer("operator"), peer("operator"), peer("operator")
    assert hub.add_operator(a1, user_id=1, site_ids=[5]) is True
    assert hub.add_operator(a2, user_id=1, site_ids=[5]) is False
    hub.add_operator(b, user_id=2, site_ids=[5])
    assert hub.operators_online(5) == 2
    hub.set_status(2, "away")
    assert hub.operators_online(5) == 1 and hub.status_of(2) == "away"
    hub.remove_operator(a1)
    assert hub.status_of(1) == "online"
    assert hub.remove_operator(a2) is True
    assert hub.status_of(1) == "offline" and hub.operators_online(5) == 0


def test_push_wakes_the_writer():
    p = peer()
    p.push("a")
    assert p.woken == [1]


def test_site_access_follows_changes():
    hub = Hub()
    a, b = peer("operator"), peer("operator")
    hub.add_operator(a, user_id=1, site_ids=[5])
    hub.add_operator(b, user_id=2, site_ids=[5])
    hub.set_site_access(6, [1])
    hub.set_site_access(5, [2])
    assert a.site_ids == frozenset({6}) and b.site_ids == frozenset({5})
    hub.to_site_operators(6, "six")
    hub.to_site_operators(5, "five")
    assert list(a.outbox) == ["six"] and list(b.outbox) == ["five"]


def test_a_burst_is_not_a_stall_unless_the_socket_is_backed_up():
    """Regression: a burst queued within one event-loop pass (before the writer ran)
    cut off healthy readers as if they had stalled."""
    backed_up = []
    p = Peer("operator", limit=5, wake=lambda: None, on_overflow=lambda: None,
             congested=lambda: bool(backed_up))
    for i in range(20):
        assert p.push(str(i))
    assert not p.overflowed
    backed_up.append(1)
    assert not p.push("more") and p.overflowed


def test_the_hard_limit_holds_even_without_congestion():
    p = Peer("operator", limit=5, wake=lambda: None, on_overflow=lambda: None,
             congested=lambda: False)
    pushed = sum(p.push(str(i)) for i in range(100))
    assert pushed == 5 * Peer.HARD_LIMIT_FACTOR and p.overflowed
