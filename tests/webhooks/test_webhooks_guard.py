"""The SSRF guard at delivery time (the address actually connected to is checked, so DNS
rebinding is refused), the address rules themselves, and the hot path's endpoint cache."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import pytest

from chatiq.store import webhooks as store
from chatiq.webhooks import events as events_mod
from chatiq.webhooks import ssrf
from webhook_support import (Server, add_webhook, fast_config, owner_with_site,  # noqa: F401
                             receiver, settle)


@pytest.mark.parametrize("address,public", [
    ("8.8.8.8", True), ("2606:4700::1111", True), ("127.0.0.1", False), ("127.8.9.10", False),
    ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False),
    ("224.0.0.251", False), ("240.0.0.1", False), ("255.255.255.255", False),
    ("192.0.2.1", False), ("::1", False), ("::", False), ("fe80::1%eth0", False),
    ("fc00::1", False), ("ff02::1", False), ("::ffff:10.0.0.1", False),
    ("::ffff:8.8.8.8", True), ("64:ff9b::a00:1", False), ("not an address", False)])
def test_public_address(address, public):
    assert ssrf.public_address(address) is public


@pytest.mark.parametrize("url,allowed_when_private_ok", [
    ("https://example.com/hook", True), ("http://example.com:8080/x?y=1", True),
    ("http://127.0.0.1:9000/", True), ("http://[::1]:9000/", True),
    ("ftp://example.com/", False), ("file:///etc/passwd", False), ("gopher://x/", False),
    ("//example.com/", False), ("https://u@example.com/", False),
    ("https://example.com/#x", False), ("http://017700000001/", False),
    ("http://127.1/", False), ("https://exa mple.com/", False)])
def test_urls_checked_before_any_lookup(url, allowed_when_private_ok):
    if allowed_when_private_ok:
        assert str(ssrf.parse_url(url, allow_private=True)) == url
    else:
        with pytest.raises(ssrf.UrlRefused):
            ssrf.parse_url(url, allow_private=True)


async def test_the_resolver_refuses_a_name_that_turned_private(monkeypatch):
    """DNS rebinding: the same name answers a public address, then a private one."""
    answers = iter([["93.184.215.14"], ["93.184.215.14", "127.0.0.1"]])

    async def fake_resolve(host, port=0, family=socket.AF_INET):
        return [{"hostname": host, "host": a, "port": port, "family": family, "proto": 0,
                 "flags": 0} for a in next(answers)]

    resolver = ssrf.GuardedResolver()
    monkeypatch.setattr(resolver._inner, "resolve", fake_resolve)
    assert [r["host"] for r in await resolver.resolve("hooks.example", 443)] == ["93.184.215.14"]
    with pytest.raises(ssrf.AddressRefused, match="127.0.0.1"):
        await resolver.resolve("hooks.example", 443)


@pytest.mark.parametrize("target", ["literal", "name"])
async def test_delivery_refuses_private_targets_when_the_guard_is_on(
        fast_config, aiohttp_client, receiver, sql, target):
    """An endpoint saved while private targets were allowed (or whose name now resolves
    to a private address) gets nothing once the guard is on: refused, logged, not retried."""
    port = receiver.url.split(":")[2].split("/")[0]
    url = receiver.url if target == "literal" else f"http://localhost:{port}/hook"
    server = Server(aiohttp_client, dataclasses.replace(fast_config,
                                                        webhooks_allow_private=False))
    chat = await server.start()
    token, site = await owner_with_site(chat)
    site_id = int(site["id"][2:])
    sql("INSERT INTO webhooks (site_id, url, secret, events) VALUES (%s, %s, 'whsec_x',"
        " ARRAY['message.created'])", (site_id, url))
    visitor = await chat.visitor_ws(site["siteKey"])
    await chat.say(visitor, "hello")
    await settle(lambda: sql("SELECT status FROM outbox") == [("failed",)], what="refusal")
    ((ok, code, error),) = sql("SELECT ok, status_code, error FROM outbox_attempts")
    assert ok is False and code is None
    assert error.startswith("refused: ")
    assert ("127.0.0.1" in error) if target == "name" else ("private" in error)
    await asyncio.sleep(0.3)
    assert receiver.got == []
    await server.stop()


async def test_a_site_without_webhooks_reads_them_once_per_expiry(
        fast_config, aiohttp_client, receiver, sql, monkeypatch):
    """The message path's cost for sites without webhooks: a cache hit, not a query."""
    reads: list[int] = []
    real = store.subscribers

    async def counting(cur, site_id):
        reads.append(site_id)
        return await real(cur, site_id)

    monkeypatch.setattr(store, "subscribers", counting)
    server = Server(aiohttp_client, fast_config)
    chat = await server.start()
    token, site = await owner_with_site(chat)
    visitor = await chat.visitor_ws(site["siteKey"])
    for n in range(20):
        await chat.say(visitor, f"message {n}")
    assert reads == [int(site["id"][2:])]  # one read for twenty messages

    # An endpoint added here is heard at once (the cache entry is dropped) …
    await add_webhook(chat, token, site["id"], receiver.url, events=["message.created"])
    await chat.say(visitor, "now with a webhook")
    await receiver.wait_for(1)
    assert len(reads) == 2
    # An endpoint another process adds is heard once the cached entry expires.
    monkeypatch.setattr(events_mod, "CACHE_SECONDS", 0.3)
    other = await chat.create_site(token, name="Other")
    elsewhere = await chat.visitor_ws(other["siteKey"])
    await chat.say(elsewhere, "before")  # caches "no webhooks" for 0.3 s
    sql("INSERT INTO webhooks (site_id, url, secret, events) VALUES (%s, %s, 'whsec_x',"
        " ARRAY['message.created'])", (int(other["id"][2:]), receiver.url))
    await chat.say(elsewhere, "still cached")
    await asyncio.sleep(0.4)
    await chat.say(elsewhere, "after expiry")
    await receiver.wait_for(2)
    await asyncio.sleep(0.3)
    assert [g["json"]["data"]["message"]["text"] for g in receiver.got] == [
        "now with a webhook", "after expiry"]
    await server.stop()
