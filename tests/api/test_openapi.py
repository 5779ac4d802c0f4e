"""openapi.json describes every API route; healthz; headers; CORS."""

from chatiq.routes import API_ROUTES


async def test_openapi_lists_every_api_route(client):
    resp = await client.get("/api/v1/openapi.json")
    spec = await resp.json()
    assert spec["openapi"].startswith("3.")
    served = set()
    for resource in client.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api/"):
            for route in resource:
                if route.method not in ("HEAD", "OPTIONS"):
                    served.add((route.method.lower(), path))
    described = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert served == described and len(served) == len(API_ROUTES)
    register = spec["paths"]["/api/v1/auth/register"]["post"]
    schema = register["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"email", "password", "name", "organization"}


async def test_healthz(client):
    resp = await client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}


async def test_healthz_503_when_not_migrated(client, sql):
    sql("DELETE FROM schema_migrations")
    resp = await client.get("/healthz")
    assert resp.status == 503


async def test_unknown_api_route_is_json_404(client):
    resp = await client.get("/api/v1/nope")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    resp = await client.put("/api/v1/sites")
    assert resp.status == 405 and (await resp.json())["error"]["code"] == "method_not_allowed"


async def test_security_headers(client):
    resp = await client.get("/api/v1/openapi.json")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"


async def test_cors_preflight_for_the_api(client):
    resp = await client.options("/api/v1/auth/login", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type"})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] in ("*", "https://shop.example")
