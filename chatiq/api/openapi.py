"""GET /api/v1/openapi.json, built from the URL table so no route goes undescribed."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from chatiq import __version__
from chatiq import keys
from chatiq.core.protocol import Field, object_schema

_ERROR = {"description": "error", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "field": {"type": "string"}}}}}}}}


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    name: str
    summary: str
    auth: bool = True
    body: dict[str, Field] | None = None
    query: dict[str, str] = field(default_factory=dict)  # name → description
    status: int = 200


def build_spec(api_routes: list[ApiRoute]) -> dict:
    paths: dict = {}
    for route in api_routes:
        op: dict = {"operationId": route.name, "summary": route.summary,
                    "responses": {str(route.status): {"description": "success"},
                                  "4XX": _ERROR}}
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in re.findall(r"{(\w+)}", route.path)]
        params += [{"name": n, "in": "query", "required": False, "description": d,
                    "schema": {"type": "string"}} for n, d in route.query.items()]
        if params:
            op["parameters"] = params
        if route.body is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": object_schema(route.body)}}}
        if route.auth:
            op["security"] = [{"bearer": []}]
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "ChatIQ API", "version": __version__},
        "paths": paths,
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build_spec(request.app[keys.API_ROUTES]))
