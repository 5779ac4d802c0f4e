"""Delivering one webhook job: a signed JSON POST, the answer turned into the outbox's terms.

2xx is delivered. 410 Gone is a permanent refusal. Everything else (429, 5xx, other 4xx,
3xx, timeouts, connection errors) is retried with the outbox's backoff, Retry-After
honoured: a 404 or 401 is usually a receiver being deployed or a secret being rotated,
which the owner fixes; the retries stop after the outbox's max attempts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from email.utils import parsedate_to_datetime

import aiohttp
from aiohttp import web

from chatiq import keys
from chatiq.outbox import DeliveryFailed
from chatiq.core.protocol import make_id
from chatiq.store import webhooks as store
from chatiq.store.outbox import Job
from chatiq.webhooks.ssrf import AddressRefused, GuardedResolver, UrlRefused, parse_url

USER_AGENT = "ChatIQ-Webhooks/1"
# Of the receiver's answer only this much is read (its start goes into the delivery log).
MAX_RESPONSE_BYTES = 64 * 1024
LOGGED_RESPONSE_BYTES = 200
# Receivers dedupe on X-ChatIQ-Delivery; this is its prefix before the outbox job id.
DELIVERY_PREFIX = "whd"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-ChatIQ-Signature value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def body_for(job: Job) -> bytes:
    payload = job.payload
    return json.dumps({"id": make_id(DELIVERY_PREFIX, job.id), "event": payload["event"],
                       "createdAt": payload["createdAt"], "siteId": payload["siteId"],
                       "data": payload["data"]}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class WebhookSender:
    """The outbox sender for kind 'webhook'; one HTTP session for the app's lifetime."""

    def __init__(self, app: web.Application):
        config = app[keys.CONFIG]
        self.pool = app[keys.POOL]
        self.allow_private = config.webhooks_allow_private
        self.timeout = aiohttp.ClientTimeout(total=config.webhooks_timeout_seconds)
        # Private targets allowed: the plain resolver; otherwise every connect is checked.
        connector = aiohttp.TCPConnector(
            resolver=None if self.allow_private else GuardedResolver(),
            limit=50, limit_per_host=8, ttl_dns_cache=10)
        # No cookies kept between receivers, no proxy from the environment, and bodies
        # read as sent (a compressed answer cannot inflate past the read cap).
        self.session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT}, trust_env=False, auto_decompress=False)

    async def close(self) -> None:
        await self.session.close()

    async def __call__(self, job: Job) -> int:
        endpoint = await store.by_id(self.pool, job.payload["endpoint"])
        if endpoint is None:
            raise DeliveryFailed("the webhook was deleted", retry=False)
        if not endpoint.enabled:
            raise DeliveryFailed("the webhook is disabled", retry=False)
        try:
            url = parse_url(endpoint.url, allow_private=self.allow_private)
        except UrlRefused as exc:
            raise DeliveryFailed(f"refused: {exc}", retry=False) from None
        body = body_for(job)
        headers = {"Content-Type": "application/json",
                   "X-ChatIQ-Event": job.payload["event"],
                   "X-ChatIQ-Delivery": make_id(DELIVERY_PREFIX, job.id),
                   "X-ChatIQ-Signature": sign(endpoint.secret, int(time.time()), body)}
        try:
            async with self.session.post(url, data=body, headers=headers, allow_redirects=False,
                                         timeout=self.timeout) as resp:
                answer = await resp.content.read(MAX_RESPONSE_BYTES)
                status, wait = resp.status, retry_after(resp.headers.get("Retry-After"))
                location = resp.headers.get("Location", "")
        except asyncio.TimeoutError:
            raise DeliveryFailed(f"timed out after {self.timeout.total:g} s") from None
        except aiohttp.ClientConnectorError as exc:
            cause = getattr(exc, "os_error", None)
            if isinstance(cause, AddressRefused):
                raise DeliveryFailed(f"refused: {cause}", retry=False) from None
            raise DeliveryFailed(f"could not connect: {cause or exc}") from None
        except aiohttp.ClientError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
        if 200 <= status < 300:
            return status
        said = answer[:LOGGED_RESPONSE_BYTES].decode("utf-8", "replace").strip()
        reason = f"HTTP {status}" + (f": {said}" if said else "")
        if 300 <= status < 400:
            reason = f"HTTP {status}: redirects are not followed (to {location[:200]})"
        raise DeliveryFailed(reason, status_code=status, retry=status != 410, retry_after=wait)
