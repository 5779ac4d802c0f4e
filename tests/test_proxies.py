"""Trusted proxies (issue 16): which forwarded headers are believed, and what they say."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from chatiq.core.proxies import BadProxyList, Seen, parse_trusted, see_client

LOCAL = parse_trusted("127.0.0.1, ::1")
TIERS = parse_trusted("127.0.0.1, 10.0.0.0/8")


def headers(*pairs: tuple[str, str]) -> CIMultiDict:
    return CIMultiDict(pairs)


def test_parse_addresses_ranges_and_blanks():
    nets = parse_trusted(" 127.0.0.1 ,10.0.0.0/8,, 2001:db8::/32 , 10.1.2.3/16")
    assert [str(n) for n in nets] == ["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32",
                                      "10.1.0.0/16"]
    assert parse_trusted("") == () and parse_trusted(None) == ()


@pytest.mark.parametrize("bad", ["localhost", "10.0.0.0/33", "1.2.3", "*", "::1/200", "1.2.3.4 5"])
def test_parse_names_the_bad_entry(bad):
    with pytest.raises(BadProxyList) as caught:
        parse_trusted(f"127.0.0.1,{bad}")
    assert caught.value.entry == bad


def test_nothing_trusted_ignores_every_header():
    h = headers(("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https"),
                ("Forwarded", "for=198.51.100.1;proto=https"))
    assert see_client("127.0.0.1", h, ()) == Seen(None, None)


def test_an_untrusted_peer_cannot_spoof():
    h = headers(("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https"))
    assert see_client("192.0.2.50", h, LOCAL) == Seen(None, None)


def test_right_most_untrusted_address_is_the_client():
    # The client sent a made-up first entry; nginx appended the real one.
    h = headers(("X-Forwarded-For", "1.1.1.1, 203.0.113.9"), ("X-Forwarded-Proto", "https"))
    assert see_client("127.0.0.1", h, LOCAL) == Seen("203.0.113.9", "https")


def test_chains_of_trusted_proxies_are_walked():
    h = headers(("X-Forwarded-For", "6.6.6.6, 203.0.113.9, 10.0.0.7"),
                ("X-Forwarded-For", "10.2.3.4"))
    assert see_client("127.0.0.1", h, TIERS).remote == "203.0.113.9"


def test_all_hops_trusted_gives_the_left_most():
    h = headers(("X-Forwarded-For", "10.0.0.7, 10.0.0.8"))
    assert see_client("127.0.0.1", h, TIERS).remote == "10.0.0.7"


def test_ipv6_and_mapped_peers():
    h = headers(("X-Forwarded-For", "2001:db8::5"))
    assert see_client("::1", h, LOCAL).remote == "2001:db8::5"
    assert see_client("::ffff:127.0.0.1", h, LOCAL).remote == "2001:db8::5"


@pytest.mark.parametrize("value", ["not-an-ip", "203.0.113.9, garbage", "[2001:db8::1",
                                   "999.1.1.1", "unknown"])
def test_malformed_header_falls_back_to_the_peer(value):
    assert see_client("127.0.0.1", headers(("X-Forwarded-For", value)), LOCAL).remote is None


def test_empty_elements_are_skipped():
    h = headers(("X-Forwarded-For", "203.0.113.9, ,"))
    assert see_client("127.0.0.1", h, LOCAL).remote == "203.0.113.9"


def test_junk_left_of_the_client_does_not_matter():
    """Only what lies between us and the client is read: a client's own junk does not
    push them onto the proxy's address."""
    h = headers(("X-Forwarded-For", "garbage, 203.0.113.9"))
    assert see_client("127.0.0.1", h, LOCAL).remote == "203.0.113.9"


def test_proto_other_than_http_or_https_is_ignored():
    h = headers(("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "gopher"))
    assert see_client("127.0.0.1", h, LOCAL) == Seen("203.0.113.9", None)
    h = headers(("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "http, HTTPS"))
    assert see_client("127.0.0.1", h, LOCAL).scheme == "https"


def test_rfc7239_forwarded():
    h = headers(("Forwarded", 'for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https;by=x'))
    assert see_client("127.0.0.1", h, LOCAL) == Seen("2001:db8:cafe::17", "https")
    h = headers(("Forwarded", "for=203.0.113.9:8080;proto=http"))
    assert see_client("127.0.0.1", h, LOCAL) == Seen("203.0.113.9", "http")


@pytest.mark.parametrize("value", ["for", "for=_hidden", ";;=", 'for="unclosed', "for=unknown"])
def test_malformed_forwarded_keeps_the_peer(value):
    assert see_client("127.0.0.1", headers(("Forwarded", value)), LOCAL).remote is None


def test_x_forwarded_for_wins_over_forwarded():
    """nginx appends X-Forwarded-For and passes a client's Forwarded on untouched."""
    h = headers(("Forwarded", "for=6.6.6.6"), ("X-Forwarded-For", "203.0.113.9"))
    assert see_client("127.0.0.1", h, LOCAL).remote == "203.0.113.9"


@given(st.lists(st.text(max_size=30), max_size=4), st.lists(st.text(max_size=30), max_size=3))
def test_any_header_text_is_answered_without_raising(xff, fwd):
    h = CIMultiDict([("X-Forwarded-For", v) for v in xff] + [("Forwarded", v) for v in fwd])
    seen = see_client("127.0.0.1", h, LOCAL)
    assert seen.scheme in (None, "http", "https")
    if seen.remote is not None:
        ipaddress.ip_address(seen.remote)
