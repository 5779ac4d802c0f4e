"""GET /metrics: Prometheus' text format, for a scraper holding CHATIQ_METRICS_TOKEN.

No token configured: 404, as if the route did not exist. A wrong or missing one: 401.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chatiq import keys
from chatiq.core.metrics import set_connections
from chatiq.store import outbox


async def metrics(request: web.Request) -> web.Response:
    token = request.app[keys.CONFIG].metrics_token
    if not token:
        raise web.HTTPNotFound()
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(),
                                                             token.encode()):
        raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                                   text="401: send the metrics token as a bearer token")
    found = request.app[keys.METRICS]
    set_connections(found, request.app[keys.HUB].connection_counts())
    pool = request.app[keys.POOL]
    found.pool_size.set(pool.size)
    found.pool_in_use.set(pool.size - pool.freesize)
    counts = await outbox.counts(pool)
    found.outbox_pending.set(counts.get("pending", 0))
    found.outbox_failed.set(counts.get("failed", 0))
    return web.Response(body=generate_latest(found.registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})
